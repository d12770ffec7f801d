/**
 * The node interfaces every filesystem in the VFS implements.
 *
 * A filesystem is a tree of nodes. The resolver (resolve.ts) walks it one
 * component at a time and never asks a filesystem to interpret a path, so
 * `..`, symlinks and mount crossings are handled in exactly one place for
 * every filesystem: tmpfs today, and the layer view, the overlay and host
 * binds later, without the WASI layer changing.
 *
 * Names passed to a directory are single components: never empty, never
 * `.` or `..`, never containing `/`. The resolver guarantees it.
 */

/**
 * The kinds of node. Character devices exist only in `/dev` (dev.ts); no
 * filesystem creates one from a guest's call or an image's layer, and
 * sockets and block devices are never created in a VFS.
 */
export const FileType = {
  directory: 'directory',
  file: 'file',
  symlink: 'symlink',
  characterDevice: 'character-device',
} as const;
export type FileType = (typeof FileType)[keyof typeof FileType];

/** What stat reports. Times are nanoseconds since the Unix epoch. */
export interface Stat {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly type: FileType;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** How a time is changed: an exact value, the current time, or left alone. */
export type TimeChange = bigint | 'now' | undefined;

/** Identity shared by the nodes of one filesystem instance. */
export interface FileSystem {
  /** Device number, unique within one namespace (assigned at mount). */
  readonly dev: bigint;
  /** True when every mutation fails with EROFS. */
  readonly readonly: boolean;
  /**
   * Symlinks inside this filesystem resolve within its mount root, like
   * openat2 RESOLVE_IN_ROOT: once a resolution follows one of its links, an
   * absolute target restarts at that root and `..` never climbs above it.
   * Default false (links resolve against the process root).
   */
  readonly confined?: boolean;
}

interface NodeBase {
  readonly fs: FileSystem;
  /** Stable for the life of the node; never reused within its filesystem. */
  readonly ino: bigint;
  stat(): Stat;
  /**
   * A directory and name this node was last given in its filesystem: a
   * hint only (a later unlink or a second link may have made it stale), so
   * a caller checks it with `dir.lookup(name) === node` before trusting it
   * ({@link pathInTree}). Filesystems that can answer cheaply do (tmpfs,
   * overlay); others leave it out.
   */
  where?(): { readonly dir: DirNode; readonly name: string } | undefined;
  /**
   * Set access and modification times.
   * Errors: EROFS.
   */
  setTimes(atime: TimeChange, mtime: TimeChange): void;
}

/** One entry returned by {@link DirNode.readdir}. */
export interface DirEntry {
  readonly name: string;
  readonly ino: bigint;
  readonly type: FileType;
  /** The cookie that resumes the listing just after this entry. */
  readonly next: number;
}

/**
 * A directory.
 *
 * Cookies: entries are listed in a stable order, and the cookie of an entry
 * stays valid while other entries are added or removed. The first real entry
 * follows cookie {@link firstEntryCookie}; 0 and 1 are reserved for `.` and
 * `..`, which the namespace adds.
 */
export interface DirNode extends NodeBase {
  readonly type: 'directory';
  /** The directory containing this one, or undefined for a filesystem root. */
  readonly parent: DirNode | undefined;
  /** The child named `name`, or undefined. */
  lookup(name: string): Node | undefined;
  /**
   * Entries after `cookie`, in cookie order, while `take` returns true.
   * `take` is called once per entry; returning false stops the listing
   * without consuming that entry.
   */
  readdir(cookie: number, take: (entry: DirEntry) => boolean): void;
  /** Number of entries other than `.` and `..`. */
  readonly size: number;
  /**
   * Create an empty directory.
   * Errors: EROFS, EEXIST, EMLINK, ENOSPC.
   */
  mkdir(name: string, mode: number): DirNode;
  /**
   * Create an empty regular file.
   * Errors: EROFS, EEXIST, ENOSPC.
   */
  createFile(name: string, mode: number): FileNode;
  /**
   * Create a symbolic link holding `target` verbatim.
   * Errors: EROFS, EEXIST, ENOSPC.
   */
  symlink(name: string, target: string): SymlinkNode;
  /**
   * Add a hard link to `node`.
   * Errors: EROFS, EXDEV (other filesystem), EPERM (a directory), EEXIST, EMLINK.
   */
  link(name: string, node: Node): void;
  /**
   * Remove a non-directory entry.
   * Errors: EROFS, ENOENT, EISDIR.
   */
  unlink(name: string): void;
  /**
   * Remove an empty directory entry.
   * Errors: EROFS, ENOENT, ENOTDIR, ENOTEMPTY, EBUSY (a mount point).
   */
  rmdir(name: string): void;
  /**
   * Atomically move entry `oldName` to `newName` in `newDir`, replacing it.
   * Errors: EROFS, EXDEV, ENOENT, EINVAL (into its own subtree), EISDIR,
   * ENOTDIR, ENOTEMPTY.
   */
  rename(oldName: string, newDir: DirNode, newName: string): void;
}

/**
 * A regular file.
 *
 * `read` and `write` copy between the caller's buffer and the file without
 * allocating, so the WASI layer can pass guest memory directly.
 */
export interface FileNode extends NodeBase {
  readonly type: 'file';
  readonly size: number;
  /** Copy up to `length` bytes at `position` into `dst[dstOffset…]`. Returns bytes read. */
  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number;
  /**
   * Copy `length` bytes from `src[srcOffset…]` into the file at `position`.
   * Errors: EROFS, EFBIG, ENOSPC.
   */
  write(src: Uint8Array, srcOffset: number, length: number, position: number): number;
  /**
   * Set the size; growing fills with zeros.
   * Errors: EROFS, EFBIG, ENOSPC.
   */
  truncate(size: number): void;
  /** An open description now refers to the node (keeps unlinked data alive). */
  retain(): void;
  /** An open description no longer refers to the node. */
  release(): void;
}

/** A symbolic link. Its target is resolved by the namespace, never by the host. */
export interface SymlinkNode extends NodeBase {
  readonly type: 'symlink';
  readonly target: string;
}

/**
 * The devices of a container's minimal `/dev`, by name.
 *
 * `stdin`, `stdout` and `stderr` stand for the opening process's own stdio:
 * the VFS cannot reach a process, so opening one is the WASI layer's job.
 */
export const DeviceKind = {
  null: 'null',
  zero: 'zero',
  full: 'full',
  random: 'random',
  urandom: 'urandom',
  stdin: 'stdin',
  stdout: 'stdout',
  stderr: 'stderr',
} as const;
export type DeviceKind = (typeof DeviceKind)[keyof typeof DeviceKind];

/**
 * A character device: reads and writes go to the device, never to stored
 * bytes, and there is no position (a seek is accepted and means nothing,
 * as Linux's lseek on /dev/null returns 0).
 *
 * Behaviour by {@link DeviceKind}, as Linux's drivers/char/mem.c and random.c:
 * - `null`: reads end of file; writes are swallowed.
 * - `zero`: reads zeros; writes are swallowed.
 * - `full`: reads zeros; writes fail with ENOSPC.
 * - `random`, `urandom`: read cryptographically random bytes; writes are
 *   accepted and ignored.
 * - `stdin`, `stdout`, `stderr`: no process is attached at this level, so
 *   reads and writes fail with ENXIO; the WASI layer opens them as the
 *   process's stream instead.
 *
 * https://man7.org/linux/man-pages/man4/null.4.html
 */
export interface DeviceNode extends NodeBase {
  readonly type: 'character-device';
  readonly device: DeviceKind;
  /** Always 0. */
  readonly size: number;
  /** Copy up to `length` bytes from the device into `dst[dstOffset…]`. Returns bytes read (0: end of file). Errors: ENXIO. */
  read(dst: Uint8Array, dstOffset: number, length: number): number;
  /** Give `length` bytes of `src` from `srcOffset` to the device. Returns bytes taken. Errors: ENOSPC (`full`), ENXIO. */
  write(src: Uint8Array, srcOffset: number, length: number): number;
}

export type Node = DirNode | FileNode | SymlinkNode | DeviceNode;

/** The cookie after `..`: where a directory's real entries start. */
export const firstEntryCookie = 2;
