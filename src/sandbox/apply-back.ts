import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  futimesSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type BigIntStats,
} from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, StrataError } from '../errors.js';
import { checkHostName, FsError, type FileNode, type Node, type OverlayChange, type Stat } from '../vfs/index.js';

/** What {@link applyChanges} did. */
export interface ApplyResult {
  /** The change paths written to the host, in the order they were written. */
  readonly applied: string[];
}

/** Options of {@link applyChanges}. */
export interface ApplyOptions {
  /**
   * Apply only these paths and everything under them (absolute, as the
   * changes name them). Added directories above a chosen path are applied
   * too, so it has somewhere to go.
   */
  readonly paths?: readonly string[];
}

/**
 * `docker diff` style: one line per change, `A /added`, `C /changed`,
 * `D /deleted`, each ending in a newline ('' for no changes).
 */
export function formatChanges(changes: readonly Pick<OverlayChange, 'path' | 'kind'>[]): string {
  const letter = { added: 'A', changed: 'C', deleted: 'D' } as const;
  return changes.map((c) => `${letter[c.kind]} ${c.path}\n`).join('');
}

/**
 * Write an overlay bind's changes back to the host directory it was made
 * over: review first (`formatChanges`), then apply.
 *
 * Everything is checked before anything is written:
 * - every path is made of single host names (`checkHostName`);
 * - no parent on the host is a symlink or a non-directory, unless the
 *   changes themselves make a directory there;
 * - nothing changed on the host since the guest saw it: a changed or
 *   deleted path must still be the inode the overlay recorded at copy-up
 *   or deletion (`lower`), with the same type, and for files and symlinks
 *   the same size and mtime (a directory's own size and mtime follow its
 *   entries, which are checked one by one, except under a deleted
 *   directory: see docs/decisions.md); an added path must still not exist.
 *
 * Then, in path order (a directory before its contents): each file is
 * written to a temp file in its host directory and renamed over the path,
 * so a reader sees the old file or the new one, never a mix; a symlink
 * likewise; a directory is made with mkdir; a deletion unlinks, or removes
 * a directory's whole subtree. Modes and atime/mtime are kept (times to the
 * microsecond, which is what Node's utimes carries); owners are not
 * changed. Names of one node (hard links) stay one inode. Every parent is
 * re-checked (lstat, not a symlink) right before each write.
 *
 * Errors (StrataError), in order: ERR_BAD_PATH (`hostDir` is not a
 * directory), ERR_INVALID_OPTION (a `paths` entry that
 * names no change, or a change path that is not absolute and clean),
 * ERR_APPLY_FAILED (a bad host name, or a parent that is a symlink or not a
 * directory: nothing written), ERR_APPLY_CONFLICT (names every conflicting
 * path: nothing written), ERR_APPLY_FAILED (a write failed part way: the
 * message names the path and how many were applied before it).
 */
export function applyChanges(changes: readonly OverlayChange[], hostDir: string, options: ApplyOptions = {}): ApplyResult {
  let root: string;
  try {
    root = realpathSync.native(hostDir);
    if (!lstatSync(root).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (error) {
    throw new StrataError(ErrorCode.badPath, `cannot apply to ${hostDir}: ${(error as Error).message}`, { cause: error });
  }
  const selected = select(changes, options.paths);
  const made = new Set(selected.filter((c) => c.kind !== 'deleted' && c.type === 'directory').map((c) => c.path));
  for (const change of selected) checkParents(root, change.path, made, 'apply');
  const conflicts = selected.flatMap((c) => {
    const why = conflict(c, hostPath(root, c.path));
    return why === undefined ? [] : [`${c.path} (${why})`];
  });
  if (conflicts.length > 0) {
    const shown = conflicts.slice(0, 20).join(', ') + (conflicts.length > 20 ? `, and ${conflicts.length - 20} more` : '');
    throw new StrataError(ErrorCode.applyConflict, `changed on the host since the overlay mount was made: ${shown}; nothing was applied`);
  }

  const applied: string[] = [];
  const writtenAt = new Map<Node, string>();
  const dirTimes: Array<[string, Stat]> = [];
  for (const change of selected) {
    try {
      checkParents(root, change.path, new Set(), 'apply');
      write(change, hostPath(root, change.path), writtenAt, dirTimes);
    } catch (error) {
      if (error instanceof StrataError) throw error;
      throw new StrataError(ErrorCode.applyFailed, `cannot apply ${change.path}: ${(error as Error).message}; ${applied.length} path(s) were applied before it`, { cause: error });
    }
    applied.push(change.path);
  }
  // Directory times last, deepest first: writing their contents moved them.
  for (const [path, st] of dirTimes.reverse()) utimesSync(path, seconds(st.atimeNs), seconds(st.mtimeNs));
  return { applied };
}

/** The changes to apply: all, or those at or under `paths`, with the added directories above them. */
function select(changes: readonly OverlayChange[], paths: readonly string[] | undefined): OverlayChange[] {
  for (const c of changes) {
    if (!isCleanPath(c.path)) throw new StrataError(ErrorCode.invalidOption, `change path ${JSON.stringify(c.path)} is not an absolute, clean path`);
  }
  if (paths === undefined) return [...changes];
  const wanted = new Set<OverlayChange>();
  for (const raw of paths) {
    const p = raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
    const matched = changes.filter((c) => p === '/' || c.path === p || c.path.startsWith(`${p}/`));
    if (!isCleanPath(p) || matched.length === 0) throw new StrataError(ErrorCode.invalidOption, `'${raw}' names no change`);
    for (const c of matched) wanted.add(c);
  }
  for (const c of [...wanted]) {
    for (let at = parentOf(c.path); at !== '/'; at = parentOf(at)) {
      const above = changes.find((d) => d.path === at && d.kind === 'added');
      if (above !== undefined) wanted.add(above);
    }
  }
  return changes.filter((c) => wanted.has(c));
}

function isCleanPath(p: string): boolean {
  return p === '/' || (p.startsWith('/') && p.split('/').slice(1).every((n) => n !== '' && n !== '.' && n !== '..' && !n.includes('\0')));
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** The host path of change path `p`: every component checked as one host name. */
function hostPath(root: string, p: string): string {
  const names = p === '/' ? [] : p.split('/').slice(1);
  for (const n of names) {
    try {
      checkHostName(n, 'apply');
    } catch (error) {
      if (!(error instanceof FsError)) throw error;
      throw new StrataError(ErrorCode.applyFailed, `${p}: '${n}' is not a valid file name on this host; nothing was applied`);
    }
  }
  return join(root, ...names);
}

/**
 * Every parent of `p` on the host must be a real directory (lstat, so a
 * symlink is refused, never followed), or missing where `made` will
 * create a directory first.
 */
function checkParents(root: string, p: string, made: ReadonlySet<string>, syscall: string): void {
  const names = p.split('/').slice(1, -1);
  let at = '';
  let host = hostPath(root, '/');
  for (const n of names) {
    at += `/${n}`;
    host = join(host, n);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (st?.isDirectory() === true) continue;
    // The changes make a directory here: what the host has now is checked
    // as that change's conflict, and is replaced, never followed.
    if (made.has(at)) continue;
    const what = st === undefined ? 'is missing' : st.isSymbolicLink() ? 'is a symlink' : 'is not a directory';
    throw new StrataError(ErrorCode.applyFailed, `${syscall} ${p}: parent ${at} ${what} on the host; nothing was applied`);
  }
}

/** Why the host no longer matches what the guest saw at `change.path`, or undefined. */
function conflict(change: OverlayChange, host: string): string | undefined {
  const st = lstatIfAny(host);
  if (change.kind === 'added') return st === undefined ? undefined : 'it now exists on the host';
  const lower = change.lower;
  if (lower === undefined) return 'no record of what the guest saw';
  if (st === undefined) return 'it is gone from the host';
  // Copy-up keeps the lower's inode number (nodes made in the upper have
  // bit 63 set): a node that came from another host inode than the one
  // there now means the host replaced it, whatever `lower` says.
  const ino = change.node?.ino;
  if (ino !== undefined && ino < fromUpperBit && ino !== st.ino) return 'it was replaced';
  const type = typeOf(st);
  if (type !== lower.type) return `it is now a ${type}, was a ${lower.type}`;
  if (st.ino !== lower.ino) return 'it was replaced';
  if (lower.type !== 'directory' || change.kind === 'deleted' || change.type !== 'directory') {
    if (Number(st.size) !== lower.size) return `its size is ${st.size}, was ${lower.size}`;
    if (st.mtimeNs !== lower.mtimeNs) return 'it was modified';
  }
  return undefined;
}

const fromUpperBit = 1n << 63n;

/** lstat, or undefined where nothing is (a parent that is a file counts as nothing: parents are checked on their own). */
function lstatIfAny(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

function typeOf(st: BigIntStats): string {
  return st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'special file';
}

/** Apply one change at `host`. */
function write(change: OverlayChange, host: string, writtenAt: Map<Node, string>, dirTimes: Array<[string, Stat]>): void {
  const existing = lstatIfAny(host);
  if (change.kind === 'deleted') {
    if (existing !== undefined) rmSync(host, { recursive: existing.isDirectory(), force: true });
    return;
  }
  const node = change.node;
  if (node === undefined) throw new Error('the change has no node');
  const st = node.stat();
  if (node.type === 'directory') {
    if (existing !== undefined && !existing.isDirectory()) unlinkSync(host);
    if (existing === undefined || !existing.isDirectory()) mkdirSync(host, { mode: st.mode });
    chmodSync(host, st.mode);
    dirTimes.push([host, st]);
    return;
  }
  // Files and symlinks: made beside the path, then renamed over it.
  if (existing?.isDirectory() === true) rmSync(host, { recursive: true, force: true });
  const temp = join(host, '..', `.strata-apply-${process.pid}-${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}`);
  try {
    const twin = writtenAt.get(node);
    if (twin !== undefined) linkSync(twin, temp);
    else if (node.type === 'symlink') {
      symlinkSync(node.target, temp, 'file');
      lutimesSync(temp, seconds(st.atimeNs), seconds(st.mtimeNs));
    } else if (node.type === 'file') writeFile(node, temp, st);
    else throw new Error(`a ${node.type} cannot be applied`);
    renameSync(temp, host);
  } finally {
    // Left only if the rename failed, or renamed onto another name of the same inode.
    if (lstatSync(temp, { throwIfNoEntry: false }) !== undefined) unlinkSync(temp);
  }
  if (node.type === 'file') writtenAt.set(node, host);
}

const chunk = 1 << 20;

/** Copy `node` into a new file at `temp` with its mode and times. */
function writeFile(node: FileNode, temp: string, st: Stat): void {
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    const buf = new Uint8Array(Math.min(chunk, Math.max(st.size, 1)));
    for (let pos = 0; ; ) {
      const n = node.read(buf, 0, buf.length, pos);
      if (n === 0) break;
      for (let done = 0; done < n; ) done += writeSync(fd, buf, done, n - done, pos + done);
      pos += n;
    }
    fchmodSync(fd, st.mode);
    futimesSync(fd, seconds(st.atimeNs), seconds(st.mtimeNs));
  } finally {
    closeSync(fd);
  }
}

/** Seconds for Node's utimes, which libuv truncates to microseconds: rounded to the nearest one. */
function seconds(ns: bigint): number {
  return Number(ns / 1_000_000_000n) + Number((ns % 1_000_000_000n) + 500n) / 1e9;
}
