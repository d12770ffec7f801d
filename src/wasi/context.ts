import type { Namespace } from '../vfs/index.js';
import { Rights } from './abi.js';
import { perfMsAt } from './clock.js';
import { DirectoryDescriptor, FileDescriptor, type Descriptor } from './descriptor.js';
import { wasiError } from './errno.js';
import { FdTable } from './fd-table.js';
import { utf8Bytes, type GuestMemory } from './memory.js';

/** Signals that the guest called proc_exit (or was ended by proc_raise). */
export class ProcExit extends Error {
  readonly code: number;

  constructor(code: number) {
    super(`exit ${code}`);
    this.name = 'ProcExit';
    this.code = code;
  }
}

/** Signals that the guest ran past its deadline (raised where the host blocks). */
export class GuestDeadline extends Error {
  constructor() {
    super('guest ran past its deadline');
    this.name = 'GuestDeadline';
  }
}

/** `s` as a NUL-terminated UTF-8 string, as argv and environ hold them. */
const cString = (s: string): Uint8Array => utf8Bytes(s, true);

/**
 * The state of one process that the syscalls share: its memory, fd table,
 * namespace, argv/environ and deadline. Nothing here is shared with
 * another process.
 */
export class WasiContext {
  readonly fds: FdTable;
  /** The process's view of the files; replaced only by {@link WasiHost.rebase}. */
  namespace: Namespace;
  readonly args: readonly Uint8Array[];
  readonly env: readonly Uint8Array[];
  /** performance.now() value after which blocking calls give up; Infinity for none. */
  readonly deadline: number;
  /** `process.hrtime()` at start; {@link startMs} is the same instant on performance.now()'s clock. */
  readonly #startHr = process.hrtime();
  #startMs: number | undefined;
  /** The wall clock at start, in ns since the epoch. */
  readonly epochNs = BigInt(Date.now()) * 1_000_000n;
  #memory: GuestMemory | undefined;

  constructor(options: { namespace: Namespace; args: readonly string[]; env: readonly string[]; maxFds: number; deadline: number }) {
    this.namespace = options.namespace;
    this.fds = new FdTable(options.maxFds);
    this.args = options.args.map(cString);
    this.env = options.env.map(cString);
    this.deadline = options.deadline;
  }

  /**
   * performance.now() at start: the zero of the MONOTONIC clock. Worked
   * out on the first read, from the time elapsed since, so a process that
   * reads no clock never loads `node:perf_hooks` (~1.4 ms of the CLI's
   * start). Every guest-visible time is read from performance.now()
   * against this one value, so the guest's clock stays monotonic.
   */
  get startMs(): number {
    return (this.#startMs ??= perfMsAt(this.#startHr));
  }

  get memory(): GuestMemory {
    const m = this.#memory;
    if (m === undefined) throw new Error('WASI call before the guest memory was bound');
    m.refresh();
    return m;
  }

  bindMemory(memory: GuestMemory): void {
    this.#memory = memory;
  }

  /** The description at `fd`, which must hold every right in `rights`. Errors: EBADF, ENOTCAPABLE. */
  fd(fd: number, rights: number): Descriptor {
    const d = this.fds.get(fd);
    if ((d.rightsBase & rights) !== rights) throw wasiError('ENOTCAPABLE');
    return d;
  }

  /**
   * A regular file at `fd` holding `rights`. Errors: EBADF, EISDIR (a
   * directory) or ESPIPE (a stream), ENOTCAPABLE.
   *
   * The kind is checked before the rights, as in {@link dir}: a stream never
   * holds FD_SEEK, and seeking it must say ESPIPE, as lseek on a tty does.
   */
  file(fd: number, rights: number): FileDescriptor {
    const d = this.fds.get(fd);
    if (!(d instanceof FileDescriptor)) throw wasiError(d instanceof DirectoryDescriptor ? 'EISDIR' : 'ESPIPE');
    if ((d.rightsBase & rights) !== rights) throw wasiError('ENOTCAPABLE');
    return d;
  }

  /** A directory at `fd` holding `rights`. Errors: EBADF, ENOTDIR, ENOTCAPABLE. */
  dir(fd: number, rights: number): DirectoryDescriptor {
    const d = this.fds.get(fd);
    if (!(d instanceof DirectoryDescriptor)) throw wasiError('ENOTDIR');
    if ((d.rightsBase & rights) !== rights) throw wasiError('ENOTCAPABLE');
    return d;
  }
}

export const R = Rights;
