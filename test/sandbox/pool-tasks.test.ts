import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/layer-trees.js';
import { builtStrata } from './pool-support.js';

/**
 * Issue 10's task runner, in the timecraft style: 1,000 task processes over
 * one image, all in flight at once on a 2-worker pool (which runs as many
 * at a time as it has workers). Each task has its own root (a fork of one
 * golden sandbox, or a sandbox of its own), writes its own files, and must
 * see none of the others' writes: checked file by file afterwards.
 */
const image = `oci:${fileURLToPath(new URL('../../examples/hello-image', import.meta.url))}`;
const tasks = 1000;

describe('1,000 concurrent task processes over one image', () => {
  let strata: Awaited<ReturnType<typeof builtStrata>>;
  let pool: InstanceType<typeof strata.SandboxPool>;
  let store: Awaited<ReturnType<typeof strata.ImageStore.open>>;

  beforeAll(async () => {
    strata = await builtStrata();
    pool = new strata.SandboxPool({ size: 2 });
    store = await strata.ImageStore.open(tempDir('strata-tasks-'));
  });

  afterAll(async () => {
    await pool?.close();
  });

  it('forks of a golden sandbox: each writes its own files, sees the golden files, and none of the others', async () => {
    const golden = await pool.create({ image, store });
    const init = await golden.exec(['fsbox', 'write', '/etc/golden', 'from init']);
    expect(init.exitCode).toBe(0);

    const forks = await Promise.all(Array.from({ length: tasks }, () => golden.fork()));
    // Every process is started before any is awaited: all 1,000 are in flight at once.
    const processes = forks.map((sandbox, i) => sandbox.spawn(['fsbox', 'write', `/task-${i}`, `task ${i}`], { stdin: '' }));
    const exits = await Promise.all(processes.map((p) => p.exited));
    expect(exits.filter((e) => e.code !== 0)).toEqual([]);
    expect(new Set(processes.map((p) => p.pid)).size).toBe(tasks);

    // File by file: each fork has its own file with its own contents, the golden file, and no other task's file.
    const mine = await Promise.all(forks.map((sandbox, i) => sandbox.fs.readFile(`/task-${i}`, 'utf8')));
    expect(mine).toEqual(forks.map((_, i) => `task ${i}`));
    const listings = await Promise.all(forks.map((sandbox) => sandbox.fs.readdir('/')));
    for (const [i, names] of listings.entries()) {
      expect(names.filter((n) => n.startsWith('task-')), `fork ${i}`).toEqual([`task-${i}`]);
    }
    const goldens = await Promise.all(forks.slice(0, 50).map((sandbox) => sandbox.fs.readFile('/etc/golden', 'utf8')));
    expect(new Set(goldens)).toEqual(new Set(['from init']));
    expect(await golden.fs.readdir('/')).not.toContain('task-0');
    await Promise.all(forks.map((sandbox) => sandbox.close()));
    await golden.close();
  }, 600_000);

  it('sandboxes of their own over the same image: a guest that fails does not disturb the others', async () => {
    const count = 200;
    const sandboxes = await Promise.all(Array.from({ length: count }, () => pool.create({ image, store })));
    const processes = sandboxes.map((sandbox, i) =>
      i % 50 === 7
        ? sandbox.spawn(['fsbox', 'cat', '/no/such/file'], { stdin: '' })
        : sandbox.spawn(['fsbox', 'write', `/own-${i}`, String(i)], { stdin: '' }),
    );
    const exits = await Promise.all(processes.map((p) => p.exited));
    for (const [i, exit] of exits.entries()) expect(exit.code, `task ${i}`).toBe(i % 50 === 7 ? 1 : 0);
    for (const [i, sandbox] of sandboxes.entries()) {
      const names = (await sandbox.fs.readdir('/')).filter((n) => n.startsWith('own-'));
      expect(names, `sandbox ${i}`).toEqual(i % 50 === 7 ? [] : [`own-${i}`]);
    }
    await Promise.all(sandboxes.map((sandbox) => sandbox.close()));
  }, 600_000);
});
