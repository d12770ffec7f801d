import type { DeviceNode, DirNode, FileNode } from '../vfs/index.js';
import { directoryInheritingRights, directoryRights, FdFlags, fileRights, Filetype, Rights as R, streamRights } from './abi.js';
import { WasiError, wasiError } from './errno.js';
import type { FdTable } from './fd-table.js';

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

  /**
   * A new open description of what this one refers to, with `rights` at
   * most its own: what opening `/proc/self/fd/N` (so `/dev/stdout`) gives
   * on Linux. Rights are never widened, so a read-only fd stays read-only.
   */
  abstract reopen(rights: number, fdflags: number): Descriptor;

  /** Called once when the last fd referring to this description closes. */
  close(): void {}
}

/** An open regular file with its own position. */
export class FileDescriptor extends Descriptor {
  readonly filetype = Filetype.REGULAR_FILE;
  #node: FileNode;
  position = 0;

  constructor(node: FileNode, rightsBase: number, rightsInheriting: number, fdflags: number) {
    super(rightsBase, rightsInheriting, fdflags);
    this.#node = node;
    node.retain();
  }

  get node(): FileNode {
    return this.#node;
  }

  /** Refer to `node` from now on (the same file in a rebased tree), keeping the position; once closed, nothing changes. */
  rebind(node: FileNode): void {
    if (this.#closed) return;
    node.retain();
    const old = this.#node;
    this.#node = node;
    old.release();
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

  override reopen(rights: number, fdflags: number): Descriptor {
    return new FileDescriptor(this.node, rights & this.rightsBase & fileRights, this.rightsInheriting & fileRights, fdflags);
  }

  #closed = false;

  /**
   * Release the node, once: the flag is set first, so a close cut short
   * (a timeout between the two steps) can leave the file charged a little
   * longer, never released twice.
   */
  override close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.node.release();
  }
}

/** An open directory; `preopenPath` is set for directories handed to the guest at start. */
export class DirectoryDescriptor extends Descriptor {
  readonly filetype = Filetype.DIRECTORY;
  node: DirNode;
  readonly preopenPath: string | undefined;

  constructor(node: DirNode, rightsBase: number, rightsInheriting: number, preopenPath?: string) {
    super(rightsBase, rightsInheriting, 0);
    this.node = node;
    this.preopenPath = preopenPath;
  }

  override reopen(rights: number): Descriptor {
    return new DirectoryDescriptor(this.node, rights & this.rightsBase & directoryRights, this.rightsInheriting & directoryInheritingRights);
  }
}

/** What a stream descriptor reads from or writes to, and whether it is a terminal. */
export interface StreamIo {
  readonly source?: StreamSource | undefined;
  readonly sink?: StreamSink | undefined;
  /** A terminal: the guest sees a character device, and isatty() is 1. Default false. */
  readonly tty?: boolean | undefined;
}

/**
 * A stream: stdin, stdout or stderr. It never holds FD_SEEK or FD_TELL.
 *
 * A terminal is a character device, which with no seek right is how
 * wasi-libc's isatty() says 1 (and musl line-buffers stdout). Any other
 * stream (a pipe, a file the host redirected, a collected buffer) is
 * `unknown`, as wasmtime reports a non-terminal stdio: isatty() is 0 and
 * stdout is fully buffered, as on Linux when piped. See docs/decisions.md.
 */
export class StreamDescriptor extends Descriptor {
  readonly filetype: number;
  readonly #io: StreamIo;

  constructor(rights: number, io: StreamIo) {
    super(rights & streamRights, 0, 0);
    this.#io = io;
    this.filetype = io.tty === true ? Filetype.CHARACTER_DEVICE : Filetype.UNKNOWN;
  }

  override reopen(rights: number): Descriptor {
    return new StreamDescriptor(rights & this.rightsBase, this.#io);
  }

  override read(dst: Uint8Array, offset: number, length: number): number {
    const source = this.#io.source;
    if (source === undefined) throw wasiError('EBADF');
    return source.read(dst, offset, length);
  }

  override write(src: Uint8Array, offset: number, length: number): number {
    const sink = this.#io.sink;
    if (sink === undefined) throw wasiError('EBADF');
    sink.write(src, offset, length);
    return length;
  }
}

/** The most a device's fd can hold: a seek is allowed (and lands at 0), the size cannot change. */
export const deviceRights =
  R.FD_DATASYNC | R.FD_READ | R.FD_SEEK | R.FD_FDSTAT_SET_FLAGS | R.FD_SYNC | R.FD_TELL | R.FD_WRITE |
  R.FD_ADVISE | R.FD_FILESTAT_GET | R.FD_FILESTAT_SET_TIMES | R.POLL_FD_READWRITE;

/**
 * An open device of `/dev` (null, zero, full, random, urandom). It has no
 * position: every seek lands at 0 and pread/pwrite ignore their offset, as
 * on Linux. It holds FD_SEEK, so isatty() is 0, as for Linux's /dev/null.
 */
export class DeviceDescriptor extends Descriptor {
  readonly filetype = Filetype.CHARACTER_DEVICE;
  readonly node: DeviceNode;

  constructor(node: DeviceNode, rights: number, fdflags: number) {
    super(rights & deviceRights, 0, fdflags);
    this.node = node;
  }

  override read(dst: Uint8Array, offset: number, length: number): number {
    return this.node.read(dst, offset, length);
  }

  override write(src: Uint8Array, offset: number, length: number): number {
    return this.node.write(src, offset, length);
  }

  override reopen(rights: number, fdflags: number): Descriptor {
    return new DeviceDescriptor(this.node, rights & this.rightsBase, fdflags);
  }
}

/** The fd each stdio device stands for. */
const stdioFd = { stdin: 0, stdout: 1, stderr: 2 } as const;

/**
 * Open a device node of `/dev` with `rights` (already narrowed to what the
 * directory may pass on). `/dev/stdin`, `stdout` and `stderr` reopen what
 * the process's fd 0, 1 or 2 is now, as Linux's `/proc/self/fd/N` links
 * do: the same stream (terminal or not), or the file it was redirected to.
 * Errors: ENOENT (that fd is closed, as /proc/self/fd/N is then missing).
 */
export function openDevice(node: DeviceNode, fds: FdTable, rights: number, fdflags: number): Descriptor {
  const device = node.device;
  if (device !== 'stdin' && device !== 'stdout' && device !== 'stderr') return new DeviceDescriptor(node, rights, fdflags);
  const fd = stdioFd[device];
  let current: Descriptor;
  try {
    current = fds.get(fd);
  } catch (error) {
    if (!(error instanceof WasiError)) throw error;
    throw wasiError('ENOENT');
  }
  return current.reopen(rights, fdflags);
}
