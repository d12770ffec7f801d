/**
 * Components on the worker pool: a component found in a pooled sandbox,
 * or given by the host, runs on its home worker as a preview1 program does, with the same
 * stdio, output as streams, timeout and kill in milliseconds (a spinning
 * component, and one asleep in poll), and a tmpfs left exact after a kill.
 * Loads strata from dist/ (see test/sandbox/pool-support.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtStrata, recountThroughFs, sleep } from '../sandbox/pool-support.js';
import { componentBytes, componentPath } from './support.js';

const strata = await builtStrata();
const { SandboxPool } = strata;
let pool: InstanceType<typeof SandboxPool>;

beforeAll(() => {
  pool = new SandboxPool({ size: 1 });
});
afterAll(() => pool.close());

async function withComponents(names: readonly string[]) {
  const sandbox = await pool.create();
  await sandbox.fs.mkdir('/bin');
  for (const name of names) await sandbox.fs.writeFile(`/bin/${name}`, componentBytes(name));
  return sandbox;
}

describe('components on the pool', () => {
  it('exec runs a component from the sandbox, with args, env, stdin and its files', async () => {
    const sandbox = await withComponents(['fsbox', 'cat', 'hello']);
    await sandbox.fs.writeFile('/motd', 'pooled');
    expect(new TextDecoder().decode((await sandbox.exec(['fsbox', 'cat', '/motd'], { env: { PATH: '/bin' } })).stdout)).toBe('pooled');
    expect(new TextDecoder().decode((await sandbox.exec(['/bin/cat'], { stdin: 'through the ring' })).stdout)).toBe('through the ring');
    const r = await sandbox.exec(['/bin/fsbox', 'write', '/made', 'by a component']);
    expect(r.exitCode).toBe(0);
    expect(await sandbox.fs.readFile('/made', 'utf8')).toBe('by a component');
    expect(new TextDecoder().decode((await sandbox.exec(['/bin/hello', 'pool'])).stdout)).toBe('hello, pool\n');
  });

  it('run and spawn take a component from the host, as a module (bytes or path)', async () => {
    const sandbox = await pool.create();
    const r = await sandbox.run(componentBytes('hello'), { args: ['host'] });
    expect(new TextDecoder().decode(r.stdout)).toBe('hello, host\n');
    const child = sandbox.spawn(['cat'], { module: componentPath('cat'), stdin: 'from the host' });
    let out = '';
    const done = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => (out += d.toString())).on('end', resolve));
    expect(await child.exited).toMatchObject({ code: 0, reason: 'exit' });
    await done;
    expect(out).toBe('from the host');
    expect(await (async () => { try { await sandbox.run(componentBytes('spin'), { timeoutMs: 100 }); } catch (e) { return (e as { code?: string }).code; } return undefined; })()).toBe('ERR_TIMEOUT');
  });

  it('a spinning component is killed in milliseconds, and times out', async () => {
    const sandbox = await withComponents(['spin', 'hello']);
    const child = sandbox.spawn(['/bin/spin']);
    await sleep(300);
    const started = performance.now();
    child.kill();
    expect(await child.exited).toMatchObject({ code: null, reason: 'killed' });
    expect(performance.now() - started).toBeLessThan(1_000);
    const timed = sandbox.spawn(['/bin/spin'], { timeoutMs: 100 });
    expect(await timed.exited).toMatchObject({ code: null, reason: 'timeout' });
    expect((await sandbox.exec(['/bin/hello'])).exitCode).toBe(0);
  });

  it('a component asleep in poll (10 s sleeps, forever) is killed at once', async () => {
    const sandbox = await withComponents(['churn']);
    const child = sandbox.spawn(['/bin/churn', 'sleep', '10000']);
    await sleep(150);
    const started = performance.now();
    child.kill();
    expect(await child.exited).toMatchObject({ code: null, reason: 'killed' });
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('killed while writing, the tmpfs root is left as a recount says', async () => {
    const sandbox = await withComponents(['churn']);
    for (let i = 0; i < 5; i++) {
      const child = sandbox.spawn(['/bin/churn', 'fs', '/churn'], { stdin: '' });
      await sleep(40 + i * 17);
      child.kill();
      await child.exited;
    }
    const usage = await sandbox.usage();
    const recount = await recountThroughFs(sandbox.fs);
    expect(recount.faults).toEqual([]);
    expect({ bytes: usage.bytes, inodes: usage.inodes }).toEqual({ bytes: recount.bytes, inodes: recount.inodes });
  });
});
