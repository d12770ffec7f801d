import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
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
 * Errors of `root()`, in order: ERR_BAD_IMAGE_LAYOUT (no `oci-layout` file,
 * an unreadable index.json, a missing blob), ERR_BAD_MANIFEST,
 * ERR_MANIFEST_NOT_FOUND (no such tag; lists the tags), ERR_BAD_REFERENCE
 * (no tag given and the layout holds several images), ERR_BLOB_TOO_LARGE,
 * ERR_SIZE_MISMATCH, ERR_DIGEST_MISMATCH.
 *
 * https://github.com/opencontainers/image-spec/blob/main/image-layout.md
 */
export function ociLayoutSource(ref: OciLayoutReference): ImageSource {
  const description = formatReference(ref);
  const blobPath = (descriptor: Descriptor) => join(ref.dir, 'blobs', 'sha256', digestHex(descriptor.digest));

  const readManifest = async (descriptor: Descriptor): Promise<FetchedManifest> => {
    const what = `manifest ${descriptor.digest} in ${description}`;
    if (descriptor.size > maxManifestBytes) throw new StrataError('ERR_BLOB_TOO_LARGE', `${what} is declared as ${descriptor.size} bytes, over the limit of ${maxManifestBytes}`);
    const bytes = await readBlob(blobPath(descriptor), what, maxManifestBytes);
    if (bytes.length !== descriptor.size) throw new StrataError('ERR_SIZE_MISMATCH', `${what} is ${bytes.length} bytes, expected ${descriptor.size}`);
    const digest = digestOf(bytes);
    if (digest !== descriptor.digest) throw new StrataError('ERR_DIGEST_MISMATCH', `${what} digest mismatch: expected ${descriptor.digest}, got ${digest}`);
    return { bytes, digest, mediaType: descriptor.mediaType };
  };

  return {
    description,
    async root(): Promise<FetchedManifest> {
      const layout = await readBlob(join(ref.dir, 'oci-layout'), `${ref.dir}/oci-layout`, 4096).catch((error: unknown) => {
        throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${ref.dir} is not an OCI image layout (no readable oci-layout file)`, { cause: error });
      });
      try {
        const version = (JSON.parse(new TextDecoder().decode(layout)) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
        if (typeof version !== 'string' || !version.startsWith('1.')) throw new Error(`imageLayoutVersion ${JSON.stringify(version)}`);
      } catch (error) {
        throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${ref.dir}/oci-layout is not a version 1 image layout: ${(error as Error).message}`, { cause: error });
      }
      const indexBytes = await readBlob(join(ref.dir, 'index.json'), `${ref.dir}/index.json`, maxManifestBytes);
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
      const path = blobPath(descriptor);
      await stat(path).catch((error: unknown) => {
        throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `blob ${descriptor.digest} is missing from ${ref.dir}`, { cause: error });
      });
      try {
        await store.ingest(createReadStream(path), { digest: descriptor.digest, size: descriptor.size }, onProgress === undefined ? {} : { onProgress });
      } catch (error) {
        if (error instanceof StrataError) throw new StrataError(error.code, `${error.message} (in ${ref.dir})`, { cause: error });
        throw error;
      }
    },
    async close(): Promise<void> {},
  };
}

/** Read a small file whole, refusing more than `limit` bytes. Errors: ERR_BAD_IMAGE_LAYOUT, ERR_BLOB_TOO_LARGE. */
async function readBlob(path: string, what: string, limit: number): Promise<Uint8Array> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${what} is missing (${path})`, { cause: error });
  }
  if (size > limit) throw new StrataError('ERR_BLOB_TOO_LARGE', `${what} is ${size} bytes, over the limit of ${limit}`);
  return readFile(path);
}
