import type { DirNode, FileNode } from '../vfs/index.js';
import { FdFlags, Filetype } from './abi.js';
import { wasiError } from './errno.js';

/** Where a stream descriptor's bytes come from (stdin). */
export interface StreamSource {
  /** Copy up to `length` bytes into `dst[offset…]`; 0 means end of input. */
  read(dst: Uint8Array, offset: number, length: number): number;
}

/** Where a stream descriptor's bytes go (stdout, stderr). */
export interface StreamSink {
  /** Consume `length` bytes of `src` from `offset`. The bytes must be copied if kept. */
  write(src: Uint8Array, offset: number, length: number): void;
}

/**
 * An open description: what an fd refers to, with its rights and flags.
 *
 * The base class answers EBADF-for-the-kind to everything (no read on a
 * directory, no readdir on a file, no seek on a stream); subclasses
 * override only what they support.
 */
export abstract class Descriptor {
  abstract readonly filetype: number;
  rightsBase: number;
  rightsInheriting: number;
  fdflags: number;

  constructor(rightsBase: number, rightsInheriting: number, fdflags: number) {
    this.rightsBase = rightsBase;
    this.rightsInheriting = rightsInheriting;
    this.fdflags = fdflags;
  }

  read(_dst: Uint8Array, _offset: number, _length: number): number {
    throw wasiError('EBADF');
  }

  write(_src: Uint8Array, _offset: number, _length: number): number {
    throw wasiError('EBADF');
  }

  /** Called once when the last fd referring to this description closes. */
  close(): void {}
}

/** An open regular file with its own position. */
export class FileDescriptor extends Descriptor {
  readonly filetype = Filetype.REGULAR_FILE;
  readonly node: FileNode;
  position = 0;

  constructor(node: FileNode, rightsBase: number, rightsInheriting: number, fdflags: number) {
    super(rightsBase, rightsInheriting, fdflags);
    this.node = node;
    node.retain();
  }

  override read(dst: Uint8Array, offset: number, length: number): number {
    const n = this.node.read(dst, offset, length, this.position);
    this.position += n;
    return n;
  }

  override write(src: Uint8Array, offset: number, length: number): number {
    if ((this.fdflags & FdFlags.APPEND) !== 0) this.position = this.node.size;
    const n = this.node.write(src, offset, length, this.position);
    this.position += n;
    return n;
  }

  override close(): void {
    this.node.release();
  }
}

/** An open directory; `preopenPath` is set for directories handed to the guest at start. */
export class DirectoryDescriptor extends Descriptor {
  readonly filetype = Filetype.DIRECTORY;
  readonly node: DirNode;
  readonly preopenPath: string | undefined;

  constructor(node: DirNode, rightsBase: number, rightsInheriting: number, preopenPath?: string) {
    super(rightsBase, rightsInheriting, 0);
    this.node = node;
    this.preopenPath = preopenPath;
  }
}

/** A character-device stream: stdin, stdout or stderr. */
export class StreamDescriptor extends Descriptor {
  readonly filetype = Filetype.CHARACTER_DEVICE;
  readonly #source: StreamSource | undefined;
  readonly #sink: StreamSink | undefined;

  constructor(rights: number, io: { source?: StreamSource; sink?: StreamSink }) {
    super(rights, 0, 0);
    this.#source = io.source;
    this.#sink = io.sink;
  }

  override read(dst: Uint8Array, offset: number, length: number): number {
    if (this.#source === undefined) throw wasiError('EBADF');
    return this.#source.read(dst, offset, length);
  }

  override write(src: Uint8Array, offset: number, length: number): number {
    if (this.#sink === undefined) throw wasiError('EBADF');
    this.#sink.write(src, offset, length);
    return length;
  }
}
