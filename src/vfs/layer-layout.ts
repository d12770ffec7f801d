import { LayerEntryKind, type LayerSource } from './changeset.js';

/**
 * A layer's entries grouped by directory, so the layer view can merge one
 * directory at a time (layer-merge.ts) instead of the whole tree up front.
 * The OCI index computes it once per layer and stores it in its cache file
 * (oci/layer-index-file.ts); {@link layoutOf} builds it for a source that
 * has none.
 *
 * A **group** is a directory path the layer names below: every proper
 * prefix of an entry's path, and the path of an opaque marker. Group 0 is
 * the root. The children of a group are contiguous ids, in the order of
 * their first addition (groups with none last), so a merge can interleave
 * "a directory is created because something is added below it" with the
 * group's own entries exactly as the tar order does.
 *
 * Every array is plain numbers, so a cache file maps onto it directly; the
 * ones as long as the layer (a group's entries, the non-directory hashes,
 * the entries' hash order) may be read from it only when first used.
 */
export interface LayerLayout {
  /** Number of groups (at least 1: the root). */
  readonly groupCount: number;
  /** The last component of group `g`'s path (`''` for the root). */
  groupName(g: number): string;
  /** Children of `g`: ids `groupFirstChild[g]` up to `+ groupChildCount[g]`. */
  readonly groupFirstChild: Uint32Array;
  readonly groupChildCount: Uint32Array;
  /**
   * Where each group's entries start in the layer's list of them, grouped
   * ({@link groupEntries} of `g` has `groupEntryStart[g + 1] - groupEntryStart[g]`).
   */
  readonly groupEntryStart: Uint32Array;
  /**
   * The entries of `g`, in tar order: the additions and whiteouts whose
   * parent is `g`, and the opaque markers of `g` itself. Root entries
   * (path `''`) are not listed.
   */
  groupEntries(g: number): Uint32Array;
  /** Tar position of the first addition strictly below `g`, or {@link noAddition}. */
  readonly groupFirstAdd: Uint32Array;
  /** The last directory entry naming the root (its metadata), or -1. */
  readonly rootEntry: number;
  /** {@link pathHash} of every non-directory addition's path, sorted. */
  readonly nonDirHashes: Uint32Array;
  /**
   * {@link pathHash} of every directory path this layer resolves through
   * while that path still holds what the lower layers left there: groups
   * not created by one of this layer's own directory entries before
   * anything is added below them, groups holding deletions, and the
   * parents of hardlink targets.
   */
  readonly exposedHashes: Uint32Array;
  /** The layer alone has a path that is both a non-directory and a directory it resolves through. */
  readonly selfConflict: boolean;
  /** The hardlink entries, in tar order. */
  readonly hardlinkEntries: Uint32Array;
  /** The whiteouts and opaque markers, in tar order. */
  readonly deletionEntries: Uint32Array;
  /**
   * Every entry, ordered by {@link pathHash} of its path, then tar order,
   * and those hashes in that order: exact path lookups for resolving
   * hardlinks (layer-links.ts) without decoding paths on the way.
   */
  readonly byHash: Uint32Array;
  readonly entryHashes: Uint32Array;
  /** Every group, ordered by {@link pathHash} of its full path, and those hashes in that order. */
  readonly groupByHash: Uint32Array;
  readonly groupHashes: Uint32Array;
}

/** {@link LayerLayout.groupFirstAdd} of a group with no addition below it. */
export const noAddition = 0xffffffff;

/**
 * FNV-1a over a path's UTF-16 code units, as an unsigned 32-bit number.
 * A collision never changes a tree: between layouts (`mergesLazily`) it
 * makes a stack take the eager merge, and a lookup by hash
 * (layer-links.ts) checks the paths it finds.
 */
export function pathHash(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    h ^= path.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A source's stored layout, or one built from its entries (O(entries)). */
export function layoutOf(source: LayerSource & { readonly layout?: LayerLayout }): LayerLayout {
  return source.layout ?? buildLayerLayout(source);
}

interface GroupBuilder {
  readonly path: string;
  readonly name: string;
  readonly entries: number[];
  readonly children: GroupBuilder[];
  firstAdd: number;
  hasDeletions: boolean;
  id: number;
}

/** Group a layer's entries by directory: O(entries × depth). */
export function buildLayerLayout(source: LayerSource): LayerLayout {
  const root: GroupBuilder = { path: '', name: '', entries: [], children: [], firstAdd: noAddition, hasDeletions: false, id: 0 };
  const groups = new Map<string, GroupBuilder>([['', root]]);
  const group = (path: string): GroupBuilder => {
    let g = groups.get(path);
    if (g !== undefined) return g;
    const slash = path.lastIndexOf('/');
    const parent = group(slash < 0 ? '' : path.slice(0, slash));
    g = { path, name: path.slice(slash + 1), entries: [], children: [], firstAdd: noAddition, hasDeletions: false, id: 0 };
    parent.children.push(g);
    groups.set(path, g);
    return g;
  };
  const parentOf = (path: string): string => {
    const slash = path.lastIndexOf('/');
    return slash < 0 ? '' : path.slice(0, slash);
  };
  const markDeletions = (g: GroupBuilder): void => {
    for (let p: string | undefined = g.path; p !== undefined && p !== ''; p = p.includes('/') ? parentOf(p) : undefined) {
      const a = groups.get(p)!;
      if (a.hasDeletions) break;
      a.hasDeletions = true;
    }
  };
  const nonDir = new Set<string>();
  const firstDir = new Map<string, number>();
  const linkParents = new Set<string>();
  let rootEntry = -1;
  const hardlinkEntries: number[] = [];
  const deletionEntries: number[] = [];
  const n = source.entryCount;
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = source.entry(i);
    paths.push(e.path);
    if (e.kind === LayerEntryKind.whiteout || e.kind === LayerEntryKind.opaque) deletionEntries.push(i);
    if (e.kind === LayerEntryKind.whiteout) {
      if (e.path === '') continue;
      const g = group(parentOf(e.path));
      g.entries.push(i);
      markDeletions(g);
      continue;
    }
    if (e.kind === LayerEntryKind.opaque) {
      const g = group(e.path);
      g.entries.push(i);
      markDeletions(g);
      continue;
    }
    if (e.path === '') {
      if (e.kind === LayerEntryKind.directory) rootEntry = i;
      continue;
    }
    const parent = group(parentOf(e.path));
    parent.entries.push(i);
    // Tar order: the first addition below a group is the first to reach it.
    for (let a: GroupBuilder | undefined = parent; a !== undefined && a.firstAdd === noAddition; a = a.path === '' ? undefined : groups.get(parentOf(a.path))) {
      a.firstAdd = i;
    }
    if (e.kind === LayerEntryKind.directory) {
      if (!firstDir.has(e.path)) firstDir.set(e.path, i);
    } else {
      nonDir.add(e.path);
      if (e.kind === LayerEntryKind.hardlink) {
        hardlinkEntries.push(i);
        for (let p = parentOf(e.linkTarget); p !== ''; p = parentOf(p)) linkParents.add(p);
      }
    }
  }
  let selfConflict = false;
  for (const path of nonDir) if (groups.has(path) || linkParents.has(path)) selfConflict = true;
  const exposed = new Set<string>(linkParents);
  for (const g of groups.values()) {
    if (g.path === '') continue;
    const dir = firstDir.get(g.path);
    if (g.hasDeletions || dir === undefined || dir > g.firstAdd) exposed.add(g.path);
  }
  // Number groups breadth first, children by first addition, so each
  // group's children are contiguous ids.
  const order: GroupBuilder[] = [root];
  for (let k = 0; k < order.length; k++) {
    const g = order[k]!;
    g.children.sort((a, b) => a.firstAdd - b.firstAdd);
    for (const c of g.children) {
      c.id = order.length;
      order.push(c);
    }
  }
  const count = order.length;
  const firstChild = new Uint32Array(count);
  const childCount = new Uint32Array(count);
  const entryStart = new Uint32Array(count + 1);
  const firstAdd = new Uint32Array(count);
  const entries: number[] = [];
  for (const g of order) {
    firstChild[g.id] = g.children.length > 0 ? g.children[0]!.id : 0;
    childCount[g.id] = g.children.length;
    firstAdd[g.id] = g.firstAdd;
    entryStart[g.id] = entries.length;
    for (const i of g.entries) entries.push(i);
  }
  entryStart[count] = entries.length;
  const names = order.map((g) => g.name);
  const grouped = Uint32Array.from(entries);
  const [byHash, entryHashes] = hashOrder(paths);
  const [groupByHash, groupHashes] = hashOrder(order.map((g) => g.path));
  return {
    groupCount: count,
    groupName: (g) => names[g]!,
    groupFirstChild: firstChild,
    groupChildCount: childCount,
    groupEntryStart: entryStart,
    groupEntries: (g) => grouped.subarray(entryStart[g]!, entryStart[g + 1]!),
    groupFirstAdd: firstAdd,
    rootEntry,
    nonDirHashes: Uint32Array.from(nonDir, pathHash).sort(),
    exposedHashes: Uint32Array.from(exposed, pathHash),
    selfConflict,
    hardlinkEntries: Uint32Array.from(hardlinkEntries),
    deletionEntries: Uint32Array.from(deletionEntries),
    byHash,
    entryHashes,
    groupByHash,
    groupHashes,
  };
}

/** The positions of `paths` ordered by hash, then position; and the hashes in that order. */
function hashOrder(paths: readonly string[]): [Uint32Array, Uint32Array] {
  const hashes = paths.map(pathHash);
  const order = Uint32Array.from(paths.keys()).sort((a, b) => hashes[a]! - hashes[b]! || a - b);
  return [order, Uint32Array.from(order, (i) => hashes[i]!)];
}

/**
 * Whether a stack of layers can be merged one directory at a time: no
 * path a layer resolves through as a directory (a parent of an entry or
 * of a hardlink target) was left a file, symlink or hardlink by the same
 * or a lower layer. Then every entry lands at its literal path and no
 * symlink is followed, so the lazy merge (layer-merge.ts) gives the eager
 * merge's tree exactly, and only a hardlink can fail (resolved up front,
 * layer-links.ts). Costs one binary search per exposed
 * path and lower layer: nothing for one layer, and little for upper layers
 * that list their directories before what they add to them, as image
 * builders do.
 */
export function mergesLazily(layouts: readonly LayerLayout[]): boolean {
  for (let l = 0; l < layouts.length; l++) {
    const upper = layouts[l]!;
    if (upper.selfConflict) return false;
    // The lower hashes are as long as the lower layers: read only when needed.
    if (upper.exposedHashes.length === 0) continue;
    for (let k = 0; k < l; k++) {
      const lower = layouts[k]!.nonDirHashes;
      if (lower.length === 0) continue;
      for (const h of upper.exposedHashes) if (sortedHas(lower, h)) return false;
    }
  }
  return true;
}

function sortedHas(a: Uint32Array, x: number): boolean {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid]!;
    if (v === x) return true;
    if (v < x) lo = mid + 1;
    else hi = mid;
  }
  return false;
}
