import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/oci/image-store.js';
import { layerDataPath, layerIndexPath } from '../../src/oci/layer-index.js';
import { pull } from '../../src/oci/pull.js';
import { acquireGcLock, acquirePullLease } from '../../src/oci/store-lock.js';
import { Layout } from '../support/image-layout.js';

let dir: string;
let images: ImageStore;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-images-'));
  images = await ImageStore.open(join(dir, 'store'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Two images sharing a base layer, in one layout. */
async function twoImages() {
  const layout = new Layout(join(dir, 'layout'));
  layout.tag(await layout.image([{ base: 'shared base' }, { app: 'one' }]), 'one');
  layout.tag(await layout.image([{ base: 'shared base' }, { app: 'two' }]), 'two');
  const one = await pull(`oci:${layout.dir}:one`, { store: images });
  const two = await pull(`oci:${layout.dir}:two`, { store: images });
  return { layout, one, two };
}

/** A pid that was alive a moment ago and is not now. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('the catalogue', () => {
  it('lists images by reference, finds them by reference or digest, and removes them', async () => {
    const { layout, one, two } = await twoImages();
    expect((await images.list()).map((r) => r.reference)).toEqual([`oci:${layout.dir}:one`, `oci:${layout.dir}:two`]);
    expect(await images.find(`oci:${layout.dir}:one`)).toEqual([one]);
    expect(await images.find(one.manifestDigest)).toEqual([one]);
    expect(await images.remove(`oci:${layout.dir}:two`)).toEqual([two]);
    expect(await images.list()).toEqual([one]);
  });

  it('finds a relative oci: reference the way it was pulled', async () => {
    const { one } = await twoImages();
    expect(await images.find('oci:layout:one', dir)).toEqual([one]);
  });

  it('says when an image was not pulled', async () => {
    await expect(images.find('127.0.0.1:5000/nothing')).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND', message: expect.stringContaining("image '127.0.0.1:5000/nothing:latest' has not been pulled") });
    await expect(images.remove(`sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'ERR_IMAGE_NOT_FOUND' });
    await expect(images.find('Bad Ref')).rejects.toMatchObject({ code: 'ERR_BAD_REFERENCE' });
  });
});

describe('gc', () => {
  it('keeps what images use, and removes blobs, layer tars and indexes that nothing uses', async () => {
    const { layout, one, two } = await twoImages();
    const before = (await images.blobs.list()).length;
    expect(await images.gc()).toEqual({ blobsRemoved: 0, layerFilesRemoved: 0, rootfsTreesRemoved: 0, tempFilesRemoved: 0, bytesFreed: 0 });

    await images.remove(`oci:${layout.dir}:two`);
    const onlyTwo = [two.manifestDigest, two.config.digest, two.layers[1]!.digest];
    const result = await images.gc();
    expect(result.blobsRemoved).toBe(3);
    expect(result.layerFilesRemoved).toBeGreaterThanOrEqual(2);
    expect(result.bytesFreed).toBeGreaterThan(two.layers[1]!.size);
    expect((await images.blobs.list()).length).toBe(before - 3);
    for (const digest of onlyTwo) expect(await images.blobs.has(digest)).toBe(false);
    expect(existsSync(layerDataPath(images.blobs, two.layers[1]!.diffID!))).toBe(false);
    expect(existsSync(layerIndexPath(images.blobs, two.layers[1]!.diffID!))).toBe(false);
    // The shared base layer and all of image one stay.
    for (const layer of one.layers) {
      expect(await images.blobs.has(layer.digest)).toBe(true);
      expect(existsSync(layerIndexPath(images.blobs, layer.diffID!))).toBe(true);
    }

    await images.remove(one.manifestDigest);
    await images.gc();
    expect(await images.blobs.list()).toEqual([]);
    const leftovers = ['layers', 'index'].flatMap((d) => readdirSync(join(images.root, d), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()));
    expect(leftovers).toEqual([]);
  });

  it('removes temp files of dead processes only', async () => {
    const dead = join(images.root, 'tmp', `abcdef.${deadPid()}.0123456789ab`);
    const mine = join(images.root, 'tmp', `abcdef.${process.pid}.0123456789ab`);
    writeFileSync(dead, 'partial download');
    writeFileSync(mine, 'in progress');
    expect(await images.gc()).toMatchObject({ tempFilesRemoved: 1, bytesFreed: 16 });
    expect([existsSync(dead), existsSync(mine)]).toEqual([false, true]);
  });

  it('waits for a running pull, and gives up with ERR_STORE_BUSY', async () => {
    const lease = await images.lease();
    await expect(images.gc({ timeoutMs: 200 })).rejects.toMatchObject({ code: 'ERR_STORE_BUSY', message: expect.stringContaining(`pids ${process.pid}`) });
    const collecting = images.gc({ timeoutMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await lease.release();
    await expect(collecting).resolves.toMatchObject({ blobsRemoved: 0 });
  });

  it('holds pulls back while it runs', async () => {
    const lock = await acquireGcLock(images.root);
    await expect(acquirePullLease(images.root, { timeoutMs: 150 })).rejects.toMatchObject({ code: 'ERR_STORE_BUSY' });
    await expect(images.gc({ timeoutMs: 100 })).rejects.toMatchObject({ code: 'ERR_STORE_BUSY', message: expect.stringMatching(/another garbage collection/) });
    const leasing = acquirePullLease(images.root, { timeoutMs: 5000 });
    await lock.release();
    await (await leasing).release();
  });

  it('ignores locks and leases whose process is dead', async () => {
    const locks = join(images.root, 'locks');
    mkdirSync(locks, { recursive: true });
    const owner = JSON.stringify({ pid: deadPid(), host: hostname(), created: new Date().toISOString() });
    writeFileSync(join(locks, 'gc.lock'), owner);
    writeFileSync(join(locks, `pull-1-abc.lease`), owner);
    await (await acquirePullLease(images.root, { timeoutMs: 1000 })).release();
    await expect(images.gc({ timeoutMs: 1000 })).resolves.toMatchObject({ blobsRemoved: 0 });
    expect(readdirSync(locks)).toEqual([]);
  });
});
