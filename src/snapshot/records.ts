import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, parseManifest, snapshotsDir, type Digest, type ImageStore } from '../oci/index.js';
import type { SnapshotManifest } from './manifest.js';

/**
 * What the store keeps beside a snapshot's manifest blob:
 * `<root>/snapshots/<hex>.json`. It makes the snapshot listed, and its
 * `references` are every blob and diffID the snapshot needs, which
 * `ImageStore.gc()` keeps (see `snapshotReferences` in src/oci).
 */
export interface SnapshotRecord {
  readonly digest: Digest;
  readonly created: string;
  readonly parent?: Digest;
  readonly labels?: Readonly<Record<string, string>>;
  readonly references: readonly string[];
}

/** The record path of a snapshot. */
export function recordPath(images: ImageStore, digest: Digest): string {
  return join(images.root, snapshotsDir, `${digestHex(digest)}.json`);
}

/**
 * Every digest a snapshot needs kept: its manifest, its delta layers
 * (blob and diffID), the blobs its backend config names by descriptor
 * (e.g. a runsc memory checkpoint), and its image's manifest, config and layers (blobs
 * and diffIDs, read from the image manifest, so removing the image's
 * catalogue record does not lose them). Parents keep their own.
 * Errors: those of reading the image manifest blob (ERR_BLOB_NOT_FOUND,
 * ERR_DIGEST_MISMATCH, ERR_BAD_MANIFEST).
 */
export async function referencesOf(images: ImageStore, digest: Digest, manifest: SnapshotManifest): Promise<string[]> {
  const refs = new Set<string>([digest]);
  for (const layer of manifest.delta) refs.add(layer.digest).add(layer.diffID);
  for (const blob of configDescriptors(manifest.backend.config)) refs.add(blob);
  if (manifest.image !== undefined) {
    const { manifestDigest, configDigest, diffIDs } = manifest.image;
    refs.add(manifestDigest).add(configDigest);
    for (const d of diffIDs) refs.add(d);
    const parsed = parseManifest(await images.blobs.readVerified(manifestDigest), undefined, `image manifest ${manifestDigest}`);
    if (parsed.kind === 'manifest') for (const layer of parsed.layers) refs.add(layer.digest);
  }
  return [...refs];
}

/** Write a snapshot's record atomically (temp file + rename). */
export async function writeRecord(images: ImageStore, record: SnapshotRecord): Promise<void> {
  const temp = images.blobs.tempPath('snapshot');
  await mkdir(join(images.root, snapshotsDir), { recursive: true });
  await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`, { flag: 'wx' });
  await rename(temp, recordPath(images, record.digest));
}

/** Every readable record, oldest first. */
export async function readRecords(images: ImageStore): Promise<SnapshotRecord[]> {
  const dir = join(images.root, snapshotsDir);
  const out: SnapshotRecord[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{64}\.json$/.test(name)) continue;
    try {
      out.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as SnapshotRecord);
    } catch {
      // Unreadable: not listed (and gc keeps nothing for it).
    }
  }
  return out.sort((a, b) => a.created.localeCompare(b.created) || a.digest.localeCompare(b.digest));
}

/** Remove a snapshot's record (its blobs stay until gc). */
export async function removeRecord(images: ImageStore, digest: Digest): Promise<void> {
  await rm(recordPath(images, digest), { force: true });
}

/**
 * The digests of the descriptors (`{ mediaType, digest }` objects, as OCI
 * names blobs) anywhere in a backend config: a backend that stores blobs
 * of its own (runsc's memory checkpoint) names them so, and gc keeps them.
 * The config is opaque otherwise; at most 16 levels deep are looked at.
 */
function configDescriptors(config: unknown, depth = 0, out: string[] = []): string[] {
  if (depth > 16 || typeof config !== 'object' || config === null) return out;
  const record = config as Record<string, unknown>;
  if (typeof record['mediaType'] === 'string' && typeof record['digest'] === 'string' && /^sha256:[0-9a-f]{64}$/.test(record['digest'])) out.push(record['digest']);
  for (const value of Array.isArray(config) ? config : Object.values(record)) configDescriptors(value, depth + 1, out);
  return out;
}
