/**
 * A pool's life: many sandboxes on two workers, close, and nothing left
 * that keeps the app alive; idle workers never keep it alive either, and
 * an idle timeout ends them.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import { builtStrata, sleep } from './pool-support.js';

const { SandboxPool } = await builtStrata();
const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** Run an ES module script in a fresh node; it must end by itself. */
function script(source: string): { status: number | null; stdout: string; stderr: string; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - started };
}

describe('pool lifecycle', () => {
  it('40 sandboxes on a 2-worker pool, each running a guest, then close: the process exits by itself', () => {
    const r = script(`
      import { SandboxPool } from ${JSON.stringify(dist)};
      const pool = new SandboxPool({ size: 2 });
      const sandboxes = await Promise.all(Array.from({ length: 40 }, () => pool.create()));
      const outs = await Promise.all(sandboxes.map((s, i) => s.run(${JSON.stringify(guestPath('hello'))}, { args: [String(i)] })));
      console.log(pool.workers, outs.filter((o, i) => Buffer.from(o.stdout).toString() === 'hello, ' + i + '\\n').length);
      await pool.close();
    `);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('2 40\n');
    expect(r.status).toBe(0);
  });

  it('without close, idle workers do not keep the process alive', () => {
    const r = script(`
      import { SandboxPool } from ${JSON.stringify(dist)};
      const pool = new SandboxPool({ size: 2 });
      const s = await pool.create();
      await s.fs.writeFile('/f', 'x');
      const r = await s.run(${JSON.stringify(guestPath('hello'))});
      console.log(r.exitCode);
    `);
    expect(r.stdout).toBe('0\n');
    expect(r.status).toBe(0);
  });

  it('a worker that held no sandbox for idleTimeoutMs ends; the next create starts one', async () => {
    const pool = new SandboxPool({ size: 2, idleTimeoutMs: 50 });
    try {
      const sandbox = await pool.create();
      expect(pool.workers).toBe(1);
      await sandbox.close();
      await sleep(400);
      expect(pool.workers).toBe(0);
      const again = await pool.create();
      expect((await again.run(guestPath('hello'))).exitCode).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('a closed pool refuses new sandboxes; its sandboxes report ERR_WORKER_LOST', async () => {
    const pool = new SandboxPool({ size: 1 });
    const sandbox = await pool.create();
    await pool.close();
    await expect(pool.create()).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await expect(sandbox.fs.readFile('/x')).rejects.toMatchObject({ code: 'ERR_WORKER_LOST' });
    expect((await sandbox.spawn([], { module: guestPath('hello') }).exited).error).toMatchObject({ code: 'ERR_WORKER_LOST' });
    expect(() => new SandboxPool({ size: 0 })).toThrow(/size/);
  });
});
