import { LayerEntryKind, type LayerEntry, type LayerSource } from './changeset.js';
import { fsError } from './errors.js';
import { pathHash, type LayerLayout } from './layer-layout.js';

/**
 * The hardlinks of a stack the lazy merge takes (layer-layout.ts,
 * `mergesLazily`), resolved when the view is created: which entry made the
 * node each hardlink names, and how many names each such node keeps in the
 * merged tree (its nlink). Hardlinks are rare, so this costs a few path
 * lookups per hardlink and layer (binary searches over each layer's path
 * hashes, {@link LayerLayout.entryHashes} and `groupHashes`, then a check
 * of the few paths found), never a pass over the entries.
 *
 * In such a stack every path is literal (no parent is a symlink, no entry
 * lands below a non-directory), so the node at a path at some moment is
 * found layer by layer, newest first: the last addition at that exact path
 * before the moment (a directory, or an addition below the path, means a
 * directory), else a deletion of the path or of a parent means nothing is
 * there. A name survives to the merged tree unless a later addition at the
 * same path replaces it, or a later layer deletes it or a parent, or turns
 * a parent into a non-directory.
 *
 * Errors (FsError, syscall `link`, naming `path -> target`, the first in
 * layer and tar order, as the eager merge raises them): ENOENT (nothing at
 * the target, or the hardlink replaces its own target), EPERM (a
 * directory there).
 */
export class HardlinkTable {
  readonly #layers: LayerPaths[];
  /** `layer:entry` of a hardlink → the (layer, entry) that made its node. */
  readonly #made = new Map<string, readonly [number, number]>();
  /** `layer:entry` of an entry that made a linked node → the node's nlink. */
  readonly #nlink = new Map<string, number>();

  constructor(sources: readonly LayerSource[], layouts: readonly LayerLayout[]) {
    this.#layers = sources.map((s, l) => new LayerPaths(s, layouts[l]!));
    const names = new Map<string, Array<readonly [number, number, string]>>();
    for (let l = 0; l < layouts.length; l++) {
      for (const j of layouts[l]!.hardlinkEntries) {
        const e = sources[l]!.entry(j);
        const made = this.#resolve(e, l, j);
        this.#made.set(`${l}:${j}`, made);
        const key = `${made[0]}:${made[1]}`;
        let list = names.get(key);
        if (list === undefined) names.set(key, (list = [[made[0], made[1], this.#layers[made[0]]!.entry(made[1]).path]]));
        list.push([l, j, e.path]);
      }
    }
    for (const [key, list] of names) {
      let n = 0;
      for (const [l, i, path] of list) if (this.#survives(path, l, i)) n++;
      this.#nlink.set(key, n);
    }
  }

  /** The (layer, entry) that made the node hardlink entry `i` of layer `l` names. */
  madeBy(l: number, i: number): readonly [number, number] | undefined {
    return this.#made.get(`${l}:${i}`);
  }

  /** The nlink of the node entry `i` of layer `l` made, when a hardlink names it. */
  nlinkOf(l: number, i: number): number | undefined {
    return this.#nlink.get(`${l}:${i}`);
  }

  /** The maker of the node hardlink `e` (entry `j` of layer `l`) names at its moment. */
  #resolve(e: LayerEntry, l: number, j: number): readonly [number, number] {
    const t = e.linkTarget;
    // The eager merge removes what is at the link's own path first; `''`
    // (the root) has no name to link.
    if (t === e.path || t === '') return fail('ENOENT', e);
    for (let k = l; k >= 0; k--) {
      const layer = this.#layers[k]!;
      const limit = k === l ? j : Infinity;
      if (layer.additionBelow(t, limit)) return fail('EPERM', e);
      const last = layer.lastAddition(t, limit);
      if (last !== undefined) {
        const kind = layer.kind(last);
        if (kind === LayerEntryKind.directory) return fail('EPERM', e);
        return kind === LayerEntryKind.hardlink ? this.#made.get(`${k}:${last}`)! : [k, last];
      }
      if (layer.deletes(t)) return fail('ENOENT', e);
    }
    return fail('ENOENT', e);
  }

  /** Whether the name entry `i` of layer `l` gave `path` is still there in the merged tree. */
  #survives(path: string, l: number, i: number): boolean {
    const parents = ancestors(path);
    for (let m = l; m < this.#layers.length; m++) {
      const layer = this.#layers[m]!;
      if (layer.lastAddition(path, Infinity, m === l ? i : -1) !== undefined) return false;
      if (m === l) continue;
      if (layer.deletes(path)) return false;
      for (const p of parents) if (p !== '' && layer.hasNonDirectory(p)) return false;
    }
    return true;
  }
}

function fail(errno: 'ENOENT' | 'EPERM', e: LayerEntry): never {
  throw fsError(errno, 'link', `${e.path} -> ${e.linkTarget}`);
}

/** `a/b/c` → `['', 'a', 'a/b']`. */
function ancestors(path: string): string[] {
  const out = [''];
  for (let at = path.indexOf('/'); at >= 0; at = path.indexOf('/', at + 1)) out.push(path.slice(0, at));
  return out;
}

const isAddition = (kind: LayerEntryKind): boolean => kind !== LayerEntryKind.whiteout && kind !== LayerEntryKind.opaque;

/** Path lookups in one layer: binary searches over its entries' and groups' path hashes. */
class LayerPaths {
  readonly #source: LayerSource;
  readonly #layout: LayerLayout;
  /** Paths the layer's whiteouts remove, and directories its opaque markers empty (built on first use). */
  #deleted: { whiteouts: Set<string>; opaques: Set<string> } | undefined;
  /** Each group's parent (built on first use, to check a group's full path). */
  #parents: Uint32Array | undefined;

  constructor(source: LayerSource, layout: LayerLayout) {
    this.#source = source;
    this.#layout = layout;
  }

  entry(i: number): LayerEntry {
    return this.#source.entry(i);
  }

  kind(i: number): LayerEntryKind {
    return this.#kind(i);
  }

  #kind(i: number): LayerEntryKind {
    return this.#source.entryKind !== undefined ? this.#source.entryKind(i) : this.#source.entry(i).kind;
  }

  #path(i: number): string {
    return this.#source.entryPath !== undefined ? this.#source.entryPath(i) : this.#source.entry(i).path;
  }

  /** The entries at exactly `path`, ascending, up to (not including) entry `limit`. */
  *#at(path: string, limit: number): Generator<number> {
    const { byHash, entryHashes } = this.#layout;
    const n = this.#source.entryCount;
    const h = pathHash(path);
    for (let k = firstOf(entryHashes, h); k < entryHashes.length && entryHashes[k] === h; k++) {
      const i = byHash[k]!;
      if (i >= limit) return;
      if (i < n && this.#path(i) === path) yield i;
    }
  }

  /** The last addition at exactly `path` in tar order, after entry `after` and before entry `limit`. */
  lastAddition(path: string, limit: number, after = -1): number | undefined {
    let last: number | undefined;
    for (const i of this.#at(path, limit)) if (i > after && isAddition(this.#kind(i))) last = i;
    return last;
  }

  /** Whether the layer adds a non-directory at `path`. */
  hasNonDirectory(path: string): boolean {
    for (const i of this.#at(path, Infinity)) {
      const kind = this.#kind(i);
      if (isAddition(kind) && kind !== LayerEntryKind.directory) return true;
    }
    return false;
  }

  /** Whether an entry added below `path` (not the root: `path/…`) comes before entry `limit`. */
  additionBelow(path: string, limit: number): boolean {
    const g = this.#group(path);
    return g !== undefined && this.#layout.groupFirstAdd[g]! < limit;
  }

  /** The group whose full path is `path`, if the layer has one. */
  #group(path: string): number | undefined {
    const { groupByHash, groupHashes } = this.#layout;
    const h = pathHash(path);
    for (let k = firstOf(groupHashes, h); k < groupHashes.length && groupHashes[k] === h; k++) {
      const g = groupByHash[k]!;
      if (this.#groupPath(g) === path) return g;
    }
    return undefined;
  }

  #groupPath(g: number): string {
    const layout = this.#layout;
    if (this.#parents === undefined) {
      const parents = new Uint32Array(layout.groupCount);
      for (let p = 0; p < layout.groupCount; p++) {
        const first = layout.groupFirstChild[p]!;
        for (let c = first; c < first + layout.groupChildCount[p]!; c++) parents[c] = p;
      }
      this.#parents = parents;
    }
    const names: string[] = [];
    // Children have larger ids than their parent, so the walk ends at the root.
    for (let k = g; k !== 0; k = this.#parents[k]!) names.push(layout.groupName(k));
    return names.reverse().join('/');
  }

  /** Whether the layer's deletions remove `path`: a whiteout of it or a parent, or an opaque marker of a parent. */
  deletes(path: string): boolean {
    if (this.#layout.deletionEntries.length === 0) return false;
    if (this.#deleted === undefined) {
      const whiteouts = new Set<string>();
      const opaques = new Set<string>();
      for (const i of this.#layout.deletionEntries) {
        const e = this.#source.entry(i);
        (e.kind === LayerEntryKind.opaque ? opaques : whiteouts).add(e.path);
      }
      this.#deleted = { whiteouts, opaques };
    }
    const { whiteouts, opaques } = this.#deleted;
    if (whiteouts.has(path)) return true;
    for (const p of ancestors(path)) if (opaques.has(p) || (p !== '' && whiteouts.has(p))) return true;
    return false;
  }
}

/** The first position in sorted `a` whose value is not below `x`. */
function firstOf(a: Uint32Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
