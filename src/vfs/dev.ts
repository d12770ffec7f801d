import { coarseNowNs } from './clock.js';
import { fsError, FsError } from './errors.js';
import type { Namespace } from './namespace.js';
import {
  DeviceKind,
  firstEntryCookie,
  type DeviceNode,
  type DirEntry,
  type DirNode,
  type FileNode,
  type FileSystem,
  type Node,
  type Stat,
  type SymlinkNode,
  type TimeChange,
} from './node.js';

/** The devices of `/dev`, in the order readdir lists them (their inodes are 2, 3, … in this order). */
export const devNames: readonly DeviceKind[] = [
  DeviceKind.null,
  DeviceKind.zero,
  DeviceKind.full,
  DeviceKind.random,
  DeviceKind.urandom,
  DeviceKind.stdin,
  DeviceKind.stdout,
  DeviceKind.stderr,
];

/** Options of {@link DevFs}. */
export interface DevFsOptions {
  /** Device number reported by stat. */
  readonly dev: bigint;
}

/**
 * A container's minimal `/dev`: one directory holding the character devices
 * `null`, `zero`, `full`, `random`, `urandom`, `stdin`, `stdout` and
 * `stderr` (see {@link DeviceNode} for what each does).
 *
 * The set is fixed: every structural mutation inside it (create, mkdir,
 * link, symlink, unlink, rmdir, rename, and changing times) fails with
 * EROFS, so a guest cannot replace `/dev/null` with a file that a later
 * process of the same sandbox would write into. Reading and writing the
 * devices are not mutations of the filesystem and work as on Linux, where
 * a device node on a read-only mount stays writable. See docs/decisions.md.
 *
 * Inodes: the directory is 1, the devices 2… in {@link devNames} order.
 * Nothing is shared between instances; each namespace mounts its own.
 *
 * @example
 * const dev = new DevFs({ dev: 2n });
 * const zero = dev.root.lookup('zero'); // a DeviceNode
 */
export class DevFs implements FileSystem {
  readonly dev: bigint;
  readonly readonly = true;
  readonly root: DirNode;

  constructor(options: DevFsOptions) {
    this.dev = options.dev;
    const now = coarseNowNs();
    this.root = new DevDir(this, now);
  }
}

/**
 * Mount a fresh {@link DevFs} at `/dev` of `namespace`.
 *
 * An existing `/dev` directory of the root (symlinks followed, inside the
 * root) is covered, as a container runtime mounts over the image's `/dev`.
 * When the root has no `/dev`, the root is left untouched: the mount gets a
 * mount point of its own ({@link Namespace.mountAt}), so this works over a
 * read-only root, and neither an overlay's changes nor a tmpfs's quota see
 * a `/dev` the caller did not make.
 *
 * Errors: ENOTDIR (`/dev` exists and is not a directory), EBUSY (something
 * is already mounted there), path errors of resolving `/dev` (ELOOP…).
 */
export function mountDev(namespace: Namespace, dev: bigint): DevFs {
  const devfs = new DevFs({ dev });
  // Most roots have no /dev: found without a failed resolution (a thrown ENOENT costs more than the rest of a sandbox's /dev).
  let existing = namespace.child(namespace.root, 'dev');
  if (existing?.type === 'symlink') {
    existing = undefined;
    try {
      existing = namespace.resolve(namespace.root, '/dev', true, 'mount');
    } catch (error) {
      // A dangling /dev symlink is ENOENT too; it is covered by the mount point like a missing name.
      if (!(error instanceof FsError) || error.errno !== 'ENOENT') throw error;
    }
  }
  if (existing === undefined) namespace.mountAt('/', 'dev', devfs.root);
  else namespace.mount('/dev', devfs.root);
  return devfs;
}

class DevDir implements DirNode {
  readonly type = 'directory';
  readonly fs: DevFs;
  readonly ino = 1n;
  readonly parent = undefined;
  readonly #timeNs: bigint;
  // Made on first use: most processes never look in /dev, and a sandbox's root costs less without eight nodes.
  #list: readonly Device[] | undefined;

  constructor(fs: DevFs, timeNs: bigint) {
    this.fs = fs;
    this.#timeNs = timeNs;
  }

  get #devices(): readonly Device[] {
    return (this.#list ??= devNames.map((kind, i) => new Device(this.fs, BigInt(i + 2), kind, this.#timeNs)));
  }

  get size(): number {
    return devNames.length;
  }

  stat(): Stat {
    const t = this.#timeNs;
    return { dev: this.fs.dev, ino: this.ino, type: 'directory', mode: 0o755, nlink: 2, uid: 0, gid: 0, size: devNames.length, atimeNs: t, mtimeNs: t, ctimeNs: t };
  }

  lookup(name: string): Node | undefined {
    const i = devNames.indexOf(name as DeviceKind);
    return i < 0 ? undefined : this.#devices[i];
  }

  readdir(cookie: number, take: (entry: DirEntry) => boolean): void {
    // Entry i resumes at cookie firstEntryCookie + i + 1; the set never changes.
    const list = this.#devices;
    for (let i = Math.max(0, cookie - firstEntryCookie); i < list.length; i++) {
      const d = list[i]!;
      if (!take({ name: d.device, ino: d.ino, type: d.type, next: firstEntryCookie + i + 1 })) return;
    }
  }

  setTimes(_atime: TimeChange, _mtime: TimeChange): void {
    throw fsError('EROFS', 'utimensat', '/dev');
  }

  mkdir(name: string): DirNode {
    throw fsError('EROFS', 'mkdir', name);
  }

  createFile(name: string): FileNode {
    throw fsError('EROFS', 'open', name);
  }

  symlink(name: string): SymlinkNode {
    throw fsError('EROFS', 'symlink', name);
  }

  link(name: string): void {
    throw fsError('EROFS', 'link', name);
  }

  unlink(name: string): void {
    throw fsError('EROFS', 'unlink', name);
  }

  rmdir(name: string): void {
    throw fsError('EROFS', 'rmdir', name);
  }

  rename(oldName: string): void {
    throw fsError('EROFS', 'rename', oldName);
  }
}

class Device implements DeviceNode {
  readonly type = 'character-device';
  readonly size = 0;
  readonly fs: DevFs;
  readonly ino: bigint;
  readonly device: DeviceKind;
  readonly #timeNs: bigint;

  constructor(fs: DevFs, ino: bigint, device: DeviceKind, timeNs: bigint) {
    this.fs = fs;
    this.ino = ino;
    this.device = device;
    this.#timeNs = timeNs;
  }

  stat(): Stat {
    const t = this.#timeNs;
    return { dev: this.fs.dev, ino: this.ino, type: 'character-device', mode: 0o666, nlink: 1, uid: 0, gid: 0, size: 0, atimeNs: t, mtimeNs: t, ctimeNs: t };
  }

  setTimes(_atime: TimeChange, _mtime: TimeChange): void {
    throw fsError('EROFS', 'utimensat', `/dev/${this.device}`);
  }

  read(dst: Uint8Array, dstOffset: number, length: number): number {
    switch (this.device) {
      case 'null':
        return 0;
      case 'zero':
      case 'full':
        dst.fill(0, dstOffset, dstOffset + length);
        return length;
      case 'random':
      case 'urandom':
        // node:crypto loads on first use, not with the CLI (docs/decisions.md, "CLI start").
        if (length > 0) process.getBuiltinModule('node:crypto').randomFillSync(dst, dstOffset, length);
        return length;
      default:
        throw fsError('ENXIO', 'read', `/dev/${this.device}`);
    }
  }

  write(_src: Uint8Array, _srcOffset: number, length: number): number {
    switch (this.device) {
      case 'null':
      case 'zero':
      case 'random':
      case 'urandom':
        return length;
      case 'full':
        throw fsError('ENOSPC', 'write', '/dev/full');
      default:
        throw fsError('ENXIO', 'write', `/dev/${this.device}`);
    }
  }
}
