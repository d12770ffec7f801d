/**
 * A kill racing syscalls: a guest creating, writing, renaming, linking and
 * removing files in a loop, killed at random moments, 50 times. A kill
 * never lands inside a VFS call, so after each the tmpfs counters equal a
 * recount of the tree and the sandbox keeps working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import { op, sleb, wasiCommand } from '../security/wasm-module.js';
import { builtStrata, recountThroughFs, sleep } from './pool-support.js';

const { SandboxPool } = await builtStrata();
type Pool = InstanceType<typeof SandboxPool>;

describe('kills racing syscalls', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = new SandboxPool({ size: 1 });
  });
  afterAll(() => pool.close());

  it('50 kills at random moments of a syscall loop leave usage equal to a recount', async () => {
    const sandbox = await pool.create({ tmpfs: { maxBytes: 64 << 20 } });
    const neighbour = await pool.create();
    await neighbour.fs.writeFile('/mine', 'neighbour');
    await sandbox.fs.mkdir('/churn');
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const churn = guestPath('churn');
    const reasons = new Map<string, number>();
    for (let i = 0; i < 50; i++) {
      const child = sandbox.spawn(['churn', 'fs', '/churn'], { module: churn, stdin: '' });
      if (i % 2 === 0) {
        // Wait for it to start, then a random moment within the next 5 ms.
        await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
        const until = performance.now() + random() * 5;
        while (performance.now() < until) { /* a moment */ }
      } else {
        await sleep(random() * 20);
      }
      child.kill();
      const exit = await child.exited;
      reasons.set(exit.reason, (reasons.get(exit.reason) ?? 0) + 1);
      expect(exit.signal).toBe('SIGKILL');
      const [usage, recount] = await Promise.all([sandbox.usage(), recountThroughFs(sandbox.fs)]);
      expect(recount.faults, `structure after kill ${i}`).toEqual([]);
      expect(usage, `usage after kill ${i}`).toEqual({ bytes: recount.bytes, inodes: recount.inodes });
    }
    console.log(`50 kills of a syscall loop: ${[...reasons].map(([r, n]) => `${n} ${r}`).join(', ')}`);
    await sandbox.fs.writeFile('/churn/after', 'works');
    expect(await sandbox.fs.readFile('/churn/after', 'utf8')).toBe('works');
    const hello = await sandbox.run(guestPath('hello'));
    expect(hello.exitCode).toBe(0);
    expect(await neighbour.fs.readFile('/mine', 'utf8')).toBe('neighbour');
  });

  it('a guest spinning in a syscall loop (stat) and one sleeping in poll_oneoff are killed in milliseconds', async () => {
    const sandbox = await pool.create();
    for (const argv of [['churn', 'stat'], ['churn', 'sleep', '10000']]) {
      const child = sandbox.spawn(argv, { module: guestPath('churn'), stdin: '' });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await sleep(20);
      const started = performance.now();
      child.kill();
      expect(await child.exited).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
      const took = performance.now() - started;
      console.log(`kill of '${argv.join(' ')}': ${took.toFixed(2)} ms`);
      expect(took).toBeLessThan(1_000);
    }
  });

  it('a kill during a long host call (random_get of 1 GiB) stops it between two chunks', async () => {
    const sandbox = await pool.create();
    const randomGet = { name: 'random_get', params: [0x7f, 0x7f] };
    // 1 GiB + 1 page of memory; random_get(65536, 1 GiB), then exit.
    const bytes = wasiCommand({ imports: [randomGet], pages: 16385, body: [op.i32Const, ...sleb(65536), op.i32Const, ...sleb(1 << 30), op.call, 0, op.drop] });
    const child = sandbox.spawn(['random'], { module: bytes, memoryLimitBytes: 2 ** 31, stdin: '' });
    await sleep(150);
    const started = performance.now();
    child.kill();
    expect(await child.exited).toMatchObject({ reason: 'killed', signal: 'SIGKILL' });
    const took = performance.now() - started;
    console.log(`kill during a 1 GiB random_get: ${took.toFixed(2)} ms`);
    expect(took).toBeLessThan(400); // the whole call takes ~800 ms here
  });
});
