/**
 * PooledSandbox.fork(): a copy-on-write fork of a pooled sandbox, on the
 * same home worker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import { builtStrata, sleep } from './pool-support.js';

const { SandboxPool } = await builtStrata();
type Pool = InstanceType<typeof SandboxPool>;

describe('PooledSandbox.fork', () => {
  let pool: Pool;
  beforeAll(() => {
    pool = new SandboxPool({ size: 2 });
  });
  afterAll(() => pool.close());

  it('starts from the parent state; then each side writes its own', async () => {
    const parent = await pool.create();
    await parent.fs.writeFile('/shared', 'before');
    const child = await parent.fork();
    expect(await child.fs.readFile('/shared', 'utf8')).toBe('before');
    await child.fs.writeFile('/shared', 'child');
    await parent.fs.writeFile('/only-parent', 'p');
    expect(await parent.fs.readFile('/shared', 'utf8')).toBe('before');
    expect(await child.fs.exists('/only-parent')).toBe(false);
    const run = await child.run(guestPath('fsbox'), { args: ['cat', '/shared'] });
    expect(Buffer.from(run.stdout).toString()).toBe('child');
  });

  it('lives on the same home worker: its processes queue behind the parent’s', async () => {
    const parent = await pool.create();
    const child = await parent.fork();
    const spinner = parent.spawn([], { module: guestPath('spin') });
    await sleep(30);
    let done = false;
    const run = child.run(guestPath('hello')).then((r) => ((done = true), r));
    await sleep(100);
    expect(done).toBe(false);
    spinner.kill();
    expect((await run).exitCode).toBe(0);
    await child.close();
    await expect(child.fork()).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});
