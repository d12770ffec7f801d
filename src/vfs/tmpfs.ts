import { coarseNowNs } from './clock.js';
import { DirEntries } from './dir-entries.js';
import { fsError } from './errors.js';
import { sharedPagePool, type PagePool } from './page-pool.js';
import { maxPathBytes } from './namespace.js';
import type { DirEntry, DirNode, FileNode, FileSystem, Node, Stat, SymlinkNode } from './node.js';
import { entryCost, nodeMetadataBytes, TmpFile, TmpNode, TmpSymlink, type Freed } from './tmpfs-nodes.js';

export { entryCost, entryMetadataBytes, maxFileSize, nodeMetadataBytes } from './tmpfs-nodes.js';

/** Limits of one tmpfs. Exceeding any gives ENOSPC. */
export interface TmpfsLimits {
  /** Total bytes of file contents and symlink targets. */
  readonly maxBytes: number;
  /** Total inodes, the root included; as on Linux tmpfs, every hard link past a file's first name takes one too. */
  readonly maxInodes: number;
  /**
   * Host memory the tree's structure may cost, beside file contents:
   * {@link nodeMetadataBytes} per node and {@link entryMetadataBytes} plus
   * two bytes per UTF-16 unit of its name per directory entry.
   */
  readonly maxMetadataBytes: number;
}

/** Defaults for a tmpfs with no explicit limits: 1 GiB, 1 Mi inodes, 256 MiB of metadata. */
export const defaultTmpfsLimits: TmpfsLimits = Object.freeze({ maxBytes: 1 << 30, maxInodes: 1 << 20, maxMetadataBytes: 256 << 20 });

/** Usage counters of a tmpfs, for `df`-like reporting and tests. */
export interface TmpfsUsage {
  readonly bytes: number;
  readonly inodes: number;
}

/**
 * An in-memory filesystem with byte, inode and metadata quotas.
 *
 * Inode numbers come from this instance's own counter (the root is 1) and
 * are never reused. Unlinked files keep their contents until the last open
 * description is released; only then are their bytes returned to the quota.
 *
 * Every mutation checks its quotas and does everything that can fail
 * first, then changes state in one final step that makes no call that can
 * be interrupted but one atomic entry-table change, and the counters with
 * it: an exception, a stack overflow or a timeout landing anywhere inside
 * leaves the tree and the counters as before, or as after (rename, two
 * steps, may leave the node under both names, counted as a link).
 *
 * @example
 * const fs = new Tmpfs({ dev: 1n });
 * const f = fs.root.createFile('a.txt', 0o644);
 * f.write(new TextEncoder().encode('hi'), 0, 2, 0);
 */
export class Tmpfs implements FileSystem {
  readonly dev: bigint;
  readonly limits: TmpfsLimits;
  readonly root: DirNode;
  /** @internal Counters, changed only in a mutation's final step (plain assignments). */
  bytesUsed = 0;
  /** @internal */
  inodesUsed = 1;
  /** @internal */
  metadataUsed = nodeMetadataBytes;
  /**
   * @internal Test-only: called before each interruptible step of a
   * mutation; a throw there stands for an interruption at that point.
   */
  faultHook: ((step: string) => void) | undefined;
  #nextIno = 1n;
  #frozen = false;
  #released = false;
  readonly #pagePool: PagePool | undefined;

  /** `pagePool` (@internal, for tests): where its files' pages come from and go back to; the thread's pool by default. */
  constructor(options: { dev: bigint; limits?: Partial<TmpfsLimits>; pagePool?: PagePool }) {
    this.dev = options.dev;
    this.#pagePool = options.pagePool;
    // The shared (frozen) defaults when none is given: no object per tmpfs.
    this.limits = options.limits === undefined ? defaultTmpfsLimits : { ...defaultTmpfsLimits, ...options.limits };
    this.root = new TmpDir(this, 0o755, undefined);
  }

  /** @internal Where its files take pages from and give them back to: the thread's pool ({@link PagePool}) unless the constructor was given one. */
  get pagePool(): PagePool {
    return this.#pagePool ?? sharedPagePool();
  }

  /** True once {@link freeze} was called: every mutation fails with EROFS. */
  get readonly(): boolean {
    return this.#frozen;
  }

  /**
   * Make the tree immutable from now on, through every node already handed
   * out (an overlay may then use it as its lower). O(1); it cannot be undone.
   */
  freeze(): void {
    this.#frozen = true;
  }

  /** True once {@link release} was called: file contents and mutations fail with EIO. */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Give the memory of every file's data back to the page pool, for other
   * files to reuse: what closing the sandbox that owns this tmpfs does.
   * From then on reading or writing a file's contents and every mutation
   * fail with EIO (the names stay; every file's size is 0). A
   * frozen tmpfs may be shared (the lower of a fork's overlays, a commit
   * being written out), so releasing one does nothing. O(nodes); O(1) when
   * no file holds a byte, as after most short runs.
   */
  release(): void {
    if (this.#frozen || this.#released) return;
    this.#released = true;
    // No file holds a byte (every size is 0): no page to give back, no walk.
    if (this.bytesUsed === 0) return;
    const dirs: TmpDir[] = [this.root as TmpDir];
    for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
      for (const node of dir.entries.values()) {
        if (node instanceof TmpDir) dirs.push(node);
        else if (node instanceof TmpFile) node.releaseData();
      }
    }
  }

  /** @internal A mutation's first check. Errors: EIO once released, EROFS once frozen. */
  writable(syscall: string, name?: string): void {
    if (this.#released) throw fsError('EIO', syscall, name);
    if (this.#frozen) throw fsError('EROFS', syscall, name);
  }

  get usage(): TmpfsUsage {
    return { bytes: this.bytesUsed, inodes: this.inodesUsed };
  }

  /** Host memory charged for the tree's structure (see {@link TmpfsLimits.maxMetadataBytes}). */
  get metadataBytes(): number {
    return this.metadataUsed;
  }

  /** @internal The next inode number (a number cut off by an interruption is simply never used). */
  nextIno(): bigint {
    return this.#nextIno++;
  }

  /** @internal Fail with ENOSPC unless this many more inodes, bytes and metadata bytes fit. Changes nothing. */
  fits(inodes: number, bytes: number, metadata: number, syscall: string, name?: string): void {
    const l = this.limits;
    if (
      (inodes > 0 && this.inodesUsed + inodes > l.maxInodes) ||
      (bytes > 0 && this.bytesUsed + bytes > l.maxBytes) ||
      (metadata > 0 && this.metadataUsed + metadata > l.maxMetadataBytes)
    ) {
      throw fsError('ENOSPC', syscall, name);
    }
  }
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
    this.fs.writable('mkdir', name);
    this.#checkCreate('mkdir', name);
    const cost = nodeMetadataBytes + entryCost(name);
    const fs = this.fs;
    fs.fits(1, 0, cost, 'mkdir', name);
    const dir = new TmpDir(fs, mode, this);
    const now = dir.ctimeNs;
    fs.faultHook?.('mkdir:insert');
    this.entries.set(name, dir);
    dir.named(this, name);
    this.subdirs++;
    fs.inodesUsed++;
    fs.metadataUsed += cost;
    this.mtimeNs = now;
    this.ctimeNs = now;
    return dir;
  }

  createFile(name: string, mode: number): FileNode {
    this.fs.writable('open', name);
    this.#checkCreate('open', name);
    const cost = nodeMetadataBytes + entryCost(name);
    const fs = this.fs;
    fs.fits(1, 0, cost, 'open', name);
    const file = new TmpFile(fs, mode);
    const now = file.ctimeNs;
    fs.faultHook?.('createFile:insert');
    this.entries.set(name, file);
    file.named(this, name);
    fs.inodesUsed++;
    fs.metadataUsed += cost;
    this.mtimeNs = now;
    this.ctimeNs = now;
    return file;
  }

  /** Errors: ENAMETOOLONG (a target of PATH_MAX bytes or more), EINVAL (a NUL), ENOENT, EEXIST, ENOSPC. */
  symlink(name: string, target: string): SymlinkNode {
    this.fs.writable('symlink', name);
    if (target.length >= maxPathBytes || (target.length * 3 >= maxPathBytes && Buffer.byteLength(target) >= maxPathBytes)) {
      throw fsError('ENAMETOOLONG', 'symlink', name);
    }
    if (target.includes('\0')) throw fsError('EINVAL', 'symlink', name);
    this.#checkCreate('symlink', name);
    const cost = nodeMetadataBytes + entryCost(name);
    const fs = this.fs;
    const link = new TmpSymlink(fs, target);
    fs.fits(1, link.size, cost, 'symlink', name);
    const now = link.ctimeNs;
    fs.faultHook?.('symlink:insert');
    this.entries.set(name, link);
    link.named(this, name);
    fs.inodesUsed++;
    fs.bytesUsed += link.size;
    fs.metadataUsed += cost;
    this.mtimeNs = now;
    this.ctimeNs = now;
    return link;
  }

  link(name: string, node: Node): void {
    this.fs.writable('link', name);
    if (!(node instanceof TmpNode) || node.fs !== this.fs) throw fsError('EXDEV', 'link', name);
    if (node instanceof TmpDir) throw fsError('EPERM', 'link', name);
    this.#checkCreate('link', name);
    const cost = entryCost(name);
    const fs = this.fs;
    // Like Linux tmpfs (shmem_link), each extra name takes an inode.
    fs.fits(1, 0, cost, 'link', name);
    const now = coarseNowNs();
    fs.faultHook?.('link:insert');
    this.entries.set(name, node);
    node.named(this, name);
    node.nlink++;
    node.ctimeNs = now;
    fs.inodesUsed++;
    fs.metadataUsed += cost;
    this.mtimeNs = now;
    this.ctimeNs = now;
  }

  unlink(name: string): void {
    this.fs.writable('unlink', name);
    const node = this.entries.get(name);
    if (node === undefined) throw fsError('ENOENT', 'unlink', name);
    if (node instanceof TmpDir) throw fsError('EISDIR', 'unlink', name);
    const freed = node.freedByUnlink();
    const cost = entryCost(name);
    const now = coarseNowNs();
    const fs = this.fs;
    fs.faultHook?.('unlink:remove');
    this.entries.delete(name);
    node.commitUnlink(now);
    fs.inodesUsed -= freed.inodes;
    fs.bytesUsed -= freed.bytes;
    fs.metadataUsed -= freed.metadata + cost;
    this.mtimeNs = now;
    this.ctimeNs = now;
    if (node instanceof TmpFile) node.reclaim();
  }

  rmdir(name: string): void {
    this.fs.writable('rmdir', name);
    const node = this.entries.get(name);
    if (node === undefined) throw fsError('ENOENT', 'rmdir', name);
    if (!(node instanceof TmpDir)) throw fsError('ENOTDIR', 'rmdir', name);
    if (node.entries.size > 0) throw fsError('ENOTEMPTY', 'rmdir', name);
    const freed = node.freedByUnlink();
    const cost = entryCost(name);
    const now = coarseNowNs();
    const fs = this.fs;
    fs.faultHook?.('rmdir:remove');
    this.entries.delete(name);
    this.subdirs--;
    node.commitUnlink(now);
    fs.inodesUsed -= freed.inodes;
    fs.metadataUsed -= freed.metadata + cost;
    this.mtimeNs = now;
    this.ctimeNs = now;
  }

  /**
   * Two steps, each final on its own: the new name first (replacing what
   * it named), the old one last. Cut short between them, the node has a
   * name too many, never none, and the counters include that name.
   */
  rename(oldName: string, newDir: DirNode, newName: string): void {
    this.fs.writable('rename', oldName);
    if (!(newDir instanceof TmpDir) || newDir.fs !== this.fs) throw fsError('EXDEV', 'rename', newName);
    const node = this.entries.get(oldName);
    if (node === undefined) throw fsError('ENOENT', 'rename', oldName);
    if (newDir.removed) throw fsError('ENOENT', 'rename', newName);
    const existing = newDir.entries.get(newName);
    if (existing === node) return; // Same inode: POSIX says do nothing.
    const isDir = node instanceof TmpDir;
    if (isDir) {
      for (let d: TmpDir | undefined = newDir; d !== undefined; d = d.parentDir) {
        if (d === node) throw fsError('EINVAL', 'rename', newName);
      }
      if (existing !== undefined && !(existing instanceof TmpDir)) throw fsError('ENOTDIR', 'rename', newName);
      if (existing instanceof TmpDir && existing.entries.size > 0) throw fsError('ENOTEMPTY', 'rename', newName);
    } else if (existing instanceof TmpDir) {
      throw fsError('EISDIR', 'rename', newName);
    }
    const fs = this.fs;
    const newCost = entryCost(newName);
    const oldCost = entryCost(oldName);
    const freed = existing?.freedByUnlink();
    // Step one adds a name (and, for a file, a link) unless it replaces one.
    const addedMetadata = existing === undefined ? newCost : 0;
    const extraInode = isDir ? 0 : 1;
    fs.fits(0, 0, addedMetadata - oldCost - (freed?.metadata ?? 0), 'rename', newName);
    const now = coarseNowNs();

    fs.faultHook?.('rename:add');
    newDir.entries.set(newName, node);
    node.named(newDir, newName);
    if (existing !== undefined) {
      if (existing instanceof TmpDir) newDir.subdirs--;
      existing.commitUnlink(now);
      fs.inodesUsed -= freed!.inodes;
      fs.bytesUsed -= freed!.bytes;
      fs.metadataUsed -= freed!.metadata;
    }
    if (isDir) {
      newDir.subdirs++;
      (node as TmpDir).parentDir = newDir;
    } else {
      node.nlink++;
    }
    fs.inodesUsed += extraInode;
    fs.metadataUsed += addedMetadata;
    node.ctimeNs = now;
    newDir.mtimeNs = now;
    newDir.ctimeNs = now;

    fs.faultHook?.('rename:remove');
    this.entries.delete(oldName);
    if (isDir) this.subdirs--;
    else node.nlink--;
    fs.inodesUsed -= extraInode;
    fs.metadataUsed -= oldCost;
    this.mtimeNs = now;
    this.ctimeNs = now;
    if (existing instanceof TmpFile) existing.reclaim();
  }

  freedByUnlink(): Freed {
    return { inodes: 1, bytes: 0, metadata: nodeMetadataBytes };
  }

  commitUnlink(_now: bigint): void {
    this.removed = true;
    this.nlink = 0;
  }

  #checkCreate(syscall: string, name: string): void {
    if (this.removed) throw fsError('ENOENT', syscall, name);
    if (this.entries.has(name)) throw fsError('EEXIST', syscall, name);
  }
}

