import { constants, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../../errors.js';
import type { BlobStore } from '../blob-store.js';
import { digestHex, digestOf } from '../digest.js';
import { maxManifestBytes, parseManifest, type Descriptor } from '../manifest.js';
import { formatReference, type OciLayoutReference } from '../reference.js';
import type { FetchedManifest, ImageSource } from './source.js';

/** The annotation that names an image in an OCI layout's index.json. */
export const refNameAnnotation = 'org.opencontainers.image.ref.name';

/**
 * An image in an OCI image layout (`oci-layout`, `index.json`,
 * `blobs/sha256/…`), as umoci and `skopeo copy … oci:DIR:TAG` write it.
 *
 * The tag is looked up in index.json by the `org.opencontainers.image.ref.name`
 * annotation. Without a tag, the entry named `latest` is used, else the
 * layout's only entry. Every blob read is checked against its descriptor.
 *
 * A layout is untrusted input: only regular files inside the layout
 * directory are read, never through a symlink (each directory on the way
 * is checked with lstat, the file is opened O_NOFOLLOW|O_NONBLOCK and its
 * type checked on the open fd), and never more bytes than the file's
 * limit (the descriptor's size, or the manifest cap). A symlink, FIFO,
 * device or directory is refused with ERR_BAD_IMAGE_LAYOUT, naming the
 * entry and saying nothing of what it points at.
 *
 * Errors of `root()`, in order: ERR_BAD_IMAGE_LAYOUT (no `oci-layout` file,
 * an unreadable index.json, a missing blob, an entry that is not a regular
 * file), ERR_BAD_MANIFEST,
 * ERR_MANIFEST_NOT_FOUND (no such tag; lists the tags), ERR_BAD_REFERENCE
 * (no tag given and the layout holds several images), ERR_BLOB_TOO_LARGE,
 * ERR_SIZE_MISMATCH, ERR_DIGEST_MISMATCH.
 *
 * https://github.com/opencontainers/image-spec/blob/main/image-layout.md
 */
export function ociLayoutSource(ref: OciLayoutReference): ImageSource {
  const description = formatReference(ref);
  const blobPath = (descriptor: Descriptor) => ['blobs', 'sha256', digestHex(descriptor.digest)];

  const readManifest = async (descriptor: Descriptor): Promise<FetchedManifest> => {
    const what = `manifest ${descriptor.digest} in ${description}`;
    if (descriptor.size > maxManifestBytes) throw new StrataError('ERR_BLOB_TOO_LARGE', `${what} is declared as ${descriptor.size} bytes, over the limit of ${maxManifestBytes}`);
    const bytes = await readEntry(ref.dir, blobPath(descriptor), what, maxManifestBytes);
    if (bytes.length !== descriptor.size) throw new StrataError('ERR_SIZE_MISMATCH', `${what} is ${bytes.length} bytes, expected ${descriptor.size}`);
    const digest = digestOf(bytes);
    if (digest !== descriptor.digest) throw new StrataError('ERR_DIGEST_MISMATCH', `${what} digest mismatch: expected ${descriptor.digest}, got ${digest}`);
    return { bytes, digest, mediaType: descriptor.mediaType };
  };

  return {
    description,
    async root(): Promise<FetchedManifest> {
      const layout = await readEntry(ref.dir, ['oci-layout'], `${ref.dir}/oci-layout`, 4096).catch((error: unknown) => {
        throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${ref.dir} is not an OCI image layout (no readable oci-layout file: ${(error as Error).message})`, { cause: error });
      });
      try {
        const version = (JSON.parse(new TextDecoder().decode(layout)) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
        if (typeof version !== 'string' || !version.startsWith('1.')) throw new Error(`imageLayoutVersion ${JSON.stringify(version)}`);
      } catch (error) {
        throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${ref.dir}/oci-layout is not a version 1 image layout: ${(error as Error).message}`, { cause: error });
      }
      const indexBytes = await readEntry(ref.dir, ['index.json'], `${ref.dir}/index.json`, maxManifestBytes);
      const index = parseManifest(indexBytes, undefined, `${ref.dir}/index.json`);
      if (index.kind !== 'index') throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${ref.dir}/index.json is not an image index`);
      const named = (tag: string) => index.manifests.filter((m) => m.annotations?.[refNameAnnotation] === tag);
      const tags = [...new Set(index.manifests.map((m) => m.annotations?.[refNameAnnotation]).filter((t) => t !== undefined))];
      let chosen: Descriptor[];
      if (ref.tag !== undefined) {
        chosen = named(ref.tag);
        if (chosen.length === 0) {
          throw new StrataError('ERR_MANIFEST_NOT_FOUND', `${description}: no image tagged '${ref.tag}' in ${ref.dir}/index.json; its tags: ${tags.length > 0 ? tags.join(', ') : 'none'}`);
        }
      } else {
        chosen = named('latest');
        if (chosen.length === 0) chosen = [...index.manifests];
        if (chosen.length === 0) throw new StrataError('ERR_MANIFEST_NOT_FOUND', `${description}: ${ref.dir}/index.json lists no images`);
      }
      if (new Set(chosen.map((c) => c.digest)).size > 1) {
        throw new StrataError('ERR_BAD_REFERENCE', `${description}: ${chosen.length} images match; name one as oci:${ref.dir}:TAG (tags: ${tags.join(', ') || 'none'})`);
      }
      return readManifest(chosen[0]!);
    },
    manifest: readManifest,
    async fetchBlob(descriptor: Descriptor, store: BlobStore, onProgress?: (bytes: number) => void): Promise<void> {
      const what = `blob ${descriptor.digest} in ${description}`;
      const { handle, size } = await openEntry(ref.dir, blobPath(descriptor), what);
      try {
        if (size !== descriptor.size) throw new StrataError('ERR_SIZE_MISMATCH', `${what} is not the ${descriptor.size} bytes its descriptor declares`);
        // One byte past the declared size at most: a file that grew is caught by the store's size check.
        const stream = handle.createReadStream({ start: 0, end: descriptor.size, autoClose: false });
        await store.ingest(stream, { digest: descriptor.digest, size: descriptor.size }, onProgress === undefined ? {} : { onProgress });
      } catch (error) {
        if (error instanceof StrataError && !error.message.includes(ref.dir)) throw new StrataError(error.code, `${error.message} (in ${ref.dir})`, { cause: error });
        throw error;
      } finally {
        await handle.close();
      }
    },
    async close(): Promise<void> {},
  };
}

/** What a non-regular file is, for a message (nothing else about it is said). */
function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Open the regular file `parts` below the layout directory `dir`: every
 * directory on the way is a real directory (lstat), the file is opened
 * without following a symlink or blocking on a FIFO, and its type is
 * checked on the open fd. Errors: ERR_BAD_IMAGE_LAYOUT, naming `what`.
 */
async function openEntry(dir: string, parts: readonly string[], what: string): Promise<{ handle: FileHandle; size: number }> {
  let path = dir;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    if (i === parts.length - 1) break;
    const st = await lstat(path).catch(() => undefined);
    if (st === undefined) throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${what} is missing (no ${parts.slice(0, i + 1).join('/')}/)`);
    if (!st.isDirectory()) throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${what}: ${parts.slice(0, i + 1).join('/')} is ${kindOf(st)}, not a directory`);
  }
  const name = parts.join('/');
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${what} is missing (no ${name})`, { cause: error });
    if (code === 'ELOOP' || code === 'EMLINK') throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${what}: ${name} is a symlink; a layout may hold only regular files`);
    throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${what}: ${name} cannot be opened (${typeof code === 'string' ? code : 'error'})`);
  }
  let st: Stats;
  try {
    st = await handle.stat();
  } catch (error) {
    await handle.close();
    throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${what}: ${name} cannot be read`, { cause: error });
  }
  if (!st.isFile()) {
    await handle.close();
    throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${what}: ${name} is ${kindOf(st)}; a layout may hold only regular files`);
  }
  return { handle, size: st.size };
}

/**
 * Read a small regular file of the layout whole, never more than `limit`
 * bytes. Errors: ERR_BAD_IMAGE_LAYOUT (see {@link openEntry}), ERR_BLOB_TOO_LARGE.
 */
async function readEntry(dir: string, parts: readonly string[], what: string, limit: number): Promise<Uint8Array> {
  const { handle, size } = await openEntry(dir, parts, what);
  try {
    if (size > limit) throw new StrataError('ERR_BLOB_TOO_LARGE', `${what} is over the limit of ${limit} bytes`);
    // One byte of room past the size seen: a file that grows meanwhile is still bounded.
    const buffer = new Uint8Array(Math.min(size, limit) + 1);
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await handle.read(buffer, done, buffer.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done > limit) throw new StrataError('ERR_BLOB_TOO_LARGE', `${what} is over the limit of ${limit} bytes`);
    return buffer.subarray(0, done);
  } finally {
    await handle.close();
  }
}
