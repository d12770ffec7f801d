import { LayerEntryKind, type LayerEntry, type LayerSource } from './changeset.js';
import { fsError } from './errors.js';
import { noAddition, type LayerLayout } from './layer-layout.js';
import { HardlinkTable } from './layer-links.js';
import { implicitMeta, ViewDir, ViewFile, ViewSymlink, type Meta, type PendingChildren, type ViewNode } from './layer-view-nodes.js';
import type { FileSystem } from './node.js';

/**
 * The lazy merge: a directory's children are computed when it is first
 * looked up, listed or stat'ed, from the entries the layers list for it
 * (their {@link LayerLayout} groups), by the changeset rules
 * (changeset.ts). It is used only for stacks `mergesLazily` accepts, where
 * every entry lands at its literal path and only a hardlink can fail (the
 * constructor resolves them all), so each directory depends on its own
 * groups alone:
 *
 * - a directory created in layer C (a directory entry over something that
 *   is not a directory, or the first addition below a missing path) takes
 *   the entries of its groups in layers C and up, and the deletions of
 *   layers above C only (a layer's deletions come before its additions);
 * - per layer: opaque markers and whiteouts first, then the additions in
 *   tar order, interleaved with "something is added below child N" (which
 *   makes N an implicit directory when it is missing) at the tar position
 *   of the first such addition — the same map operations, in the same
 *   order, as the eager merge, so listings come out in the same order.
 *
 * A hardlink names the node its {@link HardlinkTable} found, created once
 * with the nlink the table counted.
 *
 * Inode numbers come from the (layer, entry) that created a node, or the
 * (layer, group) of an implicit directory, so they do not depend on which
 * directories were merged first: the root is 1, then every layer's entries
 * in layer order, then every layer's groups.
 */
export class LazyMerge {
  readonly #fs: FileSystem;
  readonly #sources: readonly LayerSource[];
  readonly #layouts: readonly LayerLayout[];
  /** Inode number of layer l's entry 0, and of its group 0. */
  readonly #entryBase: bigint[] = [];
  readonly #groupBase: bigint[] = [];
  readonly #links: HardlinkTable | undefined;
  /** Nodes a hardlink names, by the `layer:entry` that made them: one node for all their names. */
  readonly #linked = new Map<string, ViewFile | ViewSymlink>();

  /** Errors: the hardlink errors of {@link HardlinkTable} (FsError ENOENT, EPERM). */
  constructor(fs: FileSystem, sources: readonly LayerSource[], layouts: readonly LayerLayout[]) {
    this.#fs = fs;
    this.#sources = sources;
    this.#layouts = layouts;
    this.#links = layouts.some((l) => l.hardlinkEntries.length > 0) ? new HardlinkTable(sources, layouts) : undefined;
    let next = 2n;
    for (const s of sources) {
      this.#entryBase.push(next);
      next += BigInt(s.entryCount);
    }
    for (const l of layouts) {
      this.#groupBase.push(next);
      next += BigInt(l.groupCount);
    }
  }

  /** The root directory: metadata from the last root entry, children pending. */
  root(): ViewDir {
    let meta: Meta = implicitMeta;
    const groups: number[] = [];
    for (let l = 0; l < this.#layouts.length; l++) {
      const layout = this.#layouts[l]!;
      if (layout.rootEntry >= 0) meta = this.#sources[l]!.entry(layout.rootEntry);
      groups.push(l, 0);
    }
    const pending = new PendingDir(this, -1);
    pending.groups = groups;
    return new ViewDir(this.#fs, 1n, meta, undefined, pending);
  }

  /** Compute `dir`'s children from its groups (see the class). */
  fill(dir: ViewDir, pending: PendingDir, children: Map<string, ViewNode>): void {
    const below = new Map<string, number[]>();
    const made = new Map<ViewDir, PendingDir>();
    const groups = pending.groups;
    for (let k = 0; k < groups.length; k += 2) {
      const l = groups[k]!;
      const g = groups[k + 1]!;
      const layout = this.#layouts[l]!;
      const source = this.#sources[l]!;
      const additions: Array<[number, LayerEntry]> = [];
      for (const i of layout.groupEntries(g)) {
        // A damaged cache file must not make a lookup throw a host error.
        if (i >= source.entryCount) throw fsError('EIO', 'open', layout.groupName(g));
        const e = source.entry(i);
        if (e.kind === LayerEntryKind.opaque) {
          if (l > pending.created) children.clear();
        } else if (e.kind === LayerEntryKind.whiteout) {
          if (l > pending.created) children.delete(baseName(e.path));
        } else additions.push([i, e]);
      }
      const first = layout.groupFirstChild[g]!;
      const end = first + layout.groupChildCount[g]!;
      for (let c = first; c < end; c++) {
        const name = layout.groupName(c);
        const list = below.get(name);
        if (list === undefined) below.set(name, [l, c]);
        else list.push(l, c);
      }
      let a = 0;
      let c = first;
      for (;;) {
        const touch = c < end ? layout.groupFirstAdd[c]! : noAddition;
        const add = a < additions.length ? additions[a]![0] : noAddition;
        if (touch === noAddition && add === noAddition) break;
        if (touch < add) {
          this.#touch(dir, children, layout.groupName(c), l, c, made);
          c++;
        } else {
          this.#add(dir, children, additions[a]![1], l, additions[a]![0], made);
          a++;
        }
      }
    }
    // A child directory takes its groups from the layer that created it up.
    for (const [name, child] of children) {
      const p = child.type === 'directory' ? made.get(child) : undefined;
      if (p === undefined) continue;
      const list = below.get(name) ?? [];
      const mine: number[] = [];
      for (let k = 0; k < list.length; k += 2) if (list[k]! >= p.created) mine.push(list[k]!, list[k + 1]!);
      p.groups = mine;
    }
  }

  /** An addition at `dir/name` (changeset.ts, step 2). */
  #add(dir: ViewDir, children: Map<string, ViewNode>, e: LayerEntry, l: number, i: number, made: Map<ViewDir, PendingDir>): void {
    const name = baseName(e.path);
    const existing = children.get(name);
    const ino = this.#entryBase[l]! + BigInt(i);
    switch (e.kind) {
      case LayerEntryKind.directory: {
        if (existing?.type === 'directory') {
          existing.update(e);
          return;
        }
        const pending = new PendingDir(this, l);
        const d = new ViewDir(this.#fs, ino, e, dir, pending);
        made.set(d, pending);
        children.delete(name);
        children.set(name, d);
        return;
      }
      case LayerEntryKind.file:
      case LayerEntryKind.symlink:
        children.delete(name);
        children.set(name, this.#node(l, i, e));
        return;
      case LayerEntryKind.hardlink: {
        const made = this.#links?.madeBy(l, i);
        // Every hardlink of a lazy stack was resolved by the table.
        if (made === undefined) throw fsError('EIO', 'link', e.path);
        children.delete(name);
        children.set(name, this.#node(made[0], made[1], this.#sources[made[0]]!.entry(made[1])));
        return;
      }
      default:
        throw fsError('EIO', 'open', e.path);
    }
  }

  /** The file or symlink entry i of layer l made: one shared node when a hardlink names it. */
  #node(l: number, i: number, e: LayerEntry): ViewFile | ViewSymlink {
    const nlink = this.#links?.nlinkOf(l, i);
    const key = `${l}:${i}`;
    if (nlink !== undefined) {
      const shared = this.#linked.get(key);
      if (shared !== undefined) return shared;
    }
    const ino = this.#entryBase[l]! + BigInt(i);
    const node = e.kind === LayerEntryKind.file ? new ViewFile(this.#fs, ino, e, this.#sources[l]!) : new ViewSymlink(this.#fs, ino, e);
    if (nlink !== undefined) {
      node.nlink = nlink;
      this.#linked.set(key, node);
    }
    return node;
  }

  /** The first addition below `dir/name` in layer l: a missing name becomes an implicit directory. */
  #touch(dir: ViewDir, children: Map<string, ViewNode>, name: string, l: number, group: number, made: Map<ViewDir, PendingDir>): void {
    const existing = children.get(name);
    if (existing?.type === 'directory') return;
    // A non-directory here is a conflict mergesLazily refuses; never here.
    if (existing !== undefined) throw fsError('EIO', 'open', name);
    const pending = new PendingDir(this, l);
    const d = new ViewDir(this.#fs, this.#groupBase[l]! + BigInt(group), implicitMeta, dir, pending);
    made.set(d, pending);
    children.set(name, d);
  }
}

/** A directory whose children are not merged yet: its groups, as (layer, group) pairs. */
class PendingDir implements PendingChildren {
  readonly #merge: LazyMerge;
  /** The layer that created the directory (-1: the root). */
  readonly created: number;
  groups: number[] = [];

  constructor(merge: LazyMerge, created: number) {
    this.#merge = merge;
    this.created = created;
  }

  fill(dir: ViewDir, children: Map<string, ViewNode>): void {
    this.#merge.fill(dir, this, children);
  }
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
