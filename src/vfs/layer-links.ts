import { LayerEntryKind, type LayerEntry, type LayerSource } from './changeset.js';
import { fsError } from './errors.js';
import type { LayerLayout } from './layer-layout.js';

/**
 * The hardlinks of a stack the lazy merge takes (layer-layout.ts,
 * `mergesLazily`), resolved when the view is created: which entry made the
 * node each hardlink names, and how many names each such node keeps in the
 * merged tree (its nlink). Hardlinks are rare, so this costs a few path
 * lookups per hardlink and layer (binary searches in each layer's
 * {@link LayerLayout.byPath}), never a pass over the entries.
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
        const kind = layer.entry(last).kind;
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

/** Path lookups in one layer, by binary search in its entries ordered by path. */
class LayerPaths {
  readonly #source: LayerSource;
  readonly #byPath: Uint32Array;

  constructor(source: LayerSource, layout: LayerLayout) {
    this.#source = source;
    this.#byPath = layout.byPath;
  }

  entry(i: number): LayerEntry {
    return this.#source.entry(i);
  }

  /** The first position in path order whose path is not below `path` in string order. */
  #lowerBound(path: string): number {
    let lo = 0;
    let hi = this.#byPath.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#source.entry(this.#byPath[mid]!).path < path) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Entries at exactly `path`, in tar order, with their numbers. */
  #exact(path: string): Array<readonly [number, LayerEntry]> {
    const out: Array<readonly [number, LayerEntry]> = [];
    for (let k = this.#lowerBound(path); k < this.#byPath.length; k++) {
      const i = this.#byPath[k]!;
      const e = this.#source.entry(i);
      if (e.path !== path) break;
      out.push([i, e]);
    }
    return out;
  }

  /** The last addition at exactly `path` in tar order, after entry `after` and before entry `limit`. */
  lastAddition(path: string, limit: number, after = -1): number | undefined {
    const found = this.#exact(path);
    for (let k = found.length - 1; k >= 0; k--) {
      const [i, e] = found[k]!;
      if (i < limit && i > after && isAddition(e.kind)) return i;
    }
    return undefined;
  }

  /** Whether an entry added below `path` (not the root: `path/…`) comes before entry `limit`. */
  additionBelow(path: string, limit: number): boolean {
    const prefix = `${path}/`;
    for (let k = this.#lowerBound(prefix); k < this.#byPath.length; k++) {
      const i = this.#byPath[k]!;
      const e = this.#source.entry(i);
      if (!e.path.startsWith(prefix)) return false;
      if (i < limit && isAddition(e.kind)) return true;
    }
    return false;
  }

  /** Whether the layer's deletions remove `path`: a whiteout of it or a parent, or an opaque marker of a parent. */
  deletes(path: string): boolean {
    const parents = ancestors(path);
    for (const p of [...parents.slice(1), path]) if (this.#exact(p).some(([, e]) => e.kind === LayerEntryKind.whiteout)) return true;
    for (const p of parents) if (this.#exact(p).some(([, e]) => e.kind === LayerEntryKind.opaque)) return true;
    return false;
  }

  /** Whether the layer adds a non-directory at `path`. */
  hasNonDirectory(path: string): boolean {
    return this.#exact(path).some(([, e]) => isAddition(e.kind) && e.kind !== LayerEntryKind.directory);
  }
}
