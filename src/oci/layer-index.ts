import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { copyFile, link, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StrataError } from '../errors.js';
import { buildLayerLayout, fsError, LayerEntryKind, type LayerLayout, type LayerSource } from '../vfs/index.js';
import type { BlobStore } from './blob-store.js';
import { decompress, defaultMaxUncompressedBytes, layerFormat, sniffCompression } from './decompress.js';
import { digestHex, parseDigest, type Digest } from './digest.js';
import { ColumnBuilder, entryAt, kindCodes, type IndexColumns, type IndexedEntry } from './layer-columns.js';
import { encodeIndex, openIndexFile } from './layer-index-file.js';
import type { PagedColumns } from './layer-index-pages.js';
import { defaultTarLimits, TarReader } from './tar.js';

export type { IndexColumns, IndexedEntry } from './layer-columns.js';

/** The layer to index: its descriptor, and its diffID when the image config gives one. */
export interface LayerToIndex {
  readonly digest: Digest;
  readonly mediaType: string;
  /** The uncompressed digest from the image config's `rootfs.diff_ids`, checked when given. */
  readonly diffID?: Digest;
  /** Descriptor annotations; `org.opencontainers.image.title` names a wasm layer's file. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Options of {@link indexLayer}. */
export interface IndexLayerOptions {
  /** Cap on the uncompressed bytes (default 8 GiB): stops decompression bombs. */
  readonly maxUncompressedBytes?: number;
  /** Cap on one pax or GNU long-name header (default 1 MiB). */
  readonly maxMetaBytes?: number;
}

/** Where the uncompressed bytes of a layer live in the store. */
export function layerDataPath(store: BlobStore, diffID: Digest): string {
  return join(store.root, 'layers', 'sha256', digestHex(parseDigest(diffID, 'diffID')));
}

/** Where the cached index of a layer lives in the store. */
export function layerIndexPath(store: BlobStore, diffID: Digest): string {
  return join(store.root, 'index', 'sha256', digestHex(parseDigest(diffID, 'diffID')));
}

/** Where the diffID of a compressed blob is remembered (so a lookup without one hits the cache). */
function blobDiffIDPath(store: BlobStore, digest: Digest): string {
  return join(store.root, 'index', 'blob-diffid', digestHex(digest));
}

/**
 * The index of one layer: every entry of its uncompressed tar in tar order,
 * by normalized path, with the offset of its bytes, so the layer view reads
 * files lazily with positional reads and nothing is ever extracted.
 *
 * Entries are kept column by column in typed arrays (about 50 bytes per
 * entry with its path), not as one object each; a path is decoded when its
 * entry is asked for. The entries grouped by directory ({@link layout})
 * let a layer view merge one directory at a time; a cached index loads
 * both without a pass over the entries. Implements the VFS's
 * {@link LayerSource}; many views and sandboxes share one instance. The
 * data file, and a cached index's cache file, are opened on first use and
 * stay open until {@link close}.
 */
export class LayerIndex implements LayerSource {
  /** sha256 of the uncompressed layer (for a wasm layer, of the module). */
  readonly diffID: Digest;
  /** The host file holding the uncompressed bytes. */
  readonly dataPath: string;
  /** Its size in bytes. */
  readonly dataSize: number;
  /** Members that were skipped (devices, fifos, AUFS metadata…), with why; at most 100 listed. */
  readonly skipped: readonly string[];
  /** True when this index came from the cache. */
  readonly cached: boolean;
  #c: IndexColumns | undefined;
  readonly #paged: PagedColumns | undefined;
  readonly #count: number;
  #layout: LayerLayout | undefined;
  #fd: number | undefined;
  #byPath: Map<string, number> | undefined;

  /** `columns` (in memory), or `paged` with the `layout` of a cache file (read on demand). */
  constructor(init: { diffID: Digest; dataPath: string; dataSize: number; columns?: IndexColumns; paged?: PagedColumns; layout?: LayerLayout; skipped: readonly string[]; cached: boolean }) {
    this.diffID = init.diffID;
    this.dataPath = init.dataPath;
    this.dataSize = init.dataSize;
    this.#c = init.columns;
    this.#paged = init.paged;
    this.#count = init.columns?.kinds.length ?? init.paged?.count ?? 0;
    this.#layout = init.layout;
    this.skipped = init.skipped;
    this.cached = init.cached;
  }

  get entryCount(): number {
    return this.#count;
  }

  /** The columns, all in memory (for the cache file and measurements; a cached index reads them all first). */
  get columns(): IndexColumns {
    return (this.#c ??= this.#paged!.full());
  }

  /** The entries grouped by directory: from the cache file, or built on first use (O(entries)). */
  get layout(): LayerLayout {
    return (this.#layout ??= buildLayerLayout(this));
  }

  /**
   * Entry `i`, 0 ≤ i < entryCount. Errors: RangeError (no such entry);
   * FsError EIO (a cached index whose file cannot be read, or is damaged).
   */
  entry(i: number): IndexedEntry {
    if (!(i >= 0 && i < this.#count)) throw new RangeError(`entry ${i} out of range`);
    return this.#c !== undefined ? entryAt(this.#c, i) : this.#paged!.entry(i);
  }

  /** Entry `i`'s path alone (a cached index reads only the paths of its block). Errors: those of {@link entry}. */
  entryPath(i: number): string {
    if (!(i >= 0 && i < this.#count)) throw new RangeError(`entry ${i} out of range`);
    const c = this.#c;
    return c !== undefined ? c.pathBytes.toString('utf8', c.pathStart[i]!, c.pathStart[i + 1]!) : this.#paged!.pathOf(i);
  }

  /** Entry `i`'s kind alone. Errors: those of {@link entry}. */
  entryKind(i: number): LayerEntryKind {
    if (!(i >= 0 && i < this.#count)) throw new RangeError(`entry ${i} out of range`);
    return this.#c !== undefined ? kindCodes[this.#c.kinds[i]!]! : this.#paged!.kindOf(i);
  }

  /** The last entry for `path` (normalized), whiteouts and opaque markers excluded: what the layer alone holds there. */
  lookup(path: string): IndexedEntry | undefined {
    if (this.#byPath === undefined) {
      const map = new Map<string, number>();
      const c = this.columns;
      for (let i = 0; i < c.kinds.length; i++) {
        const kind = kindCodes[c.kinds[i]!];
        if (kind !== LayerEntryKind.whiteout && kind !== LayerEntryKind.opaque) map.set(c.pathBytes.toString('utf8', c.pathStart[i]!, c.pathStart[i + 1]!), i);
      }
      this.#byPath = map;
    }
    const i = this.#byPath.get(path);
    return i === undefined ? undefined : this.entry(i);
  }

  /**
   * Positional read of the uncompressed bytes (the VFS's file reads).
   * Errors: FsError EIO when the data file cannot be read (e.g. removed by
   * a gc under a running sandbox): a guest sees an I/O error, never a host
   * exception.
   */
  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number {
    try {
      this.#fd ??= openSync(this.dataPath, 'r');
      let done = 0;
      while (done < length) {
        const n = readSync(this.#fd, dst, dstOffset + done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    } catch {
      throw fsError('EIO', 'read', this.dataPath);
    }
  }

  /** Close the data file and the cache file (a later read reopens them). */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    this.#paged?.close();
  }
}

/**
 * Index a stored layer blob once, and cache the result by diffID.
 *
 * On a miss the blob is streamed once: decompressed, its sha256 (the
 * diffID) computed and checked against `layer.diffID`, the uncompressed
 * tar written to `layers/sha256/<diffID>` (temp file + rename; an
 * uncompressed blob is hardlinked instead of copied), and the tar parsed
 * for the index, written to `index/sha256/<diffID>`. A later call with the
 * same diffID (or the same blob) reads the cache. A `application/wasm`
 * layer is a raw module, not a tar: its index has one file, named by the
 * descriptor's `org.opencontainers.image.title` (see {@link wasmLayerName}).
 *
 * Errors, in the order they can occur: ERR_UNSUPPORTED_MEDIA_TYPE,
 * ERR_BLOB_NOT_FOUND, ERR_LAYER_DECOMPRESS, ERR_LAYER_TOO_LARGE, ERR_TAR_*
 * (tar.ts), ERR_LAYER_PATH_TOO_LONG, ERR_LAYER_BAD_WHITEOUT,
 * ERR_LAYER_HARDLINK, ERR_DIGEST_MISMATCH (the blob is not its digest),
 * ERR_DIFFID_MISMATCH (names both diffIDs). On any error nothing is cached.
 */
export async function indexLayer(store: BlobStore, layer: LayerToIndex, options: IndexLayerOptions = {}): Promise<LayerIndex> {
  const format = layerFormat(layer.mediaType);
  const digest = parseDigest(layer.digest, 'layer digest');
  const expected = layer.diffID === undefined ? undefined : parseDigest(layer.diffID, 'diffID');
  if (format.kind === 'wasm') return wasmIndex(store, digest, layer);
  // An uncompressed blob is its own diffID (unless it turns out compressed).
  const known = expected ?? (await readKnownDiffID(store, digest)) ?? (format.compression === 'none' ? digest : undefined);
  if (known !== undefined) {
    const hit = await loadCached(store, known);
    if (hit !== undefined) return hit;
  }
  return buildIndex(store, digest, expected, format.compression, options);
}

/**
 * The file name a wasm layer gets in the view: the descriptor's
 * `org.opencontainers.image.title` when it is a plain file name, else
 * `<digest hex>.wasm`. It sits at the root: `/<name>`.
 */
export function wasmLayerName(layer: Pick<LayerToIndex, 'digest' | 'annotations'>): string {
  const title = layer.annotations?.['org.opencontainers.image.title'];
  if (title !== undefined && title !== '' && title !== '.' && title !== '..' && !title.includes('/') && !title.includes('\0') && Buffer.byteLength(title) <= 255 && !title.startsWith('.wh.')) {
    return title;
  }
  return `${digestHex(layer.digest)}.wasm`;
}

async function readKnownDiffID(store: BlobStore, digest: Digest): Promise<Digest | undefined> {
  try {
    // Blocking, as the rest of opening a cached index: a one-line file (see BlobStore.open for why).
    return parseDigest(readFileSync(blobDiffIDPath(store, digest), 'utf8').trim());
  } catch {
    return undefined;
  }
}

async function loadCached(store: BlobStore, diffID: Digest): Promise<LayerIndex | undefined> {
  const dataPath = layerDataPath(store, diffID);
  let dataSize: number;
  try {
    dataSize = statSync(dataPath).size;
  } catch {
    return undefined;
  }
  // A cache file that is missing, damaged, from another version, or not
  // about this data is a miss: the index is rebuilt from the blob.
  const opened = openIndexFile(layerIndexPath(store, diffID));
  if (opened === undefined) return undefined;
  if (opened.diffID !== diffID || opened.dataSize !== dataSize) {
    opened.columns.close();
    return undefined;
  }
  return new LayerIndex({ diffID, dataPath, dataSize, paged: opened.columns, layout: opened.layout, skipped: opened.skipped, cached: true });
}

async function buildIndex(store: BlobStore, digest: Digest, expected: Digest | undefined, compression: 'none' | 'gzip' | 'zstd', options: IndexLayerOptions): Promise<LayerIndex> {
  const label = `layer ${digest}`;
  const blobPath = store.path(digest);
  const head = await readHead(blobPath, digest, store);
  // An uncompressed blob is the tar itself: hash and parse it, then link it.
  const copy = compression !== 'none' || sniffCompression(head) !== 'none';
  const columns = new ColumnBuilder(label);
  const reader = new TarReader((e) => columns.add(e), { maxMetaBytes: options.maxMetaBytes ?? defaultTarLimits.maxMetaBytes });
  const blobHash = createHash('sha256');
  const tarHash = copy ? createHash('sha256') : blobHash;
  const temp = store.tempPath(`layer-${digestHex(digest).slice(0, 16)}`);
  const file = copy ? await open(temp, 'wx', 0o644) : undefined;
  let size = 0;
  try {
    const blob = hashing(store.stream(digest), copy ? blobHash : undefined);
    for await (const chunk of decompress(blob, compression, { maxBytes: options.maxUncompressedBytes ?? defaultMaxUncompressedBytes, label })) {
      tarHash.update(chunk);
      reader.push(chunk);
      if (file !== undefined) await file.write(chunk);
      size += chunk.length;
    }
    reader.end();
    if (copy) {
      const actual = `sha256:${blobHash.digest('hex')}`;
      if (actual !== digest) throw new StrataError('ERR_DIGEST_MISMATCH', `stored blob is corrupt: expected ${digest}, got ${actual}`);
    }
    const diffID = `sha256:${tarHash.digest('hex')}` as Digest;
    if (!copy && diffID !== digest) throw new StrataError('ERR_DIGEST_MISMATCH', `stored blob is corrupt: expected ${digest}, got ${diffID}`);
    if (expected !== undefined && diffID !== expected) {
      throw new StrataError('ERR_DIFFID_MISMATCH', `${label}: diffID mismatch: the image config says ${expected}, the uncompressed layer is ${diffID}`);
    }
    if (file !== undefined) {
      await file.sync();
      await file.close();
    }
    const dataPath = layerDataPath(store, diffID);
    await mkdir(dirname(dataPath), { recursive: true });
    if (file !== undefined) await rename(temp, dataPath);
    else await linkOrCopy(blobPath, dataPath, store);
    const index = new LayerIndex({ diffID, dataPath, dataSize: size, columns: columns.finish(), skipped: columns.skipped, cached: false });
    await writeAtomic(store, layerIndexPath(store, diffID), encodeIndex(index));
    if (copy) await writeAtomic(store, blobDiffIDPath(store, digest), `${diffID}\n`);
    return index;
  } catch (error) {
    if (file !== undefined) {
      await file.close().catch(() => {});
      await unlink(temp).catch(() => {});
    }
    throw error;
  }
}

async function wasmIndex(store: BlobStore, digest: Digest, layer: LayerToIndex): Promise<LayerIndex> {
  const dataPath = layerDataPath(store, digest);
  let size: number;
  try {
    size = (await stat(dataPath)).size;
  } catch {
    // First use: verify the module against its digest, then link it in.
    const bytes = await store.readVerified(digest);
    await mkdir(dirname(dataPath), { recursive: true });
    await linkOrCopy(store.path(digest), dataPath, store);
    size = bytes.length;
  }
  const columns = new ColumnBuilder(`layer ${digest}`);
  columns.push(wasmLayerName(layer), LayerEntryKind.file, { mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n, size, offset: 0 });
  return new LayerIndex({ diffID: digest, dataPath, dataSize: size, columns: columns.finish(), skipped: [], cached: false });
}

async function readHead(path: string, digest: Digest, store: BlobStore): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new StrataError('ERR_BLOB_NOT_FOUND', `blob ${digest} is not in the store at ${store.root}`, { cause: error });
  }
  try {
    const head = new Uint8Array(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function* hashing(source: AsyncIterable<Uint8Array>, hash: ReturnType<typeof createHash> | undefined): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    hash?.update(chunk);
    yield chunk;
  }
}

/** Hardlink `from` to `to` (same store, so no copy); copy where links are not supported. */
async function linkOrCopy(from: string, to: string, store: BlobStore): Promise<void> {
  const temp = store.tempPath('link');
  try {
    await link(from, temp);
  } catch {
    await copyFile(from, temp);
  }
  await rename(temp, to);
}

async function writeAtomic(store: BlobStore, path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = store.tempPath('index');
  try {
    await writeFile(temp, data, { flag: 'wx', mode: 0o644 });
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}
