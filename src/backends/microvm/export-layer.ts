import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { extract, pack, type Header } from 'tar-stream';
import { indexLayer, type BlobStore, type Digest } from '../../oci/index.js';
import { deltaLayerMediaType, type LayerDescriptor } from '../../snapshot/index.js';

/**
 * Turn the tar the guest wrote on its state drive into an OCI delta layer
 * in the blob store (gzip level 1, as strata's other deltas), indexed for
 * a fast restore:
 * - an overlayfs whiteout (a 0/0 character device) becomes an empty
 *   `.wh.NAME` (https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts);
 * - each directory in `opaque` (the guest found it hides its lower one)
 *   gets `.wh..wh..opq` right after its own entry;
 * - other device nodes and fifos are dropped (a delta never holds them);
 * - names lose busybox's `./` prefix; the root entry itself is dropped.
 * The guest's tar ends with zero blocks; only its `bytes` (as the guest
 * reported them) are read, and the rest of the drive is ignored.
 *
 * Errors: those of the tar reader (a damaged tar) and of the host
 * filesystem writing the blob (nothing is stored then).
 */
export async function exportedLayer(blobs: BlobStore, guestTar: string, opaque: ReadonlySet<string>, bytes?: number): Promise<LayerDescriptor> {
  const tarHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let size = 0;
  const temp = blobs.tempPath('microvm-delta');
  const out = pack();
  const reader = extract();
  const clean = (name: string) => name.replace(/^\.\//, '').replace(/^\/+/, '').replace(/\/+$/, '');
  const converted = (async () => {
    for await (const entry of reader) {
      const header: Header = entry.header;
      const name = clean(header.name);
      const body: Buffer[] = [];
      for await (const chunk of entry) body.push(chunk as Buffer);
      if (name === '' || name === '.') continue;
      if (header.type === 'character-device' && (header.devmajor ?? 0) === 0 && (header.devminor ?? 0) === 0) {
        const slash = name.lastIndexOf('/');
        await add(out, { name: `${name.slice(0, slash + 1)}.wh.${name.slice(slash + 1)}`, mode: 0o644, mtime: header.mtime ?? new Date(0), type: 'file' } as Header, Buffer.alloc(0));
        continue;
      }
      if (header.type !== 'file' && header.type !== 'directory' && header.type !== 'symlink' && header.type !== 'link' && header.type !== 'contiguous-file') continue;
      const linkname = header.type === 'link' && header.linkname != null ? clean(header.linkname) : header.linkname;
      await add(out, { ...header, name, ...(linkname != null && { linkname }), type: header.type === 'contiguous-file' ? 'file' : header.type }, Buffer.concat(body));
      if (header.type === 'directory' && opaque.has(name)) await add(out, { name: `${name}/.wh..wh..opq`, mode: 0o644, mtime: header.mtime ?? new Date(0), type: 'file' } as Header, Buffer.alloc(0));
    }
    out.finalize();
  })();
  const hashTar = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      tarHash.update(chunk);
      done(null, chunk);
    },
  });
  const hashBlob = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      blobHash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await Promise.all([
      pipeline(createReadStream(guestTar, bytes === undefined ? {} : { end: bytes - 1 }), reader),
      converted,
      pipeline(out, hashTar, createGzip({ level: 1 }), hashBlob, createWriteStream(temp, { flags: 'wx', mode: 0o644 })),
    ]);
    const digest = `sha256:${blobHash.digest('hex')}` as Digest;
    await rename(temp, blobs.path(digest));
    const layer = { mediaType: deltaLayerMediaType, digest, size, diffID: `sha256:${tarHash.digest('hex')}` as Digest };
    (await indexLayer(blobs, layer)).close();
    return layer;
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

function add(tar: ReturnType<typeof pack>, header: Header, body: Buffer): Promise<void> {
  const done = (error?: Error | null) => (error ? reject(error) : resolve());
  let reject!: (error: Error) => void;
  let resolve!: () => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  if (header.type === 'directory' || header.type === 'symlink' || header.type === 'link') tar.entry({ ...header, size: 0 }, done);
  else tar.entry({ ...header, size: body.length }, body, done);
  return promise;
}

/** The opaque directories the guest reported: `opaque BASE64(NUL-separated ./paths)`. */
export function parseOpaque(line: string | undefined): Set<string> {
  const set = new Set<string>();
  if (line === undefined) return set;
  for (const p of Buffer.from(line.slice('opaque '.length).trim(), 'base64').toString('utf8').split('\0')) {
    const name = p.replace(/^\.\//, '').replace(/\/+$/, '');
    if (name !== '' && name !== '.') set.add(name);
  }
  return set;
}
