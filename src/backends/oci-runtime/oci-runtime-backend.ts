import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, StrataError } from '../../errors.js';
import { ImageStore } from '../../oci/index.js';
import { SnapshotStore } from '../../snapshot/index.js';
import { checkRecordedAssets, hostArch, verifyAssets, type VerifiedAsset } from '../assets.js';
import type { Backend, BackendCapabilities, BackendProcess, Checkpoint, PrepareOptions, Prepared, ProcessSpec } from '../backend.js';
import { checkCapabilities } from '../capabilities.js';
import type { BackendManifest } from '../manifest.js';
import type { ClassConfig } from '../registry.js';
import { cachedRootfs, closeRootfsLayers, rootfsLayers, type CachedRootfs, type RootfsLayers } from '../rootfs.js';
import { createBundle, removeBundle, type Bundle } from './bundle.js';
import { unpackCheckpointImage, type RunscCheckpointRecord } from './checkpoint-image.js';
import { takeCheckpoint } from './checkpoint.js';
import type { RuntimeLimits } from './config.js';
import { OciProcess } from './oci-process.js';
import { pauseArchitectures } from './pause.js';
import { globalArgs, probeRunscOverlayFlag, runRuntime, type RuntimeInvocation, type RuntimeName } from './runtime-cli.js';

/** A manifest prepared by an OCI runtime: a bundle and a running sandbox container (its init the pause program). */
export interface OciPrepared extends Prepared {
  readonly class: RuntimeName;
  readonly bundle: Bundle;
}

/** @internal What the backend keeps per prepared sandbox. */
export interface OciState {
  readonly rt: RuntimeInvocation;
  readonly bundle: Bundle;
  readonly store: ImageStore;
  readonly layers: RootfsLayers;
  /** The cached tree under the root (the overlay's lower, or the tmpfs root's source), held from prepare to cleanup so gc keeps it. */
  readonly rootfs: CachedRootfs;
  /** The snapshot it was restored from: the parent of its checkpoints. */
  readonly snapshot: string | undefined;
  /** The class config as recorded in `backend.config`. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly processes: Set<OciProcess>;
  cleaned: boolean;
  nextProcess: number;
}

const states = new WeakMap<Prepared, OciState>();
/** Bundles alive in this process, removed at exit if a caller never cleaned up. */
const live = new Set<OciState>();
let exitHook = false;

/** The capabilities of runc and crun (filesystem checkpoints) and runsc (memory checkpoints too). */
export function ociCapabilities(cls: RuntimeName): BackendCapabilities {
  return {
    platforms: ['linux'],
    architectures: [...pauseArchitectures],
    rootModes: ['readonly', 'overlay', 'tmpfs'],
    mountKinds: ['tmpfs', 'bind', 'overlay', 'volume', 'identity'],
    checkpoint: cls === 'runsc' ? 'memory' : 'filesystem',
    concurrentExec: true,
  };
}

/**
 * The `runsc`, `runc` and `crun` sandbox classes: one backend for any OCI
 * runtime with runc's command line. A prepared sandbox is a bundle (its
 * root by mode over the cached image layers, `config.json` rendered by
 * `renderRuntimeConfig`) and a container whose init is a pause program;
 * every process is a `runtime exec` with pipes for stdio. The runtime's
 * binary is the class's one asset (named like the class), pinned in the
 * host config and verified before every use; per-runtime settings
 * (runsc's platform, file access, overlay flag and annotations; crun's
 * cgroup workaround; limits) are the class config, recorded in
 * `backend.config`. As root it mounts the sandbox root; unprivileged,
 * runc and crun run rootless (the root overlay mounted in the
 * container's user namespace; no tmpfs root, no cgroup limits) and runsc is refused. See
 * src/backends/README.md and docs/decisions.md.
 */
export class OciRuntimeBackend implements Backend {
  readonly class: RuntimeName;
  readonly capabilities: BackendCapabilities;
  readonly #config: ClassConfig;

  constructor(cls: RuntimeName, config: ClassConfig) {
    this.class = cls;
    this.capabilities = ociCapabilities(cls);
    this.#config = config;
  }

  /**
   * Verify the runtime, render the bundle and start the sandbox container.
   * Errors, in order: ERR_INVALID_OPTION (`checkCapabilities`; unprivileged:
   * runsc, a tmpfs root, cgroup limits);
   * ERR_ASSET_MISSING, ERR_ASSET_MISMATCH; the errors of `rootfsLayers`
   * (the image, delta layers); ERR_INVALID_OPTION (a mount without its
   * host input); ERR_RUNTIME_FAILED (a mount, or the runtime's create/start).
   */
  async prepare(manifest: BackendManifest, options: PrepareOptions = {}): Promise<OciPrepared> {
    checkCapabilities(this.class, this.capabilities, manifest);
    this.#checkRootless(manifest);
    const assets = await this.#verify(manifest);
    return this.#build(manifest, assets, options, undefined);
  }

  /** Run the manifest's process (or `spec.args`). See {@link Backend.start}. */
  async start(prepared: Prepared, spec: ProcessSpec = {}): Promise<BackendProcess> {
    const state = this.#state(prepared, true);
    const args = spec.args ?? prepared.manifest.process?.args ?? imageArgs(state.layers);
    return this.#exec(prepared, state, spec, args);
  }

  /** Run `spec.args` in the same sandbox, beside any running process. */
  async exec(prepared: Prepared, spec: ProcessSpec): Promise<BackendProcess> {
    const state = this.#state(prepared, true);
    if (spec.args === undefined) throw new StrataError(ErrorCode.invalidOption, 'exec needs args');
    return this.#exec(prepared, state, spec, spec.args);
  }

  /**
   * Record the sandbox: the root's changes as a delta layer (runc, crun:
   * from the overlay's upper, or a tmpfs root whole), and on runsc a
   * memory checkpoint (`runsc checkpoint --image-path`, stored as a blob,
   * recorded with the runsc version and sha256 that made it; the sandbox
   * is restored from it in place, so it keeps running). The processes
   * running in a runc or crun sandbox are not captured. `memory: false`
   * on runsc takes the filesystem only (its overlay root then needs the
   * class config's `overlay: "host"`).
   *
   * Errors: ERR_INVALID_OPTION (not prepared here, cleaned up; `memory`
   * asked of runc or crun, which cannot checkpoint memory on these hosts);
   * ERR_ASSET_MISSING, ERR_ASSET_MISMATCH; ERR_RUNTIME_FAILED; the store's.
   */
  async checkpoint(prepared: Prepared, options: { readonly labels?: Readonly<Record<string, string>>; readonly memory?: boolean } = {}): Promise<Checkpoint> {
    const state = this.#state(prepared, true);
    if (options.memory === true && this.class !== 'runsc') {
      throw new StrataError(ErrorCode.invalidOption, `${this.class} cannot checkpoint a running process here: CRIU fails 'criu check' on this kernel (runc) or is not built in (Debian's crun); take a filesystem checkpoint (memory: false) or use runsc`);
    }
    const memory = this.class === 'runsc' && options.memory !== false;
    if (!memory && state.rt.overlayFlag !== undefined) {
      throw new StrataError(ErrorCode.invalidOption, `this runsc sandbox's overlay root keeps its writes in the sandbox's memory (${state.rt.overlayFlag}): take a memory checkpoint, or set the runsc class config's "overlay": "host" for filesystem-only ones`);
    }
    const assets = await this.#verify();
    return takeCheckpoint(this.class, prepared, state, assets, options.labels, memory);
  }

  /**
   * Restore a snapshot: its manifest read and verified, its recorded
   * assets checked against the host's and the runtime's file (and, for a
   * runsc memory checkpoint, the runsc sha256 that made it) before any
   * layer is read or anything runs; then prepared over every layer of its
   * chain, and on runsc resumed with `runsc restore`.
   * Errors: see {@link Backend.restore}; ERR_ASSET_MISMATCH for a runsc
   * checkpoint made by another runsc binary.
   */
  async restore(digest: string, options: PrepareOptions = {}): Promise<OciPrepared> {
    const store = options.store ?? (await ImageStore.open());
    const { digest: resolved, manifest } = await new SnapshotStore(store).inspect(digest);
    checkCapabilities(this.class, this.capabilities, manifest);
    this.#checkRootless(manifest);
    const assets = await this.#verify(manifest);
    const checkpoint = manifest.backend.config['checkpoint'] as RunscCheckpointRecord | undefined;
    if (checkpoint !== undefined) {
      const runsc = assets.find((a) => a.name === 'runsc');
      if (runsc === undefined || runsc.sha256 !== checkpoint.runsc.sha256) {
        throw new StrataError(ErrorCode.assetMismatch, `snapshot ${resolved}: its memory checkpoint was made by runsc ${checkpoint.runsc.version} sha256 ${checkpoint.runsc.sha256}, this host runs ${runsc === undefined ? 'no runsc' : `sha256 ${runsc.sha256}`}`);
      }
    }
    return this.#build(manifest, assets, { ...options, store }, resolved, checkpoint);
  }

  /** Kill the sandbox's processes, delete the container, umount and remove the bundle and state. Idempotent. */
  async cleanup(prepared: Prepared): Promise<void> {
    const state = this.#state(prepared, false);
    if (state.cleaned) return;
    state.cleaned = true;
    for (const p of state.processes) await p.kill().catch(() => {});
    await runRuntime(state.rt, 'delete', ['--force', state.bundle.id]).catch(() => {});
    closeRootfsLayers(state.layers);
    await removeBundle(state.bundle);
    await state.rootfs.release();
    live.delete(state);
  }

  /**
   * An unprivileged caller (`process.getuid() !== 0`): what cannot run
   * rootless is refused before anything is made (ERR_INVALID_OPTION):
   * runsc, a `tmpfs` root, cgroup limits (`limits.memoryBytes`, `pids`).
   */
  #checkRootless(manifest: BackendManifest): void {
    if (!rootless()) return;
    const why = (what: string) => new StrataError(ErrorCode.invalidOption, `${what}, and this process runs unprivileged (uid ${String(process.getuid?.())}); see docs/decisions.md for the rootless combinations`);
    if (this.class === 'runsc') throw why('the runsc backend runs as root only: unprivileged runsc fails in its gofer on these hosts');
    if (manifest.root.mode === 'tmpfs') throw why(`a tmpfs root needs a host tmpfs mount with the manifest's quota (root only); use an 'overlay' root or run as root`);
    const limits = this.#config.config?.['limits'];
    for (const key of ['memoryBytes', 'pids']) {
      if (isObject(limits) && limits[key] !== undefined) throw why(`the ${this.class} class config's limits.${key} needs a cgroup, which an unprivileged caller cannot make without a delegated cgroup`);
    }
  }

  async #verify(manifest?: BackendManifest): Promise<VerifiedAsset[]> {
    const verified = await verifyAssets(this.#config.assets);
    if (!verified.some((a) => a.name === this.class)) {
      throw new StrataError(ErrorCode.assetMissing, `the host config's ${this.class} class pins no '${this.class}' asset (the runtime binary); pin one with 'strata host pin ${this.class}'`);
    }
    if (manifest !== undefined) checkRecordedAssets(manifest.backend.assets, this.#config.assets, hostArch());
    return verified;
  }

  /** The runtime invocation and the settings recorded in `backend.config`. */
  async #runtime(manifest: BackendManifest, assets: readonly VerifiedAsset[], bundle: Bundle): Promise<{ rt: RuntimeInvocation; config: Record<string, unknown> }> {
    const binary = assets.find((a) => a.name === this.class)!;
    const settings = { ...(this.#config.config ?? {}) };
    let rt: RuntimeInvocation = { name: this.class, path: binary.path, stateRoot: bundle.stateRoot, ...(rootless() && { rootless: true }), ...(bundle.rootOverlay !== undefined && { rootOverlay: { options: bundle.rootOverlay, target: bundle.rootfs } }) };
    if (rootless()) settings['rootless'] = true;
    if (this.class === 'runsc') {
      const platform = typeof settings['platform'] === 'string' ? settings['platform'] : 'ptrace';
      const fileAccess = typeof settings['fileAccess'] === 'string' ? settings['fileAccess'] : 'exclusive';
      // `overlay: 'host'` keeps an overlay root's writes in the host's overlayfs upper (so a filesystem-only checkpoint can read them) instead of runsc's in-memory overlay.
      const overlayFlag = manifest.root.mode === 'overlay' && settings['overlay'] !== 'host' ? await probeRunscOverlayFlag(binary.path, binary.sha256) : undefined;
      rt = { ...rt, platform, fileAccess, ...(overlayFlag !== undefined && { overlayFlag }) };
      Object.assign(settings, { platform, fileAccess, network: 'none', ...(overlayFlag !== undefined && { overlayFlag }) });
    }
    if (this.class === 'crun' && !rootless() && (settings['cgroupWorkaround'] ?? (hybridCgroups() ? 'unmount-unified' : 'none')) === 'unmount-unified') {
      rt = { ...rt, cgroupWorkaround: 'unmount-unified' };
      settings['cgroupWorkaround'] = 'unmount-unified';
    }
    return { rt, config: settings };
  }

  async #build(manifest: BackendManifest, assets: VerifiedAsset[], options: PrepareOptions, snapshot: string | undefined, checkpoint?: RunscCheckpointRecord): Promise<OciPrepared> {
    const store = options.store ?? (await ImageStore.open());
    const layers = await rootfsLayers(manifest, { store, ...(snapshot !== undefined && { snapshot }), ...(options.cwd !== undefined && { cwd: options.cwd }) });
    let bundle: Bundle | undefined;
    let rootfs: CachedRootfs | undefined;
    try {
      rootfs = await cachedRootfs(store, layers.layers);
      const lower = rootfs.tree;
      const settings = this.#config.config ?? {};
      const annotations = this.class === 'runsc' && isStringRecord(settings['annotations']) ? settings['annotations'] : undefined;
      const image = layers.imageProcess;
      bundle = await createBundle(manifest, {
        runtime: this.class,
        lower,
        volumeRoot: join(store.root, 'volumes'),
        ...(options.identity !== undefined && { identity: options.identity }),
        ...(options.binds !== undefined && { binds: options.binds }),
        ...(isObject(settings['limits']) && { limits: settings['limits'] as RuntimeLimits }),
        ...(image !== undefined && { imageProcess: { args: [...image.entrypoint, ...image.cmd], env: image.env, workdir: image.workdir } }),
        ...(annotations !== undefined && { annotations }),
        // crun's rootless create runs in a user namespace where the caller is 0; runc maps the caller's own ids.
        ...(rootless() && { rootless: this.class === 'crun' ? { uid: 0, gid: 0 } : { uid: process.getuid!(), gid: process.getgid!() } }),
      });
      const { rt, config } = await this.#runtime(manifest, assets, bundle);
      if (checkpoint !== undefined) {
        const imageDir = join(bundle.dir, 'checkpoint');
        await unpackCheckpointImage(store.blobs, checkpoint, imageDir);
        await runRuntime(rt, 'restore', ['--image-path', imageDir, '--bundle', bundle.dir, '--detach', bundle.id]);
      } else {
        await runRuntime(rt, 'create', ['--bundle', bundle.dir, bundle.id]);
        await runRuntime(rt, 'start', [bundle.id]);
      }
      const prepared: OciPrepared = { class: this.class, manifest, assets, bundle };
      const state: OciState = { rt, bundle, store, layers, rootfs, snapshot, config, processes: new Set(), cleaned: false, nextProcess: 1 };
      states.set(prepared, state);
      live.add(state);
      installExitHook();
      return prepared;
    } catch (error) {
      if (bundle !== undefined) {
        const rt: RuntimeInvocation = { name: this.class, path: assets.find((a) => a.name === this.class)!.path, stateRoot: bundle.stateRoot, ...(rootless() && { rootless: true }) };
        await runRuntime(rt, 'delete', ['--force', bundle.id]).catch(() => {});
        await removeBundle(bundle);
      }
      await rootfs?.release();
      closeRootfsLayers(layers);
      throw error;
    }
  }

  #state(prepared: Prepared, alive: boolean): OciState {
    const state = states.get(prepared);
    if (state === undefined) throw new StrataError(ErrorCode.invalidOption, `not prepared by this ${this.class} backend`);
    if (alive && state.cleaned) throw new StrataError(ErrorCode.invalidOption, 'this prepared sandbox was cleaned up');
    return state;
  }

  async #exec(prepared: Prepared, state: OciState, spec: ProcessSpec, args: readonly string[] | undefined): Promise<BackendProcess> {
    if (args === undefined || args.length === 0) throw new StrataError(ErrorCode.invalidOption, 'nothing to run: the manifest records no process and spec.args is empty');
    await this.#verify();
    const image = state.layers.imageProcess;
    const env = new Map<string, string>();
    for (const pair of [...(prepared.manifest.process?.env ?? image?.env ?? []), ...(spec.env ?? [])]) {
      const eq = pair.indexOf('=');
      if (eq > 0) env.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const base = state.bundle.config['process'] as Record<string, unknown>;
    const n = state.nextProcess++;
    const file = join(state.bundle.dir, `process-${n}.json`);
    await writeFile(file, JSON.stringify({ ...base, terminal: false, args: [...args], env: [...env].map(([k, v]) => `${k}=${v}`), cwd: spec.workdir ?? prepared.manifest.process?.workdir ?? image?.workdir ?? '/' }));
    const child = new OciProcess(state.rt, state.bundle.id, file, join(state.bundle.dir, `process-${n}.pid`), {
      ...(spec.stdin !== undefined && { stdin: spec.stdin }),
      ...(spec.stdout !== undefined && { stdout: spec.stdout }),
      ...(spec.stderr !== undefined && { stderr: spec.stderr }),
      ...(spec.timeoutMs !== undefined && { timeoutMs: spec.timeoutMs }),
    });
    state.processes.add(child);
    void child.wait().then(() => state.processes.delete(child));
    return child;
  }
}

/** @internal The backend's state of a prepared sandbox (for checkpoint.ts). */
export function ociState(prepared: Prepared): OciState | undefined {
  return states.get(prepared);
}

function imageArgs(layers: RootfsLayers): string[] | undefined {
  const p = layers.imageProcess;
  return p === undefined ? undefined : [...p.entrypoint, ...p.cmd];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

/** Whether this process is unprivileged: the backend then builds rootless bundles (docs/decisions.md). */
function rootless(): boolean {
  return process.getuid?.() !== 0;
}

/** Whether cgroups are in hybrid v1+v2 mode (a cgroup2 mount at /sys/fs/cgroup/unified), which crun refuses. */
function hybridCgroups(): boolean {
  const r = spawnSync('findmnt', ['-n', '-t', 'cgroup2', '/sys/fs/cgroup/unified'], { stdio: 'ignore' });
  return r.status === 0;
}

/** At exit, delete every container and bundle a caller left behind (synchronously: the loop is gone). */
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const state of live) {
      spawnSync(state.rt.path, [...globalArgs(state.rt), 'delete', '--force', state.bundle.id], { stdio: 'ignore', timeout: 10_000 });
      for (const target of [...state.bundle.mounts].reverse()) spawnSync('umount', ['-l', target], { stdio: 'ignore' });
      if (state.bundle.rootless) spawnSync('chmod', ['-R', 'u+rwX', state.bundle.dir], { stdio: 'ignore' });
      spawnSync('rm', ['-rf', state.bundle.dir], { stdio: 'ignore' });
    }
  });
}
