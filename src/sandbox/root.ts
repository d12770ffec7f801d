import { ErrorCode, StrataError } from '../errors.js';
import { firstEntryCookie, FsError, HostDir, mountDev, Namespace, Overlay, Tmpfs, type DirNode, type FileSystem, type Node, type TmpfsLimits, type TmpfsUsage } from '../vfs/index.js';
import { identityView } from './identity.js';
import type { Image } from './image.js';
import { buildMount, type BuiltMount, type MountSpec } from './mounts.js';
import type { Mutable } from './mutable.js';

/** Root modes of a sandbox. */
export const RootMode = {
  /** Every mutation fails with EROFS; tmpfs at `/tmp` and `/run` unless the caller mounts its own tmpfs. */
  readonly: 'readonly',
  /** A copy-on-write upper over the image (the default over an image). */
  overlay: 'overlay',
  /** A private in-memory root: empty, or seeded from the image (the default without one). */
  tmpfs: 'tmpfs',
} as const;
export type RootMode = (typeof RootMode)[keyof typeof RootMode];

/** Where the scratch tmpfs of a read-only root go, unless the caller mounts its own tmpfs. */
export const readonlyScratch = ['/tmp', '/run'] as const;

/** What {@link buildRoot} needs. */
export interface RootOptions {
  readonly mode: RootMode;
  readonly image?: Image;
  /** Quotas of the tmpfs root or of the overlay's in-memory upper. */
  readonly limits?: Partial<TmpfsLimits>;
  /** The overlay's upper in a host directory, kept after the sandbox. */
  readonly upperDir?: string;
  readonly mounts: readonly MountSpec[];
  /** Mount the minimal `/dev`. */
  readonly dev: boolean;
  readonly cwd: string;
  readonly storeRoot: string;
}

/** A built root: the namespace and what backs it. */
export interface SandboxRoot {
  readonly mode: RootMode;
  readonly namespace: Namespace;
  /** The filesystem whose quotas {@link usage} reports: the tmpfs root, or the overlay's upper. */
  readonly overlay?: Overlay;
  readonly tmpfs?: Tmpfs;
  /** Mounts by target, in mount order. */
  readonly mounts: ReadonlyMap<string, BuiltMount>;
  /** What it was built from (a fork builds its child's mounts from the same). */
  readonly options: RootOptions;
  /** True when a bind at `/` replaced the root. */
  readonly hostRoot: boolean;
  /** The next free device number in its namespace. */
  readonly nextDev: () => bigint;
  /** Host directories it holds open (an upper, binds, volumes, overlay lowers), for close(). */
  readonly hostDirs: readonly HostDir[];
}

/** The root directory of a sandbox and the filesystem behind it, before mounts. */
export interface RootFs {
  readonly root: DirNode;
  readonly overlay?: Overlay;
  readonly tmpfs?: Tmpfs;
  /** Host directories the root itself holds open (an upper, or a bind at `/`). */
  readonly hostDirs?: readonly HostDir[];
}

/**
 * Build a sandbox's root and mount table.
 *
 * Over an image: `readonly` is the image's shared view itself; `overlay`
 * puts a fresh upper over it (O(1): nothing of the image is walked or
 * copied); `tmpfs` copies the image into a private tmpfs (O(files), and
 * charged to its quotas). Mount points that do not exist are made as
 * synthetic mount points by the namespace, so a read-only or overlay root
 * is never written to make them.
 *
 * Errors: ERR_INVALID_OPTION (a mode that needs an image, a bad mount,
 * two mounts at one target); ERR_BAD_PATH (a mount point under a file, or
 * a host source that is missing); FsError ENOSPC (seeding past the quota).
 */
export function buildRoot(options: RootOptions): SandboxRoot {
  const { mode, image } = options;
  const dev = devCounter();
  let root: DirNode;
  let tmpfs: Tmpfs | undefined;
  let overlay: Overlay | undefined;
  const hostDirs: HostDir[] = [];
  if (mode !== RootMode.tmpfs && image === undefined) {
    throw new StrataError(ErrorCode.invalidOption, `root mode '${mode}' needs an image (without one the root is 'tmpfs')`);
  }
  if (options.upperDir !== undefined && mode !== RootMode.overlay) {
    throw new StrataError(ErrorCode.invalidOption, `an upper directory needs root mode 'overlay', not '${mode}'`);
  }
  const hostRoot = options.mounts.length === 0 ? undefined : options.mounts.find((m) => normalize(m.target) === '/');
  if (hostRoot !== undefined) {
    // A bind at `/` replaces the root: a trusted process given a host tree.
    if (hostRoot.type !== 'bind' || image !== undefined || mode !== RootMode.tmpfs) {
      throw new StrataError(ErrorCode.invalidOption, 'only a bind mount can be mounted at /, and only in a sandbox without an image');
    }
    const built = buildMount(hostRoot, dev(), options);
    if (built.hostDir !== undefined) hostDirs.push(built.hostDir);
    root = built.root;
  } else switch (mode) {
    case RootMode.readonly:
      root = image!.view.root;
      break;
    case RootMode.overlay: {
      const upperDir = options.upperDir === undefined ? undefined : new HostDir({ path: options.upperDir, readonly: false, dev: dev() });
      if (upperDir !== undefined) hostDirs.push(upperDir);
      const upper = upperDir?.root;
      overlay = new Overlay({ lower: image!.view.root, dev: 1n, ...(upper !== undefined && { upper }), ...(options.limits !== undefined && { limits: options.limits }) });
      root = overlay.root;
      break;
    }
    case RootMode.tmpfs:
      tmpfs = new Tmpfs(options.limits === undefined ? { dev: 1n } : { dev: 1n, limits: options.limits });
      if (image !== undefined) {
        try {
          copyTree(image.view.root, tmpfs.root);
        } catch (error) {
          if (!(error instanceof FsError) || error.errno !== 'ENOSPC') throw error;
          const { maxBytes, maxInodes } = tmpfs.limits;
          throw new StrataError(ErrorCode.invalidOption, `the image does not fit in the tmpfs root's quota (${maxBytes} bytes, ${maxInodes} inodes): raise tmpfs.maxBytes/maxInodes, or use an overlay root`, { cause: error });
        }
      }
      root = tmpfs.root;
      break;
    default:
      throw new StrataError(ErrorCode.invalidOption, `unknown root mode '${String(mode)}' (one of readonly, overlay, tmpfs)`);
  }
  const rootFs: Mutable<RootFs> = { root, hostDirs };
  if (overlay !== undefined) rootFs.overlay = overlay;
  if (tmpfs !== undefined) rootFs.tmpfs = tmpfs;
  return mountAll(options, rootFs, dev, hostRoot);
}

/**
 * Mount `options.mounts` (each built afresh from its spec) and `/dev` over
 * `rootFs`, in a new namespace with device numbers from `dev`.
 * Errors: those of {@link buildRoot} about mounts.
 */
export function mountAll(options: RootOptions, rootFs: RootFs, dev = devCounter(), hostRoot?: MountSpec): SandboxRoot {
  const { mode } = options;
  const namespace = new Namespace(rootFs.root);
  const mounts = new Map<string, BuiltMount>();
  const hostDirs: HostDir[] = rootFs.hostDirs === undefined ? [] : [...rootFs.hostDirs];
  const specs = options.mounts.length === 0 ? [] : options.mounts.filter((m) => m !== hostRoot);
  if (mode === RootMode.readonly && !specs.some((m) => m.type === 'tmpfs')) {
    for (const target of readonlyScratch) specs.push({ type: 'tmpfs', target });
  }
  // Parents before children, so /a is mounted before /a/b.
  if (specs.length > 1) specs.sort((a, b) => depth(a.target) - depth(b.target));
  for (const spec of specs) {
    const target = normalize(spec.target);
    if (mounts.has(target)) throw new StrataError(ErrorCode.invalidOption, `two mounts at '${target}'`);
    const built = buildMount({ ...spec, target }, dev(), options);
    if (built.hostDir !== undefined) hostDirs.push(built.hostDir);
    try {
      mountAnywhere(namespace, target, built.root, dev);
    } catch (error) {
      if (error instanceof FsError) throw new StrataError(ErrorCode.badPath, `cannot mount ${spec.type} at '${target}': ${error.errno}`, { cause: error });
      throw error;
    }
    mounts.set(target, built);
  }
  if (options.dev) mountDev(namespace, dev());
  return withRootFs({ mode, namespace, mounts, options, hostRoot: hostRoot !== undefined, nextDev: dev, hostDirs }, rootFs);
}

/**
 * The same mounts, the very filesystems already built, over a new root
 * directory, in a new namespace: what a fork leaves its parent (its bind,
 * volume, identity and tmpfs mounts keep their contents). A namespace's
 * mount table is keyed by the nodes it covers, so it is rebuilt rather
 * than changed. Errors: none past those the first mounting passed.
 */
export function remount(root: SandboxRoot, rootFs: RootFs): SandboxRoot {
  const namespace = new Namespace(rootFs.root);
  for (const [target, built] of root.mounts) mountAnywhere(namespace, target, built.root, root.nextDev);
  if (root.options.dev) mountDev(namespace, root.nextDev());
  const { mode, mounts, options, hostRoot, nextDev } = root;
  const hostDirs = [...(rootFs.hostDirs ?? []), ...[...mounts.values()].flatMap((m) => (m.hostDir === undefined ? [] : [m.hostDir]))];
  return withRootFs({ mode, namespace, mounts, options, hostRoot, nextDev, hostDirs }, rootFs);
}

/** `root` with the filesystem behind `rootFs` (its overlay or tmpfs), set one by one (no spreads: part of every spawn's cost). */
function withRootFs(root: Mutable<SandboxRoot>, rootFs: RootFs): SandboxRoot {
  if (rootFs.overlay !== undefined) root.overlay = rootFs.overlay;
  if (rootFs.tmpfs !== undefined) root.tmpfs = rootFs.tmpfs;
  return root;
}

/**
 * What closing the sandbox releases: the host directories the root holds
 * open, and the memory of its in-memory filesystems (the tmpfs root, an
 * overlay's in-memory upper, tmpfs mounts and overlay mounts' uppers),
 * whose pages go to the page pool for other sandboxes' files. Their
 * operations then fail with EIO ({@link Tmpfs.release}); a frozen tmpfs
 * (shared with a fork, or being written out as a commit) is left as it is.
 */
export function closeRoot(root: SandboxRoot): void {
  for (const dir of root.hostDirs) dir.close();
  root.tmpfs?.release();
  releaseUpper(root.overlay);
  for (const mount of root.mounts.values()) {
    if (mount.root.fs instanceof Tmpfs) mount.root.fs.release();
    releaseUpper(mount.overlay);
  }
}

function releaseUpper(overlay: Overlay | undefined): void {
  const upper = overlay?.upperRoot.fs;
  if (upper instanceof Tmpfs) upper.release();
}

/** Device numbers of one namespace, from 10 (1 is the root's). */
function devCounter(): () => bigint {
  let next = 10n;
  return () => next++;
}

/** Bytes and inodes used by what the sandbox writes: its tmpfs root, or its overlay's upper. */
export function usage(root: SandboxRoot): TmpfsUsage {
  const fs: FileSystem | undefined = root.tmpfs ?? root.overlay?.upperRoot.fs;
  if (fs instanceof Tmpfs) return fs.usage;
  return { bytes: 0, inodes: 0 };
}

/**
 * Mount over the directory at `target`. Missing components are added as
 * synthetic mount points: each missing parent is an empty read-only
 * directory, and the last name is the mount itself, so the root is never
 * written to make a mount point.
 */
function mountAnywhere(namespace: Namespace, target: string, root: DirNode, dev: () => bigint): void {
  const parts = target.split('/').filter((p) => p !== '');
  let at = '';
  for (const [i, name] of parts.entries()) {
    const path = `${at}/${name}`;
    let exists = true;
    try {
      namespace.resolve(namespace.root, path, true, 'mount');
    } catch (error) {
      if (!(error instanceof FsError) || error.errno !== 'ENOENT') throw error;
      exists = false;
    }
    const last = i === parts.length - 1;
    if (!exists) namespace.mountAt(at || '/', name, last ? root : identityView({}, dev()).root);
    else if (last) namespace.mount(path, root);
    at = path;
  }
}

function depth(path: string): number {
  return normalize(path).split('/').length;
}

function normalize(path: string): string {
  const clean = path.replace(/\/+/g, '/').replace(/\/$/, '');
  return clean === '' ? '/' : clean;
}

/**
 * Copy a tree into a directory of another filesystem: contents, modes,
 * times and symlinks, with hard links kept as links. Used to seed a tmpfs
 * root from an image.
 */
export function copyTree(from: DirNode, to: DirNode): void {
  const linked = new Map<bigint, Node>();
  const walk = (src: DirNode, dst: DirNode) => {
    const names: string[] = [];
    src.readdir(firstEntryCookie, (entry) => {
      names.push(entry.name);
      return true;
    });
    for (const name of names) {
      const node = src.lookup(name);
      if (node === undefined) continue;
      const stat = node.stat();
      if (node.type === 'directory') {
        const dir = dst.mkdir(name, stat.mode);
        walk(node, dir);
        dir.setTimes(stat.atimeNs, stat.mtimeNs);
      } else if (node.type === 'symlink') {
        dst.symlink(name, node.target).setTimes(stat.atimeNs, stat.mtimeNs);
      } else if (node.type === 'file') {
        const seen = stat.nlink > 1 ? linked.get(node.ino) : undefined;
        if (seen !== undefined) {
          dst.link(name, seen);
          continue;
        }
        const file = dst.createFile(name, stat.mode);
        const buffer = new Uint8Array(Math.min(node.size, 1 << 20));
        for (let at = 0; at < node.size; ) {
          const n = node.read(buffer, 0, buffer.length, at);
          if (n === 0) break;
          file.write(buffer, 0, n, at);
          at += n;
        }
        file.setTimes(stat.atimeNs, stat.mtimeNs);
        if (stat.nlink > 1) linked.set(node.ino, file);
      }
    }
  };
  walk(from, to);
}
