import { posix } from 'node:path';
import { ErrorCode, StrataError } from '../../errors.js';
import { defaultTmpfsMount, readonlyScratch } from '../../sandbox/index.js';
import { defaultMaxFds } from '../../wasi/index.js';
import { rootLimit, type BackendManifest, type ManifestMount } from '../manifest.js';

/** One range of a user-namespace id mapping (runtime-spec `linux.uidMappings`). */
export interface IdMapping {
  readonly containerID: number;
  readonly hostID: number;
  readonly size: number;
}

/** Limits of the sandbox, as a Linux host enforces them. */
export interface RuntimeLimits {
  /** cgroup memory limit, bytes. */
  readonly memoryBytes?: number;
  /** cgroup pids limit. */
  readonly pids?: number;
  /** RLIMIT_NOFILE (the wasm backend's `maxFds`). Default 1024. */
  readonly maxFds?: number;
  /** RLIMIT_NPROC, when given. */
  readonly maxProcesses?: number;
}

/** Host-side inputs of {@link renderRuntimeConfig}; none of them come from the manifest. */
export interface RuntimeConfigOptions {
  /** `root.path`: the bundle's rootfs directory (relative to the bundle, or absolute). */
  readonly rootfs: string;
  /** Default `strata`. */
  readonly hostname?: string;
  /**
   * Run in a user namespace as an unprivileged user (runc `spec --rootless`'s
   * shape): container root mapped to `hostUid`/`hostGid` (or `uidMappings`),
   * `/sys` bound read-only instead of mounted, no cgroup mount, no device
   * cgroup rules. Unlike `runc spec --rootless` it keeps a new network
   * namespace (an empty one needs no privilege inside the user
   * namespace). cgroup limits (`memoryBytes`, `pids`) hold only where the
   * caller's cgroup is delegated; leave them unset otherwise.
   */
  readonly rootless?: boolean;
  /** The unprivileged user rootless maps container root to. Default: this process's uid/gid. */
  readonly hostUid?: number;
  readonly hostGid?: number;
  /** Explicit mappings (override `hostUid`/`hostGid`); only with `rootless`. */
  readonly uidMappings?: readonly IdMapping[];
  readonly gidMappings?: readonly IdMapping[];
  /** The process's user in the container. Default 0:0. */
  readonly user?: { readonly uid: number; readonly gid: number };
  readonly limits?: RuntimeLimits;
  /** Host paths of identity mounts, by target: bound read-only. Every identity mount of the manifest needs one. */
  readonly identity?: Readonly<Record<string, string>>;
  /** Host directories of bind mounts, by target (over the manifest's `source`). */
  readonly binds?: Readonly<Record<string, string>>;
  /** Where named volumes live on the host (`<store>/volumes`); a volume mount is a bind of `volumeRoot/NAME`. */
  readonly volumeRoot?: string;
  /** Host directories of overlay mounts' upper and work dirs, by target (kernel overlayfs needs both). */
  readonly overlayDirs?: Readonly<Record<string, { readonly upper: string; readonly work: string }>>;
  /** `none` (default): a new network namespace with only loopback, down; `host`: the host's network. */
  readonly network?: 'none' | 'host';
  /** The image config's process, used where the manifest records none. */
  readonly imageProcess?: { readonly args: readonly string[]; readonly env: readonly string[]; readonly workdir: string };
  /** Allocate a terminal for the process. Default false. */
  readonly terminal?: boolean;
}

/** A `config.json` object (opencontainers/runtime-spec v1.0.2 and later). */
export type RuntimeConfig = Record<string, unknown>;

/** runc's default capabilities (`runc spec`): the same set in each list, none ambient. */
const defaultCapabilities = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** runc's default masked and read-only paths. */
const maskedPaths = ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'];
const readonlyPaths = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * Render a manifest as an OCI runtime `config.json`, for runc, crun or
 * runsc. Pure: it reads nothing on the host and runs nothing.
 *
 * - `root.readonly` follows the root mode (`readonly` → true). A
 *   `readonly` root without a tmpfs mount gets tmpfs at `/tmp` and `/run`,
 *   as the wasm backend gives it. `overlay` and `tmpfs` roots are
 *   writable; how the rootfs directory becomes a copy-on-write or a tmpfs
 *   root is the backend's (issue 12); the mode is in the annotations.
 * - tmpfs mounts carry `size=` and `nr_inodes=` (default 64 MiB, 65536);
 *   bind and volume mounts are `rbind` (+ `ro`); identity files are bound
 *   read-only from `options.identity`; overlay mounts are kernel overlayfs
 *   with the host directory as `lowerdir`.
 * - `/proc`, `/dev` (tmpfs, with the runtime's default devices), `/dev/pts`,
 *   `/dev/shm`, `/dev/mqueue`, `/sys` and the cgroup mount as `runc spec`
 *   writes them (`--rootless`: `/sys` bound read-only, no cgroup mount).
 * - Process: the manifest's args, env and workdir, else the image's;
 *   RLIMIT_NOFILE from `limits.maxFds`; no new privileges; runc's default
 *   capabilities.
 * - Namespaces pid, ipc, uts, mount, cgroup and network (none: a new,
 *   empty netns) unless `network: 'host'`; rootless adds user with the
 *   id mappings. `memory.limit` and `pids.limit` from `limits`.
 *
 * Errors, in order: ERR_INVALID_OPTION when there is no process (neither
 * manifest nor image has args), when an identity, bind, volume or overlay
 * mount has no host path, when id mappings are given without `rootless`,
 * or a limit is not a positive integer (each naming the field or target).
 *
 * See https://github.com/opencontainers/runtime-spec/blob/main/config.md
 * and config-linux.md.
 */
export function renderRuntimeConfig(manifest: BackendManifest, options: RuntimeConfigOptions): RuntimeConfig {
  const process = manifest.process ?? options.imageProcess;
  if (process === undefined || process.args.length === 0) throw new StrataError(ErrorCode.invalidOption, 'the manifest records no process and no image process was given: nothing to run');
  if (!options.rootless && (options.uidMappings !== undefined || options.gidMappings !== undefined)) {
    throw new StrataError(ErrorCode.invalidOption, 'uidMappings/gidMappings need rootless: a user namespace');
  }
  const limits = options.limits ?? {};
  for (const [key, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new StrataError(ErrorCode.invalidOption, `limits.${key} must be a positive integer, got ${String(value)}`);
  }
  const rootless = options.rootless === true;
  const uid = options.hostUid ?? globalThis.process.getuid?.() ?? 0;
  const gid = options.hostGid ?? globalThis.process.getgid?.() ?? 0;

  const namespaces: { type: string }[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  if (options.network !== 'host') namespaces.push({ type: 'network' });
  if (rootless) namespaces.push({ type: 'user' });

  const resources: Record<string, unknown> = {};
  if (!rootless) resources['devices'] = [{ allow: false, access: 'rwm' }];
  if (limits.memoryBytes !== undefined) resources['memory'] = { limit: limits.memoryBytes };
  if (limits.pids !== undefined) resources['pids'] = { limit: limits.pids };

  const linux: Record<string, unknown> = { namespaces, maskedPaths, readonlyPaths };
  if (Object.keys(resources).length > 0) linux['resources'] = resources;
  if (rootless) {
    linux['uidMappings'] = options.uidMappings ?? [{ containerID: 0, hostID: uid, size: 1 }];
    linux['gidMappings'] = options.gidMappings ?? [{ containerID: 0, hostID: gid, size: 1 }];
  }

  const rlimits = [{ type: 'RLIMIT_NOFILE', hard: limits.maxFds ?? defaultMaxFds, soft: limits.maxFds ?? defaultMaxFds }];
  if (limits.maxProcesses !== undefined) rlimits.push({ type: 'RLIMIT_NPROC', hard: limits.maxProcesses, soft: limits.maxProcesses });

  const annotations: Record<string, string> = { 'dev.strata.class': manifest.class, 'dev.strata.root.mode': manifest.root.mode };
  const maxBytes = rootLimit(manifest, 'maxBytes');
  const maxInodes = rootLimit(manifest, 'maxInodes');
  if (maxBytes !== undefined) annotations['dev.strata.root.max-bytes'] = String(maxBytes);
  if (maxInodes !== undefined) annotations['dev.strata.root.max-inodes'] = String(maxInodes);
  if (manifest.image !== undefined) annotations['org.opencontainers.image.ref.name'] = manifest.image.reference;

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: options.terminal === true,
      user: options.user ?? { uid: 0, gid: 0 },
      args: [...process.args],
      env: [...process.env],
      cwd: process.workdir,
      capabilities: Object.fromEntries(['bounding', 'effective', 'permitted'].map((k) => [k, defaultCapabilities])),
      rlimits,
      noNewPrivileges: true,
    },
    root: { path: options.rootfs, readonly: manifest.root.mode === 'readonly' },
    hostname: options.hostname ?? 'strata',
    mounts: [...systemMounts(rootless), ...sandboxMounts(manifest, options)],
    annotations,
    linux,
  };
}

/** `/proc`, `/dev`, `/dev/pts`, `/dev/shm`, `/dev/mqueue`, `/sys`, cgroup: as `runc spec` (and `--rootless`) write them. */
function systemMounts(rootless: boolean): Record<string, unknown>[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(rootless ? [] : ['gid=5'])] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    rootless
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ...(rootless ? [] : [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] }]),
  ];
}

/** The manifest's mounts, parents before children; a readonly root's scratch tmpfs first. */
function sandboxMounts(manifest: BackendManifest, options: RuntimeConfigOptions): Record<string, unknown>[] {
  const mounts: ManifestMount[] = [...manifest.mounts];
  if (manifest.root.mode === 'readonly' && !mounts.some((m) => m.type === 'tmpfs')) {
    for (const target of readonlyScratch) mounts.push({ type: 'tmpfs', target });
  }
  mounts.sort((a, b) => depth(a.target) - depth(b.target));
  return mounts.map((m) => renderMount(m, options));
}

function depth(path: string): number {
  return posix.normalize(path).split('/').filter(Boolean).length;
}

function renderMount(mount: ManifestMount, options: RuntimeConfigOptions): Record<string, unknown> {
  const destination = posix.normalize(mount.target);
  const hostPath = (what: string, path: string | undefined): string => {
    if (path === undefined) throw new StrataError(ErrorCode.invalidOption, `${mount.type} mount at '${destination}' needs ${what}`);
    return path;
  };
  switch (mount.type) {
    case 'tmpfs':
      return { destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', `size=${mount.size ?? defaultTmpfsMount.size}`, `nr_inodes=${mount.inodes ?? defaultTmpfsMount.inodes}`] };
    case 'bind':
      return bind(destination, hostPath('a host directory (options.binds or the manifest\'s source)', options.binds?.[destination] ?? mount.source), mount.readonly === true);
    case 'volume': {
      const name = mount.name;
      const path = options.binds?.[destination] ?? (options.volumeRoot !== undefined && name !== undefined ? posix.join(options.volumeRoot, name) : undefined);
      return bind(destination, hostPath('options.volumeRoot and a volume name', path), mount.readonly === true);
    }
    case 'identity':
      return bind(destination, hostPath('its files on the host (options.identity)', options.identity?.[destination]), true);
    case 'overlay': {
      const lower = hostPath('a host directory (options.binds or the manifest\'s source)', options.binds?.[destination] ?? mount.source);
      const dirs = options.overlayDirs?.[destination];
      if (dirs === undefined) throw new StrataError(ErrorCode.invalidOption, `overlay mount at '${destination}' needs upper and work directories (options.overlayDirs)`);
      return { destination, type: 'overlay', source: 'overlay', options: [`lowerdir=${lower}`, `upperdir=${dirs.upper}`, `workdir=${dirs.work}`, 'nosuid', 'nodev'] };
    }
  }
}

function bind(destination: string, source: string, readonly: boolean): Record<string, unknown> {
  return { destination, type: 'bind', source, options: ['rbind', 'nosuid', 'nodev', ...(readonly ? ['ro'] : ['rw'])] };
}
