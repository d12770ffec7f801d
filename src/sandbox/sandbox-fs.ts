import { posix } from 'node:path';
import { FsError, type DirNode, type Namespace, type Node } from '../vfs/index.js';
import { copyTree, type SandboxCopyOptions } from './sandbox-fs-copy.js';
import { HostTarget, hostSource } from './sandbox-fs-copy-host.js';
import { SandboxTarget, sandboxSource } from './sandbox-fs-copy-sandbox.js';
import { SandboxFileHandle, type SandboxOpenFlags } from './sandbox-fs-handle.js';
import { SandboxDirent, SandboxStats, toFsError, toNs, withPath } from './sandbox-fs-stats.js';
import { emptyTree, listTree } from './sandbox-fs-walk.js';

/** Options of {@link SandboxFs.readFile}: an encoding decodes the bytes to a string. */
export type SandboxReadFileOptions = BufferEncoding | { readonly encoding?: BufferEncoding | null | undefined };

/** Options of {@link SandboxFs.writeFile}. */
export interface SandboxWriteFileOptions {
  /** Permission bits of a file this call creates. Default 0o644 (0o666 under umask 022). */
  readonly mode?: number;
  /** `w` (default) create or replace the contents; `wx` only create (EEXIST); `a` append. */
  readonly flag?: 'w' | 'wx' | 'a';
}

/** Options of {@link SandboxFs.readdir}. */
export interface SandboxReaddirOptions {
  /** Give {@link SandboxDirent}s instead of names. */
  readonly withFileTypes?: boolean;
  /** List subdirectories too (never through a symlink); names are then relative paths. */
  readonly recursive?: boolean;
}

/** Options of {@link SandboxFs.mkdir}. */
export interface SandboxMkdirOptions {
  /** Make missing parents; an existing directory is no error. */
  readonly recursive?: boolean;
  /** Permission bits. Default 0o755 (0o777 under umask 022). */
  readonly mode?: number;
}

/** Options of {@link SandboxFs.rm}. */
export interface SandboxRmOptions {
  /** Remove a directory and everything in it. */
  readonly recursive?: boolean;
  /** A missing path is no error. */
  readonly force?: boolean;
}

/** A time for {@link SandboxFs.utimes}: seconds since the epoch (as Node), a Date, or exact nanoseconds. */
export type SandboxTime = number | Date | bigint;

const openFlags: ReadonlySet<string> = new Set(['r', 'r+', 'w', 'wx', 'a']);

/** `access` mode bit: writable. */
const wOk = 2;
/** The most bytes `readFile` reads from a character device (`/dev/zero` never ends). */
export const maxDeviceReadBytes = 1 << 20;

/**
 * Files in and out of a sandbox for the host app, shaped like
 * `node:fs/promises`, over the sandbox's {@link Namespace}.
 *
 * Paths are sandbox paths: absolute, or relative to `/`. They resolve as
 * everything in the sandbox does (DESIGN.md's container rules): symlinks,
 * absolute ones included, resolve against the sandbox root and nothing
 * resolves outside it. Each call happens at once, between two guest
 * calls, except the copies and streams, which move one chunk at a time.
 *
 * Errors: every method rejects only with the VFS's {@link FsError}: `code`
 * is the POSIX name (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EROFS,
 * ENOSPC…), `syscall` the operation and `path` the path it is about. Path
 * errors come first (ENAMETOOLONG, ENOENT, ENOTDIR, ELOOP), then the
 * operation's, as Linux orders them.
 *
 * @example
 * const fs = new SandboxFs(new Namespace(new Tmpfs({ dev: 1n }).root));
 * await fs.mkdir('/work/out', { recursive: true });
 * await fs.writeFile('/work/in.txt', 'input');
 * await fs.copyIn('./fixtures', '/work/fixtures', { recursive: true });
 * const text = await fs.readFile('/work/out/result.txt', 'utf8');
 */
export class SandboxFs {
  readonly #current: () => Namespace;

  /** Over `namespace`, or the one a function gives at each call (a sandbox's, which a fork replaces). */
  constructor(namespace: Namespace | (() => Namespace)) {
    this.#current = typeof namespace === 'function' ? namespace : () => namespace;
  }

  get #ns(): Namespace {
    return this.#current();
  }

  /**
   * The whole contents of a file, as bytes or, with an encoding, a string.
   * Errors: path errors, EISDIR, EFBIG (a device past 1 MiB), ENXIO.
   */
  async readFile(path: string, options?: { readonly encoding?: null | undefined } | null): Promise<Uint8Array>;
  async readFile(path: string, options: BufferEncoding | { readonly encoding: BufferEncoding }): Promise<string>;
  async readFile(path: string, options?: SandboxReadFileOptions | null): Promise<Uint8Array | string>;
  async readFile(path: string, options?: SandboxReadFileOptions | null): Promise<Uint8Array | string> {
    const encoding = typeof options === 'string' ? options : (options?.encoding ?? undefined);
    const bytes = withPath('open', path, () => {
      const node = this.#ns.resolve(this.#ns.root, path, true, 'open');
      if (node.type === 'directory') throw new FsError('EISDIR', 'read', path);
      if (node.type === 'file') {
        const out = new Uint8Array(node.size);
        return out.subarray(0, node.read(out, 0, out.length, 0));
      }
      if (node.type !== 'character-device') throw new FsError('EINVAL', 'read', path);
      const chunks: Uint8Array[] = [];
      for (let total = 0; ; ) {
        const chunk = new Uint8Array(64 * 1024);
        const n = node.read(chunk, 0, chunk.length);
        if (n === 0) return Buffer.concat(chunks);
        total += n;
        if (total > maxDeviceReadBytes) throw new FsError('EFBIG', 'read', path);
        chunks.push(chunk.subarray(0, n));
      }
    });
    return encoding === undefined ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding);
  }

  /**
   * Write a file: create it or, with `w`, replace its contents, with `a`
   * append to them (a string is written as UTF-8). When the data does not
   * fit the quota, `w` and `a` leave the old contents as they were.
   * Errors: EINVAL (another flag), path errors, EEXIST (`wx`), EISDIR, ENOSPC, EFBIG, EROFS.
   */
  async writeFile(path: string, data: string | Uint8Array, options: SandboxWriteFileOptions = {}): Promise<void> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const flag = options.flag ?? 'w';
    withPath('open', path, () => {
      if (flag !== 'w' && flag !== 'wx' && flag !== 'a') throw new FsError('EINVAL', 'open', path);
      const node = this.#openNode(path, flag, options.mode ?? 0o644, false);
      if (node.type !== 'file') {
        node.write(bytes, 0, bytes.length);
        return;
      }
      if (flag === 'a') {
        node.write(bytes, 0, bytes.length, node.size);
        return;
      }
      // Write first, then cut: a write that does not fit fails before it
      // changes anything, so the old contents survive an ENOSPC.
      node.write(bytes, 0, bytes.length, 0);
      node.truncate(bytes.length);
    });
  }

  /**
   * The entries of a directory (not `.` and `..`), in the order the
   * directory keeps them: names, relative paths with `recursive`, or
   * {@link SandboxDirent}s with `withFileTypes`.
   * Errors: path errors, ENOTDIR.
   */
  async readdir(path: string, options: SandboxReaddirOptions & { readonly withFileTypes: true }): Promise<SandboxDirent[]>;
  async readdir(path: string, options?: SandboxReaddirOptions & { readonly withFileTypes?: false }): Promise<string[]>;
  async readdir(path: string, options?: SandboxReaddirOptions): Promise<string[] | SandboxDirent[]>;
  async readdir(path: string, options: SandboxReaddirOptions = {}): Promise<string[] | SandboxDirent[]> {
    return withPath('scandir', path, () => {
      const dir = this.#ns.resolve(this.#ns.root, path, true, 'scandir');
      if (dir.type !== 'directory') throw new FsError('ENOTDIR', 'scandir', path);
      const entries = listTree(this.#ns, dir, posix.resolve('/', path), options.recursive === true);
      if (options.withFileTypes === true) return entries.map((e) => new SandboxDirent(e.name, e.parentPath, e.type));
      return entries.map((e) => e.relative);
    });
  }

  /**
   * Status of a path, following a symlink in its last component.
   * Errors: path errors.
   */
  async stat(path: string): Promise<SandboxStats> {
    return withPath('stat', path, () => new SandboxStats(this.#ns.stat(this.#ns.root, path, true)));
  }

  /**
   * Status of a path; a symlink in its last component is described itself.
   * Errors: path errors.
   */
  async lstat(path: string): Promise<SandboxStats> {
    return withPath('lstat', path, () => new SandboxStats(this.#ns.stat(this.#ns.root, path, false)));
  }

  /**
   * Make a directory; with `recursive`, its missing parents too, resolving
   * to the first directory made (undefined when none was).
   * Errors: path errors, EEXIST (without `recursive`, or a non-directory
   * in the way at the end), ENOTDIR (a non-directory in the way before), ENOSPC, EROFS.
   */
  async mkdir(path: string, options: SandboxMkdirOptions = {}): Promise<string | undefined> {
    const mode = options.mode ?? 0o755;
    return withPath('mkdir', path, () => {
      if (options.recursive !== true) {
        this.#ns.mkdir(this.#ns.root, path, mode);
        return undefined;
      }
      let first: string | undefined;
      let cur: DirNode = this.#ns.root;
      let walked = '/';
      const names = path.split('/');
      for (const [i, name] of names.entries()) {
        if (name === '' || name === '.') continue;
        walked = posix.join(walked, name);
        const last = names.slice(i + 1).every((n) => n === '' || n === '.');
        let node: Node;
        try {
          node = this.#ns.resolve(cur, name, true, 'mkdir');
        } catch (error) {
          if (!(error instanceof FsError) || error.code !== 'ENOENT') throw error;
          node = this.#ns.mkdir(cur, name, mode);
          first ??= walked;
        }
        if (node.type !== 'directory') throw new FsError(last ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
        cur = node;
      }
      return first;
    });
  }

  /**
   * Remove a file, symlink or, with `recursive`, a directory tree (a
   * symlink is removed, never followed). Like Linux's `rm -r`, the removal
   * enters a mount inside the tree and stops at the first error: EROFS in
   * a read-only mount, EBUSY at a mount point, naming that entry.
   * Errors: path errors (ENOENT unless `force`), EISDIR (a directory
   * without `recursive`), EBUSY, EROFS.
   */
  async rm(path: string, options: SandboxRmOptions = {}): Promise<void> {
    withPath('rm', path, () => {
      let node: Node;
      try {
        node = this.#ns.resolve(this.#ns.root, path, false, 'rm');
      } catch (error) {
        if (options.force === true && error instanceof FsError && error.code === 'ENOENT') return;
        throw error;
      }
      if (node.type !== 'directory') return this.#ns.unlink(this.#ns.root, path);
      if (options.recursive !== true) throw new FsError('EISDIR', 'rm', path);
      emptyTree(this.#ns, node, posix.resolve('/', path));
      this.#ns.rmdir(this.#ns.root, path);
    });
  }

  /**
   * Remove an empty directory.
   * Errors: path errors, ENOTDIR, ENOTEMPTY, EBUSY, EROFS.
   */
  async rmdir(path: string): Promise<void> {
    withPath('rmdir', path, () => this.#ns.rmdir(this.#ns.root, path));
  }

  /**
   * Remove a file or symlink.
   * Errors: path errors, EISDIR, EROFS.
   */
  async unlink(path: string): Promise<void> {
    withPath('unlink', path, () => this.#ns.unlink(this.#ns.root, path));
  }

  /**
   * Rename atomically, replacing what `to` names.
   * Errors: path errors, EINVAL (into itself), EXDEV, EISDIR, ENOTDIR, ENOTEMPTY, EBUSY, EROFS.
   */
  async rename(from: string, to: string): Promise<void> {
    withPath('rename', from, () => this.#ns.rename(this.#ns.root, from, this.#ns.root, to), to);
  }

  /**
   * Make a symlink at `path` holding `target` verbatim (it resolves, when
   * used, inside the sandbox).
   * Errors: path errors, EEXIST, ENOENT (empty target), ENOSPC, EROFS.
   */
  async symlink(target: string, path: string): Promise<void> {
    withPath('symlink', path, () => this.#ns.symlink(target, this.#ns.root, path));
  }

  /**
   * The target of a symlink, as stored.
   * Errors: path errors, EINVAL (not a symlink).
   */
  async readlink(path: string): Promise<string> {
    return withPath('readlink', path, () => this.#ns.readlink(this.#ns.root, path));
  }

  /**
   * Make `newPath` another name of the file at `existing` (a symlink
   * there is linked itself, as Linux's link does).
   * Errors: path errors, EEXIST, EPERM (a directory), EXDEV, EROFS.
   */
  async link(existing: string, newPath: string): Promise<void> {
    withPath('link', existing, () => this.#ns.link(this.#ns.root, existing, false, this.#ns.root, newPath), newPath);
  }

  /**
   * Set access and modification times, following a symlink.
   * Errors: EINVAL (a time that is not finite), path errors, EROFS.
   */
  async utimes(path: string, atime: SandboxTime, mtime: SandboxTime): Promise<void> {
    withPath('utime', path, () => this.#ns.setTimes(this.#ns.root, path, true, toNs(atime, path), toNs(mtime, path)));
  }

  /**
   * Set a file's size; growing fills with zeros.
   * Errors: EINVAL (a negative length), path errors, EISDIR, EFBIG, ENOSPC, EROFS.
   */
  async truncate(path: string, length = 0): Promise<void> {
    withPath('truncate', path, () => {
      if (!Number.isSafeInteger(length) || length < 0) throw new FsError('EINVAL', 'truncate', path);
      const node = this.#openNode(path, 'r+', 0);
      if (node.type !== 'file') throw new FsError('EINVAL', 'truncate', path);
      node.truncate(length);
    });
  }

  /**
   * Resolve when `path` exists (a symlink followed) and, asked with mode
   * 2 (`W_OK`), is on a writable filesystem. Permission bits are not
   * enforced in a sandbox: the host app may do anything.
   * Errors: path errors, EROFS.
   */
  async access(path: string, mode = 0): Promise<void> {
    withPath('access', path, () => {
      const node = this.#ns.resolve(this.#ns.root, path, true, 'access');
      if ((mode & wOk) !== 0 && node.fs.readonly && node.type !== 'character-device') throw new FsError('EROFS', 'access', path);
    });
  }

  /** Whether `path` exists, a symlink followed. Never rejects. */
  async exists(path: string): Promise<boolean> {
    try {
      this.#ns.resolve(this.#ns.root, path, true, 'access');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Open a file (or character device) for reading and writing through a
   * {@link SandboxFileHandle}; close it when done.
   * Errors: EINVAL (an unknown flag), path errors, ENOENT (`r`, `r+`), EEXIST (`wx`), EISDIR, EROFS, ENOSPC.
   */
  async open(path: string, flags: SandboxOpenFlags = 'r', mode = 0o644): Promise<SandboxFileHandle> {
    return withPath('open', path, () => new SandboxFileHandle(this.#openNode(path, flags, mode), path, flags));
  }

  /**
   * Copy a host file or tree into the sandbox, like `cp -R` without `-L`.
   * `sandboxPath` names the copy (a directory there is merged into); its
   * parent must exist. See {@link SandboxCopyOptions} and docs/decisions.md.
   * Each file goes in under a temporary name and is renamed into place,
   * so ENOSPC (the sandbox's quota) leaves no half-written file.
   * Errors: EISDIR (a directory without `recursive`), then the host's
   * errors naming the host path, the sandbox's naming the sandbox path
   * (ENOENT, ENOTDIR, EEXIST, ENOSPC, EROFS), ENOTSUP (a FIFO, socket or device).
   */
  async copyIn(hostPath: string, sandboxPath: string, options: SandboxCopyOptions = {}): Promise<void> {
    const source = await hostSource(hostPath, 'copyIn').catch((error: unknown) => Promise.reject(toFsError(error, 'copyIn', hostPath)));
    await copyTree(source, new SandboxTarget(this.#ns, 'copyIn'), sandboxPath, options, 'copyIn');
  }

  /**
   * Copy a sandbox file or tree out to the host. A symlink becomes a host
   * symlink with the same target text, never resolved on the host; nothing
   * is written outside `hostPath`, and a symlink met where a directory
   * would go is refused (EEXIST), never followed. Files are renamed into
   * place from temporary names; setuid, setgid and sticky bits are dropped.
   * Errors: EISDIR (a directory without `recursive`), then path errors
   * naming the sandbox path, the host's naming the host path (EEXIST,
   * EISDIR, ENOSPC…), ENOTSUP (a device: leave `/dev` out with `filter`).
   */
  async copyOut(sandboxPath: string, hostPath: string, options: SandboxCopyOptions = {}): Promise<void> {
    const node = withPath('copyOut', sandboxPath, () => this.#ns.resolve(this.#ns.root, sandboxPath, false, 'copyOut'));
    await copyTree(sandboxSource(this.#ns, node, posix.resolve('/', sandboxPath), 'copyOut'), new HostTarget('copyOut'), hostPath, options, 'copyOut');
  }

  /**
   * Copy inside the sandbox, with the rules of {@link copyIn}.
   * Errors: those of {@link copyIn}, and EINVAL (a directory into itself).
   */
  async cp(source: string, destination: string, options: SandboxCopyOptions = {}): Promise<void> {
    const node = withPath('cp', source, () => this.#ns.resolve(this.#ns.root, source, false, 'cp'));
    await copyTree(sandboxSource(this.#ns, node, posix.resolve('/', source), 'cp'), new SandboxTarget(this.#ns, 'cp', node), destination, options, 'cp');
  }

  /** Open (and with write flags, create or truncate) the file at `path` as `open(2)` would. */
  #openNode(path: string, flags: SandboxOpenFlags, mode: number, truncate = flags === 'w'): Node & { type: 'file' | 'character-device' } {
    if (!openFlags.has(flags)) throw new FsError('EINVAL', 'open', path);
    const create = flags !== 'r' && flags !== 'r+';
    const { node } = this.#ns.open(this.#ns.root, path, { follow: true, create, exclusive: flags === 'wx', mode });
    if (node.type === 'directory') throw new FsError('EISDIR', 'open', path);
    if (node.type !== 'file' && node.type !== 'character-device') throw new FsError('EINVAL', 'open', path);
    if (flags !== 'r' && node.type === 'file' && node.fs.readonly) throw new FsError('EROFS', 'open', path);
    if (truncate && node.type === 'file') node.truncate(0);
    return node;
  }
}
