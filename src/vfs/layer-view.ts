import { ChangesetApplier, type ChangesetTree, type LayerEntry, type LayerSource, type TreeNodeType } from './changeset.js';
import { fsError } from './errors.js';
import { firstEntryCookie, type DirEntry, type DirNode, type FileNode, type FileSystem, type Node, type Stat, type SymlinkNode, type TimeChange } from './node.js';

/** Options of {@link LayerView}. */
export interface LayerViewOptions {
  /** Device number reported by stat. */
  readonly dev: bigint;
}

/**
 * A read-only filesystem presenting the merged tree of a stack of layers,
 * lowest first, by the image-spec's applying-changesets rules
 * (changeset.ts): whiteouts, opaque directories, hardlinks (one node, its
 * nlink counting the names), a file replacing a directory and back.
 *
 * The tree is built once, in the constructor; after that no node changes,
 * so one view can back any number of namespaces and sandboxes at once
 * without copying. File bytes are never held: a read goes to the layer's
 * {@link LayerSource} at the entry's offset. Every mutator fails with
 * EROFS; an overlay adds writes on top.
 *
 * Inode numbers are assigned in merge order (the root is 1), so the same
 * layers always give the same numbers. atime, mtime and ctime are the
 * entry's tar mtime; implicit directories (never named by an entry) have
 * mode 0755, uid and gid 0 and time 0.
 *
 * Errors (constructor, FsError): see changeset.ts — ENOTDIR, ELOOP, ENOENT,
 * EPERM.
 *
 * @example
 * const view = new LayerView([base, app], { dev: 7n });
 * const ns = new Namespace(view.root);
 */
export class LayerView implements FileSystem {
  readonly dev: bigint;
  readonly readonly = true;
  readonly root: DirNode;
  /** Nodes in the merged tree (hardlinked names counted once). */
  readonly inodes: number;

  constructor(layers: readonly LayerSource[], options: LayerViewOptions) {
    this.dev = options.dev;
    const builder = new ViewBuilder(this);
    const applier = new ChangesetApplier(builder);
    for (const layer of layers) applier.apply(layer);
    this.inodes = freeze(builder.root);
    this.root = builder.root;
  }
}

type ViewNode = ViewDir | ViewFile | ViewSymlink;

abstract class ViewNodeBase {
  readonly fs: LayerView;
  readonly ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  nlink = 1;

  constructor(fs: LayerView, ino: bigint, meta: Meta) {
    this.fs = fs;
    this.ino = ino;
    this.mode = meta.mode & 0o7777;
    this.uid = meta.uid;
    this.gid = meta.gid;
    this.mtimeNs = meta.mtimeNs;
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
      atimeNs: this.mtimeNs,
      mtimeNs: this.mtimeNs,
      ctimeNs: this.mtimeNs,
    };
  }

  setTimes(_atime: TimeChange, _mtime: TimeChange): void {
    throw fsError('EROFS', 'utimensat');
  }
}

interface Meta {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: bigint;
}

const implicitMeta: Meta = { mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n };

class ViewDir extends ViewNodeBase implements DirNode {
  readonly type = 'directory';
  readonly children = new Map<string, ViewNode>();
  parentDir: ViewDir | undefined;
  /** Names and nodes in cookie order, built on the first readdir. */
  #listing: { names: string[]; nodes: ViewNode[] } | undefined;

  constructor(fs: LayerView, ino: bigint, meta: Meta, parent: ViewDir | undefined) {
    super(fs, ino, meta);
    this.parentDir = parent;
    this.nlink = 2;
  }

  get parent(): DirNode | undefined {
    return this.parentDir;
  }

  get size(): number {
    return this.children.size;
  }

  lookup(name: string): Node | undefined {
    return this.children.get(name);
  }

  readdir(cookie: number, take: (entry: DirEntry) => boolean): void {
    const listing = (this.#listing ??= { names: [...this.children.keys()], nodes: [...this.children.values()] });
    // Entry i is resumed after with cookie firstEntryCookie + i + 1 (the
    // listing never changes, so an index is a stable cookie).
    for (let i = Math.max(0, cookie - firstEntryCookie); i < listing.names.length; i++) {
      const node = listing.nodes[i]!;
      if (!take({ name: listing.names[i]!, ino: node.ino, type: node.type, next: firstEntryCookie + i + 1 })) return;
    }
  }

  mkdir(name: string): DirNode {
    throw fsError('EROFS', 'mkdir', name);
  }

  createFile(name: string): FileNode {
    throw fsError('EROFS', 'open', name);
  }

  symlink(name: string): SymlinkNode {
    throw fsError('EROFS', 'symlink', name);
  }

  link(name: string): void {
    throw fsError('EROFS', 'link', name);
  }

  unlink(name: string): void {
    throw fsError('EROFS', 'unlink', name);
  }

  rmdir(name: string): void {
    throw fsError('EROFS', 'rmdir', name);
  }

  rename(oldName: string): void {
    throw fsError('EROFS', 'rename', oldName);
  }
}

class ViewFile extends ViewNodeBase implements FileNode {
  readonly type = 'file';
  readonly size: number;
  readonly #source: LayerSource;
  readonly #offset: number;

  constructor(fs: LayerView, ino: bigint, entry: LayerEntry, source: LayerSource) {
    super(fs, ino, entry);
    this.size = entry.size;
    this.#source = source;
    this.#offset = entry.offset;
  }

  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number {
    const n = Math.min(length, this.size - position);
    if (n <= 0) return 0;
    return this.#source.read(dst, dstOffset, n, this.#offset + position);
  }

  write(): number {
    throw fsError('EROFS', 'write');
  }

  truncate(): void {
    throw fsError('EROFS', 'truncate');
  }

  retain(): void {}

  release(): void {}
}

const utf8 = new TextEncoder();

class ViewSymlink extends ViewNodeBase implements SymlinkNode {
  readonly type = 'symlink';
  readonly target: string;
  readonly size: number;

  constructor(fs: LayerView, ino: bigint, entry: LayerEntry) {
    super(fs, ino, { ...entry, mode: 0o777 });
    this.target = entry.linkTarget;
    this.size = utf8.encode(entry.linkTarget).length;
  }
}

/** The in-memory tree the changeset rules build; discarded once frozen. */
class ViewBuilder implements ChangesetTree<ViewNode> {
  readonly root: ViewDir;
  readonly #fs: LayerView;
  #nextIno = 1n;

  constructor(fs: LayerView) {
    this.#fs = fs;
    this.root = new ViewDir(fs, this.#nextIno++, implicitMeta, undefined);
  }

  lookup(dir: ViewNode, name: string): ViewNode | undefined {
    return (dir as ViewDir).children.get(name);
  }

  type(node: ViewNode): TreeNodeType {
    return node.type;
  }

  readlink(node: ViewNode): string {
    return (node as ViewSymlink).target;
  }

  remove(dir: ViewNode, name: string, node: ViewNode): void {
    (dir as ViewDir).children.delete(name);
    unlinkTree(node);
  }

  clear(dir: ViewNode): void {
    const d = dir as ViewDir;
    for (const child of d.children.values()) unlinkTree(child);
    d.children.clear();
  }

  implicitDir(dir: ViewNode, name: string): ViewNode {
    const d = new ViewDir(this.#fs, this.#nextIno++, implicitMeta, dir as ViewDir);
    (dir as ViewDir).children.set(name, d);
    return d;
  }

  mkdir(dir: ViewNode, name: string, entry: LayerEntry): ViewNode {
    const d = new ViewDir(this.#fs, this.#nextIno++, entry, dir as ViewDir);
    (dir as ViewDir).children.set(name, d);
    return d;
  }

  updateDir(dir: ViewNode, entry: LayerEntry): void {
    dir.mode = entry.mode & 0o7777;
    dir.uid = entry.uid;
    dir.gid = entry.gid;
    dir.mtimeNs = entry.mtimeNs;
  }

  createFile(dir: ViewNode, name: string, entry: LayerEntry, source: LayerSource): void {
    (dir as ViewDir).children.set(name, new ViewFile(this.#fs, this.#nextIno++, entry, source));
  }

  symlink(dir: ViewNode, name: string, entry: LayerEntry): void {
    (dir as ViewDir).children.set(name, new ViewSymlink(this.#fs, this.#nextIno++, entry));
  }

  link(dir: ViewNode, name: string, target: ViewNode): void {
    target.nlink++;
    (dir as ViewDir).children.set(name, target);
  }
}

/** A subtree left the tree: every name it held goes away. */
function unlinkTree(node: ViewNode): void {
  if (node.type !== 'directory') {
    node.nlink--;
    return;
  }
  for (const child of node.children.values()) unlinkTree(child);
}

/** Fix directory link counts; returns the number of distinct nodes. */
function freeze(root: ViewDir): number {
  // Only multiply-linked nodes need remembering to be counted once.
  const shared = new Set<ViewNode>();
  let count = 1;
  const stack: ViewDir[] = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let subdirs = 0;
    for (const child of dir.children.values()) {
      if (child.type === 'directory') {
        subdirs++;
        count++;
        stack.push(child);
      } else if (child.nlink === 1) {
        count++;
      } else {
        shared.add(child);
      }
    }
    dir.nlink = 2 + subdirs;
  }
  return count + shared.size;
}
