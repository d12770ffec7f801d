/**
 * A pool's life: many sandboxes on two workers, close, and nothing left
 * that keeps the app alive; idle workers never keep it alive either, and
 * an idle timeout ends them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    const racing = new SandboxPool({ size: 2 });
    const creates = [racing.create(), racing.create(), racing.create()].map((p) => p.then(() => 'made', (e: { code: string }) => e.code));
    await racing.close();
    for (const outcome of await Promise.all(creates)) expect(['made', 'ERR_INVALID_OPTION', 'ERR_WORKER_LOST']).toContain(outcome);
    expect(racing.workers).toBe(0);
  });

  it('without node:inspector, a kill ends the worker (its sandboxes report ERR_WORKER_LOST), warning once; the pool goes on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-no-inspector-'));
    try {
      // A loader hook that makes node:inspector unavailable, as in a Node built without it.
      writeFileSync(join(dir, 'hooks.mjs'), `export async function resolve(specifier, context, next) {
        if (specifier === 'node:inspector') throw new Error('no inspector in this build');
        return next(specifier, context);
      }`);
      writeFileSync(join(dir, 'main.mjs'), `
        import { register } from 'node:module';
        register(new URL('./hooks.mjs', import.meta.url));
        const { SandboxPool } = await import(${JSON.stringify(dist)});
        const warnings = [];
        process.on('warning', (w) => warnings.push(w.code));
        const pool = new SandboxPool({ size: 1 });
        const a = await pool.create();
        const b = await pool.create();
        await b.fs.writeFile('/f', 'x');
        const child = a.spawn([], { module: ${JSON.stringify(guestPath('spin'))} });
        await new Promise((r) => setTimeout(r, 50));
        child.kill();
        const exit = await child.exited;
        const lost = await b.fs.readFile('/f').catch((e) => e.code);
        const c = await pool.create();
        const r = await c.run(${JSON.stringify(guestPath('hello'))});
        console.log(JSON.stringify([exit.reason, exit.signal, lost, r.exitCode, pool.workers, warnings]));
        await pool.close();
      `);
      const r = spawnSync(process.execPath, [join(dir, 'main.mjs')], { encoding: 'utf8', timeout: 30_000 });
      expect(JSON.parse(r.stdout)).toEqual(['killed', 'SIGKILL', 'ERR_WORKER_LOST', 0, 1, ['STRATA_POOL_KILL_FALLBACK']]);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
