import type { Readable, Writable } from 'node:stream';
// ReadableStream is Node's global: node:stream/web loads only when a web stream is asked for.
import { FsError, type DeviceNode, type FileNode } from '../vfs/index.js';
import { SandboxStats, withPath } from './sandbox-fs-stats.js';

/**
 * How {@link SandboxFs.open} opens a file, as Node's flags:
 * - `r`: read; the file must exist.
 * - `r+`: read and write; the file must exist.
 * - `w`: write; created, or truncated when it exists.
 * - `wx`: write; created, and EEXIST when it exists.
 * - `a`: append; created when missing, every write goes to the end.
 */
export type SandboxOpenFlags = 'r' | 'r+' | 'w' | 'wx' | 'a';

/** Options of {@link SandboxFileHandle.createReadStream}. */
export interface SandboxReadStreamOptions {
  /** First byte to read. Default 0. */
  readonly start?: number;
  /** Last byte to read, inclusive (as Node's). Default: to the end of the file. */
  readonly end?: number;
  /** Bytes per chunk. Default 64 KiB. */
  readonly highWaterMark?: number;
  /** Close the handle when the stream ends or fails. Default true. */
  readonly autoClose?: boolean;
}

/** Options of {@link SandboxFileHandle.createWriteStream}. */
export interface SandboxWriteStreamOptions {
  /** Where the first chunk goes. Default: the handle's position. */
  readonly start?: number;
  /** Close the handle when the stream finishes or fails. Default true. */
  readonly autoClose?: boolean;
}

/** Bytes per chunk of a stream, unless its options say otherwise. */
export const defaultStreamChunkBytes = 64 * 1024;

/**
 * An open file of a sandbox, shaped like Node's `FileHandle`.
 *
 * The handle holds the file itself, not its name: it keeps reading and
 * writing the same data after the file is renamed or unlinked, as an fd
 * does. `read` and `write` without a position use and advance the handle's
 * own position. A character device (`/dev/null`…) can be opened too; its
 * reads and writes go to the device and positions mean nothing.
 *
 * Errors (every method, FsError): EBADF after `close` or on a direction the
 * flags did not open, then the file's own (ENOSPC, EFBIG, ENXIO…).
 */
export class SandboxFileHandle {
  /** The sandbox path the handle was opened with. */
  readonly path: string;
  #node: FileNode | DeviceNode | undefined;
  #position = 0;
  readonly #readable: boolean;
  readonly #writable: boolean;
  readonly #append: boolean;

  /** @internal Made by {@link SandboxFs.open}, which checked the flags against the node. */
  constructor(node: FileNode | DeviceNode, path: string, flags: SandboxOpenFlags) {
    this.path = path;
    this.#node = node;
    this.#readable = flags === 'r' || flags === 'r+';
    this.#writable = flags !== 'r';
    this.#append = flags === 'a';
    if (node.type === 'file') node.retain();
  }

  /**
   * Read up to `length` bytes into `buffer[offset…]`, from `position` or,
   * when it is null or omitted, from the handle's position (which advances).
   * Errors: EBADF, EINVAL (a range outside `buffer`), ENXIO (a device without a process).
   */
  async read<T extends Uint8Array>(buffer: T, offset = 0, length = buffer.length - offset, position: number | null = null): Promise<{ bytesRead: number; buffer: T }> {
    return { bytesRead: this.readSync(buffer, offset, length, position), buffer };
  }

  /**
   * Write `length` bytes of `buffer` from `offset` (default: all of it) at
   * `position` or, when it is null or omitted, at the handle's position,
   * which advances. A string is written encoded (UTF-8 by default), as
   * Node's `write(string, position, encoding)`. An `a` handle always
   * writes at the end.
   * Errors: EBADF, EINVAL (a range outside `buffer`), EFBIG, ENOSPC, ENXIO.
   */
  async write<T extends Uint8Array>(buffer: T, offset?: number, length?: number, position?: number | null): Promise<{ bytesWritten: number; buffer: T }>;
  async write(data: string, position?: number | null, encoding?: BufferEncoding): Promise<{ bytesWritten: number; buffer: string }>;
  async write(data: Uint8Array | string, a?: number | null, b?: number | BufferEncoding, c?: number | null): Promise<{ bytesWritten: number; buffer: Uint8Array | string }> {
    if (typeof data === 'string') {
      const bytes = Buffer.from(data, typeof b === 'string' ? b : 'utf8');
      return { bytesWritten: this.writeSync(bytes, 0, bytes.length, a ?? null), buffer: data };
    }
    const offset = a ?? 0;
    const length = typeof b === 'number' ? b : data.length - offset;
    return { bytesWritten: this.writeSync(data, offset, length, c ?? null), buffer: data };
  }

  /**
   * The file's status.
   * Errors: EBADF.
   */
  async stat(): Promise<SandboxStats> {
    return new SandboxStats(this.#open('fstat').stat());
  }

  /**
   * Set the file's size; growing fills with zeros.
   * Errors: EBADF, EINVAL (not opened for writing, a negative length, a device), EFBIG, ENOSPC, EROFS.
   */
  async truncate(length = 0): Promise<void> {
    const node = this.#open('ftruncate');
    withPath('ftruncate', this.path, () => {
      if (!this.#writable || node.type !== 'file' || !Number.isSafeInteger(length) || length < 0) throw new FsError('EINVAL', 'ftruncate', this.path);
      node.truncate(length);
    });
  }

  /** Close the handle. Closing twice is harmless. */
  async close(): Promise<void> {
    const node = this.#node;
    this.#node = undefined;
    if (node?.type === 'file') node.release();
  }

  /**
   * A Node readable stream of the file from `start` to `end` (inclusive),
   * in chunks of `highWaterMark` bytes, read only as the consumer asks.
   * Errors (emitted): FsError EBADF and the read's errors.
   */
  createReadStream(options: SandboxReadStreamOptions = {}): Readable {
    const chunk = options.highWaterMark ?? defaultStreamChunkBytes;
    const end = options.end ?? Number.MAX_SAFE_INTEGER - 1;
    let position = options.start ?? 0;
    // node:stream loads on first use, not with every process that runs a guest (docs/decisions.md, "CLI start").
    const stream: Readable = new (process.getBuiltinModule('node:stream').Readable)({
      highWaterMark: chunk,
      read: () => {
        try {
          const want = Math.max(0, Math.min(chunk, end + 1 - position));
          // A fresh buffer per chunk: the consumer may keep it.
          const buffer = Buffer.allocUnsafe(want);
          const n = want > 0 ? this.readSync(buffer, 0, want, position) : 0;
          position += n;
          stream.push(n === 0 ? null : buffer.subarray(0, n));
        } catch (error) {
          stream.destroy(error as Error);
        }
      },
      destroy: (error, callback) => {
        if (options.autoClose === false) callback(error);
        else void this.close().then(() => callback(error));
      },
    });
    return stream;
  }

  /**
   * A Node writable stream into the file from `start`, or the handle's
   * position; each chunk is written as it comes, never gathered.
   * Errors (emitted): FsError EBADF, ENOSPC, EFBIG, EROFS.
   */
  createWriteStream(options: SandboxWriteStreamOptions = {}): Writable {
    let position: number | null = options.start ?? null;
    const finish = (error: Error | null, callback: (error?: Error | null) => void): void => {
      if (options.autoClose === false) callback(error);
      else void this.close().then(() => callback(error));
    };
    return new (process.getBuiltinModule('node:stream').Writable)({
      write: (chunk: Buffer, _encoding, callback) => {
        try {
          const n = this.writeSync(chunk, 0, chunk.length, position);
          if (position !== null) position += n;
          callback();
        } catch (error) {
          callback(error as Error);
        }
      },
      final: (callback) => finish(null, callback),
      destroy: (error, callback) => (this.#node === undefined ? callback(error) : finish(error, callback)),
    });
  }

  /**
   * A web `ReadableStream` of the whole file, in 64 KiB chunks pulled as
   * the consumer reads. The handle stays open.
   * Errors (the stream errors with): FsError EBADF and the read's errors.
   */
  readableWebStream(): ReadableStream<Uint8Array> {
    let position = 0;
    return new ReadableStream<Uint8Array>({
      pull: (controller) => {
        const buffer = new Uint8Array(defaultStreamChunkBytes);
        const n = this.readSync(buffer, 0, buffer.length, position);
        position += n;
        if (n === 0) controller.close();
        else controller.enqueue(buffer.subarray(0, n));
      },
    });
  }

  /** @internal The synchronous read behind every read path of the handle. */
  readSync(buffer: Uint8Array, offset: number, length: number, position: number | null): number {
    const node = this.#open('read');
    return withPath('read', this.path, () => {
      if (!this.#readable) throw new FsError('EBADF', 'read', this.path);
      checkRange(buffer, offset, length, position, 'read', this.path);
      if (node.type !== 'file') return node.read(buffer, offset, length);
      const at = position ?? this.#position;
      const n = node.read(buffer, offset, length, at);
      if (position === null) this.#position = at + n;
      return n;
    });
  }

  /** @internal The synchronous write behind every write path of the handle. */
  writeSync(bytes: Uint8Array, offset: number, length: number, position: number | null): number {
    const node = this.#open('write');
    return withPath('write', this.path, () => {
      if (!this.#writable) throw new FsError('EBADF', 'write', this.path);
      checkRange(bytes, offset, length, position, 'write', this.path);
      if (node.type !== 'file') return node.write(bytes, offset, length);
      const at = this.#append ? node.size : (position ?? this.#position);
      const n = node.write(bytes, offset, length, at);
      if (position === null || this.#append) this.#position = at + n;
      return n;
    });
  }

  #open(syscall: string): FileNode | DeviceNode {
    if (this.#node === undefined) throw new FsError('EBADF', syscall, this.path);
    return this.#node;
  }
}

function checkRange(buffer: Uint8Array, offset: number, length: number, position: number | null, syscall: string, path: string): void {
  const ok =
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= buffer.length &&
    (position === null || (Number.isSafeInteger(position) && position >= 0));
  if (!ok) throw new FsError('EINVAL', syscall, path);
}
