import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/error-code.js';
import { digestOf } from '../../src/oci/digest.js';
import { indexLayer, layerDataPath, layerIndexPath, wasmLayerName } from '../../src/oci/layer-index.js';
import { normalizeEntryPath } from '../../src/oci/layer-entries.js';
import { concat, gzip, rawHeader, t, tar, zstdRaw } from '../support/tar-dsl.js';
import { indexBlobs, mediaTypes, tempStore } from '../support/layer-trees.js';


const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function readEntry(index: { read(d: Uint8Array, o: number, l: number, p: number): number }, e: { offset: number; size: number }): string {
  const buf = new Uint8Array(e.size);
  index.read(buf, 0, e.size, e.offset);
  return text(buf);
}

describe('normalizeEntryPath', () => {
  it('makes names root-relative and clamps .. at the root', () => {
    const cases: Array<[string, string]> = [
      ['./etc/passwd', 'etc/passwd'],
      ['/etc//passwd/', 'etc/passwd'],
      ['////etc/passwd', 'etc/passwd'],
      ['../../etc/passwd', 'etc/passwd'],
      ['a/../../b', 'b'],
      ['a/./b/../c', 'a/c'],
      ['./', ''],
      ['..', ''],
      ['a\\..\\b', 'a\\..\\b'],
    ];
    for (const [name, want] of cases) expect(normalizeEntryPath(name)).toBe(want);
  });
});

describe('indexLayer', () => {
  it('indexes a tar: normalized paths, kinds, offsets, metadata, xattrs', async () => {
    const store = await tempStore();
    const bytes = await tar(
      t.dir('./etc/', { mode: 0o750, uid: 1, gid: 2, mtime: 99 }),
      t.file('./etc/hosts', 'localhost', { pax: { 'SCHILY.xattr.user.color': 'blue', mtime: '99.5' } }),
      t.symlink('hosts', '/etc/h'),
      t.link('./etc/hosts', 'etc/hard'),
      t.whiteout('etc/gone'),
      t.opaque('var'),
      t.charDevice('dev/null'),
      t.fifo('run/fifo'),
      t.file('.wh..wh.plnk/1', ''),
    );
    const [index] = await indexBlobs(store, [bytes]);
    const all = Array.from({ length: index!.entryCount }, (_, i) => index!.entry(i));
    expect(all.map((e) => [e.path, e.kind, e.linkTarget])).toEqual([
      ['etc', 'directory', ''],
      ['etc/hosts', 'file', ''],
      ['etc/h', 'symlink', 'hosts'],
      ['etc/hard', 'hardlink', 'etc/hosts'],
      ['etc/gone', 'whiteout', ''],
      ['var', 'opaque', ''],
      ['.wh..wh.plnk/1', 'file', ''],
    ]);
    expect(index!.skipped).toEqual(['dev/null: device node skipped', 'run/fifo: fifo skipped']);
    expect(all[0]).toMatchObject({ mode: 0o750, uid: 1, gid: 2, mtimeNs: 99_000_000_000n });
    expect(all[1]).toMatchObject({ size: 9, mtimeNs: 99_500_000_000n });
    expect(readEntry(index!, all[1]!)).toBe('localhost');
    expect(text(all[1]!.xattrs!.get('user.color')!)).toBe('blue');
    expect(index!.lookup('etc/hosts')!.size).toBe(9);
    expect(index!.lookup('etc/gone')).toBeUndefined();
    expect(index!.diffID).toBe(digestOf(bytes));
  });

  it('stores the uncompressed tar and the index under the diffID, and hits the cache next time', async () => {
    const bytes = await tar(t.file('a', 'x'.repeat(5000)), t.dir('d'));
    const diffID = digestOf(bytes);
    for (const [blob, mediaType] of [
      [gzip(bytes), mediaTypes.gzip],
      [zstdRaw(bytes), mediaTypes.zstd],
      [bytes, mediaTypes.tar],
      [gzip(bytes), 'application/vnd.docker.image.rootfs.diff.tar.gzip'],
    ] as const) {
      const store = await tempStore();
      const digest = await store.put(blob);
      const first = await indexLayer(store, { digest, mediaType, diffID });
      expect(first.diffID).toBe(diffID);
      expect(existsSync(layerDataPath(store, diffID))).toBe(true);
      expect(existsSync(layerIndexPath(store, diffID))).toBe(true);
      const again = await indexLayer(store, { digest, mediaType, diffID });
      expect(again.cached).toBe(true);
      // Without the diffID, the blob → diffID note still finds the cache.
      expect((await indexLayer(store, { digest, mediaType })).cached).toBe(true);
      expect(readEntry(again, again.entry(0))).toBe('x'.repeat(5000));
      expect(again.entry(1)).toEqual(first.entry(1));
      expect(readdirSync(`${store.root}/tmp`)).toEqual([]);
      // An uncompressed blob is linked, not copied.
      if (mediaType === mediaTypes.tar) expect(statSync(layerDataPath(store, diffID)).ino).toBe(statSync(store.path(digest)).ino);
    }
  });

  it('turns a read of a removed data file into EIO, not a host exception', async () => {
    const store = await tempStore();
    const [index] = await indexBlobs(store, [gzip(await tar(t.file('a', 'hello')))], mediaTypes.gzip);
    rmSync(index!.dataPath);
    expect(() => readEntry(index!, index!.entry(0))).toThrow(expect.objectContaining({ name: 'FsError', errno: 'EIO' }));
  });

  it('rebuilds a damaged cache file', async () => {
    const store = await tempStore();
    const bytes = await tar(t.file('a', 'hello'));
    const [first] = await indexBlobs(store, [gzip(bytes)], mediaTypes.gzip);
    writeFileSync(layerIndexPath(store, first!.diffID), 'garbage');
    const again = await indexLayer(store, { digest: digestOf(gzip(bytes)), mediaType: mediaTypes.gzip, diffID: first!.diffID });
    expect(again.cached).toBe(false);
    expect(readEntry(again, again.entry(0))).toBe('hello');
  });

  it('checks the diffID and names both digests (ERR_DIFFID_MISMATCH)', async () => {
    const store = await tempStore();
    const bytes = await tar(t.file('a', 'hello'));
    const digest = await store.put(gzip(bytes));
    const wrong = digestOf(new Uint8Array([1]));
    const error = await indexLayer(store, { digest, mediaType: mediaTypes.gzip, diffID: wrong }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_DIFFID_MISMATCH' });
    expect((error as Error).message).toContain(wrong);
    expect((error as Error).message).toContain(digestOf(bytes));
    expect(existsSync(layerDataPath(store, digestOf(bytes)))).toBe(false);
    expect(readdirSync(`${store.root}/tmp`)).toEqual([]);
  });

  it('refuses a stored blob that is not its digest, and a missing blob', async () => {
    const store = await tempStore();
    const bytes = await tar(t.file('a', 'hello'));
    const digest = await store.put(gzip(bytes));
    writeFileSync(store.path(digest), gzip(await tar(t.file('a', 'other'))));
    expect(await codeOf(indexLayer(store, { digest, mediaType: mediaTypes.gzip }))).toBe('ERR_DIGEST_MISMATCH');
    expect(await codeOf(indexLayer(store, { digest: digestOf(new Uint8Array([9])), mediaType: mediaTypes.gzip }))).toBe('ERR_BLOB_NOT_FOUND');
    expect(await codeOf(indexLayer(store, { digest, mediaType: 'application/x-rar' }))).toBe('ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  const hostile: Array<[string, () => Promise<Uint8Array>, string]> = [
    ['.wh.. (its own directory)', () => tar(t.file('etc/.wh..')), 'ERR_LAYER_BAD_WHITEOUT'],
    ['.wh... (the parent)', () => tar(t.file('.wh...')), 'ERR_LAYER_BAD_WHITEOUT'],
    ['.wh. (nothing)', () => tar(t.file('a/.wh.')), 'ERR_LAYER_BAD_WHITEOUT'],
    ['a hardlink to the root', () => tar(t.link('../..', 'x')), 'ERR_LAYER_HARDLINK'],
    ['a path over 4096 bytes', () => tar(t.file('a/'.repeat(2100) + 'f')), 'ERR_LAYER_PATH_TOO_LONG'],
    ['a path 1100 components deep', () => tar(t.file('a/'.repeat(1100) + 'f')), 'ERR_LAYER_PATH_TOO_LONG'],
    ['a 256-byte name', () => tar(t.file('n'.repeat(256))), 'ERR_LAYER_PATH_TOO_LONG'],
    ['a 5000-byte symlink target', () => tar(t.symlink('t'.repeat(5000), 'l')), 'ERR_LAYER_PATH_TOO_LONG'],
    ['a truncated tar', async () => (await tar(t.file('a', 'x'.repeat(3000)))).subarray(0, 2000), 'ERR_TAR_TRUNCATED'],
    ['a bad header', async () => concat(rawHeader({ name: 'a', checksum: 'bad' }), new Uint8Array(1024)), 'ERR_TAR_HEADER'],
  ];
  for (const [name, make, code] of hostile) {
    it(`refuses ${name} with ${code}, caching nothing`, async () => {
      const store = await tempStore();
      const bytes = await make();
      expect(await codeOf(indexBlobs(store, [gzip(bytes)], mediaTypes.gzip))).toBe(code);
      expect(existsSync(`${store.root}/layers`) ? readdirSync(`${store.root}/layers/sha256`) : []).toEqual([]);
      expect(readdirSync(`${store.root}/tmp`)).toEqual([]);
    });
  }

  it('caps the uncompressed size (ERR_LAYER_TOO_LARGE)', async () => {
    const store = await tempStore();
    const bytes = await tar(t.file('big', new Uint8Array(200_000)));
    expect(await codeOf(indexBlobs(store, [gzip(bytes)], mediaTypes.gzip, { maxUncompressedBytes: 100_000 }))).toBe('ERR_LAYER_TOO_LARGE');
    expect(readdirSync(`${store.root}/tmp`)).toEqual([]);
  });

  it('indexes a wasm artifact layer as one file at the root', async () => {
    const store = await tempStore();
    const module = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    const digest = await store.put(module);
    const index = await indexLayer(store, { digest, mediaType: 'application/wasm', annotations: { 'org.opencontainers.image.title': 'app.wasm' } });
    expect(index.entryCount).toBe(1);
    expect(index.entry(0)).toMatchObject({ path: 'app.wasm', kind: 'file', size: 8, offset: 0, mode: 0o755 });
    expect(index.diffID).toBe(digest);
    const buf = new Uint8Array(8);
    index.read(buf, 0, 8, 0);
    expect(buf).toEqual(module);
    expect(wasmLayerName({ digest })).toBe(`${digest.slice(7)}.wasm`);
    expect(wasmLayerName({ digest, annotations: { 'org.opencontainers.image.title': '../evil' } })).toBe(`${digest.slice(7)}.wasm`);
  });
});
