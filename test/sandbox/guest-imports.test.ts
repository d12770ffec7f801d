import { describe, expect, it } from 'vitest';
import { ErrorCode, Sandbox, compileGuest } from '../../src/index.js';
import { handModule, op, type HandImport } from '../support/hand-module.js';
import { builtStrata } from './pool-support.js';

const callHost: HandImport = { module: 'env', name: 'call_host_function', params: 1, results: 1 };
const procExit: HandImport = { module: 'wasi_snapshot_preview1', name: 'proc_exit', params: 1, results: 0 };

/** zeroperl's shape: a command that imports env.call_host_function; it exits with call_host_function(20). */
const callsHost = handModule({
  imports: [callHost, procExit],
  memoryPages: 1,
  functions: [{ export: '_start', body: [...op.i32(20), ...op.call(0), ...op.call(1)] }],
});

describe('extra imports (compileGuest imports, run/exec imports)', () => {
  it('lists every unknown import, not only the first', async () => {
    const three = handModule({
      imports: [
        { module: 'env', name: 'a', params: 0, results: 0 },
        procExit,
        { module: 'env', name: 'b', params: 1, results: 1 },
        { module: 'host', name: 'c', params: 0, results: 0 },
      ],
      memoryPages: 1,
      functions: [{ export: '_start', body: [] }],
    });
    const error = await compileGuest(three).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.unknownImport });
    expect((error as Error).message).toMatch(/3 import\(s\).*function 'env\.a', function 'env\.b', function 'host\.c'/);
    // Declaring one module leaves the others listed.
    await expect(compileGuest(three, { imports: { env: '*' } })).rejects.toThrow(/1 import\(s\).*'host\.c'/);
    await expect(compileGuest(three, { imports: { env: ['a'], host: ['c'] } })).rejects.toThrow(/1 import\(s\).*'env\.b'/);
    expect((await compileGuest(three, { imports: { env: ['a', 'b'], host: '*' } })).imports).toEqual({ env: ['a', 'b'], host: '*' });
  });

  it('an unknown preview1 name stays unknown, and preview1 cannot be declared', async () => {
    const bogus = handModule({ imports: [{ module: 'wasi_snapshot_preview1', name: 'fd_teleport', params: 0, results: 1 }], memoryPages: 1, functions: [{ export: '_start', body: [] }] });
    await expect(compileGuest(bogus)).rejects.toThrow(/wasi_snapshot_preview1\.fd_teleport/);
    await expect(compileGuest(bogus, { imports: { wasi_snapshot_preview1: '*' } })).rejects.toMatchObject({ code: ErrorCode.invalidOption });
    await expect(compileGuest(callsHost, { imports: { env: 'call_host_function' as unknown as '*' } })).rejects.toMatchObject({ code: ErrorCode.invalidOption });
  });

  it('run provides the embedder imports, merged with preview1, to a module given as bytes', async () => {
    const sandbox = await Sandbox.create();
    const seen: number[] = [];
    const call_host_function = (n: number) => {
      seen.push(n);
      return n + 1;
    };
    const result = await sandbox.run(callsHost, { imports: { env: { call_host_function } } });
    expect(result.exitCode).toBe(21);
    expect(seen).toEqual([20]);
    // Without imports it is refused before anything runs, naming the import.
    await expect(sandbox.run(callsHost)).rejects.toMatchObject({ code: ErrorCode.unknownImport, message: /env\.call_host_function/ });
  });

  it('a compiled module with declared imports runs only when run provides them all', async () => {
    const sandbox = await Sandbox.create();
    const guest = await compileGuest(callsHost, { imports: { env: ['call_host_function'] } });
    await expect(sandbox.run(guest)).rejects.toMatchObject({ code: ErrorCode.unknownImport, message: /not provide: function 'env\.call_host_function'/ });
    await expect(sandbox.run(guest, { imports: { env: { call_host_function: () => 3 } } })).resolves.toMatchObject({ exitCode: 3 });
  });

  it('a preview1 function cannot be overridden through imports', async () => {
    const sandbox = await Sandbox.create();
    const guest = await compileGuest(callsHost, { imports: { env: '*' } });
    await expect(sandbox.run(guest, { imports: { env: { call_host_function: () => 0 }, wasi_snapshot_preview1: { proc_exit: () => 0 } } })).rejects.toMatchObject({
      code: ErrorCode.invalidOption,
      message: /wasi_snapshot_preview1/,
    });
  });

  it('exec compiles a program from the sandbox to accept the imports given', async () => {
    const sandbox = await Sandbox.create();
    await sandbox.fs.mkdir('/bin');
    await sandbox.fs.writeFile('/bin/perlish', callsHost);
    const result = await sandbox.exec(['/bin/perlish'], { imports: { env: { call_host_function: (n: number) => n * 2 } } });
    expect(result.exitCode).toBe(40);
    await expect(sandbox.exec(['/bin/perlish'])).rejects.toMatchObject({ code: ErrorCode.unknownImport });
  });

  it('compiles a reactor only when asked, and run refuses one', async () => {
    const reactor = handModule({ memoryPages: 1, functions: [{ export: '_initialize', body: [] }] });
    expect((await compileGuest(reactor, { reactor: true })).kind).toBe('reactor');
    expect((await compileGuest(callsHost, { imports: { env: '*' } })).kind).toBe('command');
    await expect(compileGuest(reactor)).rejects.toMatchObject({ code: ErrorCode.notWasiCommand, message: /reactor: true/ });
    await expect(compileGuest(reactor, { reactor: false })).rejects.toMatchObject({ code: ErrorCode.notWasiCommand });
    await expect(compileGuest(callsHost, { imports: { env: '*' }, reactor: true })).rejects.toMatchObject({ code: ErrorCode.notWasiReactor });
    const sandbox = await Sandbox.create();
    await expect(sandbox.run(reactor)).rejects.toMatchObject({ code: ErrorCode.notWasiCommand });
    await expect(sandbox.run(await compileGuest(reactor, { reactor: true }))).rejects.toMatchObject({ code: ErrorCode.notWasiCommand, message: /reactor/ });
  });

  it('a pooled process runs preview1 modules only: extra imports stay in the caller\'s thread', async () => {
    const built = await builtStrata(); // the pool's workers run dist/
    const pool = new built.SandboxPool({ size: 1 });
    try {
      const sandbox = await pool.create();
      await expect(sandbox.run(callsHost)).rejects.toMatchObject({ code: ErrorCode.unknownImport, message: /env\.call_host_function/ });
      const declared = await built.compileGuest(callsHost, { imports: { env: ['call_host_function'] } });
      await expect(sandbox.run(declared)).rejects.toMatchObject({ code: ErrorCode.unknownImport });
    } finally {
      await pool.close();
    }
  });
});
