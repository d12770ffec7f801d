import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { ErrorCode, StrataError } from '../../errors.js';
import type { IdentityMount } from '../../sandbox/index.js';
import { copyTree } from '../rootfs.js';
import { rootLimit, type BackendManifest } from '../manifest.js';
import { renderRuntimeConfig, type RuntimeConfig, type RuntimeLimits } from './config.js';
import { pauseProgram, pauseTarget } from './pause.js';
import type { RuntimeName } from './runtime-cli.js';

/** Default quota of a `tmpfs` root when the manifest records none: 256 MiB, 65536 inodes. */
export const defaultTmpfsRoot = { maxBytes: 256 << 20, maxInodes: 65536 } as const;

/**
 * An OCI bundle on the host: `config.json`, the root (`rootfs/`, a mount
 * point), the runtime's state root, and everything mounted for it. Made by
 * {@link createBundle}, removed whole by {@link removeBundle}.
 */
export interface Bundle {
  /** The container id: `strata-` and 12 hex digits. */
  readonly id: string;
  readonly dir: string;
  readonly rootfs: string;
  /** The runtime's `--root`, inside the bundle so that removing the bundle removes it. */
  readonly stateRoot: string;
  /** The overlay root's upper directory (`overlay`/`readonly` roots); the tmpfs root is `rootfs` itself. */
  readonly upper: string | undefined;
  /** The read-only lower tree (the cached layers). */
  readonly lower: string;
  /** Rootless: no host mount; the runtime mounts the root overlay in the container's user namespace, the config has one. */
  readonly rootless: boolean;
  /**
   * Rootless crun: the root overlay's mount options, mounted at `rootfs` by
   * crun's `unshare -r -m` wrapper (crun 1.8.1 cannot mount at `/` from
   * config.json: "mount `overlay` to ``: Invalid argument"). runc mounts it
   * from config.json's first mount instead.
   */
  readonly rootOverlay?: string;
  /** Host mounts made for it, umounted in reverse order. */
  readonly mounts: string[];
  /** The rendered config. */
  readonly config: RuntimeConfig;
  /** Paths in the root that are mount points, not contents: never in a delta. */
  readonly mountTargets: readonly string[];
}

/** What {@link createBundle} needs besides the manifest; all host-side. */
export interface BundleOptions {
  readonly runtime: RuntimeName;
  /** The cached tree of the root's layers (read-only; the overlay's lower or the tmpfs root's seed). */
  readonly lower: string;
  readonly identity?: readonly IdentityMount[];
  readonly binds?: Readonly<Record<string, string>>;
  readonly volumeRoot: string;
  readonly limits?: RuntimeLimits;
  readonly imageProcess?: { readonly args: readonly string[]; readonly env: readonly string[]; readonly workdir: string };
  /** Extra annotations (runsc's come from the class config). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** Where bundles are made. Default `os.tmpdir()`. */
  readonly parent?: string;
  /**
   * Build for an unprivileged caller: no host mount (the root overlay is
   * mounted by the runtime, see {@link createBundle}) and a user namespace mapping
   * container root to `rootless.uid`/`gid` (the caller's ids as the
   * runtime's namespace sees them: crun's wrapper's user namespace maps
   * the caller to 0). Not for a `tmpfs` root (refused by the backend).
   */
  readonly rootless?: { readonly uid: number; readonly gid: number };
}

/**
 * Make a bundle for `manifest`: the root by its mode, identity files, the
 * pause program, and `config.json` (`renderRuntimeConfig`).
 *
 * Roots (root): `overlay` and `readonly` are a kernel overlayfs over `lower`
 * with a fresh upper in the bundle (`readonly` also sets
 * `root.readonly`); `tmpfs` is a host tmpfs with the manifest's byte and
 * inode quotas (`size=`, `nr_inodes=`), seeded with a copy of `lower`. On
 * runsc an `overlay` root is served read-only-lowered the same way and
 * runsc's own overlay flag keeps the writes in the sandbox's memory.
 * Rootless (`options.rootless`): `overlay` and `readonly` roots are the
 * same overlayfs (with `userxattr`), mounted at `rootfs` inside the user
 * namespace: by runc from config.json's first mount (destination `/`), by
 * crun's wrapper (`Bundle.rootOverlay`); nothing is mounted on the host.
 * A `tmpfs` root is ERR_INVALID_OPTION.
 *
 * Errors: ERR_INVALID_OPTION (an identity file name that leaves its mount;
 * those of `renderRuntimeConfig`); ERR_RUNTIME_FAILED (a mount failed,
 * e.g. without root); on error everything made so far is removed.
 */
export async function createBundle(manifest: BackendManifest, options: BundleOptions): Promise<Bundle> {
  const dir = await mkdtemp(join(options.parent ?? tmpdir(), `strata-oci-${process.pid}-`));
  const bundle: Bundle = {
    id: `strata-${randomBytes(6).toString('hex')}`,
    dir,
    rootfs: join(dir, 'rootfs'),
    stateRoot: join(dir, 'state'),
    upper: manifest.root.mode === 'tmpfs' ? undefined : join(dir, 'upper'),
    lower: options.lower,
    rootless: options.rootless !== undefined,
    mounts: [],
    config: {},
    mountTargets: [],
  };
  try {
    await mkdir(bundle.rootfs);
    await mkdir(bundle.stateRoot, { mode: 0o700 });
    if (options.rootless !== undefined) {
      if (manifest.root.mode === 'tmpfs') throw new StrataError(ErrorCode.invalidOption, 'a tmpfs root needs a host tmpfs mount (root only)');
      // The runtime mounts the overlay, in the container's user namespace (the first mount of config.json).
      await mkdir(bundle.upper!);
      await mkdir(join(dir, 'work'));
    } else if (bundle.upper !== undefined) {
      await mkdir(bundle.upper);
      await mkdir(join(dir, 'work'));
      await mount(['-t', 'overlay', 'overlay', '-o', `lowerdir=${options.lower},upperdir=${bundle.upper},workdir=${join(dir, 'work')}`, bundle.rootfs]);
      bundle.mounts.push(bundle.rootfs);
    } else {
      const maxBytes = rootLimit(manifest, 'maxBytes') ?? defaultTmpfsRoot.maxBytes;
      const maxInodes = rootLimit(manifest, 'maxInodes') ?? defaultTmpfsRoot.maxInodes;
      await mount(['-t', 'tmpfs', '-o', `size=${maxBytes},nr_inodes=${maxInodes},mode=755`, 'tmpfs', bundle.rootfs]);
      bundle.mounts.push(bundle.rootfs);
      await copyTree(options.lower, bundle.rootfs);
    }
    const pause = join(dir, 'pause');
    await writeFile(pause, pauseProgram());
    await chmod(pause, 0o555);
    const identity: Record<string, string> = {};
    for (const [i, m] of (options.identity ?? []).entries()) identity[m.target] = await writeIdentity(join(dir, 'identity', String(i)), m);
    const overlayDirs: Record<string, { upper: string; work: string }> = {};
    for (const [i, m] of manifest.mounts.entries()) {
      if (m.type === 'overlay') {
        overlayDirs[m.target] = { upper: join(dir, 'mounts', String(i), 'upper'), work: join(dir, 'mounts', String(i), 'work') };
        await mkdir(overlayDirs[m.target]!.upper, { recursive: true });
        await mkdir(overlayDirs[m.target]!.work, { recursive: true });
      }
      if (m.type === 'volume' && m.name !== undefined) await mkdir(join(options.volumeRoot, m.name), { recursive: true });
    }
    // Identity mounts given at prepare time that the manifest does not list are added (as the wasm backend does).
    const listed = new Set(manifest.mounts.map((m) => m.target));
    const withIdentity: BackendManifest = { ...manifest, mounts: [...manifest.mounts, ...(options.identity ?? []).filter((m) => !listed.has(m.target)).map((m) => ({ type: 'identity' as const, target: m.target }))] };
    const config = renderRuntimeConfig(withIdentity, {
      rootfs: bundle.rootfs,
      identity,
      ...(options.binds !== undefined && { binds: options.binds }),
      volumeRoot: options.volumeRoot,
      overlayDirs,
      ...(options.limits !== undefined && { limits: options.limits }),
      ...(options.imageProcess !== undefined && { imageProcess: options.imageProcess }),
      ...(options.rootless !== undefined && { rootless: true, hostUid: options.rootless.uid, hostGid: options.rootless.gid }),
    });
    // The container's init is the pause program; each process is an exec.
    const process = config['process'] as Record<string, unknown>;
    const mounts = config['mounts'] as Record<string, unknown>[];
    // Rootless, the root is an overlay the runtime mounts over `rootfs` inside the user namespace; `userxattr`
    // keeps its opaque and redirect markers in user.* xattrs (without it, removing a lower directory fails with EIO).
    const overlay = ['userxattr', `lowerdir=${options.lower}`, `upperdir=${bundle.upper!}`, `workdir=${join(dir, 'work')}`];
    const root = options.rootless !== undefined && options.runtime !== 'crun' ? [{ destination: '/', type: 'overlay', source: 'overlay', options: overlay }] : [];
    const rendered: RuntimeConfig = { ...config, process: { ...process, args: [pauseTarget], cwd: '/' }, mounts: [...root, ...mounts, { destination: pauseTarget, type: 'bind', source: pause, options: ['rbind', 'ro', 'nosuid', 'nodev'] }] };
    if (options.annotations !== undefined) rendered['annotations'] = { ...(config['annotations'] as object), ...options.annotations };
    await writeFile(join(dir, 'config.json'), JSON.stringify(rendered, null, 2));
    return { ...bundle, ...(options.rootless !== undefined && options.runtime === 'crun' && { rootOverlay: overlay.join(',') }), config: { ...config, process }, mountTargets: [...mounts.map((m) => m['destination'] as string), pauseTarget] };
  } catch (error) {
    await removeBundle(bundle);
    throw error;
  }
}

async function writeIdentity(dir: string, mount: IdentityMount): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const [name, contents] of Object.entries(mount.files)) {
    const rel = posix.normalize(name);
    if (rel.startsWith('..') || posix.isAbsolute(rel) || rel === '.') throw new StrataError(ErrorCode.invalidOption, `identity mount at '${mount.target}': file name '${name}' leaves the mount`);
    const path = resolve(dir, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, contents, { mode: 0o444 });
  }
  return dir;
}

/** Umount what the bundle mounted (reverse order; lazily if busy) and remove its directory. Idempotent. */
export async function removeBundle(bundle: Bundle): Promise<void> {
  for (const target of [...bundle.mounts].reverse()) {
    try {
      await umount(target);
    } catch {
      await umount(target, true).catch(() => {});
    }
  }
  bundle.mounts.length = 0;
  // The overlay's work directory (mode 000) and the image's read-only directories, which their owner cannot empty otherwise.
  if (bundle.rootless) await hostCommand('chmod', ['-R', 'u+rwX', bundle.dir]).catch(() => {});
  await rm(bundle.dir, { recursive: true, force: true, maxRetries: 3 });
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function mount(args: readonly string[]): Promise<void> {
  return hostCommand('mount', args);
}

function umount(target: string, lazy = false): Promise<void> {
  return hostCommand('umount', lazy ? ['-l', target] : [target]);
}

function hostCommand(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new StrataError(ErrorCode.runtimeFailed, `${command} ${args.join(' ')} failed: ${String(stderr).trim() || error.message}`, { cause: error }));
    });
  });
}
