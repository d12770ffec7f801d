import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StrataError } from '../errors.js';
import { digestHex, digestOf, parseDigest, type Digest } from './digest.js';

export { defaultStoreRoot } from './store-root.js';

/** What a blob is expected to be. `size` is checked when given. */
export interface Expected {
  readonly digest: Digest;
  readonly size?: number;
}

/** Options of {@link BlobStore.ingest}. */
export interface IngestOptions {
  /** Called with the bytes received so far. */
  readonly onProgress?: (bytes: number) => void;
  /** Refuse a stream longer than this (defaults to `size` when known). */
  readonly maxBytes?: number;
}

/** Largest blob {@link BlobStore.readVerified} reads with a blocking call. */
const maxBlockingRead = 256 * 1024;

/**
 * A content-addressed blob store on the host filesystem.
 *
 * Layout under `root`: `blobs/sha256/HEX` for blobs, `tmp/` for writes in
 * progress. A blob is streamed to a uniquely named temp file while it is
 * hashed; only when its digest and size match is it renamed into place, so
 * a reader never sees a partial or unverified blob, and two concurrent
 * ingests of the same blob both succeed (the second rename replaces the
 * first with identical bytes). On a mismatch nothing is stored.
 *
 * @example
 * const store = await BlobStore.open(defaultStoreRoot());
 * await store.ingest(response.body, { digest, size });
 * const manifest = await store.readVerified(digest);
 */
export class BlobStore {
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /**
   * Open (creating if needed) the store at `root`. The directories are made
   * with blocking calls: two `mkdir`s of a few µs each, where a first
   * asynchronous fs call in a process would start libuv's thread pool
   * (docs/benchmarks.md, P4b).
   */
  static async open(root: string): Promise<BlobStore> {
    mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
    mkdirSync(join(root, 'tmp'), { recursive: true });
    return new BlobStore(root);
  }

  /** Host path where a blob lives (whether or not it is present). */
  path(digest: Digest): string {
    return join(this.root, 'blobs', 'sha256', digestHex(parseDigest(digest)));
  }

  /** A fresh temp path inside the store (same filesystem as the blobs, so rename is atomic). */
  tempPath(hint: string): string {
    return join(this.root, 'tmp', `${hint}.${process.pid}.${randomBytes(6).toString('hex')}`);
  }

  async has(digest: Digest): Promise<boolean> {
    try {
      return (await stat(this.path(digest))).isFile();
    } catch {
      return false;
    }
  }

  /** Size in bytes of a stored blob. Errors: ERR_BLOB_NOT_FOUND. */
  async size(digest: Digest): Promise<number> {
    try {
      return (await stat(this.path(digest))).size;
    } catch (error) {
      throw new StrataError('ERR_BLOB_NOT_FOUND', `blob ${digest} is not in the store at ${this.root}`, { cause: error });
    }
  }

  /**
   * Stream `source` into the store, verifying digest and size.
   * Errors: ERR_DIGEST_MISMATCH (names both digests), ERR_SIZE_MISMATCH,
   * ERR_BLOB_TOO_LARGE. On any error nothing is stored.
   */
  async ingest(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expected: Expected, options: IngestOptions = {}): Promise<string> {
    const digest = parseDigest(expected.digest);
    const final = this.path(digest);
    const temp = this.tempPath(digestHex(digest).slice(0, 16));
    const limit = options.maxBytes ?? expected.size ?? Infinity;
    const hash = createHash('sha256');
    const file = await open(temp, 'wx', 0o644);
    let bytes = 0;
    try {
      for await (const chunk of source) {
        bytes += chunk.length;
        if (bytes > limit) {
          throw expected.size !== undefined && limit === expected.size
            ? new StrataError('ERR_SIZE_MISMATCH', `blob ${digest} is longer than its declared size ${expected.size}`)
            : new StrataError('ERR_BLOB_TOO_LARGE', `blob ${digest} is over the limit of ${limit} bytes`);
        }
        hash.update(chunk);
        await file.write(chunk);
        options.onProgress?.(bytes);
      }
      await file.sync();
    } catch (error) {
      await file.close();
      await unlink(temp).catch(() => {});
      throw error;
    }
    await file.close();
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== digest) {
      await unlink(temp).catch(() => {});
      throw new StrataError('ERR_DIGEST_MISMATCH', `blob digest mismatch: expected ${digest}, got ${actual}`);
    }
    if (expected.size !== undefined && bytes !== expected.size) {
      await unlink(temp).catch(() => {});
      throw new StrataError('ERR_SIZE_MISMATCH', `blob ${digest} is ${bytes} bytes, expected ${expected.size}`);
    }
    await rename(temp, final);
    return final;
  }

  /** Store bytes already in memory (verified the same way). */
  async put(bytes: Uint8Array, expected?: Expected): Promise<Digest> {
    const digest = expected?.digest ?? digestOf(bytes);
    await this.ingest([bytes], { digest, size: expected?.size ?? bytes.length });
    return digest;
  }

  /**
   * Read a whole blob and check it against its digest again (for small
   * blobs: manifests, configs). Errors: ERR_BLOB_NOT_FOUND, ERR_DIGEST_MISMATCH.
   */
  async readVerified(digest: Digest): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      // A manifest, an index or a config (a few KiB of JSON) is read with a
      // blocking call, which costs less than a trip through the thread pool;
      // anything larger (a component's modules, a checkpoint) is not.
      const path = this.path(digest);
      bytes = statSync(path).size <= maxBlockingRead ? readFileSync(path) : await readFile(path);
    } catch (error) {
      throw new StrataError('ERR_BLOB_NOT_FOUND', `blob ${digest} is not in the store at ${this.root}`, { cause: error });
    }
    const actual = digestOf(bytes);
    if (actual !== digest) throw new StrataError('ERR_DIGEST_MISMATCH', `stored blob is corrupt: expected ${digest}, got ${actual}`);
    return bytes;
  }

  /** A stream of a stored blob's bytes (not re-verified; it was verified on ingest). */
  stream(digest: Digest): AsyncIterable<Uint8Array> {
    return createReadStream(this.path(digest));
  }

  /** Every blob in the store. */
  async list(): Promise<Digest[]> {
    const names = await readdir(join(this.root, 'blobs', 'sha256'));
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}` as Digest);
  }

  /** Remove a blob (no error if absent). */
  async delete(digest: Digest): Promise<void> {
    await rm(this.path(digest), { force: true });
  }
}
