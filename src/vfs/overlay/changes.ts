import type { DirNode, FileType, Node, Stat } from '../node.js';
import type { OverlayDir } from './directory.js';
import type { Overlay } from './filesystem.js';
import { isReservedName, opaqueMarker, whiteoutPrefix } from './lookup.js';

/** One path that differs between the lower and the overlay, as `docker diff` lists it. */
export interface OverlayChange {
  /** Absolute, e.g. `/a/b`. */
  readonly path: string;
  readonly kind: 'added' | 'changed' | 'deleted';
  /** The new node's type (added, changed); the lower node's type (deleted). */
  readonly type: FileType;
  /** The overlay node now at that path (added, changed). */
  readonly node?: Node;
  /** The lower node's stat as it was when it was copied up or hidden (changed, deleted). */
  readonly lower?: Stat;
}

/**
 * The overlay's changes against its lower, by path, as `docker diff`:
 *
 * - `added`: the path is in the overlay and not in the lower;
 * - `changed`: in both, and the overlay's node is in the upper (copied up,
 *   replaced, or a directory holding a change), or a file whose times
 *   alone changed;
 * - `deleted`: in the lower, not in the overlay, listed only where the
 *   overlay has the parent directory (a deleted directory's contents are
 *   not listed one by one).
 *
 * It walks the upper tree, beside the lower directory at the same path,
 * and never the whole lower. Sorted by path, component by component (a
 * directory before its contents), which is the order a tar of the changes
 * needs.
 */
export function collectChanges(fs: Overlay): OverlayChange[] {
  const out = new Map<string, OverlayChange>();
  const emit = (change: OverlayChange) => {
    if (!out.has(change.path)) out.set(change.path, change);
  };
  const deleted = (dir: OverlayDir, path: string, name: string, lower: Node) =>
    emit({ path: `${path}/${name}`, kind: 'deleted', type: lower.type, lower: dir.hidden.get(name) ?? lower.stat() });

  const stack: Array<{ dir: OverlayDir; lower: DirNode | undefined; path: string }> = [{ dir: fs.root as OverlayDir, lower: fs.lowerRoot, path: '' }];
  while (stack.length > 0) {
    const { dir, lower, path } = stack.pop()!;
    const upper = dir.upper!;
    upper.readdir(0, (e) => {
      const name = e.name;
      if (name === opaqueMarker) return true;
      if (isReservedName(name)) {
        // A whiteout in a merging directory (one in any other is covered below).
        const target = name.slice(whiteoutPrefix.length);
        const hidden = lower?.lookup(target);
        if (dir.lower !== undefined && target !== '' && !isReservedName(target) && hidden !== undefined && dir.lookup(target) === undefined) {
          deleted(dir, path, target, hidden);
        }
        return true;
      }
      const node = dir.lookup(name);
      if (node === undefined) return true;
      // A name made where the lower had nothing stays added, even if the
      // lower (a host directory) has gained that name since.
      const l = dir.born.has(name) ? undefined : lower?.lookup(name);
      const childPath = `${path}/${name}`;
      emit(l === undefined ? { path: childPath, kind: 'added', type: node.type, node } : { path: childPath, kind: 'changed', type: node.type, node, lower: lowerStat(dir, name, node, l) });
      if (node.type === 'directory' && (node as OverlayDir).upper !== undefined) {
        stack.push({ dir: node as OverlayDir, lower: l?.type === 'directory' ? l : undefined, path: childPath });
      }
      return true;
    });
    if (dir.lower === undefined && lower !== undefined) {
      // Opaque, or moved here: every lower entry at this path without an upper one is gone.
      lower.readdir(0, (e) => {
        if (!isReservedName(e.name) && upper.lookup(e.name) === undefined) {
          const hidden = lower.lookup(e.name);
          if (hidden !== undefined) deleted(dir, path, e.name, hidden);
        }
        return true;
      });
    }
  }

  // Files whose times alone changed, and the directories above them.
  for (const file of fs.pendingMeta) {
    for (const [dir, name] of file.visibleNames()) {
      const dirPath = pathOf(dir);
      emit({ path: `${dirPath}/${name}`, kind: 'changed', type: 'file', node: file, lower: file.origin ?? file.lower!.stat() });
      for (let d: OverlayDir | undefined = dir; d?.parentDir !== undefined; d = d.parentDir) {
        emit({ path: pathOf(d), kind: 'changed', type: 'directory', node: d, lower: d.origin ?? d.lower!.stat() });
      }
    }
  }
  return [...out.values()].sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * The changes of a stack of overlays (`top` over sealed overlays over a
 * bottom lower, the image) against that bottom lower, like `docker diff` of
 * a container with all its layers. Every layer's own changes give the
 * paths that may differ (each layer walks only its upper); each path is
 * then judged by what the top and the bottom hold there now:
 *
 * - in the top and not the bottom: `added`; in both: `changed`;
 * - in the bottom and not the top: `deleted`, listed only where the top
 *   has the parent directory (as {@link collectChanges} does);
 * - in neither (added by one layer, deleted by a later one): not listed.
 *
 * `lower` is the bottom's stat as the lowest layer that changed the path
 * recorded it. Sorted as {@link collectChanges} sorts.
 */
export function collectStackChanges(top: Overlay): OverlayChange[] {
  const layers: Overlay[] = [];
  for (let o: Overlay | undefined = top; o !== undefined; o = o.lowerOverlay) layers.push(o);
  const bottom = layers[layers.length - 1]!.lowerRoot;
  const lowest = new Map<string, OverlayChange>();
  for (let i = layers.length - 1; i >= 0; i--) {
    for (const change of collectChanges(layers[i]!)) if (!lowest.has(change.path)) lowest.set(change.path, change);
  }
  const out: OverlayChange[] = [];
  for (const [path, change] of lowest) {
    const now = nodeAt(top.root, path);
    const was = nodeAt(bottom, path);
    if (now !== undefined) {
      out.push(was === undefined ? { path, kind: 'added', type: now.type, node: now } : { path, kind: 'changed', type: now.type, node: now, lower: change.lower ?? was.stat() });
    } else if (was !== undefined && nodeAt(top.root, path.slice(0, path.lastIndexOf('/')))?.type === 'directory') {
      out.push({ path, kind: 'deleted', type: was.type, lower: change.lower ?? was.stat() });
    }
  }
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

/** The node at absolute `path` under `root`, through directories only (no symlink is followed). */
function nodeAt(root: DirNode, path: string): Node | undefined {
  let node: Node | undefined = root;
  for (const name of path.split('/')) {
    if (name === '') continue;
    if (node?.type !== 'directory') return undefined;
    node = node.lookup(name);
  }
  return node;
}

/** The lower stat to report for `node`, at `name` of `dir` where the lower has `lower`. */
function lowerStat(dir: OverlayDir, name: string, node: Node, lower: Node): Stat {
  const origin = node.ino === lower.ino ? (node as { origin?: Stat }).origin : undefined;
  return origin ?? dir.hidden.get(name) ?? lower.stat();
}

/** The absolute path of an overlay directory ('' for the root). */
function pathOf(dir: OverlayDir): string {
  const names: string[] = [];
  for (let d: OverlayDir | undefined = dir; d?.parentDir !== undefined; d = d.parentDir) names.push(d.name);
  return names.length === 0 ? '' : `/${names.reverse().join('/')}`;
}

/** Order paths component by component, so a directory sorts right before its contents. */
export function comparePaths(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}
