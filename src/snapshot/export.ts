import { copyFile, link, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, StrataError } from '../errors.js';
import { digestHex, digestOf, MediaType, parseConfig, parseManifest, refNameAnnotation, type Descriptor, type Digest, type ImageStore } from '../oci/index.js';
import { canonicalManifestBytes, type SnapshotManifest } from './manifest.js';

/**
 * The annotation of an exported image manifest that leads back to the
 * snapshot: JSON `{ snapshots: [{ digest, size }…] (root first), image?: { digest, size } }`,
 * each a blob of the layout.
 */
export const snapshotAnnotation = 'dev.strata.snapshot';

/** What {@link exportSnapshot} wrote. */
export interface ExportResult {
  /** The exported image manifest (what `oci:DIR:TAG` names). */
  readonly manifest: Descriptor;
  readonly config: Descriptor;
  /** Base layers, then the delta layers of the chain. */
  readonly layers: readonly Descriptor[];
}

/** What the annotation holds. */
export interface SnapshotAnnotation {
  readonly snapshots: ReadonlyArray<{ readonly digest: Digest; readonly size: number }>;
  readonly image?: { readonly digest: Digest; readonly size: number };
}

/**
 * Write a snapshot chain (root first, already verified) as a runnable OCI
 * image layout in `dir` (made if missing; an existing layout keeps its
 * other tags): the image's layers, then each delta layer, an image config
 * (the base config with `rootfs.diff_ids` extended, a history entry per
 * delta layer, and `Entrypoint`/`Env`/`WorkingDir` from the snapshot's
 * process, `Cmd` cleared), the image manifest tagged `tag`, and, as extra
 * blobs, the snapshot manifests and the base image's manifest and config.
 * Blobs are hard-linked from the store when they can be, copied otherwise.
 * https://github.com/opencontainers/image-spec/blob/main/image-layout.md
 *
 * Errors: ERR_BLOB_NOT_FOUND; ERR_BAD_IMAGE_LAYOUT (an existing
 * `index.json` that is not an index); the host filesystem's.
 */
export async function exportSnapshot(images: ImageStore, chain: ReadonlyArray<{ digest: Digest; manifest: SnapshotManifest }>, dir: string, tag: string): Promise<ExportResult> {
  const leaf = chain[chain.length - 1]!.manifest;
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (digest: Digest) => {
    const to = join(dir, 'blobs', 'sha256', digestHex(digest));
    await link(images.blobs.path(digest), to).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return;
      await copyFile(images.blobs.path(digest), to);
    });
  };
  const putBytes = async (bytes: Uint8Array): Promise<Digest> => {
    const digest = digestOf(bytes);
    await writeFile(join(dir, 'blobs', 'sha256', digestHex(digest)), bytes);
    return digest;
  };

  const layers: Descriptor[] = [];
  let baseConfig: Record<string, unknown> = { architecture: 'wasm', os: 'wasip1', config: {} };
  let imageBlob: { digest: Digest; size: number } | undefined;
  if (leaf.image !== undefined) {
    const manifestBytes = await images.blobs.readVerified(leaf.image.manifestDigest);
    const parsed = parseManifest(manifestBytes, undefined, `image manifest ${leaf.image.manifestDigest}`);
    if (parsed.kind !== 'manifest') throw new StrataError(ErrorCode.badSnapshot, `image ${leaf.image.manifestDigest} is not an image manifest`);
    const configBytes = await images.blobs.readVerified(leaf.image.configDigest);
    baseConfig = { ...parseConfig(configBytes, `config of ${leaf.image.reference}`).raw };
    await put(leaf.image.manifestDigest);
    await put(leaf.image.configDigest);
    imageBlob = { digest: leaf.image.manifestDigest, size: manifestBytes.length };
    for (const layer of parsed.layers) {
      await put(layer.digest);
      layers.push({ mediaType: ociLayerType(layer.mediaType), digest: layer.digest, size: layer.size, ...(layer.annotations !== undefined && { annotations: layer.annotations }) });
    }
  }
  const diffIDs: Digest[] = [...(leaf.image?.diffIDs ?? [])];
  const history = Array.isArray(baseConfig['history']) ? [...(baseConfig['history'] as unknown[])] : [];
  const snapshots: Array<{ digest: Digest; size: number }> = [];
  for (const { digest, manifest } of chain) {
    snapshots.push({ digest, size: canonicalManifestBytes(manifest).length });
    await put(digest);
    for (const layer of manifest.delta) {
      await put(layer.digest);
      layers.push({ mediaType: layer.mediaType, digest: layer.digest, size: layer.size });
      diffIDs.push(layer.diffID);
      history.push({ created: manifest.created, created_by: 'strata snapshot commit', comment: `snapshot ${digest}` });
    }
  }

  const section = isObject(baseConfig['config']) ? { ...baseConfig['config'] } : {};
  if (leaf.process !== undefined) {
    section['Entrypoint'] = [...leaf.process.args];
    delete section['Cmd'];
    section['Env'] = [...leaf.process.env];
    section['WorkingDir'] = leaf.process.workdir;
  }
  const config = { ...baseConfig, created: leaf.created, config: section, rootfs: { type: 'layers', diff_ids: diffIDs }, history };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDescriptor: Descriptor = { mediaType: MediaType.ociConfig, digest: await putBytes(configBytes), size: configBytes.length };
  const annotation: SnapshotAnnotation = { snapshots, ...(imageBlob !== undefined && { image: imageBlob }) };
  const imageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDescriptor,
    layers,
    annotations: { [snapshotAnnotation]: JSON.stringify(annotation), 'org.opencontainers.image.created': leaf.created },
  };
  const manifestBytes = Buffer.from(JSON.stringify(imageManifest));
  const manifestDescriptor: Descriptor = { mediaType: MediaType.ociManifest, digest: await putBytes(manifestBytes), size: manifestBytes.length };

  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const others = (await existingManifests(dir)).filter((m) => m.annotations?.[refNameAnnotation] !== tag);
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...others, { ...manifestDescriptor, annotations: { [refNameAnnotation]: tag } }] };
  const temp = join(dir, `.index.json.${process.pid}`);
  await writeFile(temp, JSON.stringify(index));
  await rename(temp, join(dir, 'index.json'));
  return { manifest: manifestDescriptor, config: configDescriptor, layers };
}

/** The manifests an existing `index.json` lists (none when there is no file). Errors: ERR_BAD_IMAGE_LAYOUT. */
async function existingManifests(dir: string): Promise<Descriptor[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(join(dir, 'index.json'));
  } catch {
    return [];
  }
  const index = parseManifest(bytes, undefined, `${dir}/index.json`);
  if (index.kind !== 'index') throw new StrataError(ErrorCode.badImageLayout, `${dir}/index.json is not an image index`);
  return [...index.manifests];
}

/** Docker's layer media types as their OCI equivalents (the bytes are the same). */
function ociLayerType(mediaType: string): string {
  if (mediaType === MediaType.dockerLayerGzip) return MediaType.ociLayerGzip;
  if (mediaType === MediaType.dockerLayer) return MediaType.ociLayer;
  return mediaType;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

