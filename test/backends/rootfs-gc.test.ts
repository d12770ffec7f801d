import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cachedRootfs, chainKey, closeRootfsLayers, materializeRootfs, rootfsLayers, type BackendManifest } from '../../src/backends/index.js';
import { ImageStore, pull, type ImageRecord } from '../../src/oci/index.js';
import { Sandbox } from '../../src/sandbox/index.js';
import { SnapshotStore } from '../../src/snapshot/index.js';
import { Layout } from '../support/image-layout.js';
import { tempDir } from '../support/layer-trees.js';
import { storeWithImage } from '../snapshot/support.js';

// ImageStore.gc() and the extracted-rootfs cache (src/oci/rootfs-cache.ts, built by cachedRootfs):
// a tree goes once a layer of its chain is kept by nothing, never while it is held or being built.

const manifestOf = (record: ImageRecord): BackendManifest => ({
  class: 'runc',
  image: { reference: record.reference, manifestDigest: record.manifestDigest, configDigest: record.config.digest, diffIDs: record.layers.map((l) => l.diffID!) },
  root: { mode: 'overlay' },
  mounts: [],
  backend: { assets: [], config: {} },
  delta: [],
});

/** Build (and release) the cached tree of a manifest's chain (or of its first `count` layers); returns its entry directory. */
async function cache(store: ImageStore, manifest: BackendManifest, options: { snapshot?: string; count?: number } = {}): Promise<{ entry: string; diffIDs: readonly string[] }> {
  const layers = await rootfsLayers(manifest, { store, ...(options.snapshot !== undefined && { snapshot: options.snapshot }) });
  const chain = layers.layers.slice(0, options.count ?? layers.layers.length);
  const cached = await cachedRootfs(store, chain);
  await cached.release();
  closeRootfsLayers(layers);
  const diffIDs = chain.map((l) => l.diffID);
  return { entry: join(store.root, 'rootfs', chainKey(diffIDs)), diffIDs };
}

/** The bytes of every non-directory under these paths, each inode once (as gc counts them). */
function bytesUnder(...paths: string[]): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (path: string): void => {
    if (!existsSync(path)) return;
    const info = lstatSync(path);
    if (info.isDirectory()) {
      for (const name of readdirSync(path)) walk(join(path, name));
    } else if (!seen.has(`${info.dev}:${info.ino}`)) {
      seen.add(`${info.dev}:${info.ino}`);
      total += info.size;
    }
  };
  for (const path of paths) walk(path);
  return total;
}

/** Two images sharing a base layer, pulled from one layout into a fresh store. */
async function twoImages() {
  const dir = tempDir('strata-rootfs-gc-');
  const layout = new Layout(join(dir, 'layout'));
  layout.tag(await layout.image([{ 'etc/base': 'shared base' }, { 'app/one': 'one'.repeat(1000) }]), 'one');
  layout.tag(await layout.image([{ 'etc/base': 'shared base' }, { 'app/two': 'two'.repeat(3000) }]), 'two');
  const store = await ImageStore.open(join(dir, 'store'));
  const one = await pull(`oci:${layout.dir}:one`, { store });
  const two = await pull(`oci:${layout.dir}:two`, { store });
  return { store, one, two };
}

/** A pid that was alive a moment ago and is not now. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('gc of the extracted-rootfs cache', () => {
  it('works while nothing is cached (no rootfs/ at all, then an empty one)', async () => {
    const { store } = await twoImages();
    expect(existsSync(join(store.root, 'rootfs'))).toBe(false);
    expect(await store.gc()).toEqual({ blobsRemoved: 0, layerFilesRemoved: 0, rootfsTreesRemoved: 0, tempFilesRemoved: 0, bytesFreed: 0 });
    mkdirSync(join(store.root, 'rootfs'));
    expect(await store.gc()).toMatchObject({ rootfsTreesRemoved: 0, bytesFreed: 0 });
  });

  it("removes a removed image's tree and counts its bytes; a kept image's tree (and the shared prefix) stay", async () => {
    const { store, one, two } = await twoImages();
    const treeOne = await cache(store, manifestOf(one));
    const treeTwo = await cache(store, manifestOf(two));
    const base = await cache(store, manifestOf(one), { count: 1 });
    // Nothing removed yet: every tree's chain is kept.
    expect(await store.gc()).toMatchObject({ rootfsTreesRemoved: 0, bytesFreed: 0 });

    await store.remove(two.reference);
    const treeBytes = bytesUnder(treeTwo.entry);
    expect(treeBytes).toBeGreaterThan(9000); // app/two, and the diffids file
    const before = bytesUnder(join(store.root, 'blobs'), join(store.root, 'layers'), join(store.root, 'index'));
    const result = await store.gc();
    const after = bytesUnder(join(store.root, 'blobs'), join(store.root, 'layers'), join(store.root, 'index'));
    expect(result).toMatchObject({ blobsRemoved: 3, rootfsTreesRemoved: 1, tempFilesRemoved: 0 });
    expect(result.bytesFreed).toBe(before - after + treeBytes);
    expect(existsSync(treeTwo.entry)).toBe(false);
    expect(readFileSync(join(treeOne.entry, 'tree', 'app', 'one'), 'utf8')).toBe('one'.repeat(1000));
    expect(existsSync(join(base.entry, 'tree', 'etc', 'base'))).toBe(true);
    expect(readdirSync(join(store.root, 'rootfs')).sort()).toEqual([base.entry, treeOne.entry].map((e) => e.slice(e.lastIndexOf('/') + 1)).sort());

    await store.remove(one.reference);
    expect(await store.gc()).toMatchObject({ rootfsTreesRemoved: 2 });
    expect(readdirSync(join(store.root, 'rootfs'))).toEqual([]);
  });

  it("keeps a snapshot's chain (and its image's) after the image is removed, until the snapshot goes", async () => {
    const { images, record, reference } = await storeWithImage();
    const sandbox = await Sandbox.create({ image: reference, store: images, dev: false });
    await sandbox.fs.writeFile('/etc/motd', 'changed\n');
    const { digest, manifest } = await sandbox.commit();
    const image = await cache(images, manifestOf(record));
    const chain = await cache(images, manifest as BackendManifest, { snapshot: digest });
    expect(chain.diffIDs).toHaveLength(record.layers.length + 1);
    expect(readFileSync(join(chain.entry, 'tree', 'etc', 'motd'), 'utf8')).toBe('changed\n');

    await images.remove(reference);
    expect(await images.gc()).toMatchObject({ rootfsTreesRemoved: 0 });
    expect(readFileSync(join(chain.entry, 'tree', 'etc', 'motd'), 'utf8')).toBe('changed\n');
    expect(existsSync(join(image.entry, 'tree'))).toBe(true);

    await new SnapshotStore(images).remove(digest);
    expect(await images.gc()).toMatchObject({ rootfsTreesRemoved: 2 });
    expect(existsSync(chain.entry) || existsSync(image.entry)).toBe(false);
  });

  it('keeps a held tree (a sandbox over it) whatever the catalogue says, until it is released or its holder dies', async () => {
    const { store, two } = await twoImages();
    const layers = await rootfsLayers(manifestOf(two), { store });
    const held = await cachedRootfs(store, layers.layers);
    closeRootfsLayers(layers);
    await store.remove(two.reference);
    expect(await store.gc()).toMatchObject({ blobsRemoved: 3, rootfsTreesRemoved: 0 });
    expect(readFileSync(join(held.tree, 'app', 'two'), 'utf8')).toBe('two'.repeat(3000));

    // A hold whose process died is stale.
    await held.release();
    const holds = join(held.tree, '..', 'holds');
    writeFileSync(join(holds, `${deadPid()}.0123456789ab`), JSON.stringify({ pid: deadPid(), host: hostname(), created: new Date().toISOString() }));
    expect(await store.gc()).toMatchObject({ rootfsTreesRemoved: 1 });
    expect(existsSync(held.tree)).toBe(false);
  });

  it('materializeRootfs holds the tree only while it copies', async () => {
    const { store, two } = await twoImages();
    const root = await materializeRootfs(manifestOf(two), join(tempDir('strata-rootfs-gc-'), 'rootfs'), { store });
    closeRootfsLayers(root);
    expect(readdirSync(join(root.cached, '..', 'holds'))).toEqual([]);
    await store.remove(two.reference);
    expect(await store.gc()).toMatchObject({ rootfsTreesRemoved: 1 });
    expect(readFileSync(join(root.dir, 'app', 'two'), 'utf8')).toBe('two'.repeat(3000));
  });

  it('never removes a tree being built, nor the cached prefix it copies from: gc waits for the build, which then holds its tree', async () => {
    const { images, record, reference } = await storeWithImage({ files: 4000, bulkBytes: 32 << 20 });
    const sandbox = await Sandbox.create({ image: reference, store: images, dev: false });
    await sandbox.fs.writeFile('/etc/motd', 'changed\n');
    const { digest, manifest } = await sandbox.commit();
    const prefix = await cache(images, manifestOf(record));
    const layers = await rootfsLayers(manifest as BackendManifest, { store: images, snapshot: digest });
    // Nothing keeps either chain any more: only the build's lease, then its hold, stand between them and gc.
    await new SnapshotStore(images).remove(digest);
    await images.remove(reference);
    const order: string[] = [];
    // The image's tree is the cached prefix: the build copies it (`cp -a`, the event loop free for gc), then applies the delta.
    const building = cachedRootfs(images, layers.layers).then((held) => {
      order.push('built');
      return held;
    });
    const cacheDir = join(images.root, 'rootfs');
    while (!readdirSync(cacheDir).some((n) => n.startsWith('.tmp-rootfs.'))) await new Promise((resolve) => setImmediate(resolve));
    const result = await images.gc().then((r) => {
      order.push('gc');
      return r;
    });
    const held = await building;
    expect(order).toEqual(['built', 'gc']);
    // The prefix was no longer being copied from once gc swept: it went; the new tree is held.
    expect(result).toMatchObject({ rootfsTreesRemoved: 1, tempFilesRemoved: 0 });
    expect(existsSync(prefix.entry)).toBe(false);
    expect(readFileSync(join(held.tree, 'etc', 'motd'), 'utf8')).toBe('changed\n');
    expect(readdirSync(join(held.tree, 'bulk'))).toHaveLength(4001);
    expect(lstatSync(join(held.tree, 'bulk', 'blob')).size).toBe(32 << 20);
    await held.release();
    closeRootfsLayers(layers);
    expect(await images.gc()).toMatchObject({ rootfsTreesRemoved: 1 });
  });

  it('removes half-built trees of dead processes, and keeps those of live ones', async () => {
    const { store } = await twoImages();
    const dead = join(store.root, 'rootfs', `.tmp-rootfs.${deadPid()}.0123456789ab`);
    const legacy = join(store.root, 'rootfs', '.tmp-1b4e28ba-2fa1-11d2-883f-0016d3cca427');
    const mine = join(store.root, 'rootfs', `.tmp-rootfs.${process.pid}.0123456789ab`);
    for (const d of [dead, legacy, mine]) {
      mkdirSync(join(d, 'tree', 'etc'), { recursive: true });
      writeFileSync(join(d, 'tree', 'etc', 'partial'), 'half');
    }
    // A complete-looking entry whose diffids file does not hash to its name is not one of ours: removed.
    const forged = join(store.root, 'rootfs', 'f'.repeat(64));
    mkdirSync(join(forged, 'tree'), { recursive: true });
    writeFileSync(join(forged, 'diffids'), `${'sha256:' + '0'.repeat(64)}\n`);
    expect(await store.gc()).toMatchObject({ tempFilesRemoved: 2, rootfsTreesRemoved: 1, bytesFreed: 4 + 4 + 72 });
    expect([existsSync(dead), existsSync(legacy), existsSync(mine), existsSync(forged)]).toEqual([false, false, true, false]);
  });
});
