import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { StrataError } from '../errors.js';
import { BlobStore, defaultStoreRoot } from './blob-store.js';
import { parseDigest, type Digest } from './digest.js';
import type { Descriptor, Platform } from './manifest.js';
import { formatReference, parseReference } from './reference.js';
import { sweepRootfsCache } from './rootfs-cache.js';
import { acquireGcLock, acquirePullLease, processAlive, type LeaseOptions, type LockOptions, type StoreLock } from './store-lock.js';

/** A layer of a pulled image. */
export interface LayerRecord {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  /** The digest of the uncompressed layer (for a bare wasm layer, its own digest). */
  readonly diffID?: Digest;
  /** The descriptor's annotations (`org.opencontainers.image.title` names a wasm layer's file). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** What the catalogue keeps about one pulled image. */
export interface ImageRecord {
  /** The canonical reference it was pulled as (the catalogue's key). */
  readonly reference: string;
  /** The digest of the image manifest that was chosen. */
  readonly manifestDigest: Digest;
  readonly mediaType: string;
  /** The digest of the index the manifest was chosen from, if any. */
  readonly indexDigest?: Digest;
  readonly platform?: Platform;
  readonly config: Descriptor;
  readonly layers: readonly LayerRecord[];
  /** Bytes of the manifest, config and layers as stored. */
  readonly size: number;
  /** The image config's `created`, if it has one. */
  readonly created?: string;
  /** When it was pulled (ISO 8601). */
  readonly pulledAt: string;
}

/** What a garbage collection removed. */
export interface GcResult {
  readonly blobsRemoved: number;
  /** Cached layer tars and layer indexes (files under `layers/` and `index/`). */
  readonly layerFilesRemoved: number;
  /** Cached extracted root trees (`rootfs/<chainKey>`) whose chain has a layer nothing keeps. */
  readonly rootfsTreesRemoved: number;
  /** Abandoned temp files of dead processes (under `tmp/`, and half-built or half-deleted rootfs trees). */
  readonly tempFilesRemoved: number;
  /** The bytes of everything removed; an inode (a hard link, a layer tar linked to its blob) is counted once. */
  readonly bytesFreed: number;
}

/** Directories under the store root that hold files derived from layers, keyed by digest. */
export const derivedDirs = ['layers', 'index'] as const;

/**
 * The local catalogue of pulled images, beside the blob store:
 * `<root>/images/<sha256 of the reference>.json`, one record per reference,
 * each written atomically, so concurrent pulls never corrupt it.
 *
 * Removing an image only removes its record; {@link gc} then deletes every
 * blob, cached layer tar, layer index and cached rootfs tree no record
 * refers to.
 *
 * @example
 * const images = await ImageStore.open();
 * for (const image of await images.list()) console.log(image.reference, image.manifestDigest);
 * await images.remove('127.0.0.1:5000/hello:latest');
 * const { bytesFreed } = await images.gc();
 */
export class ImageStore {
  readonly root: string;
  readonly blobs: BlobStore;

  private constructor(root: string, blobs: BlobStore) {
    this.root = root;
    this.blobs = blobs;
  }

  /** Open (creating if needed) the store at `root` (default: {@link defaultStoreRoot}). */
  static async open(root: string = defaultStoreRoot()): Promise<ImageStore> {
    const blobs = await BlobStore.open(root);
    mkdirSync(join(root, 'images'), { recursive: true });
    return new ImageStore(root, blobs);
  }

  /** Record a pulled image, replacing any record of the same reference. */
  async put(record: ImageRecord): Promise<void> {
    const temp = this.blobs.tempPath('image');
    await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`, { flag: 'wx' });
    await rename(temp, this.recordPath(record.reference));
  }

  /** Every pulled image, sorted by reference. Unreadable records are skipped. */
  async list(): Promise<ImageRecord[]> {
    const names = await readdir(join(this.root, 'images')).catch(() => [] as string[]);
    const records: ImageRecord[] = [];
    for (const name of names) {
      if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
      const record = await readRecord(join(this.root, 'images', name));
      if (record !== undefined) records.push(record);
    }
    return records.sort((a, b) => a.reference.localeCompare(b.reference));
  }

  /**
   * The images an argument names: a reference (made canonical first) or a
   * manifest digest (every reference of that image).
   * Errors: ERR_BAD_REFERENCE, ERR_IMAGE_NOT_FOUND.
   */
  async find(text: string, cwd: string = process.cwd()): Promise<ImageRecord[]> {
    if (/^sha256:[0-9a-f]{64}$/.test(text)) {
      const digest = parseDigest(text);
      const hits = (await this.list()).filter((r) => r.manifestDigest === digest);
      if (hits.length === 0) throw new StrataError('ERR_IMAGE_NOT_FOUND', `no pulled image has manifest ${digest} (see 'strata images')`);
      return hits;
    }
    const reference = formatReference(parseReference(text, cwd));
    const record = await readRecord(this.recordPath(reference));
    if (record === undefined) throw new StrataError('ERR_IMAGE_NOT_FOUND', `image '${reference}' has not been pulled (see 'strata images', or 'strata pull ${text}')`);
    return [record];
  }

  /** Remove the records an argument names (see {@link find}); blobs stay until {@link gc}. Errors: as find. */
  async remove(text: string, cwd: string = process.cwd()): Promise<ImageRecord[]> {
    const records = await this.find(text, cwd);
    for (const record of records) await rm(this.recordPath(record.reference), { force: true });
    return records;
  }

  /** A shared lease held while pulling or building a cached rootfs tree; see {@link acquirePullLease}. */
  lease(options?: LeaseOptions): Promise<StoreLock> {
    return acquirePullLease(this.root, options);
  }

  /**
   * Delete every blob no record refers to; the cached layer tars and layer
   * indexes, i.e. files under `layers/` and `index/` whose name holds a
   * digest that no record refers to as layer digest or diffID (layer-index.ts
   * names them `layers/sha256/<diffID>`, `index/sha256/<diffID>` and
   * `index/blob-diffid/<blob digest>`); every cached rootfs tree
   * (`rootfs/<chainKey>`, see rootfs-cache.ts) whose chain has a diffID no
   * record refers to, unless a live process holds it (a sandbox's overlay
   * lower, a copy in progress); and temp files left by dead processes.
   * Waits for running pulls and rootfs builds (their leases) first.
   *
   * Errors: ERR_STORE_BUSY (another gc, or pulls still running after
   * `timeoutMs`).
   */
  async gc(options: LockOptions = {}): Promise<GcResult> {
    const lock = await acquireGcLock(this.root, options);
    try {
      const referenced = new Set<string>();
      for (const record of await this.list()) {
        for (const digest of [record.manifestDigest, record.indexDigest, record.config.digest]) if (digest !== undefined) referenced.add(digest);
        for (const layer of record.layers) {
          referenced.add(layer.digest);
          if (layer.diffID !== undefined) referenced.add(layer.diffID);
        }
      }
      // Snapshots (src/snapshot) keep what they need: each record lists its blobs and diffIDs.
      for (const digest of await snapshotReferences(this.root)) referenced.add(digest);
      let bytesFreed = 0;
      // An uncompressed layer's cached tar is a hardlink to its blob: count each inode once.
      const counted = new Set<string>();
      const size = async (path: string) => {
        const info = await lstat(path).catch(() => undefined);
        if (info === undefined || counted.has(`${info.dev}:${info.ino}`)) return 0;
        counted.add(`${info.dev}:${info.ino}`);
        return info.size;
      };
      let blobsRemoved = 0;
      for (const digest of await this.blobs.list()) {
        if (referenced.has(digest)) continue;
        bytesFreed += await size(this.blobs.path(digest));
        await this.blobs.delete(digest);
        blobsRemoved++;
      }
      let layerFilesRemoved = 0;
      for (const dir of derivedDirs) {
        for (const path of await filesUnder(join(this.root, dir))) {
          const name = basename(path);
          const hex = /[0-9a-f]{64}/.exec(name)?.[0];
          if (hex === undefined || referenced.has(`sha256:${hex}`) || !abandoned(name)) continue;
          bytesFreed += await size(path);
          await rm(path, { force: true });
          layerFilesRemoved++;
        }
      }
      let tempFilesRemoved = 0;
      for (const name of await readdir(join(this.root, 'tmp')).catch(() => [] as string[])) {
        if (!abandoned(name)) continue;
        const path = join(this.root, 'tmp', name);
        bytesFreed += await size(path);
        await rm(path, { recursive: true, force: true });
        tempFilesRemoved++;
      }
      // A tree is kept while every layer of its chain is: any manifest the store can still serve may ask for it again.
      const rootfs = await sweepRootfsCache(this.root, (diffID) => referenced.has(diffID), size);
      bytesFreed += rootfs.bytesFreed;
      tempFilesRemoved += rootfs.tempRemoved;
      return { blobsRemoved, layerFilesRemoved, rootfsTreesRemoved: rootfs.treesRemoved, tempFilesRemoved, bytesFreed };
    } finally {
      await lock.release();
    }
  }

  private recordPath(reference: string): string {
    return join(this.root, 'images', `${createHash('sha256').update(reference).digest('hex')}.json`);
  }
}

/**
 * Whether a temp-like name (`HINT.PID.RANDOM`, as BlobStore.tempPath makes
 * them) belongs to a dead process. Names without a pid are final files,
 * not temp files, and count as abandoned.
 */
function abandoned(name: string): boolean {
  const pid = /\.(\d+)\.[0-9a-f]+$/.exec(name)?.[1];
  return pid === undefined || !processAlive(Number(pid));
}

/**
 * Every digest the snapshot records under `<root>/snapshots/` hold on to
 * (`references`: manifests, configs, layer blobs and diffIDs), so gc keeps
 * them. A record that cannot be read keeps nothing: gc must not guess.
 * Errors: none (an unreadable directory holds no records).
 */
export async function snapshotReferences(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(join(root, snapshotsDir)).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
    try {
      const { references } = JSON.parse(await readFile(join(root, snapshotsDir, name), 'utf8')) as { references?: unknown };
      if (Array.isArray(references)) for (const d of references) if (typeof d === 'string') out.push(d);
    } catch {
      // A record being written is renamed into place whole; anything else unreadable is not ours to trust.
    }
  }
  return out;
}

/** The directory under the store root where the snapshot store keeps one record per snapshot. */
export const snapshotsDir = 'snapshots';

async function readRecord(path: string): Promise<ImageRecord | undefined> {
  try {
    // Blocking: a record is a few hundred bytes of JSON (see BlobStore.open for why).
    return JSON.parse(readFileSync(path, 'utf8')) as ImageRecord;
  } catch {
    return undefined;
  }
}

/** Every file (not directory) under `dir`, at any depth; none if it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else files.push(path);
  }
  return files;
}
