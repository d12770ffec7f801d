import { FsError } from '../errors.js';
import { firstEntryCookie, type Node, type Stat } from '../node.js';
import type { UndoLog } from './copy-up.js';
import type { OverlayDir } from './directory.js';
import type { OverlayLeaf } from './inode.js';
import { isReservedName, whiteoutName, type LookupState } from './lookup.js';

/**
 * Hiding lower entries from a directory's upper: whiteouts, the stats of
 * what they hid (for `changes()`), a lower file's name count, and the
 * reserved entries of an upper directory that goes. Every step is undone
 * by the caller's {@link UndoLog} on rollback.
 */

/**
 * If a lower entry is visible at `name` in `dir` (or shadowed by the upper
 * entry there), add the whiteout that hides it once the upper entry is gone.
 * Errors: the upper's.
 */
export function hideLowerAt(dir: OverlayDir, name: string, state: LookupState, node: Node, log: UndoLog): void {
  if (state.kind !== 'lower' && (state.kind !== 'upper' || state.lower === undefined)) return;
  hideLowerEntry(dir, name, state.lower!, node, log);
}

/** Whiteout `name`'s lower entry `lower` (shown as `node`) in `dir`, whose upper exists. Errors: the upper's. */
export function hideLowerEntry(dir: OverlayDir, name: string, lower: Node, node: Node | undefined, log: UndoLog): void {
  const upper = dir.upper!;
  upper.createFile(whiteoutName(name), 0o644);
  log.add(() => upper.unlink(whiteoutName(name)));
  noteHidden(dir, name, lower, node, log);
}

/**
 * The lower entry `lower` at `name` in `dir` (shown as `node`) is hidden
 * from now on: remember its stat as it is now, and count a lower name down.
 */
export function noteHidden(dir: OverlayDir, name: string, lower: Node, node: Node | undefined, log: UndoLog): void {
  if (!dir.hidden.has(name)) {
    const origin = node !== undefined && node.ino === lower.ino ? (node as { origin?: Stat }).origin : undefined;
    dir.hidden.set(name, origin ?? lower.stat());
    log.add(() => dir.hidden.delete(name));
  }
  if (node !== undefined && node.type !== 'directory' && (node as unknown as OverlayLeaf).upper === undefined) {
    const leaf = node as unknown as OverlayLeaf;
    leaf.lowerLinks--;
    leaf.lowerNameGone();
    log.add(() => {
      leaf.lowerLinks++;
      leaf.lowerNameBack();
    });
  }
}

/** Remove the reserved entries (whiteouts, opaque marker) of `dir`'s upper, restoring them on rollback. */
export function clearReserved(dir: OverlayDir, log: UndoLog): void {
  const upper = dir.upper;
  if (upper === undefined) return;
  const names: string[] = [];
  upper.readdir(firstEntryCookie, (e) => (isReservedName(e.name) && names.push(e.name), true));
  for (const name of names) {
    upper.unlink(name);
    log.add(() => upper.createFile(name, 0o644));
  }
}

/** True when an upper node has no name left (or its host file is gone): the upper may reuse its identity. */
export function isGone(node: Node): boolean {
  try {
    return node.stat().nlink === 0;
  } catch (error) {
    if (error instanceof FsError) return true;
    throw error;
  }
}
