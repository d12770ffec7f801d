import type { DirNode, FileNode, Node, Stat, SymlinkNode, TimeChange } from '../node.js';
import { withCopyUp } from './copy-up.js';
import type { OverlayDir } from './directory.js';
import type { Overlay } from './filesystem.js';

/**
 * What files and symlinks of an overlay share: one object per inode (two
 * lower names of one inode are one `OverlayLeaf`), its lower node until it
 * is copied up, its upper node after.
 *
 * Inode numbers: a node from the lower keeps the lower's number, before and
 * after copy-up (overlayfs's xino); a node created in the upper gets the
 * upper's number with bit 63 set, so the two ranges never meet.
 *
 * Invariant: while a node is in the lower state (`upper` undefined), every
 * name it has is its lower path. Renaming it, or any directory above it
 * that merges a lower directory, copies it up first.
 */
export abstract class OverlayLeaf<N extends FileNode | SymlinkNode = FileNode | SymlinkNode> {
  readonly fs: Overlay;
  readonly ino: bigint;
  abstract readonly type: 'file' | 'symlink';
  /** The lower node, for a node that came from the lower. */
  readonly lower: N | undefined;
  /** The upper node, once copied up or created there. */
  upper: N | undefined;
  /** A directory and name this node was found under in the lower state. */
  parentDir: OverlayDir | undefined;
  name: string;
  /** The lower node's stat when it was copied up (or its metadata first changed). */
  origin: Stat | undefined;
  /** Open descriptions referring to this node (passed on to the node backing it). */
  opens = 0;
  #lowerLinks: number | undefined;
  /** Once sealed: the stat, which never changes again. */
  #sealedStat: Stat | undefined;
  /** The node the lower's data comes from, under any sealed overlays that only pass it through. */
  #source: N | undefined;

  constructor(fs: Overlay, ino: bigint, lower: N | undefined, upper: N | undefined, parentDir: OverlayDir | undefined, name: string) {
    this.fs = fs;
    this.ino = ino;
    this.lower = lower;
    this.upper = upper;
    this.parentDir = parentDir;
    this.name = name;
  }

  /** Where it was found or last renamed to: a hint, see {@link Node}'s `where`. */
  where(): { dir: DirNode; name: string } | undefined {
    return this.parentDir === undefined ? undefined : { dir: this.parentDir, name: this.name };
  }

  /** The node reads go to. */
  get backing(): N {
    return (this.upper ?? this.lower)!;
  }

  /**
   * The node data and link targets are read from: the upper node, or the
   * first node down a stack of sealed overlays that is not a lower-state
   * pass-through (found once: a sealed stack never changes), so a read
   * costs the same 2 or 1,000 overlays deep.
   */
  get source(): N {
    if (this.upper !== undefined) return this.upper;
    if (this.#source === undefined) {
      let node = this.lower!;
      while (node instanceof OverlayLeaf && node.fs.sealed && node.upper === undefined) node = node.lower as N;
      this.#source = node;
    }
    return this.#source;
  }

  /** Names of the lower node still visible in the overlay (counted down by whiteouts). */
  get lowerLinks(): number {
    return (this.#lowerLinks ??= this.lower === undefined ? 0 : this.lower.stat().nlink);
  }

  set lowerLinks(n: number) {
    this.#lowerLinks = n;
  }

  stat(): Stat {
    const fs = this.fs;
    if (fs.sealed) return (this.#sealedStat ??= this.#stat());
    return this.#stat();
  }

  #stat(): Stat {
    const fs = this.fs;
    if (this.upper !== undefined) {
      const s = this.upper.stat();
      // The VFS has no chown: an upper node cannot hold the lower's owner, so it is kept from the origin.
      const owner = this.origin ?? s;
      return { ...s, dev: fs.dev, ino: this.ino, uid: owner.uid, gid: owner.gid };
    }
    const s = this.lower!.stat();
    return { ...s, ...this.pendingMeta(), dev: fs.dev, ino: this.ino, nlink: this.lowerLinks };
  }

  setTimes(atime: TimeChange, mtime: TimeChange): void {
    this.fs.mutate('utimensat', this.name);
    withCopyUp(this, 0, (upper) => upper.setTimes(atime, mtime));
  }

  /** One of the lower node's names was hidden (lowerLinks already counted down). */
  lowerNameGone(): void {}

  /** Undo {@link lowerNameGone}. */
  lowerNameBack(): void {}

  /** Times set on a lower node without copying it up (none by default). */
  pendingMeta(): Partial<Stat> {
    return {};
  }

  /**
   * Make the upper copy named `name` in `into` with `dataBytes` of the data
   * (the whole of it for Infinity). On failure nothing is left behind.
   */
  abstract makeCopy(into: DirNode, name: string, dataBytes: number): N;

  /** Become backed by `upper` (copy-up done): open descriptions move to it. */
  attachUpper(upper: N): void {
    this.origin ??= this.lower?.stat();
    this.upper = upper;
    this.fs.adopt(upper, this as unknown as Node);
    this.moveOpens(this.lower, upper);
  }

  /** Move the open descriptions' references from one backing node to another (files only). */
  protected moveOpens(_from: N | undefined, _to: N): void {}

  /** Undo {@link attachUpper}. */
  detachUpper(origin: Stat | undefined): void {
    const upper = this.upper;
    if (upper === undefined) return;
    this.upper = undefined;
    if (this.lower !== undefined) this.moveOpens(upper, this.lower);
    this.origin = origin;
  }

  /**
   * The (directory, name) pairs at which the lower node is visible now:
   * its lower paths that still resolve to this node. A lower inode with one
   * name is found where it was looked up; one with several is found through
   * the overlay's index of lower hardlinks.
   */
  visibleNames(): Array<[OverlayDir, string]> {
    if (this.lower === undefined || this.lowerLinks === 0) return [];
    const out: Array<[OverlayDir, string]> = [];
    const seen = new Set<string>();
    const add = (dir: OverlayDir, name: string) => {
      const key = `${dir.ino}/${name}`;
      if (!seen.has(key) && !dir.removed && dir.lookup(name) === (this as unknown as Node)) {
        seen.add(key);
        out.push([dir, name]);
      }
    };
    if (this.parentDir !== undefined) add(this.parentDir, this.name);
    if (this.lower.stat().nlink > 1) {
      for (const path of this.fs.lowerPaths(this.lower.ino)) {
        let dir: OverlayDir | undefined = this.fs.root as OverlayDir;
        for (let i = 0; i < path.length - 1 && dir !== undefined; i++) {
          const next = dir.lookup(path[i]!);
          dir = next?.type === 'directory' ? (next as OverlayDir) : undefined;
        }
        if (dir !== undefined) add(dir, path[path.length - 1]!);
      }
    }
    return out;
  }
}
