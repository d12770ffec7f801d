import { describe, expect, it } from 'vitest';
import { ErrorCode, Sandbox, compileGuest } from '../../src/index.js';
import { guestBytes, text } from '../support/guests.js';
import { ascii, handModule, op, u32 } from '../support/hand-module.js';

const message = 'hi from a reactor\n';

/**
 * A reactor: `_initialize` sets a global to 42 and calls env.note(1);
 * `answer()` returns the global; `greet()` writes a message to fd 1 with
 * fd_write (an iovec at 0 pointing at the text at 16) and returns the errno.
 */
const reactor = handModule({
  imports: [
    { module: 'wasi_snapshot_preview1', name: 'fd_write', params: 4, results: 1 },
    { module: 'env', name: 'note', params: 1, results: 0 },
  ],
  memoryPages: 1,
  globals: [0],
  functions: [
    { export: '_initialize', body: [...op.i32(42), ...op.globalSet(0), ...op.i32(1), ...op.call(1)] },
    { export: 'answer', results: 1, body: op.globalGet(0) },
    { export: 'greet', results: 1, body: [...op.i32(1), ...op.i32(0), ...op.i32(1), ...op.i32(8), ...op.call(0)] },
  ],
  data: [{ offset: 0, bytes: [...u32(16), ...u32(message.length)] }, { offset: 16, bytes: ascii(message) }],
});

describe('sandbox.instantiate(): reactors with extra imports', () => {
  it('compiles, links, initializes, and hands back exports that run over the sandbox', async () => {
    const sandbox = await Sandbox.create();
    const notes: number[] = [];
    const out: string[] = [];
    const { exports, wasi } = await sandbox.instantiate(reactor, { imports: { env: { note: (n: number) => notes.push(n) } }, stdout: (c) => out.push(text(c)) });
    expect(notes).toEqual([1]);
    expect((exports['answer'] as () => number)()).toBe(42);
    expect((exports['greet'] as () => number)()).toBe(0);
    expect((exports['greet'] as () => number)()).toBe(0);
    expect(out.join('')).toBe(message + message);
    wasi.close();
    expect((exports['greet'] as () => number)()).toBe(8); // EBADF once its fds are closed
  });

  it('takes a compiled GuestModule, with its limits', async () => {
    const sandbox = await Sandbox.create();
    const guest = await compileGuest(reactor, { imports: { env: ['note'] }, memoryLimitBytes: 65536, reactor: true });
    expect(guest.kind).toBe('reactor');
    const { instance } = await sandbox.instantiate(guest, { imports: { env: { note: () => {} } } });
    expect((instance.exports['memory'] as WebAssembly.Memory).grow(0)).toBe(1);
    expect(() => (instance.exports['memory'] as WebAssembly.Memory).grow(1)).toThrow(RangeError);
  });

  it('lists every import the caller did not provide', async () => {
    const sandbox = await Sandbox.create();
    const guest = await compileGuest(reactor, { imports: { env: '*' }, reactor: true });
    await expect(sandbox.instantiate(guest)).rejects.toMatchObject({ code: ErrorCode.unknownImport, message: /function 'env\.note'/ });
    await expect(sandbox.instantiate(reactor)).rejects.toMatchObject({ code: ErrorCode.unknownImport, message: /env\.note/ });
    await expect(sandbox.instantiate(guest, { imports: { env: { note: 7 } } })).rejects.toMatchObject({ code: ErrorCode.unknownImport, message: /cannot be linked/ });
  });

  it('refuses a command, and reports a trap in _initialize', async () => {
    const sandbox = await Sandbox.create();
    await expect(sandbox.instantiate(guestBytes('hello'))).rejects.toMatchObject({ code: ErrorCode.notWasiReactor });
    await expect(sandbox.instantiate(await compileGuest(guestBytes('hello')))).rejects.toMatchObject({ code: ErrorCode.notWasiReactor, message: /run\(\) or exec\(\)/ });
    const traps = handModule({ memoryPages: 1, functions: [{ export: '_initialize', body: [0x00] }] });
    await expect(sandbox.instantiate(traps)).rejects.toMatchObject({ code: ErrorCode.guestTrap, message: /trapped.*_initialize/ });
  });
});
