/**
 * Issue 8, "the exit of a process must be final": a guest built with wasm
 * exception handling could catch, with catch_all, the host's proc_exit,
 * its deadline or an output limit, and keep running. Each guest here
 * catches the ending, marks memory[0] and spins; each must end at the
 * ending instead. A 2 s watchdog stops the old behaviour (a spin) so the
 * test fails rather than hangs.
 */
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ErrorCode, GuestError, Sandbox } from '../../src/index.js';
import { Namespace, Tmpfs } from '../../src/vfs/index.js';
import { GuestDeadline, ProcExit, WasiHost, type WasiHostOptions } from '../../src/wasi/index.js';
import { i32, op, sleb, wasiCommand, type Import } from './wasm-module.js';

const context = vm.createContext({ job: undefined as (() => number) | undefined });
const script = new vm.Script('job()');

/** Run a command under a 2 s watchdog; the result, or what it threw. */
function run(bytes: Uint8Array, options: Partial<WasiHostOptions> = {}, prepare?: (u8: Uint8Array) => void) {
  const fs = new Tmpfs({ dev: 1n });
  const ns = new Namespace(fs.root);
  const host = new WasiHost({ namespace: ns, args: ['g'], env: [], preopens: [{ path: '/', dir: ns.root }], ...options });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), host.imports);
  const memory = instance.exports['memory'] as WebAssembly.Memory;
  prepare?.(new Uint8Array(memory.buffer));
  (context as { job?: () => number }).job = () => host.start(instance);
  let exitCode: number | undefined;
  let thrown: unknown;
  try {
    exitCode = script.runInContext(context, { timeout: 2_000 }) as number;
  } catch (error) {
    thrown = error;
  }
  return { exitCode, thrown, marker: new Uint8Array(memory.buffer)[0], host };
}

const markAndSpin = [op.i32Const, 0, op.i32Const, 1, op.i32Store, 2, 0, op.loop, op.void, op.br, 0, op.end];
const procExit: Import = { name: 'proc_exit', params: [i32], noResult: true };
const schedYield: Import = { name: 'sched_yield', params: [] };

describe('an exit the guest tries to catch', () => {
  it('proc_exit inside try/catch_all ends the process with its code; the catch never runs', () => {
    const bytes = wasiCommand({
      imports: [procExit, schedYield],
      body: [op.try, op.void, op.i32Const, ...sleb(7), op.call, 0, op.catchAll, op.end, op.call, 1, op.drop, ...markAndSpin],
    });
    const r = run(bytes);
    expect(r.thrown).toBeUndefined();
    expect(r.exitCode).toBe(7);
    expect(r.marker).toBe(0);
  });

  it('proc_raise of a fatal signal inside try/catch_all ends it too (128 + signal)', () => {
    const bytes = wasiCommand({
      imports: [{ name: 'proc_raise', params: [i32] }],
      body: [op.try, op.void, op.i32Const, ...sleb(15), op.call, 0, op.drop, op.catchAll, op.end, ...markAndSpin],
    });
    const r = run(bytes);
    expect(r.exitCode).toBe(128 + 15);
    expect(r.marker).toBe(0);
  });

  it('the deadline, thrown from a sleeping poll_oneoff inside try/catch_all, stops the process', () => {
    const bytes = wasiCommand({
      imports: [{ name: 'poll_oneoff', params: [i32, i32, i32, i32] }],
      body: [
        op.try, op.void,
        op.i32Const, ...sleb(64), op.i32Const, ...sleb(128), op.i32Const, 1, op.i32Const, ...sleb(192), op.call, 0, op.drop,
        op.catchAll, op.end,
        ...markAndSpin,
      ],
    });
    const started = performance.now();
    const r = run(bytes, { deadline: performance.now() + 50 }, (u8) => {
      const dv = new DataView(u8.buffer);
      dv.setUint8(64 + 8, 0); // clock
      dv.setUint32(64 + 16, 1, true); // monotonic
      dv.setBigUint64(64 + 24, 10_000_000_000n, true); // 10 s
    });
    expect(r.thrown).toBeInstanceOf(GuestDeadline);
    expect(r.marker).toBe(0);
    expect(performance.now() - started).toBeLessThan(1_500);
  });

  it('an output sink that stops the process (an output limit) is final: one write, then the end', () => {
    class Flood extends Error {}
    let writes = 0;
    const bytes = wasiCommand({
      imports: [{ name: 'fd_write', params: [i32, i32, i32, i32] }],
      body: [
        op.loop, op.void,
        op.try, op.void,
        op.i32Const, 1, op.i32Const, ...sleb(256), op.i32Const, 1, op.i32Const, ...sleb(400), op.call, 0, op.drop,
        op.catchAll, op.i32Const, 0, op.i32Const, 1, op.i32Store, 2, 0, op.end,
        op.br, 0,
        op.end,
      ],
    });
    const r = run(
      bytes,
      {
        stdout: {
          write() {
            writes++;
            throw new Flood('output limit');
          },
        },
      },
      (u8) => {
        const dv = new DataView(u8.buffer);
        dv.setUint32(256, 300, true);
        dv.setUint32(260, 5, true);
      },
    );
    expect(r.thrown).toBeInstanceOf(Flood);
    expect(writes).toBe(1);
    expect(r.marker).toBe(0);
  });

  it('after proc_exit, every further host call ends the process again, with the same code', () => {
    const fs = new Tmpfs({ dev: 1n });
    const ns = new Namespace(fs.root);
    const host = new WasiHost({ namespace: ns, args: ['g'], env: [], preopens: [{ path: '/', dir: ns.root }] });
    host.bindMemory(new WebAssembly.Memory({ initial: 1 }));
    const w = host.imports.wasi_snapshot_preview1 as unknown as Record<string, (...a: number[]) => number>;
    expect(() => w['proc_exit']!(3)).toThrow(ProcExit);
    for (const call of [() => w['sched_yield']!(), () => w['fd_close']!(1), () => w['random_get']!(0, 4), () => w['proc_exit']!(9)]) {
      let thrown: unknown;
      try {
        call();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ProcExit);
      expect((thrown as ProcExit).code).toBe(3);
    }
  });
});

describe('through Sandbox.run, the endings keep their codes', () => {
  const writeLoop = wasiCommand({
    imports: [{ name: 'fd_write', params: [i32, i32, i32, i32] }],
    body: [
      op.i32Const, ...sleb(256), op.i32Const, ...sleb(300), op.i32Store, 2, 0,
      op.i32Const, ...sleb(260), op.i32Const, ...sleb(100), op.i32Store, 2, 0,
      op.loop, op.void,
      op.try, op.void,
      op.i32Const, 1, op.i32Const, ...sleb(256), op.i32Const, 1, op.i32Const, ...sleb(400), op.call, 0, op.drop,
      op.catchAll, op.end,
      op.br, 0,
      op.end,
    ],
  });

  it('an output limit caught by catch_all is still ERR_OUTPUT_LIMIT, with the output up to the limit', async () => {
    const sandbox = await Sandbox.create();
    const error = await sandbox.run(writeLoop, { maxOutputBytes: 1000, timeoutMs: 5_000 }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(GuestError);
    expect((error as GuestError).code).toBe(ErrorCode.outputLimit);
    expect((error as GuestError).stdout.length).toBe(1000);
  });

  it('a deadline caught by catch_all is still ERR_TIMEOUT, at the timeout', async () => {
    const sleepAndSpin = wasiCommand({
      imports: [{ name: 'poll_oneoff', params: [i32, i32, i32, i32] }],
      body: [
        op.i32Const, ...sleb(64 + 8), op.i32Const, 0, op.i32Store, 0, 0,
        op.i32Const, ...sleb(64 + 16), op.i32Const, 1, op.i32Store, 2, 0,
        op.i32Const, ...sleb(64 + 28), op.i32Const, ...sleb(100), op.i32Store, 2, 0, // timeout high word: ~430 s
        op.try, op.void,
        op.i32Const, ...sleb(64), op.i32Const, ...sleb(128), op.i32Const, 1, op.i32Const, ...sleb(192), op.call, 0, op.drop,
        op.catchAll, op.end,
        ...markAndSpin,
      ],
    });
    const sandbox = await Sandbox.create();
    const started = performance.now();
    const error = await sandbox.run(sleepAndSpin, { timeoutMs: 100 }).then(() => undefined, (e: unknown) => e);
    expect((error as GuestError).code).toBe(ErrorCode.timeout);
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});
