import { closeSync, constants, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readlinkSync, renameSync, rmdirSync, symlinkSync, unlinkSync, utimesSync, type BigIntStats } from 'node:fs';
import { DirEntries } from '../dir-entries.js';
import { fsError } from '../errors.js';
import { firstEntryCookie, type DirEntry, type DirNode, type FileNode, type FileType, type Node, type SymlinkNode } from '../node.js';
import { maxPathBytes } from '../namespace.js';
import { call, fileOpenFlags, hostError } from './access.js';
import { HostFile, HostSymlink } from './file.js';
import { checkHostName } from './names.js';
import { HostNodeBase, typeOf, type HostFs, type HostNode, type Place } from './node-base.js';

/**
 * The node for what `lstat` found at `name` in `dir`: the cached node of
 * that host inode (moved to this place), or a new one. Undefined for FIFOs,
 * sockets and devices, which a bind never shows (a FIFO would block the
 * host thread that opens it).
 */
export function nodeFor(fs: HostFs, st: BigIntStats, dir: HostDirectory, name: string): HostNode | undefined {
  const type = typeOf(st);
  if (type === undefined) return undefined;
  const cached = fs.nodes.get(st.dev, st.ino);
  if (cached !== undefined && cached.type === type) {
    if (cached.place === undefined && cached.type === 'directory' && cached.isRoot) return cached;
    // A directory seen again under one of its own descendants (a host bind
    // mount looping back) keeps its place: the chain must stay a tree.
    if (cached.type !== 'directory' || !dir.isWithin(cached)) cached.place = { dir, name };
    return cached;
  }
  const place = { dir, name };
  let node: HostNode;
  if (type === 'directory') node = new HostDirectory(fs, st, place);
  else if (type === 'file') node = new HostFile(fs, st, place);
  else {
    const raw = call('readlink', name, () => readlinkSync(fs.access.entry(dir, name, 'readlink')), 'ENOENT');
    fs.access.recheck(dir, 'readlink');
    node = new HostSymlink(fs, st, place, process.platform === 'win32' ? raw.replaceAll('\\', '/') : raw);
  }
  fs.nodes.set(node);
  return node;
}

/** A host directory. Its listing keeps cookies in a {@link DirEntries}, synced with the host when a listing starts or the directory changed. */
export class HostDirectory extends HostNodeBase implements DirNode {
  readonly type = 'directory';
  readonly isRoot: boolean;
  readonly #entries = new DirEntries<string>();
  #listedAt: string | undefined;

  constructor(fs: HostFs, st: BigIntStats, place: Place | undefined) {
    super(fs, st, place);
    this.isRoot = place === undefined;
  }

  get parent(): DirNode | undefined {
    return this.place?.dir;
  }

  get size(): number {
    this.fs.access.begin();
    this.#sync('readdir');
    return this.#entries.size;
  }

  /** True if this directory is `dir` or lies under it in the node chain. */
  isWithin(dir: HostDirectory): boolean {
    for (let d: HostDirectory | undefined = this; d !== undefined; d = d.place?.dir) if (d === dir) return true;
    return false;
  }

  override hostStat(syscall: string): BigIntStats {
    if (!this.isRoot && this.place === undefined) throw fsError('ENOENT', syscall);
    return this.fs.access.statDir(this, syscall);
  }

  protected override applyTimes(a: number, m: number): void {
    const path = this.fs.access.self(this, 'utimensat');
    call('utimensat', this.place?.name ?? '.', () => utimesSync(path, a, m));
  }

  /** Errors: EINVAL (not one host component), ENOENT (this directory is gone), EACCES. */
  lookup(name: string): Node | undefined {
    checkHostName(name, 'lookup');
    this.fs.access.begin();
    const path = this.fs.access.entry(this, name, 'lookup');
    const st = call('lookup', name, () => lstatSync(path, { bigint: true, throwIfNoEntry: false }));
    this.fs.access.recheck(this, 'lookup');
    return st === undefined ? undefined : nodeFor(this.fs, st, this, name);
  }

  readdir(cookie: number, take: (entry: DirEntry) => boolean): void {
    this.fs.access.begin();
    // A listing from the start sees the host as it is now; a continuation
    // resyncs only if the host directory changed, so cookies handed out
    // stay valid and entries are not listed twice.
    if (cookie <= firstEntryCookie || this.#listedAt !== this.#changeStamp()) this.#sync('readdir');
    this.#entries.forEachFrom(cookie, (name, _value, next) => {
      const path = this.fs.access.entry(this, name, 'readdir');
      const st = call('readdir', name, () => lstatSync(path, { bigint: true, throwIfNoEntry: false }));
      this.fs.access.recheck(this, 'readdir');
      const type = st === undefined ? undefined : typeOf(st);
      if (st === undefined || type === undefined) return true; // removed since the listing, or not shown
      return take({ name, ino: st.ino, type, next });
    });
  }

  /** Errors: EROFS, EINVAL, EEXIST, ENOSPC, EACCES, EMLINK. */
  mkdir(name: string, mode: number): DirNode {
    const path = this.#mutation('mkdir', name);
    call('mkdir', name, () => mkdirSync(path, { mode: mode & 0o7777 }));
    return this.#created('mkdir', name, 'directory') as HostDirectory;
  }

  /** Errors: EROFS, EINVAL, EEXIST, ENOSPC, EACCES. */
  createFile(name: string, mode: number): FileNode {
    const path = this.#mutation('open', name);
    const flags = constants.O_CREAT | constants.O_EXCL | constants.O_RDWR | fileOpenFlags;
    const fd = call('open', name, () => openSync(path, flags, mode & 0o7777));
    try {
      const st = call('open', name, () => fstatSync(fd, { bigint: true }));
      this.#entries.set(name, name);
      return nodeFor(this.fs, st, this, name) as HostFile;
    } finally {
      closeSync(fd);
    }
  }

  /** Errors: EROFS, EINVAL (a bad name, a NUL in the target), ENAMETOOLONG (a target of PATH_MAX bytes or more), EEXIST, ENOSPC, EACCES, EPERM (the host refuses symlinks). */
  symlink(name: string, target: string): SymlinkNode {
    if (this.fs.readonly) throw fsError('EROFS', 'symlink', name);
    if (target.length >= maxPathBytes || (target.length * 3 >= maxPathBytes && Buffer.byteLength(target) >= maxPathBytes)) {
      throw fsError('ENAMETOOLONG', 'symlink', name);
    }
    if (target.includes('\0')) throw fsError('EINVAL', 'symlink', name);
    const path = this.#mutation('symlink', name);
    // The type keeps Node from stat-ing the target on Windows: a guest's
    // target is never resolved by the host.
    call('symlink', name, () => symlinkSync(target, path, 'file'));
    return this.#created('symlink', name, 'symlink') as HostSymlink;
  }

  /** Errors: EROFS, EINVAL (a bad name), EXDEV (another filesystem), EPERM (a directory), ENOENT (source gone), EEXIST, EMLINK. */
  link(name: string, node: Node): void {
    const path = this.#mutation('link', name);
    if (!(node instanceof HostNodeBase) || node.fs !== this.fs) throw fsError('EXDEV', 'link', name);
    if (node.type === 'directory') throw fsError('EPERM', 'link', name);
    const from = node.located('link');
    const source = this.fs.access.entry(from.dir, from.name, 'link');
    call('link', name, () => linkSync(source, path));
    this.#entries.set(name, name);
  }

  /** Errors: EROFS, EINVAL, ENOENT, EISDIR, EACCES, EPERM. */
  unlink(name: string): void {
    const path = this.#mutation('unlink', name);
    const st = call('unlink', name, () => lstatSync(path, { bigint: true, throwIfNoEntry: false }));
    if (st === undefined) throw fsError('ENOENT', 'unlink', name);
    if (st.isDirectory()) throw fsError('EISDIR', 'unlink', name);
    call('unlink', name, () => unlinkSync(path));
    this.#entries.delete(name);
    this.#vacate(st, name);
  }

  /** Errors: EROFS, EINVAL, ENOENT, ENOTDIR, ENOTEMPTY, EACCES, EBUSY. */
  rmdir(name: string): void {
    const path = this.#mutation('rmdir', name);
    const st = call('rmdir', name, () => lstatSync(path, { bigint: true, throwIfNoEntry: false }));
    if (st === undefined) throw fsError('ENOENT', 'rmdir', name);
    if (!st.isDirectory()) throw fsError('ENOTDIR', 'rmdir', name);
    try {
      rmdirSync(path);
    } catch (error) {
      const e = hostError(error, 'rmdir', name);
      throw e.errno === 'EEXIST' ? fsError('ENOTEMPTY', 'rmdir', name) : e;
    }
    this.#entries.delete(name);
    this.#vacate(st, name);
  }

  /** Errors: EROFS, EINVAL (a bad name), EXDEV, ENOENT, EINVAL (into its own subtree), EISDIR, ENOTDIR, ENOTEMPTY, EACCES. */
  rename(oldName: string, newDir: DirNode, newName: string): void {
    const from = this.#mutation('rename', oldName);
    checkHostName(newName, 'rename');
    if (!(newDir instanceof HostDirectory) || newDir.fs !== this.fs) throw fsError('EXDEV', 'rename', newName);
    // No second begin(): the fd inside `from` must stay open until the rename.
    const to = this.fs.access.entry(newDir, newName, 'rename');
    const moved = call('rename', oldName, () => lstatSync(from, { bigint: true, throwIfNoEntry: false }));
    if (moved === undefined) throw fsError('ENOENT', 'rename', oldName);
    const replaced = call('rename', newName, () => lstatSync(to, { bigint: true, throwIfNoEntry: false }));
    try {
      renameSync(from, to);
    } catch (error) {
      const e = hostError(error, 'rename', newName);
      throw e.errno === 'EEXIST' ? fsError('ENOTEMPTY', 'rename', newName) : e;
    }
    if (replaced !== undefined && (replaced.ino !== moved.ino || replaced.dev !== moved.dev)) newDir.#vacate(replaced, newName);
    this.#entries.delete(oldName);
    newDir.#entries.set(newName, newName);
    const node = this.fs.nodes.get(moved.dev, moved.ino);
    if (node !== undefined && node.place?.dir === this && node.place.name === oldName) node.place = { dir: newDir, name: newName };
  }

  /** Check EROFS first, then the name, then return the entry's host path (the chain re-checked in path mode). */
  #mutation(syscall: string, name: string): string {
    if (this.fs.readonly) throw fsError('EROFS', syscall, name);
    checkHostName(name, syscall);
    this.fs.access.begin();
    return this.fs.access.entry(this, name, syscall);
  }

  #created(syscall: string, name: string, type: FileType): HostNode {
    this.#entries.set(name, name);
    const path = this.fs.access.entry(this, name, syscall);
    const st = call(syscall, name, () => lstatSync(path, { bigint: true }), 'ENOENT');
    const node = nodeFor(this.fs, st, this, name);
    // Replaced by the host between the call and the lstat.
    if (node === undefined || node.type !== type) throw fsError('ENOENT', syscall, name);
    return node;
  }

  /** The entry `name` (whose stat was `st`) is gone: a node last seen there has no place any more. */
  #vacate(st: BigIntStats, name: string): void {
    const node = this.fs.nodes.get(st.dev, st.ino);
    if (node === undefined || node.place?.dir !== this || node.place.name !== name) return;
    node.place = undefined;
    if (node.type === 'directory') this.fs.access.forget(node);
  }

  #exists(name: string, syscall: string): boolean {
    const path = this.fs.access.entry(this, name, syscall);
    return call(syscall, name, () => lstatSync(path, { throwIfNoEntry: false })) !== undefined;
  }

  #changeStamp(): string {
    const st = this.hostStat('readdir');
    return `${st.mtimeNs}:${st.ctimeNs}`;
  }

  #sync(syscall: string): void {
    // Stamped before listing: a change made during the listing shows as a
    // changed stamp at the next continuation, which lists again.
    const stamp = this.#changeStamp();
    const dirents = this.fs.access.list(this, syscall);
    const present = new Set<string>();
    for (const d of dirents) {
      if (!d.isFile() && !d.isDirectory() && !d.isSymbolicLink()) continue;
      // A host name that is not UTF-8 comes back with U+FFFD in it and
      // cannot be named again: it is not shown.
      if (d.name.includes('\ufffd') && !this.#exists(d.name, syscall)) continue;
      present.add(d.name);
    }
    for (const name of [...this.#entries.values()]) if (!present.has(name)) this.#entries.delete(name);
    for (const name of present) if (!this.#entries.has(name)) this.#entries.set(name, name);
    this.#listedAt = stamp;
  }
}
