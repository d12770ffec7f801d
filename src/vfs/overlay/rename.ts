import { fsError } from '../errors.js';
import { copyUpDir, copyUpLeaf, copyUpTree, keepTimes, timesOnRollback, UndoLog } from './copy-up.js';
import type { OverlayDir } from './directory.js';
import { clearReserved, hideLowerEntry, isGone, noteHidden } from './whiteouts.js';
import type { OverlayLeaf } from './inode.js';
import { isOpaque, isReservedName, opaqueMarker, whiteoutName } from './lookup.js';

/**
 * Rename `oldName` of `src` to `newName` of `dst`, replacing what is there.
 *
 * Upper entries move natively. A lower file or symlink is copied up first
 * (all its names), then moved, and a whiteout hides the lower entry left at
 * the old name. A directory that merges a lower one is copied up with its
 * whole subtree first ({@link copyUpTree}, EXDEV past its bound), so the
 * moved directory no longer depends on the lower at its old path; where the
 * new path has a lower directory, the moved one is made opaque.
 *
 * All checks come before any change; every change after them joins one
 * undo log, and the upper's own rename is the last step.
 *
 * Errors: ENOENT, EINVAL (a reserved name, or into its own subtree),
 * EISDIR, ENOTDIR, ENOTEMPTY, EXDEV, ENOSPC.
 */
export function renameEntry(src: OverlayDir, oldName: string, dst: OverlayDir, newName: string): void {
  if (isReservedName(oldName) || src.removed) throw fsError('ENOENT', 'rename', oldName);
  const from = src.stateOf(oldName);
  const node = src.fs.nodeFor(src, oldName, from);
  if (node === undefined) throw fsError('ENOENT', 'rename', oldName);
  if (isReservedName(newName)) throw fsError('EINVAL', 'rename', newName);
  if (dst.removed) throw fsError('ENOENT', 'rename', newName);
  const to = dst.stateOf(newName);
  const existing = dst.fs.nodeFor(dst, newName, to);
  if (existing === node) return; // Same inode: POSIX says do nothing.
  if (node.type === 'directory') {
    for (let d: OverlayDir | undefined = dst; d !== undefined; d = d.parentDir) {
      if (d === node) throw fsError('EINVAL', 'rename', newName);
    }
    if (existing !== undefined && existing.type !== 'directory') throw fsError('ENOTDIR', 'rename', newName);
    if (existing !== undefined && !(existing as OverlayDir).isEmpty()) throw fsError('ENOTEMPTY', 'rename', newName);
  } else if (existing?.type === 'directory') {
    throw fsError('EISDIR', 'rename', newName);
  }
  const dir = node.type === 'directory' ? (node as OverlayDir) : undefined;
  UndoLog.run((log) => {
    if (dir !== undefined) copyUpTree(dir, log);
    else copyUpLeaf(node as unknown as OverlayLeaf, log);
    const srcUpper = copyUpDir(src, log);
    const dstUpper = copyUpDir(dst, log);
    timesOnRollback(srcUpper, log);
    timesOnRollback(dstUpper, log);
    // The lower entry at the old name stays hidden once the upper one leaves.
    const lowerAtOld = from.kind === 'none' ? undefined : from.lower;
    if (lowerAtOld !== undefined) hideLowerEntry(src, oldName, lowerAtOld, node, log);
    // What the new name shows now is replaced.
    if (existing !== undefined) {
      const lowerAtNew = to.kind === 'none' ? undefined : to.lower;
      if (lowerAtNew !== undefined) noteHidden(dst, newName, lowerAtNew, existing, log);
      if (existing.type === 'directory') {
        const gone = existing as OverlayDir;
        gone.markRemoved(log);
        if (to.kind === 'upper') clearReserved(gone, log);
      }
    }
    if (to.kind === 'whiteout') {
      dstUpper.unlink(whiteoutName(newName));
      log.add(() => dstUpper.createFile(whiteoutName(newName), 0o644));
    }
    if (dir !== undefined) {
      const moved = dir.upper!;
      if (dst.lower?.lookup(newName)?.type === 'directory' && !isOpaque(moved)) {
        keepTimes(moved, log, () => moved.createFile(opaqueMarker, 0o644));
        log.add(() => moved.unlink(opaqueMarker));
      }
    }
    srcUpper.rename(oldName, dstUpper, newName);
    if (to.kind === 'none' && dst.lower !== undefined) {
      dst.born.add(newName);
      log.add(() => dst.born.delete(newName));
    }
    if (to.kind === 'upper' && (to.upper.type === 'directory' || isGone(to.upper))) src.fs.forget(to.upper);
    if (dir !== undefined) {
      dir.parentDir = dst;
      dir.name = newName;
      dir.hidden = new Map();
    } else {
      // Copied up above, so its lower-state names no longer matter: keep the new one as its hint.
      const leaf = node as unknown as OverlayLeaf;
      const before = { dir: leaf.parentDir, name: leaf.name };
      leaf.parentDir = dst;
      leaf.name = newName;
      log.add(() => ((leaf.parentDir = before.dir), (leaf.name = before.name)));
    }
  });
}
