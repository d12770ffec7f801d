import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { StrataError } from '../../errors.js';
import type { BlobStore } from '../blob-store.js';
import { digestOf, type Digest } from '../digest.js';
import { MediaType, maxManifestBytes, parseConfig, type Descriptor } from '../manifest.js';
import { formatReference, parseReference, type DockerArchiveReference } from '../reference.js';
import { TarReader, TarType } from '../tar.js';
import type { FetchedManifest, ImageSource } from './source.js';

/** One regular file or symlink of the archive, located by byte range. */
interface ArchiveEntry {
  readonly offset: number;
  readonly size: number;
  readonly type: 'file' | 'symlink';
  readonly linkname: string;
}

/** An entry of the archive's manifest.json. */
interface ArchiveImage {
  readonly Config: string;
  readonly RepoTags?: readonly string[] | null;
  readonly Layers: readonly string[];
}

/**
 * An image in a `docker save` archive (a tar holding `manifest.json`, the
 * config JSON and one tar per layer), as `skopeo copy … docker-archive:FILE`
 * also writes it.
 *
 * The archive has no manifest of the registry's kind, so one is made: a
 * Docker schema2 manifest whose config is the archive's config and whose
 * layers are the archive's layer files. An uncompressed layer's digest is
 * its diffID from the config, checked when the layer is stored; a
 * compressed one (newer archives) is hashed first. Layers are read in place
 * from the archive by byte range; nothing is extracted.
 *
 * Errors of `root()`, in order: ERR_BAD_IMAGE_LAYOUT (not a tar, no
 * manifest.json, a missing or escaping member), ERR_BAD_REFERENCE (several
 * images and none named, or no image of that name), ERR_BAD_MANIFEST,
 * ERR_BLOB_TOO_LARGE.
 *
 * https://github.com/moby/moby/blob/master/image/spec/v1.2.md
 */
export function dockerArchiveSource(ref: DockerArchiveReference): ImageSource {
  const description = formatReference(ref);
  let state: Promise<{ file: FileHandle; entries: Map<string, ArchiveEntry>; blobs: Map<Digest, ArchiveEntry | Uint8Array>; root: FetchedManifest }> | undefined;

  const load = async () => {
    let file: FileHandle;
    try {
      file = await open(ref.file, 'r');
    } catch (error) {
      throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${description}: cannot open ${ref.file}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const entries = await scanTar(ref.file, description);
      const member = (name: string): ArchiveEntry => resolveMember(entries, name, description);
      const readSmall = async (name: string): Promise<Uint8Array> => {
        const entry = member(name);
        if (entry.size > maxManifestBytes) throw new StrataError('ERR_BLOB_TOO_LARGE', `${description}: ${name} is ${entry.size} bytes, over the limit of ${maxManifestBytes}`);
        return readRange(file, entry.offset, entry.size);
      };
      const images = parseArchiveManifest(await readSmall('manifest.json'), description);
      const image = chooseImage(images, ref, description);
      const configBytes = await readSmall(image.Config);
      const config = parseConfig(configBytes, `${description} config ${image.Config}`);
      const blobs = new Map<Digest, ArchiveEntry | Uint8Array>();
      const configDigest = digestOf(configBytes);
      blobs.set(configDigest, configBytes);
      const layers: Descriptor[] = [];
      for (const [i, name] of image.Layers.entries()) {
        const entry = member(name);
        const magic = await readRange(file, entry.offset, Math.min(4, entry.size));
        const compression = magic[0] === 0x1f && magic[1] === 0x8b ? 'gzip' : magic[0] === 0x28 && magic[1] === 0xb5 && magic[2] === 0x2f && magic[3] === 0xfd ? 'zstd' : 'none';
        const diffID = config.diffIDs?.[i];
        const digest = compression === 'none' && diffID !== undefined ? diffID : await hashRange(ref.file, entry);
        const mediaType = compression === 'gzip' ? MediaType.dockerLayerGzip : compression === 'zstd' ? MediaType.ociLayerZstd : MediaType.dockerLayer;
        blobs.set(digest, entry);
        layers.push({ mediaType, digest, size: entry.size });
      }
      const manifest = {
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: { mediaType: MediaType.dockerConfig, size: configBytes.length, digest: configDigest },
        layers,
      };
      const bytes = new TextEncoder().encode(JSON.stringify(manifest));
      return { file, entries, blobs, root: { bytes, digest: digestOf(bytes), mediaType: MediaType.dockerManifest } };
    } catch (error) {
      await file.close();
      throw error;
    }
  };

  return {
    description,
    async root(): Promise<FetchedManifest> {
      state ??= load();
      return (await state).root;
    },
    async manifest(descriptor: Descriptor): Promise<FetchedManifest> {
      throw new StrataError('ERR_MANIFEST_NOT_FOUND', `${description} holds no manifest ${descriptor.digest} (an archive has no index)`);
    },
    async fetchBlob(descriptor: Descriptor, store: BlobStore, onProgress?: (bytes: number) => void): Promise<void> {
      state ??= load();
      const blob = (await state).blobs.get(descriptor.digest);
      if (blob === undefined) throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${description} holds no blob ${descriptor.digest}`);
      const source = blob instanceof Uint8Array ? [blob] : createReadStream(ref.file, { start: blob.offset, end: blob.offset + blob.size - 1 });
      try {
        await store.ingest(blob instanceof Uint8Array || blob.size > 0 ? source : [], { digest: descriptor.digest, size: descriptor.size }, onProgress === undefined ? {} : { onProgress });
      } catch (error) {
        if (error instanceof StrataError) throw new StrataError(error.code, `${error.message} (in ${description}; an uncompressed layer's digest is its diffID)`, { cause: error });
        throw error;
      }
    },
    async close(): Promise<void> {
      if (state === undefined) return;
      const loaded = await state.catch(() => undefined);
      await loaded?.file.close();
    },
  };
}

function parseArchiveManifest(bytes: Uint8Array, description: string): ArchiveImage[] {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new StrataError('ERR_BAD_MANIFEST', `${description}: manifest.json is not valid JSON`, { cause: error });
  }
  const valid = (x: unknown): x is ArchiveImage => {
    const r = x as Record<string, unknown> | null;
    return (
      r !== null &&
      typeof r === 'object' &&
      typeof r['Config'] === 'string' &&
      Array.isArray(r['Layers']) &&
      (r['Layers'] as unknown[]).every((l) => typeof l === 'string') &&
      (r['RepoTags'] === undefined || r['RepoTags'] === null || (Array.isArray(r['RepoTags']) && (r['RepoTags'] as unknown[]).every((t) => typeof t === 'string')))
    );
  };
  if (!Array.isArray(json) || !json.every(valid)) {
    throw new StrataError('ERR_BAD_MANIFEST', `${description}: manifest.json is not a list of {Config, RepoTags, Layers}`);
  }
  return json;
}

/** The image a reference names: by one of its RepoTags (compared as canonical names), or the only one. */
function chooseImage(images: ArchiveImage[], ref: DockerArchiveReference, description: string): ArchiveImage {
  const tags = images.flatMap((i) => i.RepoTags ?? []);
  if (ref.name === undefined) {
    if (images.length === 1) return images[0]!;
    throw new StrataError('ERR_BAD_REFERENCE', `${description} holds ${images.length} images; name one as docker-archive:FILE:NAME:TAG (${tags.join(', ') || 'they have no tags'})`);
  }
  const canonical = (name: string) => {
    try {
      return formatReference(parseReference(name));
    } catch {
      return name;
    }
  };
  const wanted = canonical(ref.name);
  const hit = images.find((i) => (i.RepoTags ?? []).some((t) => t === ref.name || canonical(t) === wanted));
  if (hit === undefined) throw new StrataError('ERR_BAD_REFERENCE', `${description}: no image named '${ref.name}' in the archive (it has: ${tags.join(', ') || 'no tags'})`);
  return hit;
}

/** A member by name, following symlinks inside the archive (legacy `ID/layer.tar` links). */
function resolveMember(entries: Map<string, ArchiveEntry>, name: string, description: string): ArchiveEntry {
  let current = normalizeMember(name, description);
  for (let hops = 0; hops < 8; hops++) {
    const entry = entries.get(current);
    if (entry === undefined) throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${description}: member '${name}' is missing from the archive`);
    if (entry.type === 'file') return entry;
    current = normalizeMember(posix.join(posix.dirname(current), entry.linkname), description);
  }
  throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${description}: member '${name}' is a chain of too many symlinks`);
}

function normalizeMember(name: string, description: string): string {
  const normal = posix.normalize(name.replace(/^(\.\/)+/, ''));
  if (normal.startsWith('../') || normal === '..' || posix.isAbsolute(normal)) {
    throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${description}: member '${name}' points outside the archive`);
  }
  return normal;
}

/**
 * Where each member's data lies, by one pass of the tar reader over the
 * archive (data is skipped, never kept).
 * Errors: ERR_BAD_IMAGE_LAYOUT (not a tar, or truncated).
 */
async function scanTar(path: string, description: string): Promise<Map<string, ArchiveEntry>> {
  const entries = new Map<string, ArchiveEntry>();
  const reader = new TarReader((entry) => {
    const type = entry.type === TarType.file ? 'file' : entry.type === TarType.symlink ? 'symlink' : undefined;
    if (type !== undefined) entries.set(posix.normalize(entry.name.replace(/^(\.\/)+/, '')), { offset: entry.offset, size: entry.size, type, linkname: entry.linkName });
  });
  try {
    for await (const chunk of createReadStream(path)) {
      reader.push(chunk as Buffer);
      if (reader.done) break;
    }
    reader.end();
  } catch (error) {
    throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${description} is not a valid tar archive: ${(error as Error).message}`, { cause: error });
  }
  if (entries.size === 0) throw new StrataError('ERR_BAD_IMAGE_LAYOUT', `${description} is not a docker archive: it has no members`);
  return entries;
}

async function readRange(file: FileHandle, offset: number, size: number): Promise<Uint8Array> {
  const buffer = Buffer.alloc(size);
  let done = 0;
  while (done < size) {
    const { bytesRead } = await file.read(buffer, done, size - done, offset + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

async function hashRange(path: string, entry: ArchiveEntry): Promise<Digest> {
  const hash = createHash('sha256');
  if (entry.size > 0) for await (const chunk of createReadStream(path, { start: entry.offset, end: entry.offset + entry.size - 1 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
