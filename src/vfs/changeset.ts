import { fsError } from './errors.js';
import type { LayerLayout } from './layer-layout.js';

/**
 * The OCI image-spec's rules for applying a layer (a changeset) to a tree,
 * written once over an abstract tree so the in-memory layer view and the
 * host-directory extraction (oci/apply.ts) cannot disagree.
 * https://github.com/opencontainers/image-spec/blob/main/layer.md#applying-changesets
 *
 * Per layer:
 * 1. Deletions first, against the lower layers only: every whiteout removes
 *    its path, every opaque marker empties its directory. Whiteouts "MUST
 *    only apply to resources in lower/parent layers", so a same-layer entry
 *    is never hidden by them, whatever the tar order.
 * 2. Then every other entry, in tar order (so duplicates: the last wins):
 *    - a directory over a directory updates its metadata and keeps its
 *      children; over anything else it replaces it;
 *    - a file, symlink or hardlink replaces whatever is at its path (a
 *      directory with its whole subtree);
 *    - a hardlink names the node at its target path, resolved now.
 *
 * Path resolution, the same for every entry: the parent components are
 * resolved from the root, following symlinks with `..` and absolute targets
 * clamped to the root (openat2's RESOLVE_IN_ROOT, as containerd and umoci
 * do), creating missing directories (mode 0755, uid 0, mtime 0) except for
 * deletions, which are no-ops when the parent is missing. Below a missing
 * component, `..` cancels names lexically (securejoin's rule). The last component
 * is never followed: a symlink there is replaced, never written through.
 *
 * Errors (FsError, with the entry's path): ENOTDIR (a parent is a file),
 * ELOOP (over 40 symlinks in one resolution), ENOENT (a parent is a symlink
 * with an empty target), and for hardlinks ENOENT (no target) and EPERM
 * (target is a directory), both with syscall `link`.
 */

/** What a layer entry does. Devices, fifos and sockets never reach here. */
export const LayerEntryKind = {
  directory: 'directory',
  file: 'file',
  symlink: 'symlink',
  hardlink: 'hardlink',
  /** Removes `path` from the lower layers (`.wh.NAME`). */
  whiteout: 'whiteout',
  /** Empties directory `path` in the lower layers (`.wh..wh..opq`). */
  opaque: 'opaque',
} as const;
export type LayerEntryKind = (typeof LayerEntryKind)[keyof typeof LayerEntryKind];

/** One entry of a layer, as the layer index reports it. */
export interface LayerEntry {
  /**
   * Normalized path: components joined by `/`, none empty, `.` or `..`, no
   * leading `/`. `''` is the root. For a whiteout, the path it removes; for
   * an opaque marker, the directory it empties.
   */
  readonly path: string;
  readonly kind: LayerEntryKind;
  /** Permission bits with setuid/setgid/sticky (07777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeNs: bigint;
  /** File size in bytes (0 for other kinds). */
  readonly size: number;
  /** Where the file's bytes start in the source ({@link LayerSource.read}). */
  readonly offset: number;
  /** A symlink's target verbatim, or a hardlink's target as a normalized path. */
  readonly linkTarget: string;
}

/**
 * A layer as the VFS consumes it: its entries in tar order and positional
 * reads of its uncompressed bytes. The OCI layer index implements it; the
 * VFS never imports oci/.
 */
export interface LayerSource {
  readonly entryCount: number;
  /**
   * The entries grouped by directory (layer-layout.ts), when the source
   * stores them; the layer view builds them from the entries otherwise.
   */
  readonly layout?: LayerLayout;
  /** Entry `i`, 0 ≤ i < entryCount, in tar order. */
  entry(i: number): LayerEntry;
  /** Entry `i`'s path alone, when the source can give it for less than {@link entry}. */
  entryPath?(i: number): string;
  /** Entry `i`'s kind alone, the same way. */
  entryKind?(i: number): LayerEntryKind;
  /**
   * Copy up to `length` bytes at absolute `position` of the layer's bytes
   * into `dst[dstOffset…]`. Returns the bytes read (short only at the end).
   */
  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number;
}

/** The type of a node as the rules see it. */
export type TreeNodeType = 'directory' | 'file' | 'symlink' | 'other';

/** A mutable tree the rules are applied to (in memory, or a host directory). */
export interface ChangesetTree<N> {
  readonly root: N;
  /** The child `name` of directory `dir`, not following a symlink. */
  lookup(dir: N, name: string): N | undefined;
  type(node: N): TreeNodeType;
  /** A symlink's target. */
  readlink(node: N): string;
  /** Remove child `name` (`node`) of `dir`, a directory with its subtree. */
  remove(dir: N, name: string, node: N): void;
  /** Remove every child of directory `dir`. */
  clear(dir: N): void;
  /** Create directory `name` for a missing parent component. */
  implicitDir(dir: N, name: string): N;
  mkdir(dir: N, name: string, entry: LayerEntry): N;
  /** Set an existing directory's metadata from `entry`. */
  updateDir(dir: N, entry: LayerEntry): void;
  createFile(dir: N, name: string, entry: LayerEntry, source: LayerSource): void;
  symlink(dir: N, name: string, entry: LayerEntry): void;
  link(dir: N, name: string, target: N): void;
}

/** Symlinks followed in one resolution before ELOOP (Linux's MAXSYMLINKS). */
export const maxLayerSymlinks = 40;

/**
 * Applies layers to one tree, entry by entry.
 *
 * @example
 * const applier = new ChangesetApplier(tree);
 * for (const layer of layers) for (const _ of applier.steps(layer));
 */
export class ChangesetApplier<N> {
  readonly #tree: ChangesetTree<N>;
  /** The entry being applied, for error messages. */
  current: LayerEntry | undefined;
  /**
   * The last parent resolved for an addition. Tar entries come grouped by
   * directory, so most resolve to the same parent; any removal may change
   * what a path resolves to, so removals drop it.
   */
  #lastParent: { path: string; node: N } | undefined;

  constructor(tree: ChangesetTree<N>) {
    this.#tree = tree;
  }

  /** Apply `layer` completely. Errors: see the module. */
  apply(layer: LayerSource): void {
    for (const _ of this.steps(layer));
  }

  /**
   * Apply `layer`, yielding after each entry so an async caller can let
   * other work run in between. Errors: see the module.
   */
  *steps(layer: LayerSource): Generator<void, void, void> {
    const n = layer.entryCount;
    for (let i = 0; i < n; i++) {
      const e = layer.entry(i);
      if (e.kind !== LayerEntryKind.whiteout && e.kind !== LayerEntryKind.opaque) continue;
      this.current = e;
      this.#delete(e);
      yield;
    }
    for (let i = 0; i < n; i++) {
      const e = layer.entry(i);
      if (e.kind === LayerEntryKind.whiteout || e.kind === LayerEntryKind.opaque) continue;
      this.current = e;
      this.#add(e, layer);
      yield;
    }
    this.current = undefined;
  }

  #delete(e: LayerEntry): void {
    const t = this.#tree;
    const parts = split(e.path);
    this.#lastParent = undefined;
    if (e.kind === LayerEntryKind.opaque) {
      const dir = this.#resolveDir(parts, false, e.path);
      if (dir !== undefined) t.clear(dir);
      return;
    }
    const name = parts.pop();
    if (name === undefined) return;
    const dir = this.#resolveDir(parts, false, e.path);
    if (dir === undefined) return;
    const node = t.lookup(dir, name);
    if (node !== undefined) t.remove(dir, name, node);
  }

  #add(e: LayerEntry, layer: LayerSource): void {
    const t = this.#tree;
    if (e.path === '') {
      // The root itself: only a directory entry means anything (its metadata).
      if (e.kind === LayerEntryKind.directory) t.updateDir(t.root, e);
      return;
    }
    const slash = e.path.lastIndexOf('/');
    const name = e.path.slice(slash + 1);
    const parentPath = slash < 0 ? '' : e.path.slice(0, slash);
    let dir: N;
    const last = this.#lastParent;
    if (last !== undefined && last.path === parentPath) dir = last.node;
    else {
      dir = this.#resolveDir(split(parentPath), true, e.path)!;
      this.#lastParent = { path: parentPath, node: dir };
    }
    const existing = t.lookup(dir, name);
    if (e.kind === LayerEntryKind.directory) {
      if (existing !== undefined && t.type(existing) === 'directory') {
        t.updateDir(existing, e);
        return;
      }
      if (existing !== undefined) this.#remove(dir, name, existing);
      t.mkdir(dir, name, e);
      return;
    }
    if (existing !== undefined) this.#remove(dir, name, existing);
    switch (e.kind) {
      case LayerEntryKind.file:
        t.createFile(dir, name, e, layer);
        break;
      case LayerEntryKind.symlink:
        t.symlink(dir, name, e);
        break;
      case LayerEntryKind.hardlink: {
        // Resolved after the removal above, as containerd does: a link to
        // the path it replaces (or into it) has no target left.
        const target = this.#resolveLink(e);
        t.link(dir, name, target);
        break;
      }
    }
  }

  #remove(dir: N, name: string, node: N): void {
    this.#lastParent = undefined;
    this.#tree.remove(dir, name, node);
  }

  #resolveLink(e: LayerEntry): N {
    const t = this.#tree;
    const parts = split(e.linkTarget);
    const name = parts.pop();
    const dir = name === undefined ? undefined : this.#resolveDir(parts, false, e.path);
    const node = dir === undefined || name === undefined ? undefined : t.lookup(dir, name);
    if (node === undefined) throw fsError('ENOENT', 'link', `${e.path} -> ${e.linkTarget}`);
    if (t.type(node) === 'directory') throw fsError('EPERM', 'link', `${e.path} -> ${e.linkTarget}`);
    return node;
  }

  /**
   * Resolve `parts` as directories from the root, following symlinks
   * clamped to the root. Missing components are created when `create`,
   * else the result is undefined (as it is for a non-directory then).
   */
  #resolveDir(parts: string[], create: boolean, path: string): N | undefined {
    const t = this.#tree;
    const stack: N[] = [t.root];
    // Names still to walk, last first, so a symlink's target is pushed on top.
    const pending = parts.slice().reverse();
    // Components below a missing one: nothing can exist there, so they are
    // kept by name and a later `..` cancels them lexically (as securejoin
    // and containerd's RootPath do); whatever is left is created at the end.
    const missing: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const name = pending.pop()!;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (missing.length > 0) missing.pop();
        else if (stack.length > 1) stack.pop();
        continue;
      }
      if (missing.length > 0) {
        missing.push(name);
        continue;
      }
      const cur = stack[stack.length - 1]!;
      const child = t.lookup(cur, name);
      if (child === undefined) {
        missing.push(name);
        continue;
      }
      const type = t.type(child);
      if (type === 'directory') {
        stack.push(child);
        continue;
      }
      if (type === 'symlink') {
        if (++links > maxLayerSymlinks) throw fsError('ELOOP', 'open', path);
        const target = t.readlink(child);
        if (target === '') {
          if (!create) return undefined;
          throw fsError('ENOENT', 'open', path);
        }
        if (target.charCodeAt(0) === 47) stack.length = 1;
        const more = target.split('/');
        for (let i = more.length - 1; i >= 0; i--) pending.push(more[i]!);
        continue;
      }
      if (!create) return undefined;
      throw fsError('ENOTDIR', 'open', path);
    }
    if (missing.length > 0 && !create) return undefined;
    let dir: N = stack[stack.length - 1]!;
    for (const name of missing) dir = t.implicitDir(dir, name);
    return dir;
  }
}

function split(path: string): string[] {
  return path === '' ? [] : path.split('/');
}
