import type { LayerEntry, LayerSource } from './changeset.js';
import { fsError } from './errors.js';
import { firstEntryCookie, type DirEntry, type DirNode, type FileNode, type FileSystem, type Node, type Stat, type SymlinkNode, type TimeChange } from './node.js';

// The nodes of a layer view (layer-view.ts): read-only, file bytes read from the layer.

/** A node of a layer view. */
export type ViewNode = ViewDir | ViewFile | ViewSymlink;

/** Metadata a node takes from its entry. */
export interface Meta {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: bigint;
}

/** An implicit directory's: never named by an entry. */
export const implicitMeta: Meta = { mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n };

/**
 * Where a directory's children come from when they are first needed (the
 * lazy merge, layer-merge.ts). It fills `children` once, before any other
 * code sees the map.
 */
export interface PendingChildren {
  fill(dir: ViewDir, children: Map<string, ViewNode>): void;
}

abstract class ViewNodeBase {
  readonly fs: FileSystem;
  readonly ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  nlink = 1;

  constructor(fs: FileSystem, ino: bigint, meta: Meta) {
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

  /** Take a directory entry's metadata (a directory entry over a directory). */
  update(meta: Meta): void {
    this.mode = meta.mode & 0o7777;
    this.uid = meta.uid;
    this.gid = meta.gid;
    this.mtimeNs = meta.mtimeNs;
  }
}

/**
 * A directory of the view. Its children are either built by the eager
 * merge (a map filled before the view is returned) or filled on first use
 * by a {@link PendingChildren}; nlink (2 + subdirectories) and size are
 * known once they are.
 */
export class ViewDir extends ViewNodeBase implements DirNode {
  readonly type = 'directory';
  readonly parentDir: ViewDir | undefined;
  #children: Map<string, ViewNode> | undefined;
  #pending: PendingChildren | undefined;
  /** Names and nodes in cookie order, built on the first readdir. */
  #listing: { names: string[]; nodes: ViewNode[] } | undefined;

  constructor(fs: FileSystem, ino: bigint, meta: Meta, parent: ViewDir | undefined, pending?: PendingChildren) {
    super(fs, ino, meta);
    this.parentDir = parent;
    this.nlink = 2;
    if (pending === undefined) this.#children = new Map();
    else this.#pending = pending;
  }

  /** The children, filled first if they are pending. */
  get children(): Map<string, ViewNode> {
    if (this.#children !== undefined) return this.#children;
    const children = new Map<string, ViewNode>();
    this.#pending!.fill(this, children);
    let subdirs = 0;
    for (const child of children.values()) if (child.type === 'directory') subdirs++;
    this.nlink = 2 + subdirs;
    this.#pending = undefined;
    this.#children = children;
    return children;
  }

  /** Whether the children are known (not pending). */
  get filled(): boolean {
    return this.#children !== undefined;
  }

  get parent(): DirNode | undefined {
    return this.parentDir;
  }

  get size(): number {
    return this.children.size;
  }

  override stat(): Stat {
    // nlink counts subdirectories: known once the children are.
    if (this.#children === undefined) void this.children;
    return super.stat();
  }

  lookup(name: string): Node | undefined {
    return this.children.get(name);
  }

  readdir(cookie: number, take: (entry: DirEntry) => boolean): void {
    const children = this.children;
    const listing = (this.#listing ??= { names: [...children.keys()], nodes: [...children.values()] });
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

/** A regular file: its bytes stay in the layer, read at the entry's offset. */
export class ViewFile extends ViewNodeBase implements FileNode {
  readonly type = 'file';
  readonly size: number;
  readonly #source: LayerSource;
  readonly #offset: number;

  constructor(fs: FileSystem, ino: bigint, entry: LayerEntry, source: LayerSource) {
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

/** A symlink: its target verbatim, mode 0777. */
export class ViewSymlink extends ViewNodeBase implements SymlinkNode {
  readonly type = 'symlink';
  readonly target: string;
  readonly size: number;

  constructor(fs: FileSystem, ino: bigint, entry: LayerEntry) {
    super(fs, ino, { ...entry, mode: 0o777 });
    this.target = entry.linkTarget;
    this.size = utf8.encode(entry.linkTarget).length;
  }
}
