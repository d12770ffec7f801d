import { Errno, FsError, type FileType, type Stat, type TimeChange } from '../vfs/index.js';
import type { SandboxTime } from './sandbox-fs.js';

/** The file-type bits of `mode`, as `<sys/stat.h>` and Node's `fs.constants` have them. */
export const FileTypeBits = {
  S_IFMT: 0o170000,
  S_IFREG: 0o100000,
  S_IFDIR: 0o040000,
  S_IFLNK: 0o120000,
  S_IFCHR: 0o020000,
} as const;

const typeBits: Readonly<Record<FileType, number>> = {
  file: FileTypeBits.S_IFREG,
  directory: FileTypeBits.S_IFDIR,
  symlink: FileTypeBits.S_IFLNK,
  'character-device': FileTypeBits.S_IFCHR,
};

/** The `S_IF*` bits of a VFS file type. */
export function modeTypeBits(type: FileType): number {
  return typeBits[type];
}

/**
 * What {@link SandboxFs.stat} reports, shaped like Node's `fs.Stats`.
 *
 * `mode` carries the `S_IF*` type bits. `dev` and `ino` are bigints, as the
 * VFS holds them, so they are never rounded; times are given in milliseconds
 * (`*Ms`, like Node), exactly in nanoseconds (`*Ns`, like Node's BigIntStats)
 * and as `Date`s. There is no birth time.
 */
export class SandboxStats {
  readonly dev: bigint;
  readonly ino: bigint;
  /** Permission bits plus the `S_IF*` type bits. */
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  /** Always 0: the VFS has no block or character device numbers. */
  readonly rdev = 0;
  /** Bytes of a file, of a symlink's target; entries of a directory. */
  readonly size: number;
  /** The preferred I/O size, 4096 as Linux's tmpfs reports it. */
  readonly blksize = 4096;
  /** 512-byte blocks: the size rounded up (holes are not reported). */
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;

  constructor(stat: Stat) {
    this.dev = stat.dev;
    this.ino = stat.ino;
    this.mode = stat.mode | modeTypeBits(stat.type);
    this.nlink = stat.nlink;
    this.uid = stat.uid;
    this.gid = stat.gid;
    this.size = stat.size;
    this.blocks = Math.ceil(stat.size / 512);
    this.atimeNs = stat.atimeNs;
    this.mtimeNs = stat.mtimeNs;
    this.ctimeNs = stat.ctimeNs;
    this.atimeMs = nsToMs(stat.atimeNs);
    this.mtimeMs = nsToMs(stat.mtimeNs);
    this.ctimeMs = nsToMs(stat.ctimeNs);
  }

  get atime(): Date {
    return new Date(this.atimeMs);
  }

  get mtime(): Date {
    return new Date(this.mtimeMs);
  }

  get ctime(): Date {
    return new Date(this.ctimeMs);
  }

  isFile(): boolean {
    return (this.mode & FileTypeBits.S_IFMT) === FileTypeBits.S_IFREG;
  }

  isDirectory(): boolean {
    return (this.mode & FileTypeBits.S_IFMT) === FileTypeBits.S_IFDIR;
  }

  isSymbolicLink(): boolean {
    return (this.mode & FileTypeBits.S_IFMT) === FileTypeBits.S_IFLNK;
  }

  isCharacterDevice(): boolean {
    return (this.mode & FileTypeBits.S_IFMT) === FileTypeBits.S_IFCHR;
  }

  /** Always false: the VFS has no block devices. */
  isBlockDevice(): boolean {
    return false;
  }

  /** Always false: the VFS has no FIFOs. */
  isFIFO(): boolean {
    return false;
  }

  /** Always false: the VFS has no sockets. */
  isSocket(): boolean {
    return false;
  }
}

/**
 * One entry of {@link SandboxFs.readdir} with `withFileTypes`, shaped like
 * Node's `fs.Dirent`: `name` inside the directory `parentPath` (a
 * sandbox-absolute path). The type is the entry's own: a symlink is a
 * symlink, whatever it points at.
 */
export class SandboxDirent {
  readonly name: string;
  readonly parentPath: string;
  readonly #type: FileType;

  constructor(name: string, parentPath: string, type: FileType) {
    this.name = name;
    this.parentPath = parentPath;
    this.#type = type;
  }

  isFile(): boolean {
    return this.#type === 'file';
  }

  isDirectory(): boolean {
    return this.#type === 'directory';
  }

  isSymbolicLink(): boolean {
    return this.#type === 'symlink';
  }

  isCharacterDevice(): boolean {
    return this.#type === 'character-device';
  }

  /** Always false: the VFS has no block devices. */
  isBlockDevice(): boolean {
    return false;
  }

  /** Always false: the VFS has no FIFOs. */
  isFIFO(): boolean {
    return false;
  }

  /** Always false: the VFS has no sockets. */
  isSocket(): boolean {
    return false;
  }
}

function nsToMs(ns: bigint): number {
  return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
}

/**
 * `error` as an FsError naming `syscall` and `path`.
 *
 * An FsError keeps its code; a host error (Node's `fs`) keeps its POSIX
 * code when the VFS knows it, else becomes EIO. Anything without an errno
 * code is a bug, not a filesystem error, and is rethrown as it is.
 */
export function toFsError(error: unknown, syscall: string, path: string): FsError {
  if (error instanceof FsError) return error.syscall === syscall && error.path === path ? error : new FsError(error.code, syscall, path);
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && Object.hasOwn(Errno, code)) return new FsError(code as Errno, syscall, path);
  if (code === 'EDQUOT') return new FsError('ENOSPC', syscall, path);
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return new FsError('EIO', syscall, path);
  throw error;
}

/**
 * Run `fn`, re-raising its error as an FsError for `syscall` at `path`.
 * An error the VFS raised about `other` (the second path of rename or
 * link) keeps naming `other`.
 */
export function withPath<T>(syscall: string, path: string, fn: () => T, other?: string): T {
  try {
    return fn();
  } catch (error) {
    // Named by an inner call already (an entry deep in `rm -r`): kept.
    if (error instanceof FsError && named.has(error)) throw error;
    const about = other !== undefined && error instanceof FsError && error.path === other ? other : path;
    const renamed = toFsError(error, syscall, about);
    named.add(renamed);
    throw renamed;
  }
}

const named = new WeakSet<FsError>();

/** A {@link SandboxTime} as exact nanoseconds. Errors: FsError EINVAL (not a finite time). */
export function toNs(time: SandboxTime, path: string): TimeChange {
  if (typeof time === 'bigint') return time;
  const ms = time instanceof Date ? time.getTime() : time * 1000;
  if (!Number.isFinite(ms)) throw new FsError('EINVAL', 'utime', path);
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}
