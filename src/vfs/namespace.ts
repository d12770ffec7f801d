import { fsError } from './errors.js';
import { MountTable } from './mount-table.js';
import { checkName, checkPath, maxPathBytes, maxSymlinks } from './path-limits.js';
import { firstEntryCookie, type DirEntry, type DirNode, type FileNode, type Node, type Stat, type TimeChange } from './node.js';

export { maxNameBytes, maxPathBytes, maxSymlinks } from './path-limits.js';

/** Options of {@link Namespace.open}. */
export interface OpenOptions {
  /** Follow a symlink in the last component. */
  readonly follow: boolean;
  /** Create a regular file if the last component does not exist. */
  readonly create?: boolean;
  /** With `create`: fail with EEXIST if it exists. */
  readonly exclusive?: boolean;
  /** Fail with ENOTDIR unless the result is a directory. */
  readonly directory?: boolean;
  /** Mode of a created file. */
  readonly mode?: number;
}

/** What {@link Namespace.open} found or made. */
export interface Opened {
  readonly node: Node;
  readonly created: boolean;
}

/**
 * The state of one resolution, carried across the pieces of an operation
 * (a parent walk, then a followed last component).
 */
interface Walk {
  /** Where `..` stops and an absolute path or link target restarts. */
  top: DirNode;
  /** Symlinks followed so far. */
  links: number;
}

/**
 * A process's view of the filesystem: a root, the mounts over it, and path
 * resolution by the contract in DESIGN.md.
 *
 * Resolution starts at the process root or a directory the caller holds.
 * `..` at the root stays at the root; an absolute symlink restarts at the
 * root; at most {@link maxSymlinks} symlinks are followed, then ELOOP;
 * overlong names give ENAMETOOLONG. A filesystem never sees a path, only
 * single names, so nothing it holds can resolve outside the root.
 *
 * Once a resolution follows a symlink of a `confined` filesystem, the rest
 * of it stays inside that filesystem's mount root, as openat2's
 * RESOLVE_IN_ROOT would: absolute targets restart there and `..` stops
 * there. A confined mount can be narrowed by a nested one, never widened.
 *
 * Every method here follows the same error precedence as Linux: path
 * errors (ENAMETOOLONG, ENOENT, ENOTDIR, ELOOP) first, then the operation's.
 */

export class Namespace {
  readonly root: DirNode;
  readonly #mounts = new MountTable();

  constructor(root: DirNode) {
    this.root = root;
  }

  /**
   * Mount `fsRoot` over the directory at `path`.
   * Errors: path errors, ENOTDIR, EBUSY (already a mount point).
   */
  mount(path: string, fsRoot: DirNode): void {
    const at = this.resolve(this.root, path, true, 'mount');
    if (at.type !== 'directory') throw fsError('ENOTDIR', 'mount', path);
    if (at === this.root) throw fsError('EBUSY', 'mount', path);
    this.#mounts.cover(at, fsRoot, path);
  }

  /**
   * Mount `fsRoot` as `name` in the directory at `parentPath`, which has no
   * such entry. The directory's filesystem is not touched: the name exists
   * in this namespace only, as a mount point, so this works over a
   * read-only root and leaves an overlay's changes and a tmpfs's quota
   * alone (`mountDev` uses it for `/dev`). The name lists after the
   * directory's own entries; rmdir and rename of it give EBUSY.
   * Errors: path errors, ENOTDIR, EINVAL (not a single name), EEXIST.
   */
  mountAt(parentPath: string, name: string, fsRoot: DirNode): void {
    // `/` is the root itself: no walk (every sandbox's `/dev` is mounted at it).
    const parent = parentPath === '/' ? this.root : this.resolve(this.root, parentPath, true, 'mount');
    if (parent.type !== 'directory') throw fsError('ENOTDIR', 'mount', parentPath);
    this.#mounts.attach(parent, name, fsRoot, parentPath);
  }

  /** The directory `..` names from `dir`: clamped at the root, across mounts. */
  parentOf(dir: DirNode): DirNode {
    return this.#mounts.parentOf(dir, this.root);
  }

  /**
   * Resolve `path` from `start` (or the root, if absolute) to a node.
   * Errors: EINVAL (NUL byte), ENAMETOOLONG, ENOENT, ENOTDIR, ELOOP.
   */
  resolve(start: DirNode, path: string, followLast: boolean, syscall: string): Node {
    return this.#walk({ top: this.root, links: 0 }, start, path, followLast, syscall, path);
  }

  /**
   * Resolve all but the last component of `path`.
   * Returns the parent directory, the last name (`.` for a path that names
   * the start or the root itself) and whether the path ended in `/`.
   * Errors: EINVAL, ENAMETOOLONG, ENOENT, ENOTDIR, ELOOP.
   */
  resolveParent(start: DirNode, path: string, syscall: string): { dir: DirNode; name: string; trailingSlash: boolean } {
    return this.#walkParent({ top: this.root, links: 0 }, start, path, syscall, path);
  }

  /** {@link resolve} within a walk; `shown` is the path errors name. */
  #walk(w: Walk, start: DirNode, path: string, followLast: boolean, syscall: string, shown: string): Node {
    checkPath(path, syscall);
    // Walk the string in place (no split): `rest` is what is left to
    // resolve, and a followed symlink replaces it with target + the rest.
    let rest = path;
    let pos = 0;
    let cur: Node = path.charCodeAt(0) === 47 ? w.top : start;
    while (pos <= rest.length) {
      let slash = rest.indexOf('/', pos);
      if (slash < 0) slash = rest.length;
      const name = rest.slice(pos, slash);
      pos = slash + 1;
      if (cur.type !== 'directory') throw fsError('ENOTDIR', syscall, shown);
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (cur !== w.top) cur = this.parentOf(cur);
        continue;
      }
      checkName(name, syscall, shown);
      const child = this.#lookup(cur, name);
      if (child === undefined) throw fsError('ENOENT', syscall, shown);
      if (child.type === 'symlink' && (pos <= rest.length || followLast)) {
        if (++w.links > maxSymlinks) throw fsError('ELOOP', syscall, shown);
        const target = child.target;
        if (target === '') throw fsError('ENOENT', syscall, shown);
        if (child.fs.confined === true) w.top = this.#confine(w.top, cur);
        // Never build a string past PATH_MAX: chained links could grow it without bound.
        if (target.length + (pos <= rest.length ? 1 + rest.length - pos : 0) >= maxPathBytes) throw fsError('ENAMETOOLONG', syscall, shown);
        rest = pos <= rest.length ? `${target}/${rest.slice(pos)}` : target;
        pos = 0;
        if (target.charCodeAt(0) === 47) cur = w.top;
        continue;
      }
      cur = child;
    }
    return cur;
  }

  /** {@link resolveParent} within a walk. */
  #walkParent(w: Walk, start: DirNode, path: string, syscall: string, shown: string): { dir: DirNode; name: string; trailingSlash: boolean } {
    checkPath(path, syscall);
    let end = path.length;
    while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
    const trailingSlash = end < path.length;
    const slash = path.lastIndexOf('/', end - 1);
    let name = path.slice(slash + 1, end);
    let dir: Node;
    if (slash < 0) dir = start;
    else if (slash === 0) dir = w.top;
    else dir = this.#walk(w, start, path.slice(0, slash), true, syscall, shown);
    if (dir.type !== 'directory') throw fsError('ENOTDIR', syscall, shown);
    if (name === '') name = '.';
    if (name !== '.' && name !== '..') checkName(name, syscall, shown);
    return { dir, name, trailingSlash };
  }

  /**
   * The top of a walk that follows a link, of a confined filesystem, found
   * in `dir`: the root that filesystem is mounted as here (the first mount
   * root, or the process root, above `dir`; a filesystem root if neither),
   * unless the walk is already held inside a root that does not contain
   * it: a hold only narrows.
   */
  #confine(top: DirNode, dir: DirNode): DirNode {
    let root = dir;
    while (root !== this.root && !this.#mounts.isMountRoot(root) && root.parent !== undefined) root = root.parent;
    if (top === this.root || root === top) return root;
    for (let d = root; d !== this.root; ) {
      const up = this.parentOf(d);
      if (up === top) return root;
      if (up === d) break;
      d = up;
    }
    return top;
  }

  /**
   * Open (and with `create`, make) the node at `path`.
   * Errors: path errors, EEXIST (exclusive), EISDIR (create on a directory
   * or a trailing slash), ENOTDIR (`directory`), ELOOP (a symlink without
   * `follow`), ENOSPC, EROFS.
   */
  open(start: DirNode, path: string, options: OpenOptions): Opened {
    let node: Node;
    let created = false;
    if (options.create !== true) {
      node = this.resolve(start, path, options.follow, 'open');
    } else {
      const w: Walk = { top: this.root, links: 0 };
      let from = start;
      let p = path;
      for (;;) {
        const { dir, name, trailingSlash } = this.#walkParent(w, from, p, 'open', path);
        // Like Linux, a trailing slash with create is EISDIR whatever the name is.
        if (trailingSlash) throw fsError('EISDIR', 'open', path);
        const existing = name === '.' || name === '..' ? this.#walk(w, dir, name, true, 'open', path) : this.#lookup(dir, name);
        if (existing === undefined) {
          // O_CREAT|O_DIRECTORY on a missing name: EINVAL, as Linux says, and nothing is made.
          if (options.directory === true) throw fsError('EINVAL', 'open', path);
          node = dir.createFile(name, options.mode ?? 0o644);
          created = true;
          break;
        }
        if (options.exclusive === true) throw fsError('EEXIST', 'open', path);
        if (existing.type === 'symlink' && options.follow) {
          if (++w.links > maxSymlinks) throw fsError('ELOOP', 'open', path);
          if (existing.target === '') throw fsError('ENOENT', 'open', path);
          if (existing.fs.confined === true) w.top = this.#confine(w.top, dir);
          from = dir;
          p = existing.target;
          continue;
        }
        if (existing.type === 'directory') throw fsError('EISDIR', 'open', path);
        node = existing;
        break;
      }
    }
    if (node.type === 'symlink') throw fsError('ELOOP', 'open', path);
    if (options.directory === true && node.type !== 'directory') throw fsError('ENOTDIR', 'open', path);
    return { node, created };
  }

  /**
   * Stat the node at `path`.
   * Errors: path errors.
   */
  stat(start: DirNode, path: string, follow: boolean): Stat {
    return this.resolve(start, path, follow, 'stat').stat();
  }

  /**
   * Set the times of the node at `path`.
   * Errors: path errors, EROFS.
   */
  setTimes(start: DirNode, path: string, follow: boolean, atime: TimeChange, mtime: TimeChange): void {
    this.resolve(start, path, follow, 'utimensat').setTimes(atime, mtime);
  }

  /**
   * Create a directory.
   * Errors: path errors, EEXIST, ENOSPC, EROFS.
   */
  mkdir(start: DirNode, path: string, mode = 0o755): DirNode {
    const { dir, name } = this.resolveParent(start, path, 'mkdir');
    if (name === '.' || name === '..' || this.#lookup(dir, name) !== undefined) throw fsError('EEXIST', 'mkdir', path);
    return dir.mkdir(name, mode);
  }

  /**
   * Remove an empty directory.
   * Errors: path errors, EINVAL (`.`), ENOTEMPTY (`..`), ENOTDIR, EBUSY
   * (a mount point or the root), ENOTEMPTY, EROFS.
   */
  rmdir(start: DirNode, path: string): void {
    const { dir, name } = this.resolveParent(start, path, 'rmdir');
    // rmdir("/") is EBUSY; rmdir(".") is EINVAL everywhere, the root included.
    if (name === '.') throw fsError(/^\/+$/.test(path) ? 'EBUSY' : 'EINVAL', 'rmdir', path);
    if (name === '..') throw fsError('ENOTEMPTY', 'rmdir', path);
    if (this.#mounts.isAttached(dir, name)) throw fsError('EBUSY', 'rmdir', path);
    const child = dir.lookup(name);
    if (child !== undefined && this.#mounts.isCovered(child)) throw fsError('EBUSY', 'rmdir', path);
    dir.rmdir(name);
  }

  /**
   * Remove a non-directory.
   * Errors: path errors, EISDIR, ENOTDIR (trailing slash on a non-directory), EROFS.
   */
  unlink(start: DirNode, path: string): void {
    const { dir, name, trailingSlash } = this.resolveParent(start, path, 'unlink');
    if (name === '.' || name === '..') throw fsError('EISDIR', 'unlink', path);
    const child = this.#lookup(dir, name);
    if (child === undefined) throw fsError('ENOENT', 'unlink', path);
    if (child.type === 'directory') throw fsError('EISDIR', 'unlink', path);
    if (trailingSlash) throw fsError('ENOTDIR', 'unlink', path);
    dir.unlink(name);
  }

  /**
   * Rename atomically, replacing the target.
   * Errors: path errors, EINVAL (`.`/`..`, or into its own subtree), EBUSY
   * (a mount point), EXDEV (across filesystems), EISDIR, ENOTDIR, ENOTEMPTY, EROFS.
   */
  rename(oldStart: DirNode, oldPath: string, newStart: DirNode, newPath: string): void {
    const from = this.resolveParent(oldStart, oldPath, 'rename');
    const to = this.resolveParent(newStart, newPath, 'rename');
    if (from.name === '.' || from.name === '..' || to.name === '.' || to.name === '..') {
      throw fsError(from.name === '..' || to.name === '..' ? 'EBUSY' : 'EINVAL', 'rename', oldPath);
    }
    if (this.#mounts.isAttached(from.dir, from.name) || this.#mounts.isAttached(to.dir, to.name)) {
      throw fsError('EBUSY', 'rename', oldPath);
    }
    const node = from.dir.lookup(from.name);
    if (node === undefined) throw fsError('ENOENT', 'rename', oldPath);
    const target = to.dir.lookup(to.name);
    if (this.#mounts.isCovered(node) || (target !== undefined && this.#mounts.isCovered(target))) throw fsError('EBUSY', 'rename', oldPath);
    if (node.type !== 'directory' && (from.trailingSlash || to.trailingSlash)) throw fsError('ENOTDIR', 'rename', oldPath);
    if (from.dir.fs !== to.dir.fs) throw fsError('EXDEV', 'rename', newPath);
    from.dir.rename(from.name, to.dir, to.name);
  }

  /**
   * Make a hard link at `newPath` to the node at `oldPath`.
   * Errors: path errors, EEXIST, EPERM (a directory), EXDEV, EROFS.
   */
  link(oldStart: DirNode, oldPath: string, follow: boolean, newStart: DirNode, newPath: string): void {
    const node = this.resolve(oldStart, oldPath, follow, 'link');
    const { dir, name, trailingSlash } = this.resolveParent(newStart, newPath, 'link');
    if (name === '.' || name === '..' || this.#lookup(dir, name) !== undefined) throw fsError('EEXIST', 'link', newPath);
    if (node.type === 'directory') throw fsError('EPERM', 'link', oldPath);
    if (trailingSlash) throw fsError('ENOENT', 'link', newPath);
    dir.link(name, node);
  }

  /**
   * Create a symlink at `path` holding `target`.
   * Errors: ENAMETOOLONG (a target of PATH_MAX bytes or more), EINVAL (a
   * NUL in the target), path errors, EEXIST, ENOENT (empty target), ENOSPC, EROFS.
   */
  symlink(target: string, start: DirNode, path: string): void {
    if (target.length >= maxPathBytes || (target.length * 3 >= maxPathBytes && Buffer.byteLength(target) >= maxPathBytes)) {
      throw fsError('ENAMETOOLONG', 'symlink', path);
    }
    if (target.includes('\0')) throw fsError('EINVAL', 'symlink', path);
    const { dir, name, trailingSlash } = this.resolveParent(start, path, 'symlink');
    if (name === '.' || name === '..' || this.#lookup(dir, name) !== undefined) throw fsError('EEXIST', 'symlink', path);
    if (target === '') throw fsError('ENOENT', 'symlink', path);
    if (trailingSlash) throw fsError('ENOENT', 'symlink', path);
    dir.symlink(name, target);
  }

  /**
   * Read a symlink's target.
   * Errors: path errors, EINVAL (not a symlink).
   */
  readlink(start: DirNode, path: string): string {
    const node = this.resolve(start, path, false, 'readlink');
    if (node.type !== 'symlink') throw fsError('EINVAL', 'readlink', path);
    return node.target;
  }

  /**
   * List `dir` from `cookie`: `.` (cookie 0), `..` (cookie 1), then the
   * directory's own entries. Mount points list the mounted root's inode.
   */
  readdir(dir: DirNode, cookie: number, take: (entry: DirEntry) => boolean): void {
    if (cookie === 0 && !take({ name: '.', ino: dir.ino, type: 'directory', next: 1 })) return;
    if (cookie <= 1) {
      const parent = this.parentOf(dir);
      if (!take({ name: '..', ino: parent.ino, type: 'directory', next: firstEntryCookie })) return;
    }
    this.#mounts.readdir(dir, cookie, take);
  }

  /** The open-file view of a node, for callers that checked its type. */
  static asFile(node: Node, syscall: string): FileNode {
    if (node.type === 'directory') throw fsError('EISDIR', syscall);
    if (node.type !== 'file') throw fsError('EINVAL', syscall);
    return node;
  }

  /** The entry `name` of `dir` as this namespace shows it (a mount point as its mounted root), without following a symlink; undefined when missing. Never throws for a missing name. */
  child(dir: DirNode, name: string): Node | undefined {
    return this.#lookup(dir, name);
  }

  #lookup(dir: DirNode, name: string): Node | undefined {
    return this.#mounts.lookup(dir, name);
  }
}
