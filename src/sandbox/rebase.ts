/**
 * Keeping a sandbox's running processes on its root when the root moves
 * on: a commit or a fork seals the tree and puts a fresh upper over it,
 * and every process still running is moved onto the fresh one, so it
 * goes on writing.
 */
import { counterpart, type Namespace, type Node } from '../vfs/index.js';
import type { SandboxRoot } from './root.js';

/** A running process that can be moved: a preview1 `WasiHost`, or a component's (src/sandbox/component-run.ts). */
export interface RebasableProcess {
  readonly context: { readonly namespace: Namespace };
  rebase(namespace: Namespace, counterpart: (node: Node) => Node | undefined): void;
}

/**
 * The processes running in one sandbox, and moving them when its root is
 * replaced. A process is tracked from its start until it ends.
 */
export class RunningProcesses {
  // Made by the first process: an idle sandbox holds no set.
  #hosts: Set<RebasableProcess> | undefined;

  /** Track `host` until the returned function is called. */
  track(host: RebasableProcess): () => void {
    const hosts = (this.#hosts ??= new Set());
    hosts.add(host);
    return () => hosts.delete(host);
  }

  /**
   * Move every tracked process whose namespace is `before`'s onto `after`:
   * its namespace, and each open description on `before`'s root
   * filesystem to the node at the same names in `after`'s (mount
   * filesystems are shared, so theirs stay). O(open descriptions × path
   * depth), never the tree. A description whose node cannot be found by
   * name (an unlinked file still open, a hard link whose remembered name
   * was removed) keeps its sealed node: it reads the state at the seal and
   * its writes fail with EROFS.
   */
  rebase(before: SandboxRoot, after: SandboxRoot): void {
    const hosts = this.#hosts;
    if (after === before || hosts === undefined || hosts.size === 0) return;
    const from = before.namespace.root;
    const to = after.namespace.root;
    const rootFs = from.fs;
    const map = (node: Node) => (node.fs === rootFs ? counterpart(from, to, node) : undefined);
    for (const host of hosts) {
      if (host.context.namespace === before.namespace) host.rebase(after.namespace, map);
    }
  }
}
