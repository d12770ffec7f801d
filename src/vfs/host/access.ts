import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, statSync, type BigIntStats, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { Errno, FsError, fsError } from '../errors.js';

/**
 * What the access layer needs to know of a directory node: its host
 * identity and where it was last seen (its parent and its name there; the
 * root has no place).
 */
export interface HostDirPlace {
  readonly ino: bigint;
  readonly hostDev: bigint;
  readonly place: { readonly dir: HostDirPlace; readonly name: string } | undefined;
}

/**
 * How host paths are reached:
 * - `proc-fd` (Linux with /proc): every directory node is reached through
 *   an fd opened on it, and an entry is named `/proc/self/fd/N/NAME`. The
 *   kernel jumps to the fd's directory without walking any path, so this is
 *   `openat(N, NAME)`: nothing between the root and NAME can be swapped.
 * - `path`: a real path built from the node chain, with every ancestor
 *   re-checked (lstat, dev and ino) before a mutation and after a read.
 */
export type HostResolution = 'proc-fd' | 'path';

// Flags Node does not define on every platform count as none there.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;
// O_PATH opens a directory for lookups without needing read permission,
// like a path walk through an execute-only directory. Node does not export
// it; this is its value on every architecture Node runs Linux on.
const O_PATH = 0o10000000;
const dirFlags = constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | (process.platform === 'linux' ? O_PATH : 0);

/** Flags added to every host open of a regular file: never follow the last name, never block on a FIFO. */
export const fileOpenFlags = O_NOFOLLOW | O_NONBLOCK;

/** Open directory fds kept per filesystem (the root's is kept besides). */
const maxDirFds = 64;

/**
 * The one place that turns a (directory node, name) pair into a host path.
 * Every host call of a {@link HostDir} goes through it, so no guest string
 * is ever a host path: names are single components checked by names.ts and
 * directories are nodes found by earlier lookups.
 */
export class HostAccess {
  readonly rootPath: string;
  readonly resolution: HostResolution;
  readonly #root: HostDirPlace;
  readonly #rootFd: number | undefined;
  /** Open directory fds, least recently used first (proc-fd only). */
  readonly #fds = new Map<HostDirPlace, number>();
  /** The same fds and the root's, by number only, for {@link HostAccess.closeWhenCollected}. */
  readonly #open = new Set<number>();
  #disposed = false;

  constructor(rootPath: string, root: HostDirPlace, wanted: 'auto' | 'path') {
    this.rootPath = rootPath;
    this.#root = root;
    this.#rootFd = wanted === 'auto' ? openProcRoot(rootPath, root) : undefined;
    this.resolution = this.#rootFd === undefined ? 'path' : 'proc-fd';
    if (this.#rootFd !== undefined) this.#open.add(this.#rootFd);
  }

  /** Close this layer's fds once `owner` is garbage: a backstop for a filesystem nobody closed. */
  closeWhenCollected(owner: object): void {
    collected.register(owner, this.#open, this);
  }

  /**
   * A host path naming entry `name` of `dir`; nothing of `name` is followed
   * as long as the caller uses a no-follow call (lstat, O_NOFOLLOW, lutimes,
   * unlink, rename, rmdir, mkdir, symlink, link).
   * Errors: ENOENT (`dir` is no longer where it was, or is no longer the
   * same directory), host errors.
   */
  entry(dir: HostDirPlace, name: string, syscall: string): string {
    if (this.#disposed) throw fsError('EIO', syscall, name);
    if (this.#rootFd !== undefined) return `/proc/self/fd/${this.#dirFd(dir, syscall)}/${name}`;
    return join(this.#checkedPath(dir, syscall), name);
  }

  /**
   * A host path that names `dir` itself and is followed (readdir, utimes).
   * Errors: ENOENT (moved or replaced), host errors.
   */
  self(dir: HostDirPlace, syscall: string): string {
    if (this.#disposed) throw fsError('EIO', syscall);
    if (this.#rootFd !== undefined) return `/proc/self/fd/${this.#dirFd(dir, syscall)}`;
    return this.#checkedPath(dir, syscall);
  }

  /**
   * The host stat of `dir` itself, checked to be the same directory.
   * Errors: ENOENT (moved or replaced), host errors.
   */
  statDir(dir: HostDirPlace, syscall: string): BigIntStats {
    if (this.#disposed) throw fsError('EIO', syscall);
    if (this.#rootFd !== undefined) return fstatSync(this.#dirFd(dir, syscall), { bigint: true });
    const path = this.#checkedPath(dir, syscall);
    return call(syscall, '.', () => lstatSync(path, { bigint: true }));
  }

  /**
   * Re-check, after a read through a path, that the chain down to `dir`
   * still holds: a path-mode read that raced with a swap is thrown away.
   * Errors: ENOENT.
   */
  recheck(dir: HostDirPlace, syscall: string): void {
    if (this.#rootFd === undefined) this.#checkedPath(dir, syscall);
  }

  /**
   * List `dir` with entry types.
   * Errors: ENOENT, EACCES, host errors.
   */
  list(dir: HostDirPlace, syscall: string): Dirent[] {
    const path = this.self(dir, syscall);
    const dirents = call(syscall, '.', () => readdirSync(path, { withFileTypes: true }));
    this.recheck(dir, syscall);
    return dirents;
  }

  /** Start of a filesystem operation: the only point where cached fds are closed, so none closes under an operation. */
  begin(): void {
    while (this.#fds.size > maxDirFds) {
      const [dir, fd] = this.#fds.entries().next().value as [HostDirPlace, number];
      this.#fds.delete(dir);
      this.#open.delete(fd);
      closeSync(fd);
    }
  }

  /** Drop the cached fd of a directory that was removed. */
  forget(dir: HostDirPlace): void {
    const fd = this.#fds.get(dir);
    if (fd === undefined) return;
    this.#fds.delete(dir);
    this.#open.delete(fd);
    closeSync(fd);
  }

  /** Close every host fd this layer holds. Later calls reopen what they need. */
  close(): void {
    for (const fd of this.#fds.values()) {
      this.#open.delete(fd);
      closeSync(fd);
    }
    this.#fds.clear();
  }

  /**
   * Close everything, the root's fd included. Every later call fails with
   * EIO before it builds a path: the root's fd number may be reused by
   * anything else in the process.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.close();
    collected.unregister(this);
    if (this.#rootFd !== undefined) closeSync(this.#rootFd);
    this.#open.clear();
  }

  #dirFd(dir: HostDirPlace, syscall: string): number {
    if (dir === this.#root) return this.#rootFd!;
    const cached = this.#fds.get(dir);
    if (cached !== undefined) {
      this.#fds.delete(dir);
      this.#fds.set(dir, cached);
      return cached;
    }
    const place = dir.place;
    if (place === undefined) throw fsError('ENOENT', syscall);
    const path = `/proc/self/fd/${this.#dirFd(place.dir, syscall)}/${place.name}`;
    const fd = call(syscall, place.name, () => openSync(path, dirFlags), 'ENOENT');
    let st: BigIntStats;
    try {
      st = fstatSync(fd, { bigint: true });
    } catch (error) {
      closeSync(fd);
      throw hostError(error, syscall, place.name);
    }
    if (!st.isDirectory() || st.ino !== dir.ino || st.dev !== dir.hostDev) {
      closeSync(fd);
      throw fsError('ENOENT', syscall, place.name);
    }
    this.#fds.set(dir, fd);
    this.#open.add(fd);
    return fd;
  }

  /** The path of `dir` after lstat-ing every component from the root: each must be the directory the node chain says. */
  #checkedPath(dir: HostDirPlace, syscall: string): string {
    const chain: HostDirPlace[] = [];
    for (let d: HostDirPlace | undefined = dir; d !== undefined; d = d.place?.dir) {
      chain.push(d);
      if (d.place === undefined && d !== this.#root) throw fsError('ENOENT', syscall);
    }
    let path = this.rootPath;
    for (let i = chain.length - 1; i >= 0; i--) {
      const d = chain[i]!;
      if (d.place !== undefined) path = join(path, d.place.name);
      const st = call(syscall, d.place?.name ?? '.', () => lstatSync(path, { bigint: true }), 'ENOENT');
      if (!st.isDirectory() || st.ino !== d.ino || st.dev !== d.hostDev) throw fsError('ENOENT', syscall, d.place?.name);
    }
    return path;
  }
}

const collected = new FinalizationRegistry<Set<number>>((fds) => {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing left to release.
    }
  }
});

/** Open the root for proc-fd resolution, or undefined where /proc/self/fd does not act as openat (not Linux, no /proc). */
function openProcRoot(rootPath: string, root: HostDirPlace): number | undefined {
  if (process.platform !== 'linux') return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(rootPath, dirFlags);
    const viaProc = statSync(`/proc/self/fd/${fd}/.`, { bigint: true });
    if (viaProc.ino === root.ino && viaProc.dev === root.hostDev) return fd;
  } catch {
    // No usable /proc: the portable strategy serves.
  }
  if (fd !== undefined) closeSync(fd);
  return undefined;
}

const errnoNames = new Set<string>(Object.values(Errno));
const aliases: Readonly<Record<string, Errno>> = {
  EDQUOT: 'ENOSPC',
  EOPNOTSUPP: 'ENOTSUP',
  ENFILE: 'EMFILE',
  ERR_FS_EISDIR: 'EISDIR',
  EBADF: 'EIO', // a host fd of ours: never the guest's EBADF
  UNKNOWN: 'EIO', // libuv's name for an errno it does not know
};

/**
 * The FsError for a host error: its POSIX name where the VFS has one,
 * else EIO. The FsError names the guest-side `name`, never the host path.
 * Anything that is not a Node system error is a host bug and is rethrown.
 */
export function hostError(error: unknown, syscall: string, name: string): FsError {
  if (error instanceof FsError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // Node's own argument errors (ERR_INVALID_ARG_…) are bugs of ours, never a host errno.
  if (typeof code !== 'string' || (!/^E[A-Z0-9]+$/.test(code) && aliases[code] === undefined)) throw error;
  const alias = aliases[code];
  if (alias !== undefined) return fsError(alias, syscall, name);
  return fsError(errnoNames.has(code) ? (code as Errno) : 'EIO', syscall, name);
}

/**
 * Run a host call, turning its error into an FsError. `vanished` is the
 * errno that ELOOP and ENOTDIR become: a no-follow open that meets a
 * symlink or a non-directory where a node's entry was means that entry
 * was replaced since the lookup.
 */
export function call<T>(syscall: string, name: string, fn: () => T, vanished?: Errno): T {
  try {
    return fn();
  } catch (error) {
    const e = hostError(error, syscall, name);
    if (vanished !== undefined && (e.errno === 'ELOOP' || e.errno === 'ENOTDIR')) throw fsError(vanished, syscall, name);
    throw e;
  }
}
