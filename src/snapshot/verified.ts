/**
 * What a restore may skip: a delta blob re-hashed once (at commit, or at
 * a restore that read it whole) is remembered with its file's identity
 * (device, inode, size, mtime and ctime in nanoseconds), and a later
 * restore re-reads it only when that identity changed. Any write to the
 * blob (a changed byte, a truncation, a replaced file) changes its mtime
 * and ctime, and ctime cannot be set back from user space, so a tampered
 * blob is read whole again and refused; an untouched one costs one stat.
 * The marker sits in the store's `index/` tree, so gc removes it with the
 * blob's index.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { digestHex, type ImageStore } from '../oci/index.js';
import type { LayerDescriptor } from './manifest.js';

function markerPath(images: ImageStore, layer: LayerDescriptor): string {
  return join(images.blobs.root, 'index', 'verified', `${digestHex(layer.digest)}.json`);
}

/** The blob file's identity, or undefined when it cannot be stat'ed. */
async function identity(images: ImageStore, layer: LayerDescriptor): Promise<string | undefined> {
  const st = await stat(images.blobs.path(layer.digest), { bigint: true }).catch(() => undefined);
  if (st === undefined) return undefined;
  return JSON.stringify({ dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), digest: layer.digest, diffID: layer.diffID, mediaType: layer.mediaType, bytes: layer.size });
}

/** Whether `layer`'s blob was verified whole and has not changed since. Never throws. */
export async function verifiedBefore(images: ImageStore, layer: LayerDescriptor): Promise<boolean> {
  const [now, then] = await Promise.all([identity(images, layer), readFile(markerPath(images, layer), 'utf8').catch(() => undefined)]);
  return now !== undefined && now === then;
}

/** Remember that `layer`'s blob was just verified whole (its digest, size and diffID). Best effort: a failure only costs a later re-read. */
export async function markVerified(images: ImageStore, layer: LayerDescriptor): Promise<void> {
  const now = await identity(images, layer);
  if (now === undefined) return;
  const path = markerPath(images, layer);
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(temp, now);
    await rename(temp, path);
  } catch {
    // Not remembered: the next restore verifies it again.
  }
}
