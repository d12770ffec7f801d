import { coarseNowNs } from './clock.js';
import { DirEntries } from './dir-entries.js';
import { FileData } from './file-data.js';
import { fsError } from './errors.js';
import type { DirEntry, DirNode, FileNode, FileSystem, Node, Stat, SymlinkNode, TimeChange } from './node.js';

/** Limits of one tmpfs. Exceeding either gives ENOSPC. */
export interface TmpfsLimits {
  /** Total bytes of file contents and symlink targets. */
  readonly maxBytes: number;
  /** Total nodes, the root included. */
  readonly maxInodes: number;
}

/** Defaults for a tmpfs with no explicit limits: 1 GiB and 1 Mi inodes. */
export const defaultTmpfsLimits: TmpfsLimits = { maxBytes: 1 << 30, maxInodes: 1 << 20 };

/** The largest regular file, like a 32-bit off_t: larger writes give EFBIG. */
export const maxFileSize = 2 ** 32 - 1;

/** Usage counters of a tmpfs, for `df`-like reporting and tests. */
export interface TmpfsUsage {
  readonly bytes: number;
  readonly inodes: number;
}

/**
 * An in-memory filesystem with byte and inode quotas.
 *
 * Inode numbers come from this instance's own counter (the root is 1) and
 * are never reused. Unlinked files keep their contents until the last open
 * description is released; only then are their bytes returned to the quota.
 *
 * @example
 * const fs = new Tmpfs({ dev: 1n });
 * const f = fs.root.createFile('a.txt', 0o644);
 * f.write(new TextEncoder().encode('hi'), 0, 2, 0);
 */
export class Tmpfs implements FileSystem {
  readonly dev: bigint;
  readonly readonly = false;
  readonly limits: TmpfsLimits;
  readonly root: DirNode;
  #nextIno = 1n;
  #bytes = 0;
  #inodes = 0;

  constructor(options: { dev: bigint; limits?: Partial<TmpfsLimits> }) {
    this.dev = options.dev;
    this.limits = { ...defaultTmpfsLimits, ...options.limits };
    this.root = new TmpDir(this, 0o755, undefined);
  }

  get usage(): TmpfsUsage {
    return { bytes: this.#bytes, inodes: this.#inodes };
  }

  /** @internal Reserve an inode number, or fail with ENOSPC. */
  allocInode(syscall: string, name: string): bigint {
    if (this.#inodes >= this.limits.maxInodes) throw fsError('ENOSPC', syscall, name);
    this.#inodes++;
    return this.#nextIno++;
  }

  /** @internal */
  freeInode(): void {
    this.#inodes--;
  }

  /** @internal Charge `delta` bytes (negative to refund), or fail with ENOSPC. */
  chargeBytes(delta: number, syscall: string): void {
    if (delta > 0 && this.#bytes + delta > this.limits.maxBytes) throw fsError('ENOSPC', syscall);
    this.#bytes += delta;
  }
}

abstract class TmpNode {
  readonly fs: Tmpfs;
  readonly ino: bigint;
  mode: number;
  nlink = 1;
  uid = 0;
  gid = 0;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;

  constructor(fs: Tmpfs, mode: number) {
    this.fs = fs;
    this.ino = fs.allocInode('create', '');
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

  setTimes(atime: TimeChange, mtime: TimeChange): void {
    const now = coarseNowNs();
    if (atime !== undefined) this.atimeNs = atime === 'now' ? now : atime;
    if (mtime !== undefined) this.mtimeNs = mtime === 'now' ? now : mtime;
    this.ctimeNs = now;
  }

  /** Called when the last directory entry naming this node goes away. */
  abstract dropLink(now: bigint): void;
}

class TmpDir extends TmpNode implements DirNode {
  readonly type = 'directory';
  readonly entries = new DirEntries<TmpNode & Node>();
  parentDir: TmpDir | undefined;
  subdirs = 0;
  removed = false;

  constructor(fs: Tmpfs, mode: number, parent: TmpDir | undefined) {
    super(fs, mode);
    this.parentDir = parent;
    this.nlink = 2;
  }

  get parent(): DirNode | undefined {
    return this.parentDir;
  }

  get size(): number {
    return this.entries.size;
  }

  override stat(): Stat {
    return { ...super.stat(), nlink: this.removed ? 0 : 2 + this.subdirs };
  }

  lookup(name: string): Node | undefined {
    return this.entries.get(name);
  }

  readdir(cookie: number, take: (entry: DirEntry) => boolean): void {
    this.entries.forEachFrom(cookie, (name, node, next) => take({ name, ino: node.ino, type: node.type, next }));
  }

  mkdir(name: string, mode: number): DirNode {
    this.#checkCreate('mkdir', name);
    const dir = new TmpDir(this.fs, mode, this);
    this.entries.set(name, dir);
    this.subdirs++;
    this.#touch(dir.ctimeNs);
    return dir;
  }

  createFile(name: string, mode: number): FileNode {
    this.#checkCreate('open', name);
    const file = new TmpFile(this.fs, mode);
    this.entries.set(name, file);
    this.#touch(file.ctimeNs);
    return file;
  }

  symlink(name: string, target: string): SymlinkNode {
    this.#checkCreate('symlink', name);
    const link = new TmpSymlink(this.fs, target);
    try {
      this.fs.chargeBytes(link.size, 'symlink');
    } catch (error) {
      this.fs.freeInode();
      throw error;
    }
    this.entries.set(name, link);
    this.#touch(link.ctimeNs);
    return link;
  }

  link(name: string, node: Node): void {
    if (!(node instanceof TmpNode) || node.fs !== this.fs) throw fsError('EXDEV', 'link', name);
    if (node instanceof TmpDir) throw fsError('EPERM', 'link', name);
    this.#checkCreate('link', name);
    const now = coarseNowNs();
    node.nlink++;
    node.ctimeNs = now;
    this.entries.set(name, node);
    this.#touch(now);
  }

  unlink(name: string): void {
    const node = this.entries.get(name);
    if (node === undefined) throw fsError('ENOENT', 'unlink', name);
    if (node instanceof TmpDir) throw fsError('EISDIR', 'unlink', name);
    this.entries.delete(name);
    const now = coarseNowNs();
    node.dropLink(now);
    this.#touch(now);
  }

  rmdir(name: string): void {
    const node = this.entries.get(name);
    if (node === undefined) throw fsError('ENOENT', 'rmdir', name);
    if (!(node instanceof TmpDir)) throw fsError('ENOTDIR', 'rmdir', name);
    if (node.entries.size > 0) throw fsError('ENOTEMPTY', 'rmdir', name);
    this.entries.delete(name);
    this.subdirs--;
    const now = coarseNowNs();
    node.dropLink(now);
    this.#touch(now);
  }

  rename(oldName: string, newDir: DirNode, newName: string): void {
    if (!(newDir instanceof TmpDir) || newDir.fs !== this.fs) throw fsError('EXDEV', 'rename', newName);
    const node = this.entries.get(oldName);
    if (node === undefined) throw fsError('ENOENT', 'rename', oldName);
    if (newDir.removed) throw fsError('ENOENT', 'rename', newName);
    const existing = newDir.entries.get(newName);
    if (existing === node) return; // Same inode: POSIX says do nothing.
    if (node instanceof TmpDir) {
      for (let d: TmpDir | undefined = newDir; d !== undefined; d = d.parentDir) {
        if (d === node) throw fsError('EINVAL', 'rename', newName);
      }
      if (existing !== undefined && !(existing instanceof TmpDir)) throw fsError('ENOTDIR', 'rename', newName);
      if (existing instanceof TmpDir && existing.entries.size > 0) throw fsError('ENOTEMPTY', 'rename', newName);
    } else if (existing instanceof TmpDir) {
      throw fsError('EISDIR', 'rename', newName);
    }
    const now = coarseNowNs();
    // The new name first, the old one last: if this is ever cut short (a
    // timeout can land between two calls), the file has a name too many,
    // never none.
    newDir.entries.set(newName, node);
    if (existing !== undefined) {
      if (existing instanceof TmpDir) newDir.subdirs--;
      existing.dropLink(now);
    }
    this.entries.delete(oldName);
    if (node instanceof TmpDir) {
      this.subdirs--;
      newDir.subdirs++;
      node.parentDir = newDir;
    }
    node.ctimeNs = now;
    this.#touch(now);
    if (newDir !== this) newDir.#touch(now);
  }

  dropLink(_now: bigint): void {
    this.removed = true;
    this.nlink = 0;
    this.fs.freeInode();
  }

  #checkCreate(syscall: string, name: string): void {
    if (this.removed) throw fsError('ENOENT', syscall, name);
    if (this.entries.has(name)) throw fsError('EEXIST', syscall, name);
  }

  #touch(now: bigint): void {
    this.mtimeNs = now;
    this.ctimeNs = now;
  }
}

class TmpFile extends TmpNode implements FileNode {
  readonly type = 'file';
  readonly #data = new FileData();
  #opens = 0;

  get size(): number {
    return this.#data.size;
  }

  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number {
    return this.#data.read(dst, dstOffset, length, position);
  }

  write(src: Uint8Array, srcOffset: number, length: number, position: number): number {
    // Like Linux, an empty write changes nothing: no size past EOF, no times.
    if (length === 0) return 0;
    const end = position + length;
    if (end > maxFileSize) throw fsError('EFBIG', 'write');
    if (end > this.#data.size) this.fs.chargeBytes(end - this.#data.size, 'write');
    this.#data.write(src, srcOffset, length, position);
    const now = coarseNowNs();
    this.mtimeNs = now;
    this.ctimeNs = now;
    return length;
  }

  truncate(size: number): void {
    if (size > maxFileSize) throw fsError('EFBIG', 'truncate');
    this.fs.chargeBytes(size - this.#data.size, 'truncate');
    this.#data.truncate(size);
    const now = coarseNowNs();
    this.mtimeNs = now;
    this.ctimeNs = now;
  }

  retain(): void {
    this.#opens++;
  }

  release(): void {
    this.#opens--;
    if (this.#opens === 0 && this.nlink === 0) this.#free();
  }

  dropLink(now: bigint): void {
    this.nlink--;
    this.ctimeNs = now;
    if (this.nlink === 0 && this.#opens === 0) this.#free();
  }

  #free(): void {
    this.fs.chargeBytes(-this.#data.size, 'unlink');
    this.fs.freeInode();
    this.#data.clear();
  }
}

const utf8 = new TextEncoder();

class TmpSymlink extends TmpNode implements SymlinkNode {
  readonly type = 'symlink';
  readonly target: string;
  readonly size: number;

  constructor(fs: Tmpfs, target: string) {
    super(fs, 0o777);
    this.target = target;
    this.size = utf8.encode(target).length;
  }

  dropLink(now: bigint): void {
    this.nlink--;
    this.ctimeNs = now;
    if (this.nlink === 0) {
      this.fs.chargeBytes(-this.size, 'unlink');
      this.fs.freeInode();
    }
  }
}
