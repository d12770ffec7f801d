import { ErrorCode, StrataError } from '../errors.js';
import { defaultStoreRoot, ImageStore, indexLayer, parseConfig, parseDigest, type Digest, type ImageRecord } from '../oci/index.js';
import { writeDeltaLayer, type DeltaOptions, type DeltaSource } from './delta.js';
import { canonicalManifestBytes, parseSnapshotManifest, snapshotMediaType, type BackendAsset, type SandboxClass, type SnapshotImage, type SnapshotManifest, type SnapshotMount, type SnapshotProcess } from './manifest.js';
import { readRecords, referencesOf, removeRecord, writeRecord } from './records.js';
import { readChain, readSnapshotManifest, restoreLayers, type RestoredSnapshot } from './restore.js';
import { exportSnapshot, type ExportResult } from './export.js';
import { importSnapshot } from './import.js';
import { markVerified } from './verified.js';

/**
 * What a commit is made from: a plain description of a sandbox (the
 * snapshot store knows nothing of sandboxes), and the sealed state to
 * write out.
 */
export interface CommitSource {
  /** The image under the root: its catalogue record, or a snapshot's image (a restored sandbox's). None for a `tmpfs` root. */
  readonly image?: ImageRecord | SnapshotImage;
  readonly root: SnapshotManifest['root'];
  readonly mounts?: readonly SnapshotMount[];
  readonly process?: SnapshotProcess;
  /** Default `wasm`. */
  readonly class?: SandboxClass;
  readonly backend?: { readonly assets?: readonly BackendAsset[]; readonly config?: Readonly<Record<string, unknown>> };
  /**
   * The sealed state, bottom first, one delta layer each: a sealed overlay
   * (its own changes against its lower) or a frozen tree (all of it). Each
   * must no longer change. Empty for a root with no change (a readonly root).
   */
  readonly delta: readonly DeltaSource[];
}

/** Options of {@link SnapshotStore.commit}. */
export interface CommitOptions {
  readonly labels?: Readonly<Record<string, string>>;
  /** The snapshot the delta applies on top of (the one the sandbox was restored from, or last committed). */
  readonly parent?: Digest;
  /** ISO 8601 creation time. Default: now. */
  readonly created?: string;
  /** How delta layers are written: `gzip` (default) or `none` (faster to commit, bigger to move). */
  readonly compression?: DeltaOptions['compression'];
}

/** A stored snapshot: its id and manifest. */
export interface CommittedSnapshot {
  readonly digest: Digest;
  readonly manifest: SnapshotManifest;
}

/**
 * Snapshots in the image store's blob store: each manifest is a blob (its
 * digest is the snapshot id), each delta layer a gzipped tar blob, and
 * `snapshots/<hex>.json` lists a snapshot and the blobs it keeps from gc.
 *
 * Lifecycle: a sandbox's root is sealed in O(1) (`freezeRoot`), then
 * {@link commit} writes the sealed upper as a delta layer and the manifest;
 * {@link restore} verifies a snapshot's chain and returns the layers to
 * stack; a restored sandbox commits again with `parent`, making a chain.
 *
 * @example
 * const snapshots = await SnapshotStore.open();
 * const { digest } = await snapshots.commit({ image: record, root: { mode: 'overlay' }, delta: [sealedOverlay] });
 * const { layers, manifest } = await snapshots.restore(digest);   // image layers + every delta, verified
 * const view = viewLayers(layers, { dev: 2n });                     // the snapshot's tree
 * await snapshots.export(digest, './layout', 'v1');                 // umoci / skopeo read it
 * await snapshots.remove(digest); await snapshots.images.gc();      // its blobs go with the next gc
 */
export class SnapshotStore {
  readonly images: ImageStore;

  constructor(images: ImageStore) {
    this.images = images;
  }

  /** The snapshot store of the image store at `root` (default: {@link defaultStoreRoot}). */
  static async open(root: string = defaultStoreRoot()): Promise<SnapshotStore> {
    return new SnapshotStore(await ImageStore.open(root));
  }

  /**
   * Write each sealed source as a delta layer (tar, gzip, hashed as it
   * streams; indexed for a fast restore), then the manifest, then the
   * record. Holds a pull lease throughout, so a gc waits.
   *
   * Errors: ERR_SNAPSHOT_NOT_FOUND (`parent`); ERR_BAD_SNAPSHOT (the
   * manifest it would write is invalid, e.g. a relative mount target);
   * ERR_STORE_BUSY (a gc holds the store); the blob store's.
   */
  async commit(source: CommitSource, options: CommitOptions = {}): Promise<CommittedSnapshot> {
    const lease = await this.images.lease();
    try {
      if (options.parent !== undefined) await readSnapshotManifest(this.images, parseDigest(options.parent, 'parent snapshot'));
      const image = source.image === undefined ? undefined : await this.#snapshotImage(source.image);
      const delta = [];
      for (const layer of source.delta) {
        const written = await writeDeltaLayer(this.images.blobs, layer, options.compression === undefined ? {} : { compression: options.compression });
        // Indexed now, off the guest's path, so a restore reads the cache.
        (await indexLayer(this.images.blobs, { digest: written.digest, mediaType: written.mediaType, diffID: written.diffID })).close();
        // Hashed whole as it was written: a restore re-reads it only if the file changed since.
        await markVerified(this.images, written);
        delta.push(written);
      }
      const manifest = checked({
        mediaType: snapshotMediaType,
        schemaVersion: 1,
        created: options.created ?? new Date().toISOString(),
        ...(options.labels !== undefined && { labels: { ...options.labels } }),
        ...(options.parent !== undefined && { parent: options.parent }),
        ...(image !== undefined && { image }),
        root: source.root,
        mounts: source.mounts ?? [],
        ...(source.process !== undefined && { process: source.process }),
        class: source.class ?? 'wasm',
        backend: { assets: source.backend?.assets ?? [], config: source.backend?.config ?? {} },
        delta,
      });
      return await this.#store(manifest);
    } finally {
      await lease.release();
    }
  }

  /**
   * Store a manifest whose layers are already in the blob store (import uses it).
   * Errors: ERR_BAD_SNAPSHOT; those of reading the image manifest.
   */
  async #store(manifest: SnapshotManifest): Promise<CommittedSnapshot> {
    const bytes = canonicalManifestBytes(manifest);
    const digest = await this.images.blobs.put(bytes);
    const references = await referencesOf(this.images, digest, manifest);
    await writeRecord(this.images, {
      digest,
      created: manifest.created,
      ...(manifest.parent !== undefined && { parent: manifest.parent }),
      ...(manifest.labels !== undefined && { labels: manifest.labels }),
      references,
    });
    return { digest, manifest };
  }

  /** @internal Record a manifest read from elsewhere (import), under a lease. */
  async adopt(manifest: SnapshotManifest): Promise<CommittedSnapshot> {
    const lease = await this.images.lease();
    try {
      return await this.#store(checked(manifest));
    } finally {
      await lease.release();
    }
  }

  /**
   * Everything needed to run a snapshot, verified before anything runs:
   * the chain's manifests, the image, the image layers and every delta
   * layer of the chain (parent first), each digest and diffID checked.
   * Errors: see {@link restoreLayers}; ERR_SNAPSHOT_NOT_FOUND.
   */
  async restore(digest: string): Promise<RestoredSnapshot> {
    return restoreLayers(this.images, await this.resolve(digest));
  }

  /** Every snapshot in the store, oldest first. Errors: none (unreadable records are skipped). */
  async list(): Promise<CommittedSnapshot[]> {
    const out: CommittedSnapshot[] = [];
    for (const record of await readRecords(this.images)) {
      try {
        out.push({ digest: record.digest, manifest: await readSnapshotManifest(this.images, record.digest) });
      } catch {
        // A record whose manifest is gone or damaged is not listed; restore names the problem.
      }
    }
    return out;
  }

  /** One snapshot's manifest, verified. Errors: ERR_SNAPSHOT_NOT_FOUND, ERR_DIGEST_MISMATCH, ERR_BAD_SNAPSHOT. */
  async inspect(digest: string): Promise<CommittedSnapshot> {
    const resolved = await this.resolve(digest);
    return { digest: resolved, manifest: await readSnapshotManifest(this.images, resolved) };
  }

  /**
   * The full digest a snapshot argument names: a digest, or a unique
   * prefix of one (with or without `sha256:`, at least 4 hex digits) among
   * listed snapshots. Errors: ERR_SNAPSHOT_NOT_FOUND (none, or several).
   */
  async resolve(text: string): Promise<Digest> {
    if (/^sha256:[0-9a-f]{64}$/.test(text)) return text as Digest;
    const hex = text.replace(/^sha256:/, '');
    if (!/^[0-9a-f]{4,63}$/.test(hex)) throw new StrataError(ErrorCode.snapshotNotFound, `'${text.slice(0, 80)}' is not a snapshot digest or a prefix of one (4 or more hex digits)`);
    const hits = (await readRecords(this.images)).filter((r) => r.digest.startsWith(`sha256:${hex}`));
    if (hits.length !== 1) throw new StrataError(ErrorCode.snapshotNotFound, hits.length === 0 ? `no snapshot matches '${text}'` : `'${text}' matches ${hits.length} snapshots: ${hits.map((h) => h.digest.slice(0, 19)).join(', ')}`);
    return hits[0]!.digest;
  }

  /**
   * Remove a snapshot's record; its blobs go with the next `images.gc()`
   * unless another snapshot needs them. Refused while a listed snapshot
   * names it as parent, since that child would become unrestorable.
   * Errors: ERR_SNAPSHOT_NOT_FOUND; ERR_SNAPSHOT_IN_USE (names the children).
   */
  async remove(digest: string): Promise<void> {
    const resolved = await this.resolve(digest);
    const records = await readRecords(this.images);
    if (!records.some((r) => r.digest === resolved)) throw new StrataError(ErrorCode.snapshotNotFound, `snapshot ${resolved} is not listed in the store at ${this.images.root}`);
    const children = records.filter((r) => r.parent === resolved);
    if (children.length > 0) {
      throw new StrataError(ErrorCode.snapshotInUse, `snapshot ${resolved} is the parent of ${children.map((c) => c.digest).join(', ')}: remove ${children.length === 1 ? 'that snapshot' : 'those snapshots'} first`);
    }
    await removeRecord(this.images, resolved);
  }

  /**
   * Write a snapshot as a runnable OCI image layout: the image's layers,
   * then every delta layer of its chain, and an image config whose
   * `rootfs.diff_ids` lists them all and whose `Entrypoint`, `Env` and
   * `WorkingDir` are the snapshot's process. The snapshot manifest rides
   * along as a blob, named by an annotation, so {@link import} can restore
   * the snapshot itself. See export.ts. Errors: those of {@link restore}.
   */
  async export(digest: string, layoutDir: string, tag = 'latest'): Promise<ExportResult> {
    const resolved = await this.resolve(digest);
    const chain = await readChain(this.images, resolved);
    await restoreLayers(this.images, resolved); // verifies everything before a byte is written
    return exportSnapshot(this.images, chain, layoutDir, tag);
  }

  /**
   * Bring a snapshot exported by {@link export} back from an OCI layout:
   * every blob is verified against its digest and size as it is copied
   * in, the chain's manifests are recorded, and the result is restored
   * once to check every diffID. See import.ts.
   * Errors: ERR_BAD_IMAGE_LAYOUT, ERR_MANIFEST_NOT_FOUND, ERR_DIGEST_MISMATCH,
   * ERR_SIZE_MISMATCH, ERR_BAD_SNAPSHOT, ERR_SNAPSHOT_VERSION, ERR_DIFFID_MISMATCH.
   */
  async import(layoutDir: string, tag?: string): Promise<CommittedSnapshot> {
    return importSnapshot(this, layoutDir, tag);
  }

  /** A manifest's image fields from a catalogue record (diffIDs from its config when the record lacks them). */
  async #snapshotImage(image: ImageRecord | SnapshotImage): Promise<SnapshotImage> {
    if ('configDigest' in image) return { reference: image.reference, manifestDigest: image.manifestDigest, configDigest: image.configDigest, diffIDs: [...image.diffIDs] };
    let diffIDs = image.layers.map((l) => l.diffID);
    if (diffIDs.some((d) => d === undefined)) {
      diffIDs = [...(parseConfig(await this.images.blobs.readVerified(image.config.digest), `config of ${image.reference}`).diffIDs ?? [])];
    }
    return { reference: image.reference, manifestDigest: image.manifestDigest, configDigest: image.config.digest, diffIDs: diffIDs as Digest[] };
  }
}

/** A manifest about to be written, validated as a reader will validate it, so nothing is stored that restore would refuse. Errors: ERR_BAD_SNAPSHOT. */
function checked(manifest: SnapshotManifest): SnapshotManifest {
  return parseSnapshotManifest(canonicalManifestBytes(manifest), 'the snapshot manifest being written');
}
