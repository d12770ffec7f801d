import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/oci/image-store.js';
import { openImage, Sandbox, type Image } from '../../src/sandbox/index.js';
import { pageSize, sharedPagePool } from '../../src/vfs/page-pool.js';
import { guestBytes, text } from '../support/guests.js';
import { tempDir } from '../support/layer-trees.js';

/**
 * Closing a sandbox gives the memory of its files in memory (a tmpfs root,
 * an overlay's in-memory upper, tmpfs and overlay mounts) to the thread's
 * page pool, and their contents then fail with EIO; what a fork or a
 * commit shares is frozen and stays readable.
 */
const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));
let image: Image;

beforeAll(async () => {
  const store = await ImageStore.open(tempDir('strata-close-images-'));
  image = await openImage(`oci:${example}`, { store });
});

const pages = (n: number, byte: number) => new Uint8Array(n * pageSize).fill(byte);
const eio = expect.objectContaining({ errno: 'EIO' });

/** Pages the thread's pool gains while `close` runs (no timer can run inside it). */
function pooledBy(close: () => void): number {
  const before = sharedPagePool().size;
  close();
  return sharedPagePool().size - before;
}

describe('Sandbox.close and the memory of its files', () => {
  it('a tmpfs root and a tmpfs mount: their pages go to the pool, their files then fail with EIO', async () => {
    const sandbox = await Sandbox.create({ mounts: [{ type: 'tmpfs', target: '/scratch' }] });
    sandbox.writeFile('/big', pages(3, 1));
    sandbox.writeFile('/scratch/big', pages(2, 2));
    expect(pooledBy(() => sandbox.close())).toBe(5);
    expect(() => sandbox.readFile('/big')).toThrow(eio);
    expect(() => sandbox.writeFile('/scratch/new', 'x')).toThrow(eio);
    expect(pooledBy(() => sandbox.close())).toBe(0);
  });

  it("an overlay root's upper is released; the image's files stay readable", async () => {
    const sandbox = await Sandbox.create({ image, root: 'overlay' });
    sandbox.writeFile('/written', pages(2, 3));
    const imageFile = text(sandbox.readFile('/etc/motd'));
    expect(pooledBy(() => sandbox.close())).toBe(2);
    expect(() => sandbox.readFile('/written')).toThrow(eio);
    expect(text(sandbox.readFile('/etc/motd'))).toBe(imageFile);
  });

  it("a fork's shared state stays readable after either side closes", async () => {
    const parent = await Sandbox.create();
    parent.writeFile('/shared', pages(2, 4));
    const child = await parent.fork();
    parent.writeFile('/own', pages(1, 5));
    expect(pooledBy(() => parent.close())).toBe(1); // only what the parent wrote after the fork
    expect(child.readFile('/shared').every((b) => b === 4)).toBe(true);
    child.close();
    expect(parent.readFile('/shared').every((b) => b === 4)).toBe(true);
  });

  it('a new sandbox reuses the pages and reads only its own bytes; a guest in a closed sandbox gets EIO, not old data', async () => {
    const first = await Sandbox.create();
    first.writeFile('/data', pages(4, 0xee));
    first.close();
    const second = await Sandbox.create();
    second.writeFile('/data', new Uint8Array(pageSize + 10).fill(7));
    const back = second.readFile('/data');
    expect(back.length).toBe(pageSize + 10);
    expect(back.every((b) => b === 7)).toBe(true);
    const seen = await second.run(await guestBytes('fsbox'), { args: ['cat', '/data'] });
    expect(seen.exitCode).toBe(0);
    expect(new Uint8Array(seen.stdout)).toEqual(back);
    second.close();
    const after = await second.run(await guestBytes('fsbox'), { args: ['cat', '/data'] });
    expect(after.exitCode).not.toBe(0);
    expect(text(after.stderr)).toMatch(/I\/O error/i);
  });
});
