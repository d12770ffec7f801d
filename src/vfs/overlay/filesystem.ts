import { fsError } from '../errors.js';
import { firstEntryCookie, type DirNode, type FileSystem, type Node } from '../node.js';
import { Tmpfs, type TmpfsLimits } from '../tmpfs.js';
import { collectChanges, collectStackChanges, type OverlayChange } from './changes.js';
import { copyUpLeaf, UndoLog } from './copy-up.js';
import { OverlayDir } from './directory.js';
import { isOpaque, isReservedName, type LookupState } from './lookup.js';
import { OverlayFile } from './regular-file.js';
import { OverlaySymlink } from './symlink.js';

/** Options of {@link Overlay}. */
export interface OverlayOptions {
  /**
   * The read-only lower tree, e.g. a LayerView's root, a read-only host
   * directory's root, or a sealed overlay's root (see {@link Overlay.seal}).
   * Never written.
   */
  readonly lower: DirNode;
  /** The writable upper tree. Default: a fresh Tmpfs with `limits`. May be a host directory's root (persisted across processes). */
  readonly upper?: DirNode;
  /** Device number reported by stat. */
  readonly dev: bigint;
  /** Quotas of the default in-memory upper. */
  readonly limits?: Partial<TmpfsLimits>;
  /** Copied to FileSystem.confined (symlinks resolve within the mount root). */
  readonly confined?: boolean;
}

/**
 * The most overlays in one stack (an overlay over sealed ones). Like
 * overlayfs's stacking limit, it bounds what a first lookup, stat or
 * listing walks down (each recursing once per layer) well inside the
 * host's stack.
 */
export const maxStackDepth = 1024;

/** Bit 63: set on the inode numbers of nodes created in the upper, so they never meet the lower's. */
const upperInoBit = 1n << 63n;
/**
 * Bits 40–62 of an upper-created node's number hold its overlay's place in
 * a stack of sealed overlays (0 at the bottom), so the numbers of two
 * layers' uppers (each a tmpfs counting from 1) never meet either.
 */
const stackShift = 40n;

/**
 * A copy-on-write filesystem: a writable upper tree over a read-only lower
 * one, as Linux's overlayfs and gVisor's fsimpl/overlay.
 *
 * - Lookups are states (lookup.ts): none, lower, upper, whiteout.
 * - The first change to a lower node copies it up (copy-up.ts), with its
 *   parent chain, mode, times and inode number; `setTimes` on a lower file
 *   copies no data (regular-file.ts).
 * - Deletes leave whiteouts; a directory removed and made again is opaque.
 *   Both are encoded as in an OCI layer (`.wh.NAME`, `.wh..wh..opq`), so
 *   the upper is an OCI changeset as it stands, and a host-directory upper
 *   is reopened by a later process as it was left. Names starting with
 *   `.wh.` are never shown, and creating one fails with EINVAL.
 * - Directories list merged with cookies that survive changes (directory.ts).
 * - Creating one is O(1): nothing of the lower is walked or copied, and the
 *   lower is never written, so one lower backs any number of overlays.
 *
 * Errors of every node: those of the DirNode/FileNode contract, plus the
 * upper's own (ENOSPC of its quota) from any copy-up, after which the
 * overlay is as it was.
 *
 * @example
 * const overlay = new Overlay({ lower: view.root, dev: 3n, limits: { maxBytes: 64 << 20 } });
 * const ns = new Namespace(overlay.root);
 * ns.unlink(ns.root, '/etc/motd');
 * overlay.changes(); // [{ path: '/etc', kind: 'changed', … }, { path: '/etc/motd', kind: 'deleted', … }]
 */
export class Overlay implements FileSystem {
  readonly dev: bigint;
  /** Symlinks resolve within the mount root. */
  readonly confined: boolean;
  readonly root: DirNode;
  /** The lower tree's root (never written). */
  readonly lowerRoot: DirNode;
  /**
   * The upper tree's root: an OCI changeset of everything changed. Call
   * {@link materialize} before reading it, so metadata-only changes are in it.
   */
  readonly upperRoot: DirNode;
  /** @internal Files whose times changed without a copy-up. */
  readonly pendingMeta = new Set<OverlayFile>();
  /** Nodes that came from the lower, by lower inode number: one per inode, so hardlinks stay one node. */
  readonly #byLower = new Map<bigint, Node>();
  /** Nodes by their upper node (which the upper keeps alive while it is linked or open). */
  readonly #byUpper = new WeakMap<Node, Node>();
  /**
   * Overlays in this one's stack, itself included: 1 over an image or a
   * host directory, one more than its lower's over a sealed overlay.
   */
  readonly depth: number;
  /** The overlay whose root is this one's lower, when it is a sealed overlay. */
  readonly lowerOverlay: Overlay | undefined;
  #sealed = false;
  #dirty = false;

  constructor(options: OverlayOptions) {
    const below = options.lower.fs;
    // Errors: EINVAL (a lower that is an unsealed overlay, or a stack past maxStackDepth).
    if (below instanceof Overlay && !below.sealed) throw fsError('EINVAL', 'overlay', 'the lower is an overlay that is not sealed');
    this.lowerOverlay = below instanceof Overlay ? below : undefined;
    this.depth = (this.lowerOverlay?.depth ?? 0) + 1;
    if (this.depth > maxStackDepth) throw fsError('EINVAL', 'overlay', `more than ${maxStackDepth} overlays in one stack`);
    this.dev = options.dev;
    this.confined = options.confined ?? false;
    this.lowerRoot = options.lower;
    // Times and owner only: a sealed lower's full stat would count its entries.
    const lowerStat = options.lower instanceof OverlayDir ? options.lower.attrs() : options.lower.stat();
    if (options.upper === undefined) {
      const tmpfs = new Tmpfs({ dev: options.dev, ...(options.limits !== undefined && { limits: options.limits }) });
      tmpfs.root.setTimes(lowerStat.atimeNs, lowerStat.mtimeNs);
      this.upperRoot = tmpfs.root;
    } else {
      this.upperRoot = options.upper;
    }
    const root = new OverlayDir(this, options.lower.ino, this.upperRoot, isOpaque(this.upperRoot) ? undefined : options.lower, undefined, '');
    root.origin = lowerStat;
    this.#byLower.set(options.lower.ino, root);
    this.#byUpper.set(this.upperRoot, root);
    this.root = root;
  }

  /** True once sealed: every mutation fails with EROFS. */
  get readonly(): boolean {
    return this.#sealed;
  }

  /** True once {@link seal} was called. */
  get sealed(): boolean {
    return this.#sealed;
  }

  /**
   * True once anything was asked to change through this overlay (a
   * mutation that failed may count): false means the merged tree is still
   * exactly its lower, so a fork can stack on the lower instead of sealing.
   */
  get dirty(): boolean {
    return this.#dirty;
  }

  /**
   * Freeze this overlay, in O(1): from now on every mutation fails with
   * EROFS, through nodes already handed out and open descriptions too, and
   * {@link root} can be the lower of any number of new overlays, which
   * stack on it (`new Overlay({ lower: sealed.root, … })`). Nothing is
   * walked or copied: metadata-only changes stay pending and readable.
   * Sealing twice is a no-op; it cannot be undone.
   */
  seal(): void {
    this.#sealed = true;
    // Nothing but this overlay writes its in-memory upper; freezing it says so.
    if (this.upperRoot.fs instanceof Tmpfs) this.upperRoot.fs.freeze();
  }

  /** @internal Every mutation's first step. Errors: EROFS once sealed. */
  mutate(syscall: string, name?: string): void {
    if (this.#sealed) throw fsError('EROFS', syscall, name);
    this.#dirty = true;
  }

  /** Changes against the lower, like `docker diff`, sorted by path (see changes.ts). */
  changes(): OverlayChange[] {
    return collectChanges(this);
  }

  /**
   * Changes against the bottom of the stack (the image under every sealed
   * overlay), like `docker diff` of a container with all its layers: see
   * {@link collectStackChanges}. The same as {@link changes} at depth 1.
   */
  stackChanges(): OverlayChange[] {
    return this.lowerOverlay === undefined ? collectChanges(this) : collectStackChanges(this);
  }

  /**
   * Write every metadata-only change into the upper (a full copy-up of
   * each such file), so {@link upperRoot} holds all changes.
   * Errors: the upper's (ENOSPC); files done before the failure stay done.
   */
  materialize(): void {
    if (this.pendingMeta.size > 0) this.mutate('materialize');
    for (const file of [...this.pendingMeta]) UndoLog.run((log) => copyUpLeaf(file, log));
  }

  /** @internal The overlay node for `name` of `parent` in `state`, made once per inode. */
  nodeFor(parent: OverlayDir, name: string, state: LookupState): Node | undefined {
    switch (state.kind) {
      case 'upper':
        return this.#forUpper(parent, name, state.upper, state.lower);
      case 'lower':
        return this.#forLower(parent, name, state.lower);
      default:
        return undefined;
    }
  }

  /** @internal `node` is now the overlay node of upper node `upper`. */
  adopt(upper: Node, node: Node): void {
    this.#byUpper.set(upper, node);
  }

  /** @internal Upper node `upper` left the upper: its object may come back for another inode (a host upper reuses inode numbers). */
  forget(upper: Node): void {
    this.#byUpper.delete(upper);
  }

  /** @internal The lower paths (as components) of a lower inode with several names. */
  lowerPaths(ino: bigint): readonly string[][] {
    let index = hardlinkIndexes.get(this.lowerRoot);
    if (index === undefined) hardlinkIndexes.set(this.lowerRoot, (index = indexHardlinks(this.lowerRoot)));
    return index.get(ino) ?? [];
  }

  /** The number of a node made in the upper: bit 63, this overlay's place in its stack, the upper's number. */
  #upperIno(upper: Node): bigint {
    return upper.ino | upperInoBit | (BigInt(this.depth - 1) << stackShift);
  }

  #forUpper(parent: OverlayDir, name: string, upper: Node, lower: Node | undefined): Node | undefined {
    const known = this.#byUpper.get(upper);
    // A mapping is good only while the node is still backed by this upper node.
    if (known !== undefined && (known as { upper?: Node }).upper === upper && !(known instanceof OverlayDir && known.removed)) {
      if (known instanceof OverlayDir) {
        known.parentDir = parent;
        known.name = name;
      }
      return known;
    }
    let node: Node;
    if (upper.type === 'directory') {
      // An upper directory this overlay did not make (a reopened host upper):
      // it merges the lower directory at its path unless opaque.
      const merge = lower?.type === 'directory' && !isOpaque(upper) ? lower : undefined;
      const prior = merge === undefined ? undefined : this.#byLower.get(merge.ino);
      if (prior instanceof OverlayDir && prior.upper === undefined) {
        prior.attachUpper(upper, merge!.stat());
        return prior;
      }
      const dir = new OverlayDir(this, merge?.ino ?? this.#upperIno(upper), upper, merge, parent, name);
      if (merge !== undefined) {
        dir.origin = merge.stat();
        this.#byLower.set(merge.ino, dir);
      }
      node = dir;
    } else if (upper.type === 'file') {
      node = new OverlayFile(this, this.#upperIno(upper), undefined, upper, parent, name);
    } else if (upper.type === 'symlink') {
      node = new OverlaySymlink(this, this.#upperIno(upper), undefined, upper, parent, name);
    } else {
      return undefined; // Devices are never made in an upper.
    }
    this.#byUpper.set(upper, node);
    return node;
  }

  #forLower(parent: OverlayDir, name: string, lower: Node): Node | undefined {
    const known = this.#byLower.get(lower.ino);
    if (known !== undefined) {
      if (known instanceof OverlayDir) {
        known.parentDir = parent;
        known.name = name;
      }
      return known;
    }
    let node: Node;
    if (lower.type === 'directory') node = new OverlayDir(this, lower.ino, undefined, lower, parent, name);
    else if (lower.type === 'file') node = new OverlayFile(this, lower.ino, lower, undefined, parent, name);
    else if (lower.type === 'symlink') node = new OverlaySymlink(this, lower.ino, lower, undefined, parent, name);
    else return undefined; // A lower never holds devices.
    this.#byLower.set(lower.ino, node);
    return node;
  }
}

/**
 * Lower root → its hardlink index, shared by every overlay over that lower
 * (forks of one sealed state walk it once, not once each).
 */
const hardlinkIndexes = new WeakMap<DirNode, Map<bigint, string[][]>>();

/** One walk of the lower: the paths of every non-directory with more than one name. */
function indexHardlinks(root: DirNode): Map<bigint, string[][]> {
  const out = new Map<bigint, string[][]>();
  const stack: Array<[DirNode, string[]]> = [[root, []]];
  while (stack.length > 0) {
    const [dir, path] = stack.pop()!;
    dir.readdir(firstEntryCookie, (e) => {
      if (isReservedName(e.name)) return true;
      const node = dir.lookup(e.name);
      if (node === undefined) return true;
      if (node.type === 'directory') stack.push([node, [...path, e.name]]);
      else if (node.stat().nlink > 1) {
        const paths = out.get(node.ino) ?? [];
        paths.push([...path, e.name]);
        out.set(node.ino, paths);
      }
      return true;
    });
  }
  return out;
}
