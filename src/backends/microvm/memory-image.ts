import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { ErrorCode, StrataError } from '../../errors.js';
import type { BlobStore, Digest } from '../../oci/index.js';

/** The media type of a blob holding one file of a qemu memory snapshot (gzipped). */
export const memoryBlobMediaType = 'application/vnd.strata.qemu.memory-file.v1+gzip';

/**
 * A blob holding one file of a memory snapshot, gzipped; `size` is the
 * file's own. A descriptor (`mediaType`, `digest`), so the snapshot's
 * record lists it and gc keeps it while the snapshot is stored.
 */
export interface ImageBlob {
  readonly mediaType: typeof memoryBlobMediaType;
  readonly digest: string;
  readonly size: number;
}

/** What a qemu memory checkpoint records in `backend.config.memory`: the VM's RAM and device state, and its drives at that instant. */
export interface MemoryRecord {
  readonly state: ImageBlob;
  readonly drives: Readonly<Record<string, ImageBlob>>;
  readonly stateBytes: number;
  readonly memMib: number;
  readonly vcpus: number;
}

/**
 * Send HMP commands to a QEMU monitor socket, then (with `until`) poll
 * `info migrate` until what it printed satisfies `until`, within `ms`.
 * Resolves with everything the monitor printed.
 *
 * Errors: ERR_RUNTIME_FAILED (no monitor, or `until` not met in time).
 */
export async function hmp(socket: string, commands: readonly string[], until?: (said: string) => boolean, ms = 60_000): Promise<string> {
  const pause = (n: number) => new Promise((r) => setTimeout(r, n));
  let said = '';
  let c;
  // QEMU makes the socket as it starts: try for a while.
  for (let attempt = 0; ; attempt++) {
    const socketOf = connect(socket);
    const ok = await new Promise<boolean>((resolve, reject) => {
      socketOf.once('connect', () => resolve(true));
      socketOf.once('error', (error) => (attempt < 100 ? resolve(false) : reject(new StrataError(ErrorCode.runtimeFailed, `cannot reach the VM's monitor at '${socket}': ${error.message}`, { cause: error }))));
    });
    if (ok) {
      c = socketOf;
      break;
    }
    await pause(100);
  }
  c.on('data', (d: Buffer) => (said += d.toString('utf8')));
  try {
    for (const command of commands) {
      c.write(`${command}\n`);
      await pause(100);
    }
    const deadline = Date.now() + ms;
    while (until !== undefined && !until(said)) {
      if (Date.now() > deadline) throw new StrataError(ErrorCode.runtimeFailed, `the VM's monitor did not report what was expected within ${ms} ms: ${said.slice(-300)}`);
      c.write('info migrate\n');
      await pause(100);
    }
    return said;
  } finally {
    c.end();
  }
}

/** Whether `info migrate` says the migration is done; a failure throws. */
export function migrated(said: string): boolean {
  if (/Migration status: (failed|cancelled)/.test(said)) throw new StrataError(ErrorCode.runtimeFailed, `QEMU's migration failed: ${said.slice(-300)}`);
  return /Migration status: completed/.test(said);
}

/** Store a file as a gzipped blob (level 1: drives are mostly zeros). */
export async function putFile(blobs: BlobStore, path: string): Promise<ImageBlob> {
  const hash = createHash('sha256');
  let size = 0;
  const temp = blobs.tempPath('microvm-memory');
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      done(null, chunk);
    },
  });
  const hashed = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(path), count, createGzip({ level: 1 }), hashed, createWriteStream(temp, { flags: 'wx' }));
    const digest = `sha256:${hash.digest('hex')}` as Digest;
    await rename(temp, blobs.path(digest));
    return { mediaType: memoryBlobMediaType, digest, size };
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

/** Write a stored file back (the blob is verified against its digest as it streams). Errors: ERR_DIGEST_MISMATCH, ERR_SIZE_MISMATCH, the blob store's. */
export async function getFile(blobs: BlobStore, blob: ImageBlob, path: string): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    createReadStream(blobs.path(blob.digest as Digest)),
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    }),
    createGunzip(),
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done(null, chunk);
      },
    }),
    createWriteStream(path),
  );
  if (`sha256:${hash.digest('hex')}` !== blob.digest) throw new StrataError(ErrorCode.digestMismatch, `memory snapshot blob ${blob.digest} does not hash to its digest`);
  if (size !== blob.size) throw new StrataError(ErrorCode.sizeMismatch, `memory snapshot file from ${blob.digest}: expected ${blob.size} bytes, got ${size}`);
}

/** The drives of a running VM to keep with its memory, by name (`rootfs`, `upper`, `state`, `job`). */
export type DriveFiles = Readonly<Record<string, string | undefined>>;

/**
 * A memory checkpoint of a running VM: `stop`, `migrate` its RAM and device
 * state to `memPath`, store it and each drive (while stopped, so drives and
 * memory agree: the guest's page cache is in the memory image) as blobs,
 * then `cont` (always, so the VM goes on). Errors: ERR_RUNTIME_FAILED (the
 * monitor, the migration); the blob store's.
 */
export async function saveMemory(blobs: BlobStore, monitor: string, memPath: string, drives: DriveFiles, rest: { stateBytes: number; memMib: number; vcpus: number }): Promise<MemoryRecord> {
  try {
    await hmp(monitor, ['stop', `migrate "exec:cat > '${memPath}'"`], migrated);
    const state = await putFile(blobs, memPath);
    const stored: Record<string, ImageBlob> = {};
    for (const [name, path] of Object.entries(drives)) if (path !== undefined) stored[name] = await putFile(blobs, path);
    return { state, drives: stored, ...rest };
  } finally {
    await hmp(monitor, ['cont']).catch(() => {});
    await unlink(memPath).catch(() => {});
  }
}
