import { coarseNowNs } from '../clock.js';
import { fsError } from '../errors.js';
import { firstEntryCookie, type DirEntry, type DirNode, type FileNode, type Node, type Stat, type SymlinkNode, type TimeChange } from '../node.js';
import { copyUpDir, copyUpLeaf, keepTimes, timesOnRollback, UndoLog } from './copy-up.js';
import type { Overlay } from './filesystem.js';
import type { OverlayLeaf } from './inode.js';
import { countsOver, hasExactCounts, plainCounts, type DirCounts } from './counts.js';
import { isReservedName, lookupState, opaqueMarker, whiteoutName, type LookupState } from './lookup.js';
import { forEachMergedEntry } from './merged-listing.js';
import { SealedDirCache } from './sealed-directory.js';
import { renameEntry } from './rename.js';
import { clearReserved, hideLowerAt, isGone } from './whiteouts.js';

// Moved by concept; still importable from here.
export { upperCookieBase } from './merged-listing.js';
export { isGone } from './whiteouts.js';

/**
 * A directory of the overlay: the lower directory it merges (undefined when
 * opaque, created in the upper, or fully copied up by a rename), and its
 * upper directory once copied up.
 *
 * Merged listing, with cookies that stay valid while the directory changes:
 * {@link forEachMergedEntry} (merged-listing.ts). Hiding lower entries
 * (whiteouts) is in whiteouts.ts. Names starting with `.wh.` are never shown.
 *
 * Errors: those of {@link DirNode}, in its order, plus EINVAL for a
 * reserved name given to a create or as a rename's target, EXDEV for a
 * rename whose subtree copy-up is over its bound, and the upper's own
 * (ENOSPC) from any copy-up, after which nothing has changed.
 */
export class OverlayDir implements DirNode {
  readonly type = 'directory';
  readonly fs: Overlay;
  readonly ino: bigint;
  upper: DirNode | undefined;
  /** The lower directory merged into this one. */
  lower: DirNode | undefined;
  parentDir: OverlayDir | undefined;
  /** This directory's name in `parentDir`. */
  name: string;
  /**
   * Entry and subdirectory counts (stat's size and nlink), kept until this
   * directory's entries change through the overlay. The lower never
   * changes and the upper is the overlay's own, so nothing else moves them.
   */
  #counts: { entries: number; subdirs: number } | undefined;
  /** The stat it had when it was removed (its upper node may stand for another directory since). */
  #removedStat: Stat | undefined;
  /** The lower directory's stat when it was copied up. */
  origin: Stat | undefined;
  /** Stats of lower entries this directory hid or replaced, when it did (for changes()). */
  hidden = new Map<string, Stat>();
  /**
   * Names made in the upper while the lower had nothing there. A lower that
   * changes under the overlay (a host directory as an overlay mount's
   * lower) may gain the same name later; changes() still reports `added`,
   * so applying back sees the host's new entry as a conflict.
   */
  readonly born = new Set<string>();
  /** What it keeps once its overlay is sealed. */
  #sealed: SealedDirCache | undefined;

  constructor(fs: Overlay, ino: bigint, upper: DirNode | undefined, lower: DirNode | undefined, parentDir: OverlayDir | undefined, name: string) {
    this.fs = fs;
    this.ino = ino;
    this.upper = upper;
    this.lower = lower;
    this.parentDir = parentDir;
    this.name = name;
  }

  /** Its parent and its name there: a hint, see {@link Node}'s `where`. */
  where(): { dir: DirNode; name: string } | undefined {
    return this.parentDir === undefined ? undefined : { dir: this.parentDir, name: this.name };
  }

  get parent(): DirNode | undefined {
    return this.parentDir;
  }

  /** True once rmdir'ed or replaced by a rename. */
  get removed(): boolean {
    return this.#removedStat !== undefined;
  }

  /** This directory is being removed (undone by the log on rollback). */
  markRemoved(log: UndoLog): void {
    this.#removedStat = { ...this.stat(), nlink: 0, size: 0 };
    log.add(() => (this.#removedStat = undefined));
  }

  get size(): number {
    if (this.upper === undefined && !this.removed) return this.lower!.size;
    return this.#tally(Infinity).entries;
  }

  /** Become backed by `upper` (copy-up done). */
  attachUpper(upper: DirNode, origin: Stat): void {
    this.upper = upper;
    this.origin ??= origin;
    this.fs.adopt(upper, this);
  }

  /** Undo {@link attachUpper}. */
  detachUpper(): void {
    this.upper = undefined;
  }

  stat(): Stat {
    if (!this.fs.sealed) return this.#stat();
    const cache = (this.#sealed ??= new SealedDirCache());
    return (cache.stat ??= this.#stat());
  }

  /** {@link stat} without counting entries (size and nlink are the backing directory's own): O(1). */
  attrs(): Stat {
    if (this.#removedStat !== undefined) return this.#removedStat;
    const backing = this.upper ?? this.lower!;
    const s = backing instanceof OverlayDir ? backing.attrs() : backing.stat();
    const owner = this.upper !== undefined ? (this.origin ?? s) : s;
    return { ...s, dev: this.fs.dev, ino: this.ino, uid: owner.uid, gid: owner.gid };
  }

  #stat(): Stat {
    const fs = this.fs;
    if (this.#removedStat !== undefined) return this.#removedStat;
    if (this.upper === undefined) return { ...this.lower!.stat(), dev: fs.dev, ino: this.ino };
    const s = this.upper.stat();
    const owner = this.origin ?? s;
    const { entries, subdirs } = this.#tally(Infinity);
    return { ...s, dev: fs.dev, ino: this.ino, uid: owner.uid, gid: owner.gid, size: entries, nlink: 2 + subdirs };
  }

  setTimes(atime: TimeChange, mtime: TimeChange): void {
    this.fs.mutate('utimensat', this.name);
    const gone = this.#removedStat;
    if (gone !== undefined) {
      // Through an open descriptor of a removed directory, as Linux allows; its upper node may be another directory's now.
      const now = coarseNowNs();
      const at = (t: TimeChange, old: bigint) => (t === undefined ? old : t === 'now' ? now : t);
      this.#removedStat = { ...gone, atimeNs: at(atime, gone.atimeNs), mtimeNs: at(mtime, gone.mtimeNs), ctimeNs: now };
      return;
    }
    if (this.upper !== undefined) return this.upper.setTimes(atime, mtime);
    UndoLog.run((log) => copyUpDir(this, log).setTimes(atime, mtime));
  }

  /** The state of `name` here. */
  stateOf(name: string): LookupState {
    return lookupState(this.upper, this.lower, name);
  }

  /** Once sealed, answers are kept ({@link SealedDirCache}). */
  lookup(name: string): Node | undefined {
    if (this.removed) return undefined;
    const find = () => this.fs.nodeFor(this, name, this.stateOf(name));
    return this.fs.sealed ? (this.#sealed ??= new SealedDirCache()).lookup(name, find) : find();
  }

  /** True when the merged directory has no entry. */
  isEmpty(): boolean {
    return this.#tally(1).entries === 0;
  }

  /** Every merged child, as overlay nodes. */
  forEachChild(fn: (node: Node, name: string) => void): void {
    forEachMergedEntry(this, firstEntryCookie, (name) => {
      const node = this.lookup(name);
      if (node !== undefined) fn(node, name);
      return true;
    });
  }

  /**
   * Once sealed, cookies are positions in the merged listing, taken once
   * ({@link SealedDirCache}): below 2^30, as an overlay stacked on this
   * one needs of its lower.
   */
  readdir(cookie: number, take: (entry: DirEntry) => boolean): void {
    if (!this.fs.sealed) return forEachMergedEntry(this, cookie, (name, ino, type, next) => take({ name, ino, type, next }));
    (this.#sealed ??= new SealedDirCache()).readdir(cookie, take, (add) => forEachMergedEntry(this, firstEntryCookie, add));
  }

  mkdir(name: string, mode: number): DirNode {
    return this.#create('mkdir', name, (upper) => upper.mkdir(name, mode)) as DirNode;
  }

  createFile(name: string, mode: number): FileNode {
    return this.#create('open', name, (upper) => upper.createFile(name, mode)) as FileNode;
  }

  symlink(name: string, target: string): SymlinkNode {
    return this.#create('symlink', name, (upper) => upper.symlink(name, target)) as SymlinkNode;
  }

  link(name: string, node: Node): void {
    this.fs.mutate('link', name);
    if (node.fs !== this.fs) throw fsError('EXDEV', 'link', name);
    if (node.type === 'directory') throw fsError('EPERM', 'link', name);
    const leaf = node as unknown as OverlayLeaf;
    if (leaf.upper === undefined ? leaf.lowerLinks === 0 : isGone(leaf.upper)) throw fsError('ENOENT', 'link', name);
    this.#create('link', name, (upper, log) => {
      const target = copyUpLeaf(leaf, log);
      upper.link(name, target);
      return target;
    });
  }

  unlink(name: string): void {
    this.fs.mutate('unlink', name);
    this.#counts = undefined;
    const state = this.stateOf(name);
    const node = this.fs.nodeFor(this, name, state);
    if (node === undefined || this.removed) throw fsError('ENOENT', 'unlink', name);
    if (node.type === 'directory') throw fsError('EISDIR', 'unlink', name);
    UndoLog.run((log) => {
      const upper = copyUpDir(this, log);
      timesOnRollback(upper, log);
      hideLowerAt(this, name, state, node, log);
      if (state.kind === 'upper') {
        upper.unlink(name);
        if (isGone(state.upper)) this.fs.forget(state.upper);
      }
    });
  }

  rmdir(name: string): void {
    this.fs.mutate('rmdir', name);
    this.#counts = undefined;
    const state = this.stateOf(name);
    const node = this.fs.nodeFor(this, name, state);
    if (node === undefined || this.removed) throw fsError('ENOENT', 'rmdir', name);
    if (node.type !== 'directory') throw fsError('ENOTDIR', 'rmdir', name);
    const dir = node as OverlayDir;
    if (!dir.isEmpty()) throw fsError('ENOTEMPTY', 'rmdir', name);
    UndoLog.run((log) => {
      const upper = copyUpDir(this, log);
      timesOnRollback(upper, log);
      hideLowerAt(this, name, state, node, log);
      dir.markRemoved(log);
      if (state.kind === 'upper') {
        clearReserved(dir, log);
        upper.rmdir(name);
        this.fs.forget(state.upper);
      }
    });
  }

  rename(oldName: string, newDir: DirNode, newName: string): void {
    this.fs.mutate('rename', oldName);
    if (!(newDir instanceof OverlayDir) || newDir.fs !== this.fs) throw fsError('EXDEV', 'rename', newName);
    this.#counts = undefined;
    newDir.#counts = undefined;
    renameEntry(this, oldName, newDir, newName);
  }

  /** Create `name` in the upper with `make`, over a whiteout if there is one. */
  #create(syscall: string, name: string, make: (upper: DirNode, log: UndoLog) => Node): Node {
    this.fs.mutate(syscall, name);
    this.#counts = undefined;
    if (isReservedName(name)) throw fsError('EINVAL', syscall, name);
    if (this.removed) throw fsError('ENOENT', syscall, name);
    const state = this.stateOf(name);
    if (state.kind === 'upper' || state.kind === 'lower') throw fsError('EEXIST', syscall, name);
    UndoLog.run((log) => {
      const upper = copyUpDir(this, log);
      timesOnRollback(upper, log);
      const node = make(upper, log);
      log.add(() => (node.type === 'directory' ? upper.rmdir(name) : upper.unlink(name)));
      if (state.kind === 'none' && this.lower !== undefined) {
        this.born.add(name);
        log.add(() => this.born.delete(name));
      }
      if (state.kind === 'whiteout') {
        // A directory made where a lower one was deleted must not merge it.
        if (node.type === 'directory' && state.lower?.type === 'directory') {
          keepTimes(node, log, () => node.createFile(opaqueMarker, 0o644));
          log.add(() => node.unlink(opaqueMarker));
        }
        upper.unlink(whiteoutName(name));
        log.add(() => upper.createFile(whiteoutName(name), 0o644));
      }
    });
    return this.fs.nodeFor(this, name, this.stateOf(name))!;
  }

  /** Count merged entries (and subdirectories), stopping past `limit`. */
  #tally(limit: number): { entries: number; subdirs: number } {
    if (this.#counts !== undefined) return this.#counts;
    const lower = this.lower;
    if (limit === Infinity && this.upper !== undefined && !this.removed && lower !== undefined && hasExactCounts(lower, lower instanceof OverlayDir && lower.fs.sealed)) {
      return (this.#counts = countsOver(this.upper, lower, lower instanceof OverlayDir ? lower.counts() : plainCounts(lower)));
    }
    let entries = 0;
    let subdirs = 0;
    forEachMergedEntry(this, firstEntryCookie, (_name, _ino, type) => {
      entries++;
      if (type === 'directory') subdirs++;
      return entries < limit;
    });
    const counts = { entries, subdirs };
    if (limit === Infinity) this.#counts = counts;
    return counts;
  }

  /**
   * Entries and subdirectories, as stat's size and nlink count them. Over
   * an immutable lower, from the lower's counts and this upper's entries.
   */
  counts(): DirCounts {
    if (this.upper !== undefined || this.removed) return this.#tally(Infinity);
    const lower = this.lower!;
    return lower instanceof OverlayDir ? lower.counts() : plainCounts(lower);
  }
}
