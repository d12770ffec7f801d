import { coarseNowNs } from './clock.js';
import { FileData } from './file-data.js';
import { fsError } from './errors.js';
import type { DirNode, FileNode, Node, Stat, SymlinkNode, TimeChange } from './node.js';
import type { Tmpfs } from './tmpfs.js';

/**
 * The nodes of a tmpfs besides directories: the base every node shares,
 * regular files and symlinks, with what each costs and returns to the
 * quotas. See {@link Tmpfs} for how a mutation keeps the counters exact.
 */

/** The largest regular file, like a 32-bit off_t: larger writes give EFBIG. */
export const maxFileSize = 2 ** 32 - 1;

/** Metadata charged per node (its object, times, file-data or entry table). */
export const nodeMetadataBytes = 256;
/** Metadata charged per directory entry, plus two bytes per UTF-16 unit of its name. */
export const entryMetadataBytes = 64;

/** The metadata a directory entry named `name` costs. */
export function entryCost(name: string): number {
  return entryMetadataBytes + 2 * name.length;
}

/** What dropping one name of a node returns to the quotas. */
export interface Freed {
  inodes: number;
  bytes: number;
  metadata: number;
}

export abstract class TmpNode {
  readonly fs: Tmpfs;
  readonly ino: bigint;
  mode: number;
  nlink = 1;
  uid = 0;
  gid = 0;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** The directory and name it was last given (see `where`); set by the directory that names it. */
  hintDir: DirNode | undefined;
  hintName = '';

  constructor(fs: Tmpfs, mode: number) {
    this.fs = fs;
    this.ino = fs.nextIno();
    this.mode = mode & 0o7777;
    const now = coarseNowNs();
    this.atimeNs = now;
    this.mtimeNs = now;
    this.ctimeNs = now;
  }

  abstract readonly type: Node['type'];
  abstract readonly size: number;

  stat(): Stat {
    return {
      dev: this.fs.dev,
      ino: this.ino,
      type: this.type,
      mode: this.mode,
      nlink: this.nlink,
      uid: this.uid,
      gid: this.gid,
      size: this.size,
      atimeNs: this.atimeNs,
      mtimeNs: this.mtimeNs,
      ctimeNs: this.ctimeNs,
    };
  }

  where(): { dir: DirNode; name: string } | undefined {
    return this.hintDir === undefined ? undefined : { dir: this.hintDir, name: this.hintName };
  }

  /** Record the directory and name it was just given. */
  named(dir: DirNode, name: string): void {
    this.hintDir = dir;
    this.hintName = name;
  }

  setTimes(atime: TimeChange, mtime: TimeChange): void {
    this.fs.writable('utimensat');
    const now = coarseNowNs();
    if (atime !== undefined) this.atimeNs = atime === 'now' ? now : atime;
    if (mtime !== undefined) this.mtimeNs = mtime === 'now' ? now : mtime;
    this.ctimeNs = now;
  }

  /** What removing one of this node's names returns to the quotas (its entry's cost excluded). Changes nothing. */
  abstract freedByUnlink(): Freed;

  /** Apply the removal of one name: plain assignments only (the final step of a mutation). */
  abstract commitUnlink(now: bigint): void;
}

export class TmpFile extends TmpNode implements FileNode {
  readonly type = 'file';
  readonly #data = new FileData(this.fs.pagePool);
  #opens = 0;

  get size(): number {
    return this.#data.size;
  }

  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number {
    if (this.fs.released) throw fsError('EIO', 'read');
    return this.#data.read(dst, dstOffset, length, position);
  }

  write(src: Uint8Array, srcOffset: number, length: number, position: number): number {
    this.fs.writable('write');
    // Like Linux, an empty write changes nothing: no size past EOF, no times.
    if (length === 0) return 0;
    const end = position + length;
    if (end > maxFileSize) throw fsError('EFBIG', 'write');
    const data = this.#data;
    const grow = Math.max(0, end - data.size);
    const fs = this.fs;
    if (grow > 0) fs.fits(0, grow, 0, 'write');
    const now = coarseNowNs();
    fs.faultHook?.('write:data');
    // The size moves last inside, so the charge below goes with it.
    data.write(src, srcOffset, length, position);
    fs.bytesUsed += grow;
    this.mtimeNs = now;
    this.ctimeNs = now;
    return length;
  }

  truncate(size: number): void {
    this.fs.writable('truncate');
    if (size > maxFileSize) throw fsError('EFBIG', 'truncate');
    const data = this.#data;
    const delta = size - data.size;
    const fs = this.fs;
    if (delta > 0) fs.fits(0, delta, 0, 'truncate');
    const now = coarseNowNs();
    fs.faultHook?.('truncate:data');
    // Cut the data first; the quota follows in the same final step.
    data.truncate(size);
    fs.bytesUsed += delta;
    this.mtimeNs = now;
    this.ctimeNs = now;
  }

  retain(): void {
    this.#opens++;
  }

  release(): void {
    const bytes = this.#data.size;
    const fs = this.fs;
    this.#opens--;
    if (this.#opens === 0 && this.nlink === 0) {
      fs.inodesUsed--;
      fs.bytesUsed -= bytes;
      fs.metadataUsed -= nodeMetadataBytes;
      // The file is gone: its pages go to the pool, after the release is
      // complete. Out of stack there, they are left to the garbage
      // collector: a release that throws would be retried.
      try {
        this.#data.clear();
      } catch {
        // Nothing of the file's state depends on it.
      }
    }
  }

  /** @internal Give the pages to the pool: its tmpfs is released ({@link Tmpfs.release}), and reads and writes fail with EIO. */
  releaseData(): void {
    this.#data.clear();
  }

  /**
   * Give the pages back to the filesystem's pool once the file is gone (no
   * name, no open description). Called last by a removal, after its final
   * step: an interruption here leaves the removal complete.
   */
  reclaim(): void {
    if (this.nlink === 0 && this.#opens === 0) this.#data.clear();
  }

  freedByUnlink(): Freed {
    if (this.nlink > 1) return { inodes: 1, bytes: 0, metadata: 0 };
    // The last name: the node goes now, or when its last open description is released.
    if (this.#opens > 0) return { inodes: 0, bytes: 0, metadata: 0 };
    return { inodes: 1, bytes: this.#data.size, metadata: nodeMetadataBytes };
  }

  commitUnlink(now: bigint): void {
    this.nlink--;
    this.ctimeNs = now;
  }
}

export class TmpSymlink extends TmpNode implements SymlinkNode {
  readonly type = 'symlink';
  readonly target: string;
  readonly size: number;

  constructor(fs: Tmpfs, target: string) {
    super(fs, 0o777);
    this.target = target;
    this.size = Buffer.byteLength(target);
  }

  freedByUnlink(): Freed {
    if (this.nlink > 1) return { inodes: 1, bytes: 0, metadata: 0 };
    return { inodes: 1, bytes: this.size, metadata: nodeMetadataBytes };
  }

  commitUnlink(now: bigint): void {
    this.nlink--;
    this.ctimeNs = now;
  }
}
