import { isAbsolute, resolve as resolveHost } from 'node:path';
import { ErrorCode, StrataError } from '../errors.js';
import { FsError, HostDir, Overlay, Tmpfs, type DirNode, type OverlayChange } from '../vfs/index.js';
import { identityView } from './identity.js';
import { volumePath } from './volumes.js';

interface MountBase {
  /** Where the mount appears in the sandbox: an absolute path. */
  readonly target: string;
}

/** Scratch space in memory, with size and inode limits (`--tmpfs PATH[:size=N,nr_inodes=N]`). */
export interface TmpfsMount extends MountBase {
  readonly type: 'tmpfs';
  /** Byte quota. Default 64 MiB. */
  readonly size?: number;
  /** Inode quota. Default 65536. */
  readonly inodes?: number;
}

/** A host directory, read-write or read-only; nothing in it resolves outside it (`-v HOST:CTR[:ro]`). */
export interface BindMount extends MountBase {
  readonly type: 'bind';
  /** The host directory. */
  readonly source: string;
  readonly readonly?: boolean;
  /** Allow the host's `/` as the source: only for a trusted process, and never by default. */
  readonly allowHostRoot?: boolean;
}

/**
 * A host directory as the read-only lower of a copy-on-write mount
 * (`-v HOST:CTR:overlay`): the guest changes it freely, the host directory
 * is untouched, and the changes are reviewed ({@link Sandbox.mountChanges})
 * and applied back only on request ({@link Sandbox.applyMount}).
 */
export interface OverlayMount extends MountBase {
  readonly type: 'overlay';
  readonly source: string;
  /** Byte quota of the in-memory upper. Default 1 GiB. */
  readonly size?: number;
  readonly inodes?: number;
}

/** A named, persistent directory in the store, shared only by sandboxes that name it. */
export interface VolumeMount extends MountBase {
  readonly type: 'volume';
  readonly name: string;
  readonly readonly?: boolean;
}

/** Read-only files injected at start (e.g. `/run/strata`); never part of a snapshot. */
export interface IdentityMount extends MountBase {
  readonly type: 'identity';
  /** Relative path → contents. */
  readonly files: Readonly<Record<string, string | Uint8Array>>;
}

/** A mount of a sandbox. */
export type MountSpec = TmpfsMount | BindMount | OverlayMount | VolumeMount | IdentityMount;

/** The mount kinds, for messages and the CLI. */
export const mountTypes = ['tmpfs', 'bind', 'overlay', 'volume', 'identity'] as const;

/** Defaults of a tmpfs mount: 64 MiB and 65536 inodes. */
export const defaultTmpfsMount = { size: 64 << 20, inodes: 65536 } as const;

/** A mount made ready: the root to mount, and for an overlay mount, its overlay. */
export interface BuiltMount {
  readonly spec: MountSpec;
  readonly root: DirNode;
  readonly overlay?: Overlay;
  /** The host directory behind a bind, overlay or volume mount. */
  readonly hostPath?: string;
  /** The host directory's filesystem, which holds fds until closed. */
  readonly hostDir?: HostDir;
}

/**
 * Check a mount spec: an absolute, normalized target; a known type; the
 * fields the type needs.
 * Errors: ERR_INVALID_OPTION, naming the mount and the field.
 */
export function checkMount(spec: MountSpec): void {
  const what = `mount ${JSON.stringify(spec.target)}`;
  const bad = (why: string) => new StrataError(ErrorCode.invalidOption, `${what}: ${why}`);
  if (typeof spec.target !== 'string' || !spec.target.startsWith('/')) throw bad('the target must be an absolute path');
  if (spec.target.split('/').some((p) => p === '..' || p === '.') || spec.target.includes('\0')) throw bad('the target must not contain "." or ".." components');
  if (!(mountTypes as readonly string[]).includes(spec.type)) throw bad(`unknown type '${String(spec.type)}' (one of ${mountTypes.join(', ')})`);
  const positive = (field: string, value: unknown) => {
    if (value !== undefined && (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)) throw bad(`${field} must be a positive integer, got ${String(value)}`);
  };
  switch (spec.type) {
    case 'tmpfs':
    case 'overlay':
      positive('size', spec.size);
      positive('inodes', spec.inodes);
      if (spec.type === 'overlay' && (typeof spec.source !== 'string' || spec.source === '')) throw bad('an overlay mount needs a host source directory');
      break;
    case 'bind':
      if (typeof spec.source !== 'string' || spec.source === '') throw bad('a bind mount needs a host source directory');
      break;
    case 'volume':
      if (typeof spec.name !== 'string' || spec.name === '') throw bad('a volume mount needs a name');
      break;
    case 'identity':
      if (spec.files === null || typeof spec.files !== 'object') throw bad('an identity mount needs files');
      break;
  }
}

/**
 * Build the filesystem a mount spec names. Host paths are made absolute
 * from `cwd`; volumes live under `storeRoot`.
 * Errors: ERR_INVALID_OPTION (see {@link checkMount}), ERR_BAD_PATH (a
 * host source that is missing or not a directory), the errors of the
 * filesystem (HostDir refuses the host root unless allowed).
 */
export function buildMount(spec: MountSpec, dev: bigint, context: { cwd: string; storeRoot: string }): BuiltMount {
  checkMount(spec);
  try {
    return build(spec, dev, context);
  } catch (error) {
    if (!(error instanceof FsError) || spec.type === 'tmpfs' || spec.type === 'identity') throw error;
    const source = spec.type === 'volume' ? `volume '${spec.name}'` : `'${spec.source}'`;
    throw new StrataError(ErrorCode.badPath, `${spec.type} mount at '${spec.target}': host source ${source}: ${error.errno}${error.errno === 'ENOENT' ? ' (no such directory)' : ''}`, { cause: error });
  }
}

function build(spec: MountSpec, dev: bigint, context: { cwd: string; storeRoot: string }): BuiltMount {
  switch (spec.type) {
    case 'tmpfs':
      return { spec, root: new Tmpfs({ dev, limits: { maxBytes: spec.size ?? defaultTmpfsMount.size, maxInodes: spec.inodes ?? defaultTmpfsMount.inodes } }).root };
    case 'identity':
      return { spec, root: identityView(spec.files, dev).root };
    case 'bind': {
      const hostPath = hostDirectory(spec, context.cwd);
      if (resolveHost(hostPath) === resolveHost('/') && spec.allowHostRoot !== true) {
        throw new StrataError(ErrorCode.invalidOption, `mount '${spec.target}': binding the host's / gives the guest the whole host tree; only a trusted process may have it, with allowHostRoot: true`);
      }
      const hostDir = new HostDir({ path: hostPath, readonly: spec.readonly === true, dev, ...(spec.allowHostRoot === true && { allowHostRoot: true }) });
      return { spec, hostPath, hostDir, root: hostDir.root };
    }
    case 'volume': {
      const hostPath = volumePath(context.storeRoot, spec.name);
      const hostDir = new HostDir({ path: hostPath, readonly: spec.readonly === true, dev });
      return { spec, hostPath, hostDir, root: hostDir.root };
    }
    case 'overlay': {
      const hostPath = hostDirectory(spec, context.cwd);
      const hostDir = new HostDir({ path: hostPath, readonly: true, dev: dev + 1000n });
      const limits = { ...(spec.size !== undefined && { maxBytes: spec.size }), ...(spec.inodes !== undefined && { maxInodes: spec.inodes }) };
      const overlay = new Overlay({ lower: hostDir.root, dev, limits, confined: true });
      return { spec, hostPath, hostDir, root: overlay.root, overlay };
    }
  }
}

/** The changes of an overlay mount, for review. */
export function overlayChanges(mount: BuiltMount): OverlayChange[] {
  if (mount.overlay === undefined) throw new StrataError(ErrorCode.invalidOption, `mount '${mount.spec.target}' is a ${mount.spec.type} mount, not an overlay mount`);
  return mount.overlay.changes();
}

function hostDirectory(spec: BindMount | OverlayMount, cwd: string): string {
  const path = isAbsolute(spec.source) ? spec.source : resolveHost(cwd, spec.source);
  return path;
}
