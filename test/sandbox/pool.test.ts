/**
 * The worker pool: sandboxes on home workers, processes that run off the
 * main thread, and kill/timeout in milliseconds without losing the other
 * sandboxes of the same worker. Loads strata from dist/ (see pool-support).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import { builtStrata, sleep, timerLateness } from './pool-support.js';

const strata = await builtStrata();
const { SandboxPool, StrataError } = strata;
type Pool = InstanceType<typeof SandboxPool>;

const spin = guestPath('spin');
const hello = guestPath('hello');

describe('a pool of 4 workers, 4 guests spinning', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = new SandboxPool({ size: 4 });
  });
  afterAll(() => pool.close());

  it('keeps a main-thread timer firing (lateness asserted loosely)', async () => {
    const sandboxes = await Promise.all([1, 2, 3, 4].map(() => pool.create()));
    expect(pool.workers).toBe(4);
    const children = sandboxes.map((s) => s.spawn([], { module: spin }));
    const { maxGapMs, ticks } = await timerLateness(() => sleep(500));
    console.log(`event-loop lateness while 4 guests spin: max gap ${maxGapMs.toFixed(1)} ms between 5 ms ticks (${ticks} ticks in 500 ms)`);
    expect(maxGapMs).toBeLessThan(250);
    expect(ticks).toBeGreaterThan(10);
    const started = performance.now();
    for (const child of children) child.kill();
    const exits = await Promise.all(children.map((c) => c.exited));
    console.log(`4 kills took ${(performance.now() - started).toFixed(2)} ms`);
    for (const exit of exits) expect(exit).toMatchObject({ code: null, signal: 'SIGKILL', reason: 'killed' });
  });
});

describe('kill and timeout on a one-worker pool', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = new SandboxPool({ size: 1 });
  });
  afterAll(() => pool.close());

  it('kill() stops a guest spinning with no syscalls; the other sandbox of the worker keeps running and keeps its files', async () => {
    const neighbour = await pool.create();
    await neighbour.fs.writeFile('/kept.txt', 'still here');
    const victim = await pool.create();
    expect(pool.workers).toBe(1);
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const child = victim.spawn([], { module: spin });
      await sleep(50);
      const started = performance.now();
      child.kill();
      const exit = await child.exited;
      latencies.push(performance.now() - started);
      expect(exit).toMatchObject({ code: null, signal: 'SIGKILL', reason: 'killed' });
    }
    latencies.sort((a, b) => a - b);
    console.log(`kill of a spinning guest: ${latencies.map((l) => l.toFixed(2)).join(', ')} ms`);
    expect(latencies.at(-1)).toBeLessThan(1_000);
    expect(await neighbour.fs.readFile('/kept.txt', 'utf8')).toBe('still here');
    const result = await neighbour.run(hello, { args: ['neighbour'] });
    expect(new TextDecoder().decode(result.stdout)).toBe('hello, neighbour\n');
    const again = await victim.run(hello);
    expect(again.exitCode).toBe(0);
  });

  it('timeoutMs stops a spinning guest (GuestError ERR_TIMEOUT from run; reason timeout from spawn)', async () => {
    const sandbox = await pool.create();
    await sandbox.fs.writeFile('/before.txt', 'x');
    const started = performance.now();
    const error = await sandbox.run(spin, { timeoutMs: 100 }).catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(error).toBeInstanceOf(strata.GuestError);
    expect((error as InstanceType<typeof strata.GuestError>).code).toBe('ERR_TIMEOUT');
    expect((error as Error).message).toBe("'spin.wasm' ran longer than 100 ms and was stopped");
    expect(took).toBeLessThan(1_100);
    const child = sandbox.spawn([], { module: spin, timeoutMs: 50 });
    expect(await child.exited).toMatchObject({ code: null, signal: 'SIGKILL', reason: 'timeout' });
    expect(await sandbox.fs.readFile('/before.txt', 'utf8')).toBe('x');
    expect((await sandbox.run(hello)).exitCode).toBe(0);
  });

  it('a kill of a queued process means it never starts; processes of one worker run one after another', async () => {
    const a = await pool.create();
    const b = await pool.create();
    const first = a.spawn([], { module: spin });
    try {
      // Spawn order is start order within a sandbox, however fast each module compiles.
      const queued = a.spawn(['hello'], { module: hello });
      await sleep(30);
      queued.kill('SIGTERM');
      expect(await queued.exited).toMatchObject({ code: null, signal: 'SIGTERM', reason: 'killed', durationMs: 0 });
    } finally {
      first.kill();
      await first.exited;
    }
    const order: string[] = [];
    const one = b.spawn(['one'], { module: hello, stdout: () => order.push('one') });
    const two = b.spawn(['two'], { module: hello, stdout: () => order.push('two') });
    await Promise.all([one.exited, two.exited]);
    expect(order.filter((name, i) => name !== order[i - 1])).toEqual(['one', 'two']);
  });

  it("within a sandbox, spawn order is start order even when the first module compiles slower", async () => {
    const sandbox = await pool.create();
    await sandbox.run(hello); // compiled and cached: the second spawn's module is ready at once
    const order: string[] = [];
    const slow = sandbox.spawn(['slow'], { module: guestPath('args-env'), stdout: () => order.push('slow') });
    const fast = sandbox.spawn(['fast'], { module: hello, stdout: () => order.push('fast') });
    await Promise.all([slow.exited, fast.exited]);
    expect(order.filter((name, i) => name !== order[i - 1])).toEqual(['slow', 'fast']);
  });

  it('maxProcessesPerSandbox bounds the processes queued or running (ERR_PROCESS_LIMIT)', async () => {
    const small = new SandboxPool({ size: 1, maxProcessesPerSandbox: 2 });
    try {
      const sandbox = await small.create();
      const children = [sandbox.spawn([], { module: spin }), sandbox.spawn([], { module: spin })];
      let error: unknown;
      try {
        sandbox.spawn([], { module: spin });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(StrataError);
      expect((error as InstanceType<typeof StrataError>).code).toBe('ERR_PROCESS_LIMIT');
      for (const child of children) child.kill();
      await Promise.all(children.map((c) => c.exited));
      expect((await sandbox.run(hello)).exitCode).toBe(0);
    } finally {
      await small.close();
    }
  });

  it('a missing program, a bad option, a closed sandbox', async () => {
    const sandbox = await pool.create();
    const exit = await sandbox.spawn(['nope']).exited;
    expect(exit.reason).toBe('error');
    expect((exit.error as InstanceType<typeof StrataError>).code).toBe('ERR_BAD_PATH');
    expect(() => sandbox.spawn([], { module: hello, timeoutMs: -1 })).toThrow(/timeoutMs/);
    await expect(sandbox.exec(['nope'])).rejects.toMatchObject({ code: 'ERR_BAD_PATH' });
    await expect(sandbox.run(new TextEncoder().encode('not wasm'))).rejects.toMatchObject({ code: 'ERR_NOT_WASM' });
    await expect(sandbox.run('/no/such/module.wasm')).rejects.toMatchObject({ code: 'ERR_HOST_FILE' });
    await sandbox.close();
    await expect(sandbox.fs.readFile('/x')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect(() => sandbox.spawn([], { module: hello })).toThrow(/closed/);
  });
});
