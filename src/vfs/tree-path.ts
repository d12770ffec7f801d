/**
 * Finding a node again in another tree by its names: what moves a running
 * process from a root that was just sealed onto the fresh upper over it
 * (a snapshot commit, a fork's parent side).
 */
import type { DirNode, Node } from './node.js';

/** The deepest path {@link pathInTree} follows up (a longer chain is treated as unreachable). */
export const maxTreeDepth = 4096;

/**
 * The names from `root` down to `node`, found by climbing from the node
 * through each one's `where()` hint, every step checked by a lookup (a
 * stale hint, an unlinked file or a removed directory gives undefined).
 * It never walks a directory's entries: the cost is the node's depth.
 */
export function pathInTree(root: DirNode, node: Node): string[] | undefined {
  const names: string[] = [];
  let at: Node = node;
  while (at !== root) {
    if (names.length >= maxTreeDepth) return undefined;
    const hint = at.where?.();
    if (hint === undefined) return undefined;
    let found: Node | undefined;
    try {
      found = hint.dir.lookup(hint.name);
    } catch {
      return undefined; // a removed directory may refuse lookups
    }
    if (found !== at) return undefined;
    names.push(hint.name);
    at = hint.dir;
  }
  return names.reverse();
}

/**
 * The node at `names` under `root`, by plain lookups (no symlink is
 * followed and no mount is crossed: the names are one filesystem's own).
 * Undefined when a name is missing or a step is not a directory.
 */
export function nodeAtPath(root: DirNode, names: readonly string[]): Node | undefined {
  let at: Node = root;
  for (const name of names) {
    if (at.type !== 'directory') return undefined;
    const next: Node | undefined = at.lookup(name);
    if (next === undefined) return undefined;
    at = next;
  }
  return at;
}

/**
 * The node of `to` that stands for `node` of `from`: the same names, and
 * the same inode number and type (an overlay over a sealed state keeps
 * its lower's numbers). Undefined when `node` cannot be found by name any
 * more or `to` has something else there.
 */
export function counterpart(from: DirNode, to: DirNode, node: Node): Node | undefined {
  const names = pathInTree(from, node);
  if (names === undefined) return undefined;
  const found = nodeAtPath(to, names);
  return found !== undefined && found.type === node.type && found.ino === node.ino ? found : undefined;
}
