import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/oci/blob-store.js';
import { indexLayer, layerIndexPath, type LayerIndex } from '../../src/oci/layer-index.js';
import { blockEntries } from '../../src/oci/layer-index-pages.js';
import { LayerView, type LayerLayout } from '../../src/vfs/index.js';
import { t, tar, type TarItem } from '../support/tar-dsl.js';
import { indexBlobs, tempStore } from '../support/layer-trees.js';

/** A layer of more than two blocks of entries, with every kind and metadata that is indexed. */
async function bigLayer(): Promise<Uint8Array> {
  const items: TarItem[] = [t.dir('etc', { mode: 0o750, mtime: 7 }), t.file('etc/é-ünïcode', 'u', { uid: 5, gid: 6 })];
  for (let d = 0; d < 26; d++) {
    items.push(t.dir(`usr/d${d}`));
    for (let f = 0; f < 100; f++) items.push(t.file(`usr/d${d}/f${f}`, `${d}:${f}`, { mode: 0o600 + (f % 8) }));
  }
  items.push(t.symlink('/usr/d1/f1', 'etc/alt'), t.link('usr/d2/f2', 'bin/same'), t.whiteout('gone'), t.opaque('usr/d3'), t.dir('./', { mode: 0o711 }));
  return tar(...items);
}

function layoutFacts(l: LayerLayout): unknown {
  const groups = Array.from({ length: l.groupCount }, (_, g) => [l.groupName(g), l.groupFirstChild[g], l.groupChildCount[g], l.groupFirstAdd[g], [...l.groupEntries(g)]]);
  return { groups, rootEntry: l.rootEntry, nonDir: [...l.nonDirHashes], exposed: [...l.exposedHashes], selfConflict: l.selfConflict, links: [...l.hardlinkEntries], deletions: [...l.deletionEntries], byHash: [...l.byHash], entryHashes: [...l.entryHashes], groupByHash: [...l.groupByHash], groupHashes: [...l.groupHashes] };
}

async function freshAndCached(): Promise<{ fresh: LayerIndex; cached: LayerIndex; path: string; store: BlobStore }> {
  const store = await tempStore();
  const [fresh] = await indexBlobs(store, [await bigLayer()]);
  const cached = await indexLayer(store, { digest: fresh!.diffID, mediaType: 'application/vnd.oci.image.layer.v1.tar' });
  return { fresh: fresh!, cached, path: layerIndexPath(store, fresh!.diffID), store };
}

describe('the layer index cache file', () => {
  it('gives back every entry and the directory layout, read block by block on demand', async () => {
    const { fresh, cached } = await freshAndCached();
    expect(cached.cached).toBe(true);
    expect(fresh.entryCount).toBeGreaterThan(2 * blockEntries);
    expect(cached.entryCount).toBe(fresh.entryCount);
    // Backwards, so blocks are read out of order.
    for (let i = fresh.entryCount - 1; i >= 0; i--) expect(cached.entry(i)).toEqual(fresh.entry(i));
    expect(layoutFacts(cached.layout)).toEqual(layoutFacts(fresh.layout));
    expect(cached.columns.pathBytes).toEqual(fresh.columns.pathBytes);
    expect(cached.lookup('bin/same')).toEqual(fresh.lookup('bin/same'));
    const views = [fresh, cached].map((index) => new LayerView([index], { dev: 1n }));
    expect(views.map((v) => v.lazy)).toEqual([true, true]);
    expect(views[1]!.inodes).toBe(views[0]!.inodes);
    for (const index of [fresh, cached]) index.close();
  });

  it('turns a cache file damaged after it was opened into EIO on first use, not a host exception', async () => {
    const { cached, path } = await freshAndCached();
    truncateSync(path, 4096);
    expect(() => cached.entry(cached.entryCount - 1)).toThrow(expect.objectContaining({ name: 'FsError', errno: 'EIO' }));
    // The root's own entry is read when the view is made, its children on first lookup.
    expect(() => new LayerView([cached], { dev: 1n }).root.lookup('usr')).toThrow(expect.objectContaining({ name: 'FsError', errno: 'EIO' }));
    cached.close();
  });

  it('treats a file of another format version as a miss, and rebuilds it', async () => {
    const { fresh, cached, path, store } = await freshAndCached();
    cached.close();
    const bytes = readFileSync(path);
    bytes.writeUInt32LE(2, 4);
    writeFileSync(path, bytes);
    const again = await indexLayer(store, { digest: fresh.diffID, mediaType: 'application/vnd.oci.image.layer.v1.tar' });
    expect(again.cached).toBe(false);
    expect(again.entry(3)).toEqual(fresh.entry(3));
    fresh.close();
  });
});
