import type { LayerSource } from './changeset.js';
import { layoutOf, mergesLazily } from './layer-layout.js';
import { LazyMerge } from './layer-merge.js';
import { mergeEagerly } from './layer-view-eager.js';
import type { ViewDir } from './layer-view-nodes.js';
import type { DirNode, FileSystem } from './node.js';

/** Options of {@link LayerView}. */
export interface LayerViewOptions {
  /** Device number reported by stat. */
  readonly dev: bigint;
}

/**
 * A read-only filesystem presenting the merged tree of a stack of layers,
 * lowest first, by the image-spec's applying-changesets rules
 * (changeset.ts): whiteouts, opaque directories, hardlinks (one node, its
 * nlink counting the names), a file replacing a directory and back.
 *
 * Creating a view costs O(layers), not O(files), for the stacks image
 * builders produce: each directory is merged when it is first looked up,
 * listed or stat'ed (layer-merge.ts), from the entries each layer lists
 * for it ({@link LayerSource.layout}, or a layout built from the entries
 * when the source has none). A stack where that could differ from
 * applying every entry in order — a path one layer resolves through as a
 * directory that the same or a lower layer left a file, symlink or
 * hardlink (layer-layout.ts, `mergesLazily`) — is merged eagerly in the
 * constructor instead (layer-view-eager.ts). A lazy view resolves its
 * hardlinks in the constructor (layer-links.ts: a few path lookups per
 * hardlink), so a bad hardlink fails there too; nothing else in a lazy
 * merge can fail.
 *
 * Either way the tree, once merged, never changes, so one view can back any
 * number of namespaces and sandboxes at once without copying (a directory
 * merged by one of them is merged for all). File bytes are never held: a
 * read goes to the layer's {@link LayerSource} at the entry's offset. Every
 * mutator fails with EROFS; an overlay adds writes on top.
 *
 * Inode numbers are deterministic (the same layers give the same numbers)
 * and unique; the root is 1. A lazy view numbers a node by the (layer,
 * entry) that created it, or the (layer, directory group) of an implicit
 * directory; an eager one in merge order. atime, mtime and ctime are the
 * entry's tar mtime; implicit directories (never named by an entry) have
 * mode 0755, uid and gid 0 and time 0.
 *
 * Errors (constructor, FsError): see changeset.ts — ENOTDIR, ELOOP (eager
 * stacks only), ENOENT, EPERM (hardlinks, syscall `link`; and ENOENT for an
 * eager stack's parent symlink with an empty target).
 *
 * @example
 * const view = new LayerView([base, app], { dev: 7n });
 * const ns = new Namespace(view.root);
 */
export class LayerView implements FileSystem {
  readonly dev: bigint;
  readonly readonly = true;
  readonly root: DirNode;
  /** True when directories are merged on first use. */
  readonly lazy: boolean;
  #inodes: number | undefined;

  constructor(layers: readonly LayerSource[], options: LayerViewOptions) {
    this.dev = options.dev;
    const layouts = layers.map(layoutOf);
    if (mergesLazily(layouts)) {
      this.lazy = true;
      this.root = new LazyMerge(this, layers, layouts).root();
    } else {
      this.lazy = false;
      const { root, inodes } = mergeEagerly(this, layers);
      this.root = root;
      this.#inodes = inodes;
    }
  }

  /**
   * Nodes in the merged tree (hardlinked names counted once). On a lazy
   * view the first call merges every directory: O(files).
   */
  get inodes(): number {
    return (this.#inodes ??= countNodes(this.root as ViewDir));
  }
}

/** Count a lazy tree's nodes, a hardlinked one once. */
function countNodes(root: ViewDir): number {
  const linked = new Set<unknown>();
  let count = 1;
  const stack: ViewDir[] = [root];
  while (stack.length > 0) {
    for (const child of stack.pop()!.children.values()) {
      if (child.type === 'directory') stack.push(child);
      if (child.type !== 'directory' && child.nlink > 1) linked.add(child);
      else count++;
    }
  }
  return count + linked.size;
}
