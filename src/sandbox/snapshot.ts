import { ErrorCode, StrataError } from '../errors.js';
// The store, snapshot and image modules are imported where a commit writes
// or a restore reads, not here: sealing needs none of them, and a sandbox
// that never commits (`strata run MODULE.wasm`) then never loads them.
import type { Digest, ImageRecord, ImageStore } from '../oci/index.js';
import type { CommitSource, CommittedSnapshot, DeltaSource, SnapshotImage, SnapshotManifest, SnapshotMount, SnapshotStore } from '../snapshot/index.js';
import { Overlay, Tmpfs, type DirNode } from '../vfs/index.js';
import { freezeRoot } from './fork.js';
import type { Image } from './image.js';
import type { MountSpec } from './mounts.js';
import { RootMode, type SandboxRoot } from './root.js';

/**
 * Where a sandbox's root stands against the snapshots it came from: the
 * frozen state of the last snapshot it was restored from or committed
 * (its deltas are that snapshot's), and the image a commit records.
 */
export interface Lineage {
  /** The state that snapshot holds, a node of this root's stack; undefined when there is none (or a tmpfs copy of one). */
  readonly root?: DirNode;
  /** That snapshot's digest (a pending commit's, still being written). */
  readonly digest?: Promise<Digest>;
  /** The image a commit records (none for a root whose first delta is its whole tree). */
  readonly image?: ImageRecord | SnapshotImage;
}

/** Options of {@link Sandbox.commit}. */
export interface SandboxCommitOptions {
  readonly labels?: Readonly<Record<string, string>>;
  /** Record bind and overlay mounts' host paths in the manifest. Default false: they are host-specific. */
  readonly includeHostPaths?: boolean;
  /** Delta layers as `gzip` (default) or `none` (plain tar: faster to commit, bigger to export). */
  readonly compression?: 'gzip' | 'none';
  /** The sandbox class to record. Default `wasm`. */
  readonly class?: CommitSource['class'];
  /** The backend assets and config to record (a backend passes what ran the sandbox; checking them is its job). Default none. */
  readonly backend?: CommitSource['backend'];
  /** The process to record. Default: the image's (Entrypoint + Cmd, Env, WorkingDir). */
  readonly process?: CommitSource['process'];
}

/** A committed sandbox snapshot, and the time the root was paused to seal it. */
export interface SandboxSnapshot extends CommittedSnapshot {
  /** Milliseconds the root was held to seal its state (O(1): it does not grow with the delta). */
  readonly pauseMs: number;
}

/** What a commit leaves: the root to go on with, and the write in progress. */
export interface Commit {
  readonly root: SandboxRoot;
  readonly lineage: Lineage;
  readonly done: Promise<SandboxSnapshot>;
}

/**
 * A commit whose root is sealed and whose delta is not written yet: the
 * caller switches to `root` and `lineage` at once, and calls `write` when
 * it may start host I/O (the pool seals inside a guest's syscall and
 * writes once its worker is idle). `write` starts the write once; later
 * calls return the same promise. Until it is called, a later commit
 * chained on `lineage` waits for this one's digest.
 */
export interface SealedCommit {
  readonly root: SandboxRoot;
  readonly lineage: Lineage;
  /** Milliseconds of the synchronous seal: what a running guest waits for. */
  readonly pauseMs: number;
  write(): Promise<SandboxSnapshot>;
}

/**
 * Commit a sandbox root: seal its state in O(1) ({@link sealRoot}), then
 * write the delta since its lineage off the guest's path. The caller
 * switches to `root` and `lineage` at once (guests may run on while
 * `done` writes); `done` settles when the snapshot is stored.
 *
 * Errors: those of {@link freezeRoot} (synchronously, nothing changed);
 * `done` rejects with those of {@link SnapshotStore.commit}.
 */
export function commitRoot(root: SandboxRoot, lineage: Lineage, store: () => Promise<ImageStore>, image: Image | undefined, options: SandboxCommitOptions = {}): Commit {
  const sealed = sealRoot(root, lineage, store, image, options);
  return { root: sealed.root, lineage: sealed.lineage, done: sealed.write() };
}

/**
 * The synchronous half of a commit: seal the root's state in O(1)
 * ({@link freezeRoot}), give it a fresh upper, and say what to write; no
 * host I/O starts and nothing is awaited.
 *
 * The delta is, bottom first: for a tmpfs root whose state no snapshot
 * holds, its whole tree (and the manifest names no image, since the tree
 * replaces it); then one layer per sealed overlay above the lineage's
 * state (a fork's uncommitted sealed layers included).
 *
 * Errors: those of {@link freezeRoot} (nothing changed); `write()`
 * rejects with those of {@link SnapshotStore.commit}.
 */
export function sealRoot(root: SandboxRoot, lineage: Lineage, store: () => Promise<ImageStore>, image: Image | undefined, options: SandboxCommitOptions = {}): SealedCommit {
  const started = performance.now();
  const frozen = freezeRoot(root);
  const { delta, reached, tree } = deltaSince(frozen.base, lineage.root);
  const recorded = tree ? undefined : lineage.image;
  const parent = reached ? lineage.digest : undefined;
  const source: CommitSource = {
    ...(recorded !== undefined && { image: recorded }),
    root: { mode: root.mode, ...(root.options.limits !== undefined && { limits: { ...root.options.limits } }) },
    mounts: root.options.mounts.map((m) => snapshotMount(m, options.includeHostPaths === true)),
    ...(options.process !== undefined
      ? { process: options.process }
      : image !== undefined && { process: { args: [...image.process.entrypoint, ...image.process.cmd], env: [...image.process.env], workdir: image.process.workdir } }),
    class: options.class ?? 'wasm',
    backend: { assets: [...(options.backend?.assets ?? [])], config: { ...options.backend?.config } },
    delta,
  };
  const pauseMs = performance.now() - started;
  let settle: { resolve: (digest: Digest) => void; reject: (error: unknown) => void } | undefined;
  const digest = new Promise<Digest>((resolve, reject) => (settle = { resolve, reject }));
  digest.catch(() => {}); // the caller of this commit hears of a failure; a later commit through its parent hears again
  let written: Promise<SandboxSnapshot> | undefined;
  const write = (): Promise<SandboxSnapshot> =>
    (written ??= (async () => {
      const { SnapshotStore } = await import('../snapshot/index.js');
      const snapshots = new SnapshotStore(await store());
      const parentDigest = parent === undefined ? undefined : await parent;
      const committed = await snapshots.commit(source, {
        ...(options.labels !== undefined && { labels: options.labels }),
        ...(options.compression !== undefined && { compression: options.compression }),
        ...(parentDigest !== undefined && { parent: parentDigest }),
      });
      return { ...committed, pauseMs };
    })().then(
      (snapshot) => (settle!.resolve(snapshot.digest), snapshot),
      (error: unknown) => {
        settle!.reject(error);
        throw error;
      },
    ));
  return { root: frozen.root, lineage: { root: frozen.base, digest, ...(recorded !== undefined && { image: recorded }) }, pauseMs, write };
}

/**
 * The sealed layers between `base` (a frozen state) and the lineage's
 * state, bottom first. `reached` says the lineage's state lies under it
 * (the delta applies on that snapshot); `tree` that the bottom is a
 * frozen tmpfs, whose whole tree is the first layer.
 */
function deltaSince(base: DirNode, lineageRoot: DirNode | undefined): { delta: DeltaSource[]; reached: boolean; tree: boolean } {
  const overlays: Overlay[] = [];
  for (let node = base; ; ) {
    if (node === lineageRoot) return { delta: overlays.reverse(), reached: true, tree: false };
    const fs = node.fs;
    if (fs instanceof Overlay) {
      overlays.push(fs);
      node = fs.lowerRoot;
    } else if (fs instanceof Tmpfs) {
      return { delta: [node, ...overlays.reverse()], reached: false, tree: true };
    } else {
      return { delta: overlays.reverse(), reached: false, tree: false }; // the image's view
    }
  }
}

/** A mount as a manifest records it: never identity contents, and host paths only when asked. */
function snapshotMount(spec: MountSpec, includeHostPaths: boolean): SnapshotMount {
  switch (spec.type) {
    case 'tmpfs':
      return { type: 'tmpfs', target: spec.target, ...(spec.size !== undefined && { size: spec.size }), ...(spec.inodes !== undefined && { inodes: spec.inodes }) };
    case 'bind':
      return { type: 'bind', target: spec.target, ...(spec.readonly !== undefined && { readonly: spec.readonly }), ...(includeHostPaths && { source: spec.source }) };
    case 'overlay':
      return { type: 'overlay', target: spec.target, ...(includeHostPaths && { source: spec.source }) };
    case 'volume':
      return { type: 'volume', target: spec.target, name: spec.name, ...(spec.readonly !== undefined && { readonly: spec.readonly }) };
    case 'identity':
      return { type: 'identity', target: spec.target };
  }
}

/**
 * The mounts a restore rebuilds from a manifest, under the caller's: tmpfs
 * and volume mounts, and bind and overlay mounts whose host path was
 * recorded. Identity mounts come only from the caller (their files were
 * never recorded), as do bind mounts without a path. A caller's mount at
 * the same target wins.
 */
export function restoredMounts(manifest: SnapshotManifest, given: readonly MountSpec[] = []): MountSpec[] {
  const taken = new Set(given.map((m) => m.target.replace(/\/+$/, '') || '/'));
  const out: MountSpec[] = [];
  for (const m of manifest.mounts) {
    if (taken.has(m.target.replace(/\/+$/, '') || '/')) continue;
    if (m.type === 'tmpfs') out.push({ type: 'tmpfs', target: m.target, ...(m.size !== undefined && { size: m.size }), ...(m.inodes !== undefined && { inodes: m.inodes }) });
    else if (m.type === 'volume') out.push({ type: 'volume', target: m.target, name: m.name, ...(m.readonly !== undefined && { readonly: m.readonly }) });
    else if (m.type === 'bind' && m.source !== undefined) out.push({ type: 'bind', target: m.target, source: m.source, ...(m.readonly !== undefined && { readonly: m.readonly }) });
    else if (m.type === 'overlay' && m.source !== undefined) out.push({ type: 'overlay', target: m.target, source: m.source });
  }
  return [...out, ...given];
}

/** A restored snapshot, ready to back sandboxes: its image-like view and its manifest. */
export interface OpenedSnapshot {
  readonly digest: Digest;
  readonly manifest: SnapshotManifest;
  /** The image and every delta of the chain, as one read-only view; the process from the manifest. */
  readonly image: Image;
}

// One view per snapshot and store, shared by every sandbox restored from it in this process.
const opened = new Map<string, Promise<OpenedSnapshot>>();

/**
 * A snapshot's layers, verified ({@link SnapshotStore.restore}) and merged
 * into one read-only view, once per process (later restores share it).
 * Errors: those of {@link SnapshotStore.restore}.
 */
export async function openSnapshot(images: ImageStore, text: string): Promise<OpenedSnapshot> {
  const [{ SnapshotStore }, { MediaType, viewLayers }, { imageProcess }] = await Promise.all([import('../snapshot/index.js'), import('../oci/index.js'), import('./image.js')]);
  const snapshots = new SnapshotStore(images);
  const digest = await snapshots.resolve(text);
  const key = `${images.root}\0${digest}`;
  let entry = opened.get(key);
  if (entry === undefined) {
    entry = (async () => {
      const restored = await snapshots.restore(digest);
      const { manifest } = restored;
      const config = restored.imageConfig ?? { raw: {} };
      const fromImage = manifest.image === undefined ? undefined : imageProcess(config, manifest.image.reference);
      // The image's own Entrypoint/Cmd split when its config is known, so a
      // command given at restore replaces Cmd as in `docker run`; else the
      // recorded args are the Cmd.
      const recorded = manifest.process === undefined ? undefined : { entrypoint: [], cmd: [...manifest.process.args], env: [...manifest.process.env], workdir: manifest.process.workdir };
      const process = fromImage ?? recorded ?? { entrypoint: [], cmd: [], env: [], workdir: '/' };
      const record: ImageRecord = restored.image ?? {
        reference: manifest.image?.reference ?? `snapshot@${digest}`,
        manifestDigest: manifest.image?.manifestDigest ?? digest,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, digest: manifest.image?.configDigest ?? digest, size: 0 },
        layers: [],
        size: 0,
        pulledAt: manifest.created,
      };
      const view = viewLayers([...restored.layers], { dev: 2n });
      return { digest, manifest, image: { record, config, view, process, wasmFiles: [] } };
    })();
    opened.set(key, entry);
    entry.catch(() => opened.delete(key));
  }
  return entry;
}

/** The lineage of a sandbox restored from `snapshot` with root `mode`: a tmpfs root is a copy, so its commits start over. */
export function restoredLineage(snapshot: OpenedSnapshot, mode: RootMode): Lineage {
  if (mode === RootMode.tmpfs) return {};
  return { root: snapshot.image.view.root, digest: Promise.resolve(snapshot.digest), ...(snapshot.manifest.image !== undefined && { image: snapshot.manifest.image }) };
}

/**
 * What `Sandbox.create({ from })` builds: the options of a sandbox over
 * the snapshot's view (root mode, quotas and mounts from the manifest
 * under the caller's), and the lineage its commits chain from.
 * Errors: ERR_INVALID_OPTION (`from` with `image`); those of
 * {@link openSnapshot}.
 */
export async function restoreOptions<T extends { from?: string; image?: unknown; root?: RootMode; tmpfs?: object; mounts?: readonly MountSpec[]; store?: ImageStore }>(options: T): Promise<{ options: Omit<T, 'from'> & { image: Image; root: RootMode; mounts: MountSpec[]; store: ImageStore }; lineage: Lineage }> {
  const { from, ...rest } = options;
  if (options.image !== undefined) throw new StrataError(ErrorCode.invalidOption, '`from` and `image` cannot both be given: a snapshot names its image');
  const store = options.store ?? (await (await import('../oci/index.js')).ImageStore.open());
  const snapshot = await openSnapshot(store, from!);
  const { manifest } = snapshot;
  const mode = options.root ?? manifest.root.mode;
  const limits = options.tmpfs ?? manifest.root.limits;
  return {
    options: { ...rest, image: snapshot.image, root: mode, ...(limits !== undefined && { tmpfs: limits }), mounts: restoredMounts(manifest, options.mounts), store },
    lineage: restoredLineage(snapshot, mode),
  };
}
