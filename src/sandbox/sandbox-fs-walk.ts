import { firstEntryCookie, type DirNode, type FileType, type Namespace } from '../vfs/index.js';
import { withPath } from './sandbox-fs-stats.js';

/** One entry found by {@link listTree}. */
export interface TreeEntry {
  /** The path below the listed directory (`a/b`). */
  readonly relative: string;
  /** The sandbox path of the directory holding it. */
  readonly parentPath: string;
  readonly name: string;
  readonly type: FileType;
}

/** The entries of `dir` (not `.` and `..`), as the namespace lists them (a mount point as its mounted root). */
function entriesOf(ns: Namespace, dir: DirNode): { name: string; type: FileType }[] {
  const entries: { name: string; type: FileType }[] = [];
  ns.readdir(dir, firstEntryCookie, (e) => entries.push({ name: e.name, type: e.type }) > 0);
  return entries;
}

/**
 * The entries of `dir`, each directory's subtree right after it when
 * `recursive` (never through a symlink). Iterative, so a tree deeper than
 * the host's stack (a guest can build one) lists like any other.
 * Errors: none of its own; a mount's errors surface from the namespace.
 */
export function listTree(ns: Namespace, dir: DirNode, path: string, recursive: boolean): TreeEntry[] {
  const out: TreeEntry[] = [];
  const stack = [{ dir, relative: '', path, pending: entriesOf(ns, dir).reverse() }];
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    const entry = frame.pending.pop();
    if (entry === undefined) {
      stack.pop();
      continue;
    }
    const relative = frame.relative === '' ? entry.name : `${frame.relative}/${entry.name}`;
    out.push({ relative, parentPath: frame.path, name: entry.name, type: entry.type });
    if (recursive && entry.type === 'directory') {
      const child = ns.resolve(frame.dir, entry.name, false, 'scandir') as DirNode;
      stack.push({ dir: child, relative, path: childOf(frame.path, entry.name), pending: entriesOf(ns, child).reverse() });
    }
  }
  return out;
}

/**
 * Remove everything in `dir` (at sandbox path `path`), depth first, like
 * `rm -r`: symlinks are removed, never followed; a mount inside is entered
 * as Linux's rm enters it, and its mount point then fails with EBUSY.
 * Stops at the first error, an FsError naming the entry. Iterative, like
 * {@link listTree}.
 */
export function emptyTree(ns: Namespace, dir: DirNode, path: string): void {
  interface Frame {
    readonly dir: DirNode;
    readonly path: string;
    readonly pending: string[];
    /** Where this directory is named, to remove it once empty (undefined for `dir` itself). */
    readonly from: { readonly dir: DirNode; readonly name: string } | undefined;
  }
  const names = (d: DirNode): string[] => entriesOf(ns, d).map((e) => e.name).reverse();
  const stack: Frame[] = [{ dir, path, pending: names(dir), from: undefined }];
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    const name = frame.pending.pop();
    if (name === undefined) {
      stack.pop();
      const { from } = frame;
      if (from !== undefined) withPath('rm', frame.path, () => ns.rmdir(from.dir, from.name));
      continue;
    }
    const childPath = childOf(frame.path, name);
    const parent = frame.dir;
    withPath('rm', childPath, () => {
      const child = ns.resolve(parent, name, false, 'rm');
      if (child.type === 'directory') stack.push({ dir: child, path: childPath, pending: names(child), from: { dir: parent, name } });
      else ns.unlink(parent, name);
    });
  }
}

/** The path of `name` in the normalized sandbox directory path `dir`, without normalizing again, so deep trees stay linear. */
export function childOf(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}
