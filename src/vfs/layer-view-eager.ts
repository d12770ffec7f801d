import { ChangesetApplier, type ChangesetTree, type LayerEntry, type LayerSource, type TreeNodeType } from './changeset.js';
import { implicitMeta, ViewDir, ViewFile, ViewSymlink, type ViewNode } from './layer-view-nodes.js';
import type { FileSystem } from './node.js';

/**
 * The eager merge: every entry of every layer applied in order by the
 * changeset rules (changeset.ts), following symlinks in parents and
 * resolving hardlinks as it goes. The layer view uses it for the stacks
 * the lazy merge cannot take (layer-layout.ts, `mergesLazily`): a hardlink,
 * or a path some layer resolves through that a layer left a non-directory.
 * Inode numbers follow merge order (the root is 1).
 *
 * Errors (FsError): see changeset.ts — ENOTDIR, ELOOP, ENOENT, EPERM.
 */
export function mergeEagerly(fs: FileSystem, layers: readonly LayerSource[]): { root: ViewDir; inodes: number } {
  const builder = new ViewBuilder(fs);
  const applier = new ChangesetApplier(builder);
  for (const layer of layers) applier.apply(layer);
  return { root: builder.root, inodes: freeze(builder.root) };
}

/** The in-memory tree the changeset rules build. */
class ViewBuilder implements ChangesetTree<ViewNode> {
  readonly root: ViewDir;
  readonly #fs: FileSystem;
  #nextIno = 1n;

  constructor(fs: FileSystem) {
    this.#fs = fs;
    this.root = new ViewDir(fs, this.#nextIno++, implicitMeta, undefined);
  }

  lookup(dir: ViewNode, name: string): ViewNode | undefined {
    return (dir as ViewDir).children.get(name);
  }

  type(node: ViewNode): TreeNodeType {
    return node.type;
  }

  readlink(node: ViewNode): string {
    return (node as ViewSymlink).target;
  }

  remove(dir: ViewNode, name: string, node: ViewNode): void {
    (dir as ViewDir).children.delete(name);
    unlinkTree(node);
  }

  clear(dir: ViewNode): void {
    const d = dir as ViewDir;
    for (const child of d.children.values()) unlinkTree(child);
    d.children.clear();
  }

  implicitDir(dir: ViewNode, name: string): ViewNode {
    const d = new ViewDir(this.#fs, this.#nextIno++, implicitMeta, dir as ViewDir);
    (dir as ViewDir).children.set(name, d);
    return d;
  }

  mkdir(dir: ViewNode, name: string, entry: LayerEntry): ViewNode {
    const d = new ViewDir(this.#fs, this.#nextIno++, entry, dir as ViewDir);
    (dir as ViewDir).children.set(name, d);
    return d;
  }

  updateDir(dir: ViewNode, entry: LayerEntry): void {
    dir.update(entry);
  }

  createFile(dir: ViewNode, name: string, entry: LayerEntry, source: LayerSource): void {
    (dir as ViewDir).children.set(name, new ViewFile(this.#fs, this.#nextIno++, entry, source));
  }

  symlink(dir: ViewNode, name: string, entry: LayerEntry): void {
    (dir as ViewDir).children.set(name, new ViewSymlink(this.#fs, this.#nextIno++, entry));
  }

  link(dir: ViewNode, name: string, target: ViewNode): void {
    target.nlink++;
    (dir as ViewDir).children.set(name, target);
  }
}

/** A subtree left the tree: every name it held goes away. */
function unlinkTree(node: ViewNode): void {
  if (node.type !== 'directory') {
    node.nlink--;
    return;
  }
  for (const child of node.children.values()) unlinkTree(child);
}

/** Fix directory link counts; returns the number of distinct nodes. */
function freeze(root: ViewDir): number {
  // Only multiply-linked nodes need remembering to be counted once.
  const shared = new Set<ViewNode>();
  let count = 1;
  const stack: ViewDir[] = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let subdirs = 0;
    for (const child of dir.children.values()) {
      if (child.type === 'directory') {
        subdirs++;
        count++;
        stack.push(child);
      } else if (child.nlink === 1) {
        count++;
      } else {
        shared.add(child);
      }
    }
    dir.nlink = 2 + subdirs;
  }
  return count + shared.size;
}
