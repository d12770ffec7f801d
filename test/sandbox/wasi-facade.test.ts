import { describe, expect, it } from 'vitest';
import { ErrorCode, Sandbox, compileGuest } from '../../src/index.js';
import { guestBytes, text } from '../support/guests.js';
import { handModule, op } from '../support/hand-module.js';

/** Instantiate a module the way a package does, itself, with the facade's imports and its own. */
function instantiate(bytes: Uint8Array, imports: WebAssembly.Imports): WebAssembly.Instance {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
}

const reactor = handModule({ memoryPages: 1, globals: [0], functions: [{ export: '_initialize', body: [...op.i32(42), ...op.globalSet(0)] }, { export: 'answer', results: 1, body: op.globalGet(0) }] });

describe('sandbox.wasi(): a node:wasi-shaped facade', () => {
  it('starts a command the caller instantiated, over the sandbox, and returns its exit code', async () => {
    const sandbox = await Sandbox.create();
    const out: string[] = [];
    const wasi = sandbox.wasi({ args: ['hello', 'facade'], stdout: (c) => out.push(text(c)) });
    expect(Object.keys(wasi.wasiImport)).toHaveLength(46);
    expect(wasi.getImportObject()).toEqual({ wasi_snapshot_preview1: wasi.wasiImport });
    expect(wasi.start(instantiate(guestBytes('hello'), wasi.getImportObject()))).toBe(0);
    expect(out.join('')).toBe('hello, facade\n');

    const exit = sandbox.wasi({ args: ['exit-code', '7'] });
    expect(exit.start(instantiate(guestBytes('exit-code'), exit.getImportObject()))).toBe(7);
  });

  it('reads and writes the sandbox through node-shaped preopens, and traces', async () => {
    const sandbox = await Sandbox.create();
    await sandbox.fs.mkdir('/srv/data', { recursive: true });
    await sandbox.fs.writeFile('/srv/data/in.txt', 'from the sandbox');
    const out: string[] = [];
    const trace: string[] = [];
    const cat = sandbox.wasi({ args: ['fsbox', 'cat', '/data/in.txt'], preopens: { '/data': '/srv/data' }, stdout: (c) => out.push(text(c)), trace: (l) => trace.push(l) });
    expect(cat.start(instantiate(guestBytes('fsbox'), cat.getImportObject()))).toBe(0);
    expect(out.join('')).toBe('from the sandbox');
    expect(trace.some((l) => l.startsWith('path_open(') && l.endsWith('= 0'))).toBe(true);

    const write = sandbox.wasi({ args: ['fsbox', 'write', '/data/out.txt', 'from the guest'], preopens: { '/data': '/srv/data' } });
    expect(write.start(instantiate(guestBytes('fsbox'), write.getImportObject()))).toBe(0);
    expect(await sandbox.fs.readFile('/srv/data/out.txt', 'utf8')).toBe('from the guest');
  });

  it('preopens nothing of the host: the default is the sandbox root, {} is none', async () => {
    const sandbox = await Sandbox.create();
    await sandbox.fs.writeFile('/motd', 'sandboxed');
    const out: string[] = [];
    const root = sandbox.wasi({ args: ['fsbox', 'cat', '/motd'], stdout: (c) => out.push(text(c)) });
    expect(root.start(instantiate(guestBytes('fsbox'), root.getImportObject()))).toBe(0);
    expect(out.join('')).toBe('sandboxed');
    const none = sandbox.wasi({ args: ['fsbox', 'cat', '/motd'], preopens: {} });
    expect(none.start(instantiate(guestBytes('fsbox'), none.getImportObject()))).not.toBe(0);
  });

  it('takes stdin as text and a host fd for output, as node:wasi does', async () => {
    const sandbox = await Sandbox.create();
    const { openSync, readFileSync, closeSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'strata-facade-')), 'out');
    const fd = openSync(file, 'w');
    const wasi = sandbox.wasi({ args: ['cat'], stdin: 'piped in\n', stdout: fd });
    expect(wasi.start(instantiate(guestBytes('cat'), wasi.getImportObject()))).toBe(0);
    closeSync(fd);
    expect(readFileSync(file, 'utf8')).toBe('piped in\n');
  });

  it('gives the caller its own extra imports beside preview1', async () => {
    const sandbox = await Sandbox.create();
    const bytes = handModule({
      imports: [{ module: 'env', name: 'call_host_function', params: 1, results: 1 }, { module: 'wasi_snapshot_preview1', name: 'proc_exit', params: 1, results: 0 }],
      memoryPages: 1,
      functions: [{ export: '_start', body: [...op.i32(5), ...op.call(0), ...op.call(1)] }],
    });
    const wasi = sandbox.wasi();
    const instance = instantiate(bytes, { ...wasi.getImportObject(), env: { call_host_function: (n: number) => n * 10 } });
    expect(wasi.start(instance)).toBe(50);
  });

  it('initializes a reactor, whose exports the caller then calls', async () => {
    const sandbox = await Sandbox.create();
    const wasi = sandbox.wasi();
    const instance = instantiate(reactor, wasi.getImportObject());
    wasi.initialize(instance);
    expect((instance.exports['answer'] as () => number)()).toBe(42);
    wasi.close();
  });

  it("follows node:wasi's contract: started once, start for commands, initialize for reactors", async () => {
    const sandbox = await Sandbox.create();
    const twice = sandbox.wasi({ args: ['hello'] });
    const hello = instantiate(guestBytes('hello'), twice.getImportObject());
    twice.start(hello);
    expect(() => twice.start(hello)).toThrow(expect.objectContaining({ code: ErrorCode.wasiAlreadyStarted }));
    expect(() => twice.initialize(hello)).toThrow(expect.objectContaining({ code: ErrorCode.wasiAlreadyStarted }));

    const onReactor = sandbox.wasi();
    expect(() => onReactor.start(instantiate(reactor, onReactor.getImportObject()))).toThrow(expect.objectContaining({ code: ErrorCode.notWasiCommand, message: expect.stringMatching(/_start/) }));
    const onCommand = sandbox.wasi();
    expect(() => onCommand.initialize(instantiate(guestBytes('hello'), onCommand.getImportObject()))).toThrow(expect.objectContaining({ code: ErrorCode.notWasiReactor }));
    const noMemory = sandbox.wasi();
    const bare = instantiate(handModule({ functions: [{ export: '_start', body: [] }] }), {});
    expect(() => noMemory.start(bare)).toThrow(expect.objectContaining({ code: ErrorCode.notWasiCommand, message: expect.stringMatching(/memory/) }));
    // A failed check still counts as started, as in node:wasi.
    expect(() => noMemory.start(hello)).toThrow(expect.objectContaining({ code: ErrorCode.wasiAlreadyStarted }));
  });

  it('refuses options node:wasi has that strata cannot honour', async () => {
    const sandbox = await Sandbox.create();
    expect(() => sandbox.wasi({ version: 'unstable' as 'preview1' })).toThrow(expect.objectContaining({ code: ErrorCode.invalidOption }));
    expect(() => sandbox.wasi({ returnOnExit: false })).toThrow(expect.objectContaining({ code: ErrorCode.invalidOption }));
    expect(() => sandbox.wasi({ stdout: -1 })).toThrow(expect.objectContaining({ code: ErrorCode.invalidOption }));
    expect(() => sandbox.wasi({ preopens: { '/x': '/missing' } })).toThrow(expect.objectContaining({ code: ErrorCode.badPath }));
  });

  it('a facade made before a fork keeps the state at the fork: it reads it, its writes fail', async () => {
    const sandbox = await Sandbox.create();
    await sandbox.fs.writeFile('/before', 'kept');
    const err: string[] = [];
    const early = sandbox.wasi({ args: ['fsbox', 'write', '/after', 'x'], stderr: (c) => err.push(text(c)) });
    const child = await sandbox.fork();
    expect(early.start(instantiate(guestBytes('fsbox'), early.getImportObject()))).not.toBe(0);
    expect(err.join('')).toMatch(/Read-only file system/);
    const late = sandbox.wasi({ args: ['fsbox', 'write', '/after', 'x'] });
    expect(late.start(instantiate(guestBytes('fsbox'), late.getImportObject()))).toBe(0);
    expect(await sandbox.fs.readFile('/after', 'utf8')).toBe('x');
    await expect(child.fs.readFile('/after')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('applies the memory limit to a module compileGuest compiled, and only then', async () => {
    const sandbox = await Sandbox.create();
    const grows = handModule({ memoryPages: 1, functions: [{ export: '_initialize', body: [] }, { export: 'grow', params: 1, results: 1, body: [...op.localGet(0), 0x40, 0x00] }] });
    const limited = await compileGuest(grows, { memoryLimitBytes: 4 * 65536, reactor: true });
    const wasi = sandbox.wasi();
    const instance = new WebAssembly.Instance(limited.module, wasi.getImportObject());
    wasi.initialize(instance);
    const grow = instance.exports['grow'] as (pages: number) => number;
    expect(grow(3)).toBe(1);
    expect(grow(1)).toBe(-1);
    const own = instantiate(grows, sandbox.wasi().getImportObject());
    expect((own.exports['grow'] as (pages: number) => number)(4)).toBe(1);
  });
});
