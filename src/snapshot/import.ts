import { ErrorCode, StrataError } from '../errors.js';
import { ociLayoutSource, parseManifest, parseReference, type Descriptor, type ImageSource, type OciLayoutReference } from '../oci/index.js';
import { snapshotAnnotation, type SnapshotAnnotation } from './export.js';
import { parseSnapshotManifest, snapshotDigest, snapshotMediaType, type SnapshotManifest } from './manifest.js';
import type { CommittedSnapshot, SnapshotStore } from './store.js';

/**
 * Bring back a snapshot that {@link SnapshotStore.export} wrote to an OCI
 * layout (`tag`, else the layout's only image or `latest`). The layout is
 * untrusted: files are read as src/oci's layout source reads them (regular
 * files only, at most their declared size), and every blob is verified
 * against its digest and size before it is kept. The chain must link
 * (each manifest's `parent` is the one before it) and each snapshot
 * manifest must be canonical, so its digest is its id. The image's
 * manifest, config and layers come along. The snapshot is then restored
 * once, which checks every diffID.
 *
 * Errors: ERR_BAD_IMAGE_LAYOUT (not a layout, or its manifest has no
 * snapshot annotation); ERR_MANIFEST_NOT_FOUND; ERR_DIGEST_MISMATCH,
 * ERR_SIZE_MISMATCH; ERR_BAD_SNAPSHOT, ERR_SNAPSHOT_VERSION;
 * ERR_DIFFID_MISMATCH.
 */
export async function importSnapshot(store: SnapshotStore, dir: string, tag?: string): Promise<CommittedSnapshot> {
  const ref = parseReference(`oci:${dir}${tag === undefined ? '' : `:${tag}`}`) as OciLayoutReference;
  const source = ociLayoutSource(ref);
  const lease = await store.images.lease();
  try {
    const root = await source.root();
    const exported = parseManifest(root.bytes, root.mediaType, `${dir}: image manifest ${root.digest}`);
    const text = exported.kind === 'manifest' ? exported.annotations?.[snapshotAnnotation] : undefined;
    if (text === undefined) throw new StrataError(ErrorCode.badImageLayout, `${dir}: image ${root.digest} is not a strata snapshot export (no ${snapshotAnnotation} annotation)`);
    const annotation = parseAnnotation(text, dir);

    const manifests: Array<{ digest: string; manifest: SnapshotManifest }> = [];
    for (const { digest, size } of annotation.snapshots) {
      const fetched = await source.manifest({ mediaType: snapshotMediaType, digest, size });
      const manifest = parseSnapshotManifest(fetched.bytes, `snapshot manifest ${digest} in ${dir}`);
      if (snapshotDigest(manifest) !== digest) throw new StrataError(ErrorCode.badSnapshot, `snapshot manifest ${digest} in ${dir} is not in canonical form (sorted keys, no whitespace), so its digest is not its id`);
      const before = manifests[manifests.length - 1];
      if (manifest.parent !== before?.digest) {
        throw new StrataError(ErrorCode.badSnapshot, `snapshot manifest ${digest} in ${dir}: /parent is ${manifest.parent ?? '(none)'}, the chain says ${before?.digest ?? '(none)'}`);
      }
      manifests.push({ digest, manifest });
    }
    const leaf = manifests[manifests.length - 1];
    if (leaf === undefined) throw new StrataError(ErrorCode.badImageLayout, `${dir}: the ${snapshotAnnotation} annotation lists no snapshot`);

    const image = leaf.manifest.image;
    if (image !== undefined) {
      if (annotation.image?.digest !== image.manifestDigest) throw new StrataError(ErrorCode.badImageLayout, `${dir}: the snapshot's image manifest ${image.manifestDigest} is not in the export`);
      const fetched = await source.manifest({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image.manifestDigest, size: annotation.image.size });
      const parsed = parseManifest(fetched.bytes, undefined, `image manifest ${image.manifestDigest} in ${dir}`);
      if (parsed.kind !== 'manifest') throw new StrataError(ErrorCode.badImageLayout, `${dir}: ${image.manifestDigest} is not an image manifest`);
      await store.images.blobs.put(fetched.bytes, { digest: fetched.digest, size: fetched.bytes.length });
      await fetchBlobs(source, store, [parsed.config, ...parsed.layers]);
    }
    for (const { manifest } of manifests) {
      await fetchBlobs(source, store, manifest.delta.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })));
    }
    for (const { digest, manifest } of manifests) {
      const stored = await store.adopt(manifest);
      if (stored.digest !== digest) throw new StrataError(ErrorCode.badSnapshot, `snapshot manifest ${digest} was stored as ${stored.digest}`);
    }
    await store.restore(leaf.digest); // every diffID, before anyone runs it
    return { digest: leaf.digest as CommittedSnapshot['digest'], manifest: leaf.manifest };
  } finally {
    await lease.release();
    await source.close();
  }
}

async function fetchBlobs(source: ImageSource, store: SnapshotStore, descriptors: readonly Descriptor[]): Promise<void> {
  for (const descriptor of descriptors) {
    if (await store.images.blobs.has(descriptor.digest)) continue;
    await source.fetchBlob(descriptor, store.images.blobs);
  }
}

function parseAnnotation(text: string, dir: string): SnapshotAnnotation {
  const bad = (why: string) => new StrataError(ErrorCode.badImageLayout, `${dir}: the ${snapshotAnnotation} annotation ${why}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad('is not JSON');
  }
  const descriptor = (d: unknown): d is { digest: `sha256:${string}`; size: number } =>
    d !== null && typeof d === 'object' && typeof (d as { digest?: unknown }).digest === 'string' && /^sha256:[0-9a-f]{64}$/.test((d as { digest: string }).digest) && Number.isSafeInteger((d as { size?: unknown }).size);
  const { snapshots, image } = (value ?? {}) as { snapshots?: unknown; image?: unknown };
  if (!Array.isArray(snapshots) || !snapshots.every(descriptor)) throw bad('has no valid `snapshots` list');
  if (image !== undefined && !descriptor(image)) throw bad('has an invalid `image`');
  return { snapshots, ...(image !== undefined && { image }) };
}
