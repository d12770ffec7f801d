import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { copyFile, link, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StrataError } from '../errors.js';
import { fsError, LayerEntryKind, type LayerEntry, type LayerSource } from '../vfs/index.js';
import type { BlobStore } from './blob-store.js';
import { decompress, defaultMaxUncompressedBytes, layerFormat, sniffCompression } from './decompress.js';
import { digestHex, parseDigest, type Digest } from './digest.js';
import { classify } from './layer-entries.js';
import { decodeIndex, encodeIndex, kindCodes } from './layer-index-file.js';
import { defaultTarLimits, TarReader, type TarEntry } from './tar.js';

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

/** The entries of an index, column by column (what the cache file stores). */
export interface IndexColumns {
  readonly paths: string[];
  readonly kinds: Uint8Array;
  readonly modes: Uint16Array;
  readonly uids: Uint32Array;
  readonly gids: Uint32Array;
  readonly mtimeSec: Float64Array;
  readonly mtimeNsec: Uint32Array;
  readonly sizes: Float64Array;
  readonly offsets: Float64Array;
  /** Entry number → symlink target (verbatim) or hardlink target (normalized). */
  readonly links: Map<number, string>;
  /** Entry number → `SCHILY.xattr.*` records. */
  readonly xattrs: Map<number, ReadonlyMap<string, Uint8Array>>;
}

const kindCode = new Map(kindCodes.map((k, i) => [k, i]));

/** An indexed entry, with its xattrs. */
export interface IndexedEntry extends LayerEntry {
  readonly xattrs: ReadonlyMap<string, Uint8Array> | undefined;
}

/**
 * The index of one layer: every entry of its uncompressed tar in tar order,
 * by normalized path, with the offset of its bytes, so the layer view reads
 * files lazily with positional reads and nothing is ever extracted.
 *
 * Entries are kept column by column in typed arrays (about 40 bytes per
 * entry plus its path string), not as one object each. Implements the
 * VFS's {@link LayerSource}; many views and sandboxes share one instance.
 * The data file is opened on the first read and stays open until
 * {@link close}.
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
  readonly #c: IndexColumns;
  #fd: number | undefined;
  #byPath: Map<string, number> | undefined;

  constructor(init: { diffID: Digest; dataPath: string; dataSize: number; columns: IndexColumns; skipped: readonly string[]; cached: boolean }) {
    this.diffID = init.diffID;
    this.dataPath = init.dataPath;
    this.dataSize = init.dataSize;
    this.#c = init.columns;
    this.skipped = init.skipped;
    this.cached = init.cached;
  }

  get entryCount(): number {
    return this.#c.paths.length;
  }

  /** The columns (for the cache file and measurements). */
  get columns(): IndexColumns {
    return this.#c;
  }

  entry(i: number): IndexedEntry {
    const c = this.#c;
    if (!(i >= 0 && i < c.paths.length)) throw new RangeError(`entry ${i} out of range`);
    return {
      path: c.paths[i]!,
      kind: kindCodes[c.kinds[i]!]!,
      mode: c.modes[i]!,
      uid: c.uids[i]!,
      gid: c.gids[i]!,
      mtimeNs: BigInt(c.mtimeSec[i]!) * 1_000_000_000n + BigInt(c.mtimeNsec[i]!),
      size: c.sizes[i]!,
      offset: c.offsets[i]!,
      linkTarget: c.links.get(i) ?? '',
      xattrs: c.xattrs.get(i),
    };
  }

  /** The last entry for `path` (normalized), whiteouts and opaque markers excluded: what the layer alone holds there. */
  lookup(path: string): IndexedEntry | undefined {
    if (this.#byPath === undefined) {
      const map = new Map<string, number>();
      const { paths, kinds } = this.#c;
      for (let i = 0; i < paths.length; i++) {
        const kind = kindCodes[kinds[i]!];
        if (kind !== LayerEntryKind.whiteout && kind !== LayerEntryKind.opaque) map.set(paths[i]!, i);
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

  /** Close the data file (a later read reopens it). */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
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
    return parseDigest((await readFile(blobDiffIDPath(store, digest), 'utf8')).trim());
  } catch {
    return undefined;
  }
}

async function loadCached(store: BlobStore, diffID: Digest): Promise<LayerIndex | undefined> {
  const dataPath = layerDataPath(store, diffID);
  let bytes: Uint8Array;
  let dataSize: number;
  try {
    bytes = await readFile(layerIndexPath(store, diffID));
    dataSize = (await stat(dataPath)).size;
  } catch {
    return undefined;
  }
  // A cache file that is damaged, from another version, or not about this
  // data is a miss: the index is rebuilt from the blob.
  const decoded = decodeIndex(bytes);
  if (decoded === undefined || decoded.diffID !== diffID || decoded.dataSize !== dataSize) return undefined;
  return new LayerIndex({ diffID, dataPath, dataSize, columns: decoded.columns, skipped: decoded.skipped, cached: true });
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

const maxSkippedListed = 100;

/** Collects classified members into growable columns. */
class ColumnBuilder {
  readonly #label: string;
  readonly skipped: string[] = [];
  #skippedCount = 0;
  #n = 0;
  readonly #paths: string[] = [];
  #kinds = new Uint8Array(256);
  #modes = new Uint16Array(256);
  #uids = new Uint32Array(256);
  #gids = new Uint32Array(256);
  #mtimeSec = new Float64Array(256);
  #mtimeNsec = new Uint32Array(256);
  #sizes = new Float64Array(256);
  #offsets = new Float64Array(256);
  readonly #links = new Map<number, string>();
  readonly #xattrs = new Map<number, ReadonlyMap<string, Uint8Array>>();

  constructor(label: string) {
    this.#label = label;
  }

  add(e: TarEntry): void {
    const c = classify(e, this.#label);
    if (c.skip) {
      this.#skippedCount++;
      if (this.skipped.length < maxSkippedListed) this.skipped.push(`${c.path || '/'}: ${c.reason}`);
      else if (this.skipped.length === maxSkippedListed) this.skipped.push('… (more skipped)');
      return;
    }
    const isFile = c.kind === LayerEntryKind.file;
    const i = this.push(c.path, c.kind, { mode: e.mode, uid: e.uid, gid: e.gid, mtimeNs: e.mtimeNs, size: isFile ? e.size : 0, offset: isFile ? e.offset : 0 });
    if (c.linkTarget !== '') this.#links.set(i, c.linkTarget);
    if (e.xattrs !== undefined && e.xattrs.size > 0) this.#xattrs.set(i, e.xattrs);
  }

  push(path: string, kind: LayerEntryKind, m: { mode: number; uid: number; gid: number; mtimeNs: bigint; size: number; offset: number }): number {
    const i = this.#n++;
    if (i === this.#kinds.length) this.#grow();
    this.#paths.push(path);
    this.#kinds[i] = kindCode.get(kind)!;
    this.#modes[i] = m.mode & 0o7777;
    this.#uids[i] = clampU32(m.uid);
    this.#gids[i] = clampU32(m.gid);
    // Floor division, so negative times keep a non-negative nanosecond part.
    let sec = m.mtimeNs / 1_000_000_000n;
    let nsec = m.mtimeNs % 1_000_000_000n;
    if (nsec < 0n) {
      nsec += 1_000_000_000n;
      sec -= 1n;
    }
    this.#mtimeSec[i] = Number(sec);
    this.#mtimeNsec[i] = Number(nsec);
    this.#sizes[i] = m.size;
    this.#offsets[i] = m.offset;
    return i;
  }

  finish(): IndexColumns {
    const n = this.#n;
    return {
      paths: this.#paths,
      kinds: this.#kinds.slice(0, n),
      modes: this.#modes.slice(0, n),
      uids: this.#uids.slice(0, n),
      gids: this.#gids.slice(0, n),
      mtimeSec: this.#mtimeSec.slice(0, n),
      mtimeNsec: this.#mtimeNsec.slice(0, n),
      sizes: this.#sizes.slice(0, n),
      offsets: this.#offsets.slice(0, n),
      links: this.#links,
      xattrs: this.#xattrs,
    };
  }

  #grow(): void {
    const grow = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(a.length * 2);
      b.set(a as never);
      return b;
    };
    this.#kinds = grow(this.#kinds, (n) => new Uint8Array(n));
    this.#modes = grow(this.#modes, (n) => new Uint16Array(n));
    this.#uids = grow(this.#uids, (n) => new Uint32Array(n));
    this.#gids = grow(this.#gids, (n) => new Uint32Array(n));
    this.#mtimeSec = grow(this.#mtimeSec, (n) => new Float64Array(n));
    this.#mtimeNsec = grow(this.#mtimeNsec, (n) => new Uint32Array(n));
    this.#sizes = grow(this.#sizes, (n) => new Float64Array(n));
    this.#offsets = grow(this.#offsets, (n) => new Float64Array(n));
  }
}

function clampU32(n: number): number {
  return n < 0 ? 0 : n > 0xffffffff ? 0xffffffff : n;
}
