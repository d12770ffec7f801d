/**
 * Components and snapshots: a component's writes are in the sandbox's
 * snapshot like a preview1 module's, and a component writing when a
 * commit seals the root is moved onto the fresh upper (its open file
 * re-pointed by name), so it writes on, in thread and on the pool.
 * Loads strata from dist/ (see test/sandbox/pool-support.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeWithImage } from '../snapshot/support.js';
import { builtStrata, sleep } from '../sandbox/pool-support.js';
import { componentBytes } from './support.js';

const strata = await builtStrata();
const { SandboxPool, Sandbox, ImageStore } = strata;
let pool: InstanceType<typeof SandboxPool>;
let store: Awaited<ReturnType<typeof ImageStore.open>>;
let reference: string;
const utf8 = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

beforeAll(async () => {
  const made = await storeWithImage();
  reference = made.reference;
  store = await ImageStore.open(made.images.root);
  pool = new SandboxPool({ size: 1 });
});
afterAll(() => pool.close());

describe('components and snapshots', () => {
  it("a component's writes are committed and restored", async () => {
    const sandbox = await Sandbox.create({ image: reference, store });
    // The image's Entrypoint is /bin/tool: make it a component.
    await sandbox.fs.writeFile('/bin/tool', componentBytes('fsbox'));
    expect((await sandbox.exec(['write', '/etc/by-component', 'committed'])).exitCode).toBe(0);
    const { digest } = await sandbox.commit();
    const restored = await Sandbox.create({ from: digest, store });
    expect(utf8((await restored.exec(['cat', '/etc/by-component'])).stdout)).toBe('committed');
  });

  it('on the pool, a component writing through a file opened before the seal writes on after it', async () => {
    const quota = 64 * 1024 * 1024;
    const sandbox = await pool.create({ image: reference, store, tmpfs: { maxBytes: quota } });
    await sandbox.fs.writeFile('/bin/tool', componentBytes('fill'));
    const fill = sandbox.exec(['/fill']);
    while (!(await sandbox.fs.exists('/fill')) || (await sandbox.fs.stat('/fill')).size === 0) await sleep(1);
    const { digest } = await sandbox.commit({ compression: 'none' });
    const result = await fill;
    expect(result.exitCode).toBe(0);
    const match = /^wrote (\d+) bytes then (\w+)/.exec(utf8(result.stdout));
    // Moved onto the fresh upper at the seal, it writes on until that upper's quota is full (EROFS if it were not moved).
    expect(match?.[2]).toBe('ENOSPC');
    const written = Number(match![1]);
    const restored = await pool.create({ from: digest, store });
    const atSeal = (await restored.fs.stat('/fill')).size;
    expect(atSeal).toBeGreaterThan(0);
    expect(atSeal).toBeLessThan(written);
    expect((await sandbox.fs.stat('/fill')).size).toBe(written);
  });
});
