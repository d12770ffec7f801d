import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';
import { ErrorCode, StrataError } from '../../errors.js';
import type { BlobStore, Digest } from '../../oci/index.js';

/** The media type of a runsc checkpoint image stored as one blob: a plain tar of `--image-path`'s files. */
export const runscCheckpointMediaType = 'application/vnd.strata.runsc.checkpoint.v1.tar';

/**
 * A runsc memory checkpoint as a snapshot manifest's `backend.config.checkpoint`
 * records it: the image blob, and the exact runsc that made it (a restore
 * needs the same binary: runsc's state file format is not stable across builds).
 */
export interface RunscCheckpointRecord {
  readonly mediaType: typeof runscCheckpointMediaType;
  readonly digest: string;
  readonly size: number;
  readonly runsc: { readonly version: string; readonly sha256: string };
}

/**
 * Store the files of a `runsc checkpoint --image-path DIR` as one tar blob
 * (regular files only, flat or nested), hashed as it streams.
 * Errors: those of the host filesystem.
 */
export async function storeCheckpointImage(blobs: BlobStore, dir: string): Promise<{ digest: Digest; size: number }> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  await walk('');
  const tar = pack();
  const hash = createHash('sha256');
  let size = 0;
  const temp = blobs.tempPath('runsc-checkpoint');
  const count = new Transform({ transform: (c: Buffer, _e, done) => (hash.update(c), (size += c.length), done(null, c)) });
  const written = pipeline(tar, count, createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
  try {
    const packing = (async () => {
      for (const path of files.sort()) {
        const st = await stat(join(dir, path));
        await new Promise<void>((resolve, reject) => {
          const sink = tar.entry({ name: path, size: st.size, mode: 0o600, mtime: new Date(0) }, (error) => (error ? reject(error) : resolve()));
          pipeline(createReadStream(join(dir, path)), sink).catch(reject);
        });
      }
      tar.finalize();
    })();
    await Promise.all([written, packing]);
    const digest = `sha256:${hash.digest('hex')}` as Digest;
    await rename(temp, blobs.path(digest));
    return { digest, size };
  } catch (error) {
    tar.destroy();
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/**
 * Unpack a stored checkpoint image into `dir` for `runsc restore
 * --image-path`, the blob verified against its digest first.
 *
 * Errors: ERR_BLOB_NOT_FOUND, ERR_DIGEST_MISMATCH (the blob store's);
 * ERR_BAD_SNAPSHOT (a member that is not a plain file or leaves `dir`).
 */
export async function unpackCheckpointImage(blobs: BlobStore, record: RunscCheckpointRecord, dir: string): Promise<void> {
  const bytes = await blobs.readVerified(record.digest as Digest);
  await mkdir(dir, { recursive: true });
  const reader = extract();
  const done = new Promise<void>((resolve, reject) => {
    reader.on('entry', (header, stream, next) => {
      const name = posix.normalize(header.name);
      if (header.type !== 'file' || name.startsWith('..') || posix.isAbsolute(name)) {
        stream.resume();
        reject(new StrataError(ErrorCode.badSnapshot, `runsc checkpoint image ${record.digest}: member '${header.name}' is not a plain file inside the image`));
        return;
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => void chunks.push(c as Buffer));
      stream.on('end', () => {
        mkdir(posix.dirname(join(dir, name)), { recursive: true })
          .then(() => writeFile(join(dir, name), Buffer.concat(chunks), { mode: 0o600 }))
          .then(() => next(), reject);
      });
    });
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  reader.end(Buffer.from(bytes));
  await done;
}
