import { fsError } from '../errors.js';
import type { DirNode, FileNode, Node, SymlinkNode } from '../node.js';
import type { OverlayDir } from './directory.js';
import type { OverlayLeaf } from './inode.js';

/**
 * Copy-up: making the upper hold a node that only the lower had, so it can
 * be changed. One algorithm, one rollback:
 *
 * 1. the parent chain is copied up top-down (`mkdir` with the lower's mode
 *    and times), as Linux's overlayfs does;
 * 2. the node is created in the upper at every name it is visible by (a
 *    second name of a hardlinked lower inode becomes a link to the first
 *    copy), its data copied (only what a truncate keeps), its times set;
 * 3. every directory touched gets its times back: a copy-up is not a change
 *    of the directory in the merged view.
 *
 * Every step that created something pushes its inverse on an {@link UndoLog};
 * when anything fails (ENOSPC of the upper's quota, a host error), the log
 * is run backwards and the overlay is as it was, quotas included. The
 * caller's own step joins the same log, so a write that fails after its
 * copy-up leaves no copy behind.
 */

/** The inverse steps of a multi-step change, undone last-first on failure. */
export class UndoLog {
  readonly #steps: Array<() => void> = [];

  add(step: () => void): void {
    this.#steps.push(step);
  }

  /** Run every inverse step, newest first. */
  rollback(): void {
    for (let i = this.#steps.length - 1; i >= 0; i--) {
      try {
        this.#steps[i]!();
      } catch {
        // The original error is what the caller reports; one undo failing
        // (a host upper gone bad) must not stop the others.
      }
    }
    this.#steps.length = 0;
  }

  /** Run `fn` with a fresh log; roll back and rethrow if it throws. */
  static run<T>(fn: (log: UndoLog) => T): T {
    const log = new UndoLog();
    try {
      return fn(log);
    } catch (error) {
      log.rollback();
      throw error;
    }
  }
}

/** Run `fn`, which changes entries of `dir`, and give `dir` its atime and mtime back (now and on rollback). */
export function keepTimes<T>(dir: DirNode, log: UndoLog, fn: () => T): T {
  const { atimeNs, mtimeNs } = dir.stat();
  const restore = () => dir.setTimes(atimeNs, mtimeNs);
  log.add(restore);
  const out = fn();
  restore();
  return out;
}

/** On rollback, give `dir` back the atime and mtime it has now (an undone change is no change). */
export function timesOnRollback(dir: DirNode, log: UndoLog): void {
  const { atimeNs, mtimeNs } = dir.stat();
  log.add(() => dir.setTimes(atimeNs, mtimeNs));
}

/**
 * The upper directory of `dir`, copying it and its missing ancestors up.
 * Errors: ENOENT (the directory was removed), and the upper's (ENOSPC…).
 */
export function copyUpDir(dir: OverlayDir, log: UndoLog): DirNode {
  if (dir.upper !== undefined) return dir.upper;
  const chain: OverlayDir[] = [];
  for (let d: OverlayDir | undefined = dir; d !== undefined && d.upper === undefined; d = d.parentDir) {
    if (d.removed || d.lower === undefined) throw fsError('ENOENT', 'copy-up', d.name);
    chain.push(d);
  }
  let into = chain[chain.length - 1]!.parentDir?.upper;
  if (into === undefined) throw fsError('ENOENT', 'copy-up', dir.name);
  for (let i = chain.length - 1; i >= 0; i--) {
    const d = chain[i]!;
    const st = d.lower!.stat();
    const parent: DirNode = into;
    const made = keepTimes(parent, log, () => {
      const created = parent.mkdir(d.name, st.mode);
      log.add(() => parent.rmdir(d.name));
      created.setTimes(st.atimeNs, st.mtimeNs);
      return created;
    });
    d.attachUpper(made, st);
    log.add(() => d.detachUpper());
    into = made;
  }
  return into;
}

/**
 * Copy a file or symlink up with `dataBytes` of its data (Infinity: all),
 * at every name it is visible by; with no name left (unlinked while open),
 * as an unnamed upper node. Errors: ENOENT (no name left and not open),
 * then the upper's (ENOSPC, EFBIG…).
 */
export function copyUpLeaf<N extends FileNode | SymlinkNode>(node: OverlayLeaf<N>, log: UndoLog, dataBytes = Infinity): N {
  if (node.upper !== undefined) return node.upper;
  const origin = node.origin;
  let made: N | undefined;
  for (const [dir, name] of node.visibleNames()) {
    const into = copyUpDir(dir, log);
    keepTimes(into, log, () => {
      if (made === undefined) made = node.makeCopy(into, name, dataBytes);
      else into.link(name, made);
      log.add(() => into.unlink(name));
    });
  }
  if (made !== undefined) {
    node.attachUpper(made);
    log.add(() => node.detachUpper(origin));
    return made;
  }
  // No name left, and nothing open holds it: nothing could be written to it.
  if (node.opens === 0) throw fsError('ENOENT', 'copy-up', node.name);
  // Make it under a reserved name in the upper root, then drop the name;
  // the open descriptions hold the upper node alive from then on.
  const into = node.fs.upperRoot;
  const temp = `${orphanPrefix}${node.ino}`;
  return keepTimes(into, log, () => {
    if (into.lookup(temp) !== undefined) into.unlink(temp);
    const copy = node.makeCopy(into, temp, dataBytes);
    log.add(() => void (into.lookup(temp) !== undefined && into.unlink(temp)));
    node.attachUpper(copy);
    log.add(() => node.detachUpper(origin));
    into.unlink(temp);
    return copy;
  });
}

/** Reserved names for unnamed copies in the upper root, gone before the copy-up returns. */
const orphanPrefix = '.wh..wh..orphan.';

/**
 * Run `op` on the upper node of `node`, copying it up first (with
 * `dataBytes` of data) if needed; if `op` fails, the copy-up is undone too.
 */
export function withCopyUp<N extends FileNode | SymlinkNode, T>(node: OverlayLeaf<N>, dataBytes: number, op: (upper: N) => T): T {
  if (node.upper !== undefined) return op(node.upper);
  return UndoLog.run((log) => op(copyUpLeaf(node, log, dataBytes)));
}

/** Most entries a directory rename copies up before answering EXDEV. */
export const maxRenameCopyUp = 10_000;

/**
 * Copy up the whole merged subtree of `dir` (for a rename of a directory
 * that merges a lower one), after which no directory in it merges a lower
 * one any more: every lower entry it showed has an upper copy.
 *
 * It is iterative (no recursion on depth) and counts first: a subtree of
 * more than {@link maxRenameCopyUp} entries to copy gives EXDEV, as Linux's
 * overlayfs without redirect_dir does, before anything changes; `mv` then
 * falls back to copy and delete. Everything is charged to the upper.
 * Errors: EXDEV, and the upper's (ENOSPC…).
 */
export function copyUpTree(dir: OverlayDir, log: UndoLog): void {
  const merged = mergedDirs(dir);
  copyUpDir(dir, log);
  for (const d of merged) {
    const children: Node[] = [];
    d.forEachChild((child) => children.push(child));
    for (const child of children) {
      if (child.type === 'directory') copyUpDir(child as OverlayDir, log);
      else if (child.type === 'file' || child.type === 'symlink') copyUpLeaf(child as unknown as OverlayLeaf, log);
    }
  }
  for (const d of merged) {
    const { lower, hidden } = d;
    d.lower = undefined;
    d.hidden = new Map();
    log.add(() => {
      d.lower = lower;
      d.hidden = hidden;
    });
  }
}

/** The directories of the subtree that merge a lower one, parents first. Errors: EXDEV. */
function mergedDirs(top: OverlayDir): OverlayDir[] {
  const out: OverlayDir[] = [];
  const stack = [top];
  let count = 0;
  while (stack.length > 0) {
    const d = stack.pop()!;
    if (d.lower === undefined) continue;
    out.push(d);
    d.forEachChild((child) => {
      if (++count > maxRenameCopyUp) throw fsError('EXDEV', 'rename', top.name);
      if (child.type === 'directory') stack.push(child as OverlayDir);
    });
  }
  return out;
}
