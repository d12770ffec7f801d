/**
 * Snapshots on the pool: `PooledSandbox.commit` while guests run (sealed
 * at the guest's next syscall, written once the worker is idle), and
 * `SandboxPool.create({ from })` restoring on the workers.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeWithImage } from '../snapshot/support.js';
import { guestPath } from '../support/guests.js';
import { builtStrata, sleep } from './pool-support.js';

const strata = await builtStrata();
const { SandboxPool, Sandbox, ImageStore } = strata;
type Pool = InstanceType<typeof SandboxPool>;
type Store = Awaited<ReturnType<typeof ImageStore.open>>;
type Pooled = Awaited<ReturnType<Pool['create']>>;

const utf8 = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

/** Spawn `churn MODE…` in `sandbox` and resolve once it prints that it started. */
async function churning(sandbox: Pooled, args: string[]) {
  let out = '';
  let started!: () => void;
  const ready = new Promise<void>((resolve) => (started = resolve));
  const child = sandbox.spawn(['churn', ...args], {
    module: guestPath('churn'),
    stdout: (chunk) => {
      out += utf8(chunk);
      if (out.includes('churning')) started();
    },
  });
  let ended = false;
  void child.exited.then(() => (ended = true));
  await Promise.race([ready, child.exited]);
  return { child, running: () => !ended };
}

describe('PooledSandbox.commit', () => {
  let pool: Pool;
  let store: Store;
  let reference: string;
  beforeAll(async () => {
    const made = await storeWithImage();
    reference = made.reference;
    store = await ImageStore.open(made.images.root);
    pool = new SandboxPool({ size: 2 });
  });
  afterAll(() => pool.close());

  it('seals while a guest of the sandbox loops in syscalls; the guest goes on; the snapshot holds the state at the seal', async () => {
    const sandbox = await pool.create({ image: reference, store });
    await sandbox.fs.writeFile('/etc/before', 'before');
    await sandbox.fs.mkdir('/work');
    const churn = await churning(sandbox, ['stat']);
    const committing = sandbox.commit({ labels: { test: 'pool' } });
    // Requests are served in order, so this write lands after the seal, in the fresh upper.
    await sandbox.fs.writeFile('/etc/after', 'after');
    await sleep(50);
    expect(churn.running()).toBe(true);
    churn.child.kill();
    expect((await churn.child.exited).reason).toBe('killed');
    const { digest, manifest, pauseMs } = await committing;
    expect(manifest.labels).toEqual({ test: 'pool' });
    expect(pauseMs).toBeLessThan(50);

    const inThread = await Sandbox.create({ from: digest, store });
    expect(utf8(await inThread.fs.readFile('/etc/before'))).toBe('before');
    expect(await inThread.fs.exists('/etc/after')).toBe(false);
    const onPool = await pool.create({ from: digest, store });
    expect(await onPool.fs.readFile('/etc/before', 'utf8')).toBe('before');
    expect(await onPool.fs.exists('/etc/after')).toBe(false);
    expect(await sandbox.fs.readFile('/etc/after', 'utf8')).toBe('after');
  });

  it('a guest writing through an fd opened before the seal goes on writing after it: the snapshot holds the file at the seal, the sandbox all of it', async () => {
    const quota = 64 * 1024 * 1024;
    const sandbox = await pool.create({ image: reference, store, tmpfs: { maxBytes: quota } });
    const fill = sandbox.run(guestPath('fill'), { args: ['fill', '/fill'] });
    // Wait until it writes: the stats are served between its writes.
    while (!(await sandbox.fs.exists('/fill')) || (await sandbox.fs.stat('/fill')).size === 0) await sleep(1);
    const { digest, pauseMs } = await sandbox.commit({ compression: 'none' });
    const result = await fill;
    expect(result.exitCode).toBe(0);
    const match = /^wrote (\d+) bytes then (\w+)/.exec(utf8(result.stdout));
    // Moved onto the fresh upper at the seal, it writes on until that upper's quota is full.
    expect(match?.[2]).toBe('ENOSPC');
    const written = Number(match![1]);
    const restored = await pool.create({ from: digest, store });
    const atSeal = (await restored.fs.stat('/fill')).size;
    expect(atSeal).toBeGreaterThan(0);
    expect(atSeal).toBeLessThan(written);
    expect((await sandbox.fs.stat('/fill')).size).toBe(written);
    const tail = await sandbox.fs.readFile('/fill');
    expect(tail.every((b: number) => b === 0x66)).toBe(true);
    console.log(`commit during fill: ${atSeal} bytes at the seal, ${written} in all; seal ${pauseMs.toFixed(3)} ms`);
  });

  it('seals a sandbox while a guest of another sandbox runs on the same worker, which is untouched', async () => {
    const one = new SandboxPool({ size: 1 });
    try {
      const busy = await one.create({ image: reference, store });
      const quiet = await one.create({ image: reference, store });
      await busy.fs.mkdir('/work');
      await quiet.fs.writeFile('/etc/quiet', 'q');
      const churn = await churning(busy, ['fs', '/work']);
      const committing = quiet.commit();
      await quiet.fs.writeFile('/etc/later', 'l');
      await sleep(50);
      expect(churn.running()).toBe(true);
      // The busy guest's writes still land: its files appear and change.
      expect((await busy.fs.readdir('/work')).length).toBeGreaterThan(0);
      churn.child.kill();
      await churn.child.exited;
      const { digest } = await committing;
      const restored = await Sandbox.create({ from: digest, store });
      expect(utf8(await restored.fs.readFile('/etc/quiet'))).toBe('q');
      expect(await restored.fs.exists('/etc/later')).toBe(false);
    } finally {
      await one.close();
    }
  });

  it('pauses the running guest for the seal only: 1 MiB and 64 MiB deltas', async () => {
    const rows: string[] = [];
    const pauses = new Map<number, number>();
    for (const mib of [1, 64]) {
      const sandbox = await pool.create({ image: reference, store });
      for (let i = 0; i < mib; i++) await sandbox.fs.writeFile(`/data-${i}`, randomBytes(1 << 20));
      const churn = await churning(sandbox, ['stat']);
      const sent = performance.now();
      const committing = sandbox.commit();
      await sandbox.fs.stat('/');
      const sealedMs = performance.now() - sent;
      churn.child.kill();
      await churn.child.exited;
      const { pauseMs, manifest } = await committing;
      const storedMs = performance.now() - sent;
      pauses.set(mib, pauseMs);
      rows.push(`${String(mib).padStart(2)} MiB delta: seal ${pauseMs.toFixed(3)} ms; commit+stat round trip while the guest ran ${sealedMs.toFixed(1)} ms; stored after ${storedMs.toFixed(0)} ms (${manifest.delta.at(-1)!.size} bytes)`);
      expect(churn.running()).toBe(false);
      await sandbox.close();
    }
    console.log(`pool commit pause vs delta size:\n${rows.join('\n')}`);
    expect(pauses.get(64)!).toBeLessThan(50);
  });

  it('restores a golden snapshot 100 times in parallel on a 2-worker pool, each restore writing privately', async () => {
    const golden = await Sandbox.create({ image: reference, store });
    await golden.fs.writeFile('/etc/golden', 'golden');
    const { digest } = await golden.commit();
    const started = performance.now();
    const times: number[] = [];
    const sandboxes = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const t = performance.now();
        const sandbox = await pool.create({ from: digest, store });
        times.push(performance.now() - t);
        return sandbox;
      }),
    );
    const allMs = performance.now() - started;
    expect(pool.workers).toBe(2);
    await Promise.all(
      sandboxes.map(async (sandbox, i) => {
        await sandbox.fs.writeFile('/etc/motd', `motd ${i}`);
        await sandbox.fs.writeFile(`/etc/mine-${i}`, String(i));
        await sandbox.fs.rm('/etc/golden');
      }),
    );
    for (const [i, sandbox] of sandboxes.entries()) {
      expect(await sandbox.fs.readFile('/etc/motd', 'utf8')).toBe(`motd ${i}`);
      expect((await sandbox.fs.readdir('/etc')).filter((n) => n.startsWith('mine-'))).toEqual([`mine-${i}`]);
      expect(await sandbox.fs.exists('/etc/golden')).toBe(false);
    }
    const fresh = await pool.create({ from: digest, store });
    expect(await fresh.fs.readFile('/etc/golden', 'utf8')).toBe('golden');
    expect(await fresh.fs.readFile('/etc/motd', 'utf8')).toBe('welcome\n');
    times.sort((a, b) => a - b);
    console.log(`100 parallel pool restores: all in ${allMs.toFixed(0)} ms; p50 ${times[49]!.toFixed(1)} ms, p99 ${times[98]!.toFixed(1)} ms`);
    await Promise.all([...sandboxes, fresh].map((s) => s.close()));
  });
});
