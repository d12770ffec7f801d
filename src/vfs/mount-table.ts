import { fsError } from './errors.js';
import { checkName } from './path-limits.js';
import type { DirEntry, DirNode, Node } from './node.js';

/**
 * Readdir cookies from here on list the names {@link MountTable.attach}
 * added, after the directory's own entries (whose cookies stay below).
 * Every cookie stays below 2^31: wasi-libc's `telldir` returns a 32-bit
 * `long`, so a larger cookie breaks `seekdir` in a guest.
 */
const attachedCookieBase = 2 ** 31 - 2 ** 16;

/** The cover maps of a table with no cover yet: one empty map shared by all, never written (`cover` makes its own first). */
const noCovers: Map<Node, DirNode> = new Map();

/**
 * The mounts of one namespace: which directories a mounted filesystem
 * covers, and which names exist only as mount points. It answers what a
 * walk asks at each step (the entry a name shows, the parent `..` shows);
 * {@link Namespace} does the walking and the checks on paths.
 *
 * Nothing here changes a filesystem: a mount lives in the table alone,
 * so it works over a read-only root and leaves an overlay's changes and a
 * tmpfs's quota alone.
 */
export class MountTable {
  /** mount point (the covered directory) → root of the mounted filesystem (the shared empty map until the first cover) */
  #covers: Map<Node, DirNode> = noCovers;
  /** root of a mounted filesystem → the directory it covers (likewise) */
  #coveredBy: Map<Node, DirNode> = noCovers;
  /** directory → names that exist only as mount points ({@link attach}) → the root mounted there */
  readonly #attached = new Map<DirNode, Map<string, DirNode>>();
  /** root mounted by {@link attach} → the directory holding its name */
  readonly #attachedTo = new Map<DirNode, DirNode>();

  /**
   * Mount `fsRoot` over the directory `at` (`path` names it in errors).
   * Errors: EBUSY (`at` is already a mount point or a mounted root).
   */
  cover(at: DirNode, fsRoot: DirNode, path: string): void {
    if (this.#coveredBy.has(at) || this.#attachedTo.has(at)) throw fsError('EBUSY', 'mount', path);
    if (this.#covers === noCovers) {
      this.#covers = new Map();
      this.#coveredBy = new Map();
    }
    this.#covers.set(at, fsRoot);
    this.#coveredBy.set(fsRoot, at);
  }

  /**
   * Mount `fsRoot` as `name` in `parent`, which has no such entry
   * (`parentPath` names it in errors). The name lists after the
   * directory's own entries.
   * Errors: EINVAL (not a single name), ENAMETOOLONG, EEXIST.
   */
  attach(parent: DirNode, name: string, fsRoot: DirNode, parentPath: string): void {
    if (name === '' || name === '.' || name === '..' || name.includes('/')) throw fsError('EINVAL', 'mount', name);
    checkName(name, 'mount', name);
    if (this.lookup(parent, name) !== undefined) throw fsError('EEXIST', 'mount', `${parentPath}/${name}`);
    let names = this.#attached.get(parent);
    if (names === undefined) this.#attached.set(parent, (names = new Map()));
    names.set(name, fsRoot);
    this.#attachedTo.set(fsRoot, parent);
  }

  /** The entry `name` of `dir` as the namespace shows it (a mount point as its mounted root), without following a symlink; undefined when missing. */
  lookup(dir: DirNode, name: string): Node | undefined {
    const child = this.#attached.get(dir)?.get(name) ?? dir.lookup(name);
    if (child === undefined || this.#covers.size === 0) return child;
    return this.#covers.get(child) ?? child;
  }

  /** The directory `..` names from `dir`: clamped at `root`, across mounts. */
  parentOf(dir: DirNode, root: DirNode): DirNode {
    let d = dir;
    for (;;) {
      if (d === root) return d;
      const covered = this.#coveredBy.get(d);
      if (covered === undefined) return d.parent ?? this.#attachedTo.get(d) ?? d;
      d = covered;
    }
  }

  /** True for the root of a mounted filesystem. */
  isMountRoot(dir: DirNode): boolean {
    return this.#coveredBy.has(dir) || this.#attachedTo.has(dir);
  }

  /** True when `node` is covered by a mount. */
  isCovered(node: Node): boolean {
    return this.#covers.has(node);
  }

  /** True when `name` of `dir` exists only as a mount point. */
  isAttached(dir: DirNode, name: string): boolean {
    return this.#attached.get(dir)?.has(name) === true;
  }

  /**
   * The entries of `dir` after `cookie`, past `.` and `..`, as the
   * namespace shows them: each mount point as its mounted root, then the
   * names attached to `dir`.
   */
  readdir(dir: DirNode, cookie: number, take: (entry: DirEntry) => boolean): void {
    const attached = this.#attached.get(dir);
    if (attached === undefined) {
      if (this.#covers.size === 0) dir.readdir(cookie, take);
      else dir.readdir(cookie, (entry) => take(this.#shown(dir, entry)));
      return;
    }
    if (cookie < attachedCookieBase) {
      let stopped = false;
      dir.readdir(cookie, (entry) => {
        if (attached.has(entry.name)) return true;
        stopped = !take(this.#shown(dir, entry));
        return !stopped;
      });
      if (stopped) return;
    }
    let next = attachedCookieBase;
    for (const [name, root] of attached) {
      next++;
      if (next <= cookie) continue;
      const node = this.#covers.get(root) ?? root;
      if (!take({ name, ino: node.ino, type: 'directory', next })) return;
    }
  }

  /** A directory's own entry as the namespace shows it: a mount point as the root mounted there. */
  #shown(dir: DirNode, entry: DirEntry): DirEntry {
    const node = this.lookup(dir, entry.name);
    return node === undefined ? entry : { ...entry, ino: node.ino, type: node.type };
  }
}
