import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { ErrorCode, StrataError } from '../errors.js';
import { indexLayer, parseConfig, parseManifest, type Digest, type ImageConfig, type ImageManifest, type ImageRecord, type ImageStore, type LayerIndex } from '../oci/index.js';
import { parseSnapshotManifest, type LayerDescriptor, type SnapshotManifest } from './manifest.js';
import { markVerified, verifiedBefore } from './verified.js';

/** The most snapshots one chain may hold (as many as overlays one root may stack). */
export const maxChainLength = 1024;

/** What {@link restoreLayers} finds: the chain and the image under it. */
export interface RestoredSnapshot {
  readonly digest: Digest;
  readonly manifest: SnapshotManifest;
  /** The chain, root first, ending with `manifest`. */
  readonly chain: readonly SnapshotManifest[];
  /** The image's catalogue record, when the image is still catalogued. */
  readonly image: ImageRecord | undefined;
  /** The image's config, when the snapshot has an image. */
  readonly imageConfig: ImageConfig | undefined;
  /** The image's layers, then every delta layer of the chain (parent first), each verified and indexed. */
  readonly layers: readonly LayerIndex[];
}

/**
 * Read and parse a stored snapshot manifest, verifying its bytes against
 * its digest. Errors: ERR_SNAPSHOT_NOT_FOUND, ERR_DIGEST_MISMATCH,
 * ERR_BAD_SNAPSHOT, ERR_SNAPSHOT_VERSION.
 */
export async function readSnapshotManifest(images: ImageStore, digest: Digest): Promise<SnapshotManifest> {
  let bytes: Uint8Array;
  try {
    bytes = await images.blobs.readVerified(digest);
  } catch (error) {
    if (error instanceof StrataError && error.code === ErrorCode.blobNotFound) {
      throw new StrataError(ErrorCode.snapshotNotFound, `snapshot ${digest} is not in the store at ${images.root}`, { cause: error });
    }
    throw error;
  }
  return parseSnapshotManifest(bytes, `snapshot manifest ${digest}`);
}

/**
 * The chain of a snapshot, root first: each manifest, read and verified.
 * Every snapshot of a chain must name the same image (or none).
 * Errors: those of {@link readSnapshotManifest}; ERR_BAD_SNAPSHOT (a chain
 * longer than {@link maxChainLength}, a loop, or images that differ).
 */
export async function readChain(images: ImageStore, digest: Digest): Promise<Array<{ digest: Digest; manifest: SnapshotManifest }>> {
  const chain: Array<{ digest: Digest; manifest: SnapshotManifest }> = [];
  const seen = new Set<string>();
  for (let at: Digest | undefined = digest; at !== undefined; ) {
    if (seen.has(at) || chain.length >= maxChainLength) throw new StrataError(ErrorCode.badSnapshot, `snapshot ${digest}: its chain of parents loops or is longer than ${maxChainLength}`);
    seen.add(at);
    const manifest = await readSnapshotManifest(images, at);
    const child = chain[chain.length - 1];
    if (child !== undefined && child.manifest.image?.manifestDigest !== manifest.image?.manifestDigest) {
      throw new StrataError(ErrorCode.badSnapshot, `snapshot ${child.digest} is over image ${child.manifest.image?.manifestDigest ?? '(none)'}, but its parent ${at} is over ${manifest.image?.manifestDigest ?? '(none)'}`);
    }
    chain.push({ digest: at, manifest });
    at = manifest.parent;
  }
  return chain.reverse();
}

/**
 * Everything a sandbox needs to run a snapshot, verified before anything
 * runs: the manifest chain; the image's manifest and config (their digests,
 * and the config's diff_ids against the snapshot's `image.diffIDs`); each
 * image layer indexed against its diffID; and each delta layer of the
 * chain re-read whole, its blob digest and its uncompressed digest
 * (diffID) checked against the manifest, then indexed — unless that blob
 * was verified before (at its commit, or an earlier restore) and its file
 * is unchanged since (src/snapshot/verified.ts: device, inode, size, mtime
 * and ctime), which costs one stat. Costs O(the deltas) at most: image
 * layers were verified when pulled and are read from their cached indexes.
 *
 * Errors: those of {@link readChain}; ERR_BLOB_NOT_FOUND; ERR_DIGEST_MISMATCH
 * (a delta blob, an image manifest or config whose bytes changed: both
 * digests named); ERR_DIFFID_MISMATCH (a delta or image layer whose
 * uncompressed digest is not the recorded diffID: both named);
 * ERR_LAYER_DECOMPRESS; ERR_BAD_SNAPSHOT (the image config's diff_ids are
 * not the snapshot's); the layer errors of `indexLayer`.
 */
export async function restoreLayers(images: ImageStore, digest: Digest): Promise<RestoredSnapshot> {
  const chain = await readChain(images, digest);
  const leaf = chain[chain.length - 1]!;
  const layers: LayerIndex[] = [];
  let record: ImageRecord | undefined;
  let imageConfig: ImageConfig | undefined;
  const image = leaf.manifest.image;
  if (image !== undefined) {
    const parsed = parseManifest(await images.blobs.readVerified(image.manifestDigest), undefined, `image manifest ${image.manifestDigest}`);
    if (parsed.kind !== 'manifest') throw new StrataError(ErrorCode.badSnapshot, `snapshot ${digest}: image ${image.manifestDigest} is an index, not an image manifest`);
    if (parsed.config.digest !== image.configDigest) {
      throw new StrataError(ErrorCode.digestMismatch, `snapshot ${digest}: the image manifest's config is ${parsed.config.digest}, the snapshot records ${image.configDigest}`);
    }
    imageConfig = parseConfig(await images.blobs.readVerified(image.configDigest), `config of ${image.reference}`);
    const diffIDs = imageConfig.diffIDs ?? [];
    if (diffIDs.length !== image.diffIDs.length || diffIDs.some((d, i) => d !== image.diffIDs[i])) {
      throw new StrataError(ErrorCode.diffIdMismatch, `snapshot ${digest}: the image config's diff_ids [${diffIDs.join(', ')}] are not the snapshot's image.diffIDs [${image.diffIDs.join(', ')}]`);
    }
    layers.push(...(await indexImageLayers(images, parsed, diffIDs)));
    record = (await images.list()).find((r) => r.manifestDigest === image.manifestDigest);
  }
  for (const { digest: at, manifest } of chain) {
    for (const [i, layer] of manifest.delta.entries()) {
      if (!(await verifiedBefore(images, layer))) {
        await verifyDeltaLayer(images, layer, `snapshot ${at} delta ${i}`);
        await markVerified(images, layer);
      }
      layers.push(await indexLayer(images.blobs, { digest: layer.digest, mediaType: layer.mediaType, diffID: layer.diffID }));
    }
  }
  return { digest, manifest: leaf.manifest, chain: chain.map((c) => c.manifest), image: record, imageConfig, layers };
}

async function indexImageLayers(images: ImageStore, manifest: ImageManifest, diffIDs: readonly Digest[]): Promise<LayerIndex[]> {
  const out: LayerIndex[] = [];
  for (const [i, layer] of manifest.layers.entries()) {
    const diffID = diffIDs[i];
    out.push(await indexLayer(images.blobs, { digest: layer.digest, mediaType: layer.mediaType, ...(diffID !== undefined && { diffID }), ...(layer.annotations !== undefined && { annotations: layer.annotations }) }));
  }
  return out;
}

/**
 * Re-read a delta layer's blob: its sha256 must be its digest, and the
 * sha256 of its uncompressed tar its diffID. O(the layer), streamed.
 * Errors: ERR_BLOB_NOT_FOUND, ERR_SIZE_MISMATCH, ERR_DIGEST_MISMATCH,
 * ERR_DIFFID_MISMATCH, ERR_LAYER_DECOMPRESS.
 */
export async function verifyDeltaLayer(images: ImageStore, layer: LayerDescriptor, what: string): Promise<void> {
  if (!(await images.blobs.has(layer.digest))) throw new StrataError(ErrorCode.blobNotFound, `${what}: layer blob ${layer.digest} is not in the store at ${images.root}`);
  const blobHash = createHash('sha256');
  const tarHash = createHash('sha256');
  let size = 0;
  const gunzip = layer.mediaType.endsWith('+gzip') ? createGunzip() : undefined;
  // A decompression error is reported only after the blob's digest checked out:
  // a changed byte is a digest mismatch first.
  let unzipError: Error | undefined;
  const ended = new Promise<void>((resolve) => {
    gunzip?.on('data', (chunk: Buffer) => tarHash.update(chunk));
    gunzip?.on('error', (error) => {
      unzipError ??= error;
      resolve();
    });
    gunzip?.on('end', resolve);
  });
  for await (const chunk of images.blobs.stream(layer.digest)) {
    blobHash.update(chunk);
    size += chunk.length;
    if (gunzip === undefined) tarHash.update(chunk);
    else if (unzipError === undefined && !gunzip.write(chunk)) await Promise.race([new Promise((resolve) => gunzip.once('drain', resolve)), ended]);
  }
  if (gunzip !== undefined) {
    if (unzipError === undefined) gunzip.end();
    await ended;
  }
  const digest = `sha256:${blobHash.digest('hex')}`;
  if (digest !== layer.digest) throw new StrataError(ErrorCode.digestMismatch, `${what}: layer blob digest mismatch: the manifest says ${layer.digest}, the blob is ${digest}`);
  if (size !== layer.size) throw new StrataError(ErrorCode.sizeMismatch, `${what}: layer ${layer.digest} is ${size} bytes, the manifest says ${layer.size}`);
  if (unzipError !== undefined) throw new StrataError(ErrorCode.layerDecompress, `${what}: layer ${layer.digest} cannot be decompressed: ${unzipError.message}`, { cause: unzipError });
  const diffID = `sha256:${tarHash.digest('hex')}`;
  if (diffID !== layer.diffID) throw new StrataError(ErrorCode.diffIdMismatch, `${what}: diffID mismatch: the manifest says ${layer.diffID}, the uncompressed layer is ${diffID}`);
}
