import { spawn } from 'node:child_process';
import { chmod, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, StrataError } from '../errors.js';
import {
  applyLayers,
  holdRootfsTree,
  indexLayer,
  parseDigest,
  rootfsCacheDir,
  rootfsChainFile,
  rootfsChainText,
  rootfsEntryDir,
  rootfsTempDir,
  rootfsTreePath,
  type ImageConfig,
  type ImageStore,
  type LayerIndex,
} from '../oci/index.js';
import { openImage, type ImageProcess } from '../sandbox/index.js';
import { restoreLayers, verifyDeltaLayer } from '../snapshot/index.js';
import type { BackendManifest } from './manifest.js';

// The cache's layout is the store's (gc reads it): src/oci/rootfs-cache.ts.
export { chainKey, rootfsCacheDirName } from '../oci/index.js';

/** The layers a manifest's root is made of, verified, and what the image says to run. */
export interface RootfsLayers {
  /** The image's layers, then every delta layer of the snapshot chain (parent first), each verified and indexed. */
  readonly layers: readonly LayerIndex[];
  /** Their diffIDs, in the same order: the cache key. */
  readonly diffIDs: readonly string[];
  /** The image's config, when the manifest has an image. */
  readonly imageConfig: ImageConfig | undefined;
  /** The image config's process (Entrypoint + Cmd, Env, WorkingDir), when the manifest has an image. */
  readonly imageProcess: ImageProcess | undefined;
}

/** Options of {@link rootfsLayers} and {@link materializeRootfs}. */
export interface RootfsOptions {
  readonly store: ImageStore;
  /**
   * The snapshot the manifest was read from: its whole chain's delta layers
   * are stacked (each re-verified: digest, size, diffID). Without it, only
   * `manifest.delta` is (verified the same way) over the image.
   */
  readonly snapshot?: string;
  /** Resolves relative `oci:` image references. Default `process.cwd()`. */
  readonly cwd?: string;
}

/**
 * The verified layers of a manifest's root: the image's (pulled when missing,
 * its manifest digest checked against the recorded one), then the deltas.
 *
 * Errors, in order: those of opening or pulling the image (ERR_BAD_REFERENCE,
 * ERR_IMAGE_NOT_FOUND, the registry's); ERR_DIGEST_MISMATCH (the store's image
 * is not the recorded manifest digest); those of `restoreLayers` for a
 * snapshot (ERR_SNAPSHOT_NOT_FOUND, ERR_BLOB_NOT_FOUND, ERR_DIGEST_MISMATCH,
 * ERR_DIFFID_MISMATCH); the layer errors of `indexLayer`.
 */
export async function rootfsLayers(manifest: BackendManifest, options: RootfsOptions): Promise<RootfsLayers> {
  const { store } = options;
  let imageConfig: ImageConfig | undefined;
  let imageProcess: ImageProcess | undefined;
  if (manifest.image !== undefined) {
    const image = await openImage(manifest.image.reference, { store, ...(options.cwd !== undefined && { cwd: options.cwd }) }).catch(async (error: unknown) => {
      // A snapshot may outlive its image's catalogue record: its blobs are kept, so read them.
      if (options.snapshot !== undefined && error instanceof StrataError) return undefined;
      throw error;
    });
    if (image !== undefined) {
      if (image.record.manifestDigest !== manifest.image.manifestDigest) {
        throw new StrataError(ErrorCode.digestMismatch, `image '${manifest.image.reference}': the manifest records ${manifest.image.manifestDigest}, the store has ${image.record.manifestDigest}`);
      }
      imageConfig = image.config;
      imageProcess = image.process;
    }
  }
  if (options.snapshot !== undefined) {
    const restored = await restoreLayers(store, parseDigest(options.snapshot, 'snapshot'));
    imageConfig ??= restored.imageConfig;
    return { layers: restored.layers, diffIDs: restored.layers.map((l) => l.diffID), imageConfig, imageProcess };
  }
  const layers: LayerIndex[] = [];
  if (manifest.image !== undefined) {
    const record = (await store.list()).find((r) => r.manifestDigest === manifest.image!.manifestDigest);
    if (record === undefined) throw new StrataError(ErrorCode.imageNotFound, `image ${manifest.image.manifestDigest} ('${manifest.image.reference}') is not in the store at ${store.root}`);
    for (const [i, layer] of record.layers.entries()) {
      const recorded = manifest.image.diffIDs[i];
      const diffID = recorded !== undefined ? parseDigest(recorded, `diffID ${i}`) : layer.diffID;
      layers.push(await indexLayer(store.blobs, { digest: layer.digest, mediaType: layer.mediaType, ...(diffID !== undefined && { diffID }), ...(layer.annotations !== undefined && { annotations: layer.annotations }) }));
    }
  }
  for (const [i, layer] of manifest.delta.entries()) {
    const descriptor = { mediaType: layer.mediaType, size: layer.size, digest: parseDigest(layer.digest, `delta ${i}`), diffID: parseDigest(layer.diffID, `delta ${i} diffID`) };
    await verifyDeltaLayer(store, descriptor, `delta ${i}`);
    layers.push(await indexLayer(store.blobs, descriptor));
  }
  return { layers, diffIDs: layers.map((l) => l.diffID), imageConfig, imageProcess };
}

/**
 * A cached tree in use: gc leaves it alone until `release()` (or until
 * this process dies). Idempotent.
 */
export interface CachedRootfs {
  /** `<store>/rootfs/<chainKey>/tree`: shared, **never to be written to**. */
  readonly tree: string;
  release(): Promise<void>;
}

/**
 * The extracted tree of a chain of layers, from the cache under the store
 * (`<store>/rootfs/<chainKey>/tree`, laid out by src/oci/rootfs-cache.ts),
 * built on a miss, and held until the caller releases it: `ImageStore.gc()`
 * never removes a held tree, whatever the catalogue says. The longest
 * cached prefix of the chain is copied (`cp -a --reflink=auto`) and the
 * remaining layers applied with `applyLayers` (contained: nothing is
 * written outside the tree; owners kept when running as root). Built in a
 * temp directory and renamed into place, so a reader never sees half a
 * tree and two builders of the same chain both end with one complete copy.
 *
 * The lookup, the build and taking the hold run under a store lease
 * (`ImageStore.lease({ purpose: 'rootfs' })`), so a gc waits for them and
 * a build waits for a running gc; the lease is released before returning,
 * the hold is what keeps the tree.
 *
 * The tree is shared and **must not be written to**: use it as an
 * overlayfs `lowerdir` (holding it as long as the mount lives), or copy it
 * ({@link materializeRootfs}). Running as root, files keep the image's
 * owners and setuid bits (a container needs them), so `<store>/rootfs` is
 * made mode 0700: no other host user can reach a setuid file in it.
 *
 * Errors: ERR_STORE_BUSY (a gc still runs after 10 minutes); those of
 * `applyLayers` (ERR_LAYER_*); ERR_LAYER_APPLY when the copy of a cached
 * prefix fails.
 */
export async function cachedRootfs(store: ImageStore, layers: readonly LayerIndex[]): Promise<CachedRootfs> {
  const diffIDs = layers.map((l) => l.diffID);
  const lease = await store.lease({ purpose: 'rootfs' });
  try {
    const tree = await findOrBuild(store.root, layers);
    const hold = await holdRootfsTree(store.root, diffIDs);
    return { tree, release: () => hold.release() };
  } finally {
    await lease.release();
  }
}

async function findOrBuild(root: string, layers: readonly LayerIndex[]): Promise<string> {
  const diffIDs = layers.map((l) => l.diffID);
  const treeOf = (n: number) => rootfsTreePath(root, diffIDs.slice(0, n));
  if (await isDir(treeOf(layers.length))) return treeOf(layers.length);
  let from = layers.length - 1;
  while (from > 0 && !(await isDir(treeOf(from)))) from--;
  // Owners and setuid bits are kept (the container needs them), so no other host user may reach these trees.
  const base = rootfsCacheDir(root);
  await mkdir(base, { recursive: true, mode: 0o700 });
  await chmod(base, 0o700);
  const temp = rootfsTempDir(root);
  try {
    await mkdir(join(temp, 'tree'), { recursive: true });
    if (from > 0) await copyTree(treeOf(from), join(temp, 'tree'));
    const isRoot = process.getuid?.() === 0;
    await applyLayers(layers.slice(from), join(temp, 'tree'), { chown: isRoot, dropSetuid: false });
    await writeFile(join(temp, rootfsChainFile), rootfsChainText(diffIDs));
    try {
      await rename(temp, rootfsEntryDir(root, diffIDs));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      // Another builder finished first: theirs is the same tree.
    }
    return treeOf(layers.length);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** What {@link materializeRootfs} made. */
export interface MaterializedRootfs extends RootfsLayers {
  /** The private copy of the root: the `dir` given. */
  readonly dir: string;
  /** The shared cached tree it was copied from (read-only; see {@link cachedRootfs}). No longer held: gc may remove it once nothing keeps its chain. */
  readonly cached: string;
}

/**
 * Materialize a manifest's root filesystem into the host directory `dir`
 * (created; must not exist or be empty): the image's layers and the
 * snapshot chain's verified delta layers, from the extracted-layer cache
 * ({@link cachedRootfs}), copied with `cp -a --reflink=auto` (a reflink
 * where the filesystem has them, else a plain copy). The copy is the
 * caller's to change, e.g. to build an ext4 image with `mke2fs -d dir`.
 * The cached tree is held while it is copied, so a gc cannot remove it
 * half way.
 *
 * @example
 * const { dir, imageProcess } = await materializeRootfs(manifest, '/tmp/vm/rootfs', { store });
 * execFileSync('mke2fs', ['-q', '-t', 'ext4', '-d', dir, 'rootfs.ext4', '256M']);
 *
 * Errors: those of {@link rootfsLayers} and {@link cachedRootfs};
 * ERR_BAD_PATH (`dir` exists and is not an empty directory);
 * ERR_LAYER_APPLY (the copy failed).
 */
export async function materializeRootfs(manifest: BackendManifest, dir: string, options: RootfsOptions): Promise<MaterializedRootfs> {
  const layers = await rootfsLayers(manifest, options);
  const cached = await cachedRootfs(options.store, layers.layers);
  try {
    await mkdir(dir, { recursive: true });
    if ((await readdir(dir)).length > 0) throw new StrataError(ErrorCode.badPath, `cannot materialize a root filesystem into '${dir}': it is not empty`);
    await copyTree(cached.tree, dir);
  } finally {
    await cached.release();
  }
  return { ...layers, dir, cached: cached.tree };
}

/** Close the layer indexes a {@link rootfsLayers} call opened (their data files). */
export function closeRootfsLayers(layers: RootfsLayers): void {
  for (const layer of layers.layers) layer.close();
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** `cp -a --reflink=auto FROM/. TO`: owners, modes, times, links and hard links kept. */
export function copyTree(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['-a', '--reflink=auto', `${from}/.`, to], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => reject(new StrataError(ErrorCode.layerApply, `cannot copy '${from}' to '${to}': ${error.message}`, { cause: error })));
    child.on('close', (status) => (status === 0 ? resolve() : reject(new StrataError(ErrorCode.layerApply, `cannot copy '${from}' to '${to}': cp exited ${String(status)}: ${stderr.trim()}`))));
  });
}
