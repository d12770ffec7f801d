import { readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { statSync } from 'node:fs';
import { ErrorCode, StrataError } from '../../errors.js';
import { ImageStore } from '../../oci/index.js';
import { volumePath } from '../../sandbox/volumes.js';
import { SnapshotStore, snapshotMediaType, type SnapshotManifest } from '../../snapshot/index.js';
import type { IdentityMount } from '../../sandbox/index.js';
import { checkRecordedAssets, hostArch, recordAssets, verifyAssets, type VerifiedAsset } from '../assets.js';
import type { Backend, BackendCapabilities, BackendProcess, Checkpoint, PrepareOptions, Prepared, ProcessSpec } from '../backend.js';
import { checkCapabilities } from '../capabilities.js';
import { rootLimit, type BackendManifest, type ManifestMount } from '../manifest.js';
import type { ClassConfig } from '../registry.js';
import { materializeRootfs, closeRootfsLayers } from '../rootfs.js';
import { probeAccel } from './accel.js';
import { emptyExt4, ext4FromTree, makeMountpoints, sparseFile } from './disk.js';
import { exportedLayer, parseOpaque } from './export-layer.js';
import { getFile, hmp, migrated, saveMemory, type MemoryRecord } from './memory-image.js';
import { guestBootWords, tscKhzFromCpuinfo } from './guest-args.js';
import { writeJob } from './job.js';
import { renderQemuArgs } from './qemu-args.js';
import { portPaths, startVm, type VmProcess } from './vm-process.js';

/** What the `qemu` class can do: every root mode; tmpfs, bind (9p), volume (9p) and identity mounts; filesystem checkpoints, and memory ones of a running process. */
export const qemuCapabilities: BackendCapabilities = {
  platforms: ['linux'],
  architectures: ['amd64'],
  rootModes: ['readonly', 'overlay', 'tmpfs'],
  mountKinds: ['tmpfs', 'bind', 'volume', 'identity'],
  checkpoint: 'memory',
  concurrentExec: false,
};

/** The `qemu` class's settings (`ClassConfig.config`), recorded in a checkpoint's `backend.config`. */
export interface QemuSettings {
  /** Guest memory. Default 256. */
  readonly memMib?: number;
  readonly vcpus?: number;
  /** `auto` (default: KVM if it boots the guest, else TCG; see `probeAccel`), `tcg` or `kvm`. */
  readonly accel?: 'auto' | 'tcg' | 'kvm';
  /** Deadline of a process without `timeoutMs`. Default 10 minutes: no VM runs unbounded. */
  readonly timeoutMs?: number;
  /** The TSC frequency for `tsc_early_khz=`. Default: read from /proc/cpuinfo. */
  readonly tscKhz?: number;
}

/** Default quotas of a `tmpfs` root or an overlay's upper when the manifest records none. */
const [defaultRootBytes, defaultRootInodes] = [256 << 20, 65536];

/** A manifest prepared for QEMU: its disk images in `dir`. */
export interface QemuPrepared extends Prepared {
  readonly class: 'qemu';
  /** The host directory holding the rootfs, upper and state images (removed by cleanup). */
  readonly dir: string;
}

interface State {
  readonly store: ImageStore;
  readonly rendered: BackendManifest;
  readonly shares: Record<string, string>;
  readonly identity: IdentityMount[];
  readonly rootfsImage: string;
  readonly upperImage: string | undefined;
  readonly stateImage: string | undefined;
  readonly exportImage: string | undefined;
  readonly parent: string | undefined;
  /** The size of the tar the last process left on the state drive (0: none yet). */
  stateBytes: number;
  running: VmProcess | undefined;
  /** The running VM's directory (its monitor socket) and job drive. */
  runDir: string | undefined; jobImage: string | undefined;
  /** A memory snapshot to resume at the next start, instead of a boot. */
  incoming: { readonly mem: string; readonly job: string; readonly memMib: number; readonly vcpus: number } | undefined;
  runs: number;
  cleaned: boolean;
}

const states = new WeakMap<Prepared, State>();

// Image dirs of sandboxes not cleaned up: removed at process exit (a failed test), after its VMs die.
const liveDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * The `qemu` sandbox class: each process is one boot of a
 * `qemu-system-x86_64 -M microvm` VM (KVM when it is usable, else TCG)
 * over ext4 images of the manifest's root, with the guest init of
 * `runtime/microvm/` (its assets: `qemu`, `kernel`, `initramfs`, built by
 * `runtime/microvm/build-assets.sh`). State between processes lives on the
 * host's disk images: an overlay root's upper drive; a tar of a tmpfs
 * root and the tmpfs mounts on the state drive.
 * See src/backends/README.md and docs/decisions.md.
 */
export class QemuBackend implements Backend {
  readonly class = 'qemu' as const;
  readonly capabilities = qemuCapabilities;
  readonly #config: ClassConfig;

  constructor(config: ClassConfig) {
    this.#config = config;
  }

  /**
   * Verify the assets, then build the disk images: the rootfs (the image's
   * layers plus the deltas, with `mke2fs -d`; mount targets created), an
   * empty upper for an overlay root, a raw state drive for a tmpfs root.
   *
   * Errors, in order: ERR_INVALID_OPTION (`checkCapabilities`);
   * ERR_ASSET_MISSING, ERR_ASSET_MISMATCH (the `qemu`, `kernel` and
   * `initramfs` assets); ERR_INVALID_OPTION (a bind without a host
   * directory, an identity mount without files); ERR_BAD_PATH (a bind
   * source that is not a directory); those of materializing the root;
   * ERR_RUNTIME_FAILED (mke2fs).
   */
  async prepare(manifest: BackendManifest, options: PrepareOptions = {}): Promise<QemuPrepared> {
    return this.#prepare(manifest, options, undefined);
  }

  /** Start the manifest's process, or `spec.args`: one boot of the VM. See {@link Backend.start}. */
  async start(prepared: Prepared, spec: ProcessSpec = {}): Promise<BackendProcess> {
    return this.#run(prepared, spec, spec.args ?? prepared.manifest.process?.args);
  }

  /** Run `spec.args` in the same sandbox (after the previous process ended: one VM at a time). */
  async exec(prepared: Prepared, spec: ProcessSpec): Promise<BackendProcess> {
    if (spec.args === undefined) throw new StrataError(ErrorCode.invalidOption, 'exec needs args');
    return this.#run(prepared, spec, spec.args);
  }

  /**
   * Record the sandbox as a snapshot, with the verified assets, the class
   * and its config. Between processes, its files: an overlay root's upper
   * (exported by one boot; whiteouts and opaque dirs made OCI's), a tmpfs
   * root whole, a readonly root nothing. With `memory`, a running
   * process's whole VM (memory-image.ts): restore + start resume it.
   *
   * Errors, in order: ERR_INVALID_OPTION (not prepared here or cleaned up;
   * a process running without `memory`, or `memory` with none running);
   * ERR_ASSET_MISSING, ERR_ASSET_MISMATCH; ERR_RUNTIME_FAILED (the export
   * boot, the monitor or the migration failed); the snapshot store's.
   */
  async checkpoint(prepared: Prepared, options: { readonly labels?: Readonly<Record<string, string>>; readonly memory?: boolean } = {}): Promise<Checkpoint> {
    const state = this.#state(prepared, true);
    if (options.memory === true) return this.#memoryCheckpoint(prepared, state, options.labels);
    if (state.running !== undefined) throw new StrataError(ErrorCode.invalidOption, 'a process is still running in this microVM sandbox: wait for it before a checkpoint');
    const assets = await this.#verify();
    const { manifest } = prepared;
    const delta = [];
    if (manifest.root.mode !== 'readonly') {
      let opaqueLine: string | undefined;
      let exportBytes = 0;
      const exit = await (await this.#boot(prepared, state, assets, { action: 'export', args: [], env: [], workdir: '/' }, {}, (line) => {
        if (line.startsWith('opaque ')) opaqueLine = line;
        if (line.startsWith('export ')) exportBytes = Number(line.slice(7));
      })).wait();
      if (exit.reason !== 'exit' || exit.code !== 0) throw exit.error ?? new StrataError(ErrorCode.runtimeFailed, `the microVM's export ended with ${exit.reason} ${String(exit.code)}`);
      if (!(exportBytes > 0)) throw new StrataError(ErrorCode.runtimeFailed, "the microVM's export reported no size");
      delta.push(await exportedLayer(state.store.blobs, state.exportImage!, parseOpaque(opaqueLine), exportBytes));
    }
    // A tmpfs root is written whole, so it stands alone; an overlay's upper applies over its parent.
    const tmpfs = manifest.root.mode === 'tmpfs';
    return recordSnapshot(state.store, manifest, options.labels, { assets: recordAssets(assets), config: { ...this.#config.config } }, delta, tmpfs ? undefined : state.parent, !tmpfs);
  }

  /**
   * Restore a snapshot, of this class or another one's filesystem-only
   * snapshot (wasm, oci-runtime): its manifest is read and verified, a
   * `qemu` snapshot's recorded assets are checked against the host's
   * before anything else, then it is prepared over its whole chain.
   *
   * Errors, in order: those of reading the manifest (ERR_SNAPSHOT_NOT_FOUND,
   * ERR_DIGEST_MISMATCH, ERR_BAD_SNAPSHOT, ERR_SNAPSHOT_VERSION);
   * ERR_ASSET_MISSING, ERR_ASSET_MISMATCH; then those of {@link prepare}.
   */
  async restore(digest: string, options: PrepareOptions = {}): Promise<QemuPrepared> {
    const store = options.store ?? (await ImageStore.open());
    const { digest: resolved, manifest } = await new SnapshotStore(store).inspect(digest);
    const mine: BackendManifest = { ...manifest, class: 'qemu', backend: manifest.class === 'qemu' ? manifest.backend : { assets: [], config: {} } };
    const memory = manifest.class === 'qemu' ? (manifest.backend.config['memory'] as MemoryRecord | undefined) : undefined;
    return this.#prepare(mine, { ...options, store }, resolved, memory);
  }

  /** Kill a running VM, and remove the disk images. Idempotent. */
  async cleanup(prepared: Prepared): Promise<void> {
    const state = this.#state(prepared, false);
    if (state.cleaned) return;
    state.cleaned = true;
    await state.running?.kill();
    await rm((prepared as QemuPrepared).dir, { recursive: true, force: true });
    liveDirs.delete((prepared as QemuPrepared).dir);
  }

  async #prepare(manifest: BackendManifest, options: PrepareOptions, snapshot: string | undefined, memory?: MemoryRecord): Promise<QemuPrepared> {
    checkCapabilities('qemu', this.capabilities, manifest);
    const assets = await this.#verify(manifest);
    const store = options.store ?? (await ImageStore.open());
    const cwd = options.cwd ?? process.cwd();
    const identity = new Map<string, IdentityMount>((options.identity ?? []).map((m) => [m.target, m]));
    const shares: Record<string, string> = {};
    const mounts: ManifestMount[] = [];
    for (const m of manifest.mounts) {
      if (m.type === 'bind' || m.type === 'volume') {
        const source = m.type === 'volume' ? (options.binds?.[m.target] ?? (m.name !== undefined ? volumePath(store.root, m.name) : undefined)) : (options.binds?.[m.target] ?? m.source);
        if (source === undefined) throw new StrataError(ErrorCode.invalidOption, `${m.type} mount at '${m.target}' records no host directory: give it in options.binds`);
        const path = isAbsolute(source) ? source : resolve(cwd, source);
        if (!statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new StrataError(ErrorCode.badPath, `${m.type} mount at '${m.target}': '${path}' is not a directory`);
        shares[m.target] = path;
      }
      if (m.type === 'identity' && !identity.has(m.target)) throw new StrataError(ErrorCode.invalidOption, `identity mount at '${m.target}' needs its files in options.identity (they are never in a snapshot)`);
      mounts.push(m);
    }
    for (const target of identity.keys()) if (!mounts.some((m) => m.type === 'identity' && m.target === target)) mounts.push({ type: 'identity', target });
    const rendered: BackendManifest = { ...manifest, mounts };
    const order = mounts.filter((m) => m.type === 'identity').map((m) => identity.get(m.target)!);

    const dir = await mkdtemp(join(tmpdir(), 'strata-vm-'));
    liveDirs.add(dir);
    try {
      const tree = join(dir, 'rootfs');
      if (memory !== undefined) return await this.#prepareMemory(manifest, assets, dir, store, rendered, shares, order, snapshot!, memory);
      const root = await materializeRootfs(manifest, tree, { store, ...(snapshot !== undefined && { snapshot }), cwd });
      closeRootfsLayers(root);
      // Every target the guest mounts on, made here: a readonly root cannot get a directory in the guest.
      const targets = guestBootWords(rendered, []).filter((w) => w.startsWith('strata.tmpfs=')).map((w) => w.slice('strata.tmpfs='.length).split(':')[0]!);
      await makeMountpoints(tree, ['/dev', '/proc', ...targets, ...mounts.map((m) => m.target)]);
      const rootfsImage = join(dir, 'rootfs.ext4');
      await ext4FromTree(rootfsImage, tree);
      await rm(tree, { recursive: true, force: true });
      const bytes = rootLimit(manifest, 'maxBytes') ?? defaultRootBytes;
      const inodes = rootLimit(manifest, 'maxInodes') ?? defaultRootInodes;
      let upperImage: string | undefined;
      let stateImage: string | undefined;
      let exportImage: string | undefined;
      if (manifest.root.mode === 'overlay') await emptyExt4((upperImage = join(dir, 'upper.ext4')), bytes, inodes);
      // Raw drives the guest writes tars to (sparse): the files, a header or two each, the end blocks.
      const tmpfsMounts = guestBootWords(rendered, []).filter((w) => w.startsWith('strata.tmpfs='));
      const tmpfsBytes = tmpfsMounts.reduce((sum, w) => sum + Number(w.split(':')[1]) + Number(w.split(':')[2]) * 1024, 0);
      const rootTar = manifest.root.mode === 'tmpfs' ? bytes + inodes * 1024 : 0;
      if (rootTar + tmpfsBytes > 0) await sparseFile((stateImage = join(dir, 'state.tar')), rootTar + tmpfsBytes + (1 << 20));
      if (manifest.root.mode !== 'readonly') await sparseFile((exportImage = join(dir, 'export.tar')), bytes + inodes * 1024 + (1 << 20));
      const prepared: QemuPrepared = { class: 'qemu', manifest, assets, dir };
      states.set(prepared, { store, rendered, shares, identity: order, rootfsImage, upperImage, stateImage, exportImage, parent: snapshot, stateBytes: 0, running: undefined, runDir: undefined, jobImage: undefined, incoming: undefined, runs: 0, cleaned: false });
      return prepared;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
      throw error;
    }
  }

  async #run(prepared: Prepared, spec: ProcessSpec, args: readonly string[] | undefined): Promise<BackendProcess> {
    const state = this.#state(prepared, true);
    if (args === undefined || args.length === 0) throw new StrataError(ErrorCode.invalidOption, 'nothing to run: the manifest records no process and spec.args is empty');
    if (state.running !== undefined) throw new StrataError(ErrorCode.invalidOption, 'a process is already running in this microVM sandbox (one at a time: capabilities.concurrentExec is false)');
    const assets = await this.#verify();
    const env = new Map<string, string>();
    for (const pair of [...(prepared.manifest.process?.env ?? []), ...(spec.env ?? [])]) {
      const eq = pair.indexOf('=');
      if (eq > 0) env.set(pair.slice(0, eq), pair);
    }
    const job = { action: 'run' as const, args, env: [...env.values()], workdir: spec.workdir ?? prepared.manifest.process?.workdir ?? '/' };
    return this.#boot(prepared, state, assets, job, spec, (line) => {
      const saved = /^state (\d+)$/.exec(line);
      if (saved !== null) state.stateBytes = Number(saved[1]);
    });
  }

  /** One boot of the VM for one job. */
  async #boot(prepared: Prepared, state: State, assets: readonly VerifiedAsset[], job: { action: 'run' | 'export'; args: readonly string[]; env: readonly string[]; workdir: string }, spec: ProcessSpec, onControl: (line: string) => void): Promise<VmProcess> {
    const asset = (name: string) => assets.find((a) => a.name === name)!.path;
    const settings = (this.#config.config ?? {}) as QemuSettings;
    const tscKhz = settings.tscKhz ?? tscKhzFromCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
    if (tscKhz === undefined) throw new StrataError(ErrorCode.backendUnavailable, "no 'cpu MHz' in /proc/cpuinfo for tsc_early_khz= (set the qemu class's config.tscKhz)");
    const accel = settings.accel === 'tcg' || settings.accel === 'kvm' ? settings.accel : await probeAccel(asset('qemu'), asset('kernel'), asset('initramfs'), tscKhz);
    const n = ++state.runs;
    const runDir = join((prepared as QemuPrepared).dir, `r${n}`);
    await mkdir(runDir);
    const incoming = state.incoming;
    state.incoming = undefined;
    const jobImage = incoming?.job ?? join(runDir, 'job.tar');
    const stdin = typeof spec.stdin === 'string' ? new TextEncoder().encode(spec.stdin) : (spec.stdin ?? new Uint8Array());
    const { manifest } = prepared;
    if (incoming === undefined) await writeJob(jobImage, {
      ...job,
      stdin,
      rootBytes: rootLimit(manifest, 'maxBytes') ?? defaultRootBytes,
      rootInodes: rootLimit(manifest, 'maxInodes') ?? defaultRootInodes,
      stateBytes: state.stateBytes,
      identity: state.identity,
    });
    const args = renderQemuArgs(state.rendered, {
      kernel: asset('kernel'),
      initrd: asset('initramfs'),
      rootfsImage: state.rootfsImage,
      ...(state.upperImage !== undefined && { upperImage: state.upperImage }),
      ...(state.stateImage !== undefined && { stateImage: state.stateImage }),
      ...(state.exportImage !== undefined && { exportImage: state.exportImage }),
      jobImage,
      memMib: incoming?.memMib ?? settings.memMib ?? 256,
      vcpus: incoming?.vcpus ?? settings.vcpus ?? 1,
      accel,
      tscKhz,
      shares: state.shares,
      ports: portPaths(runDir),
    });
    // A monitor for memory checkpoints; a memory snapshot resumes (-incoming, then cont) instead of booting.
    const monitor = join(runDir, 'mon.sock');
    args.push('-monitor', `unix:${monitor},server=on,wait=off`);
    if (incoming !== undefined) args.push('-incoming', `exec:cat '${incoming.mem}'`);
    state.runDir = runDir;
    state.jobImage = jobImage;
    const vm = await startVm({ qemu: asset('qemu'), args, dir: runDir, stdout: spec.stdout, stderr: spec.stderr, timeoutMs: spec.timeoutMs ?? settings.timeoutMs ?? 600_000, onControl });
    state.running = vm;
    if (incoming !== undefined) void hmp(monitor, [], migrated, 300_000).then(() => hmp(monitor, ['cont'])).catch(() => vm.end('killed'));
    void vm.wait().then(async () => {
      state.running = undefined;
      await rm(runDir, { recursive: true, force: true });
    });
    return vm;
  }

  /** A memory checkpoint of the running process's VM; see memory-image.ts. */
  async #memoryCheckpoint(prepared: Prepared, state: State, labels: Readonly<Record<string, string>> | undefined): Promise<Checkpoint> {
    if (state.running === undefined || state.runDir === undefined) throw new StrataError(ErrorCode.invalidOption, 'a memory checkpoint needs a running process (take a filesystem checkpoint between processes)');
    const assets = await this.#verify();
    const settings = (this.#config.config ?? {}) as QemuSettings;
    const drives = { rootfs: state.rootfsImage, upper: state.upperImage, state: state.stateImage, job: state.jobImage };
    const memory = await saveMemory(state.store.blobs, join(state.runDir, 'mon.sock'), join((prepared as QemuPrepared).dir, 'mem.tmp'), drives, { stateBytes: state.stateBytes, memMib: settings.memMib ?? 256, vcpus: settings.vcpus ?? 1 });
    return recordSnapshot(state.store, prepared.manifest, labels, { assets: recordAssets(assets), config: { ...this.#config.config, memory } }, [], undefined, true);
  }

  /** A memory snapshot's drives and memory back into `dir`; the next start resumes it. */
  async #prepareMemory(manifest: BackendManifest, assets: VerifiedAsset[], dir: string, store: ImageStore, rendered: BackendManifest, shares: Record<string, string>, identity: IdentityMount[], parent: string, memory: MemoryRecord): Promise<QemuPrepared> {
    const file = async (name: string) => {
      const blob = memory.drives[name];
      if (blob === undefined) return undefined;
      await getFile(store.blobs, blob, join(dir, name));
      return join(dir, name);
    };
    const rootfsImage = (await file('rootfs'))!;
    const upperImage = await file('upper');
    const stateImage = await file('state');
    const job = (await file('job'))!;
    await getFile(store.blobs, memory.state, join(dir, 'mem'));
    let exportImage: string | undefined;
    const bytes = rootLimit(manifest, 'maxBytes') ?? defaultRootBytes;
    const inodes = rootLimit(manifest, 'maxInodes') ?? defaultRootInodes;
    if (manifest.root.mode !== 'readonly') await sparseFile((exportImage = join(dir, 'export.tar')), bytes + inodes * 1024 + (1 << 20));
    const prepared: QemuPrepared = { class: 'qemu', manifest, assets, dir };
    const incoming = { mem: join(dir, 'mem'), job, memMib: memory.memMib, vcpus: memory.vcpus };
    states.set(prepared, { store, rendered, shares, identity, rootfsImage, upperImage, stateImage, exportImage, parent, stateBytes: memory.stateBytes, running: undefined, runDir: undefined, jobImage: undefined, incoming, runs: 0, cleaned: false });
    return prepared;
  }

  /** The configured assets verified against their files (`qemu`, `kernel`, `initramfs` required), and a qemu manifest's recorded ones against them. */
  async #verify(manifest?: BackendManifest): Promise<VerifiedAsset[]> {
    for (const name of ['qemu', 'kernel', 'initramfs']) {
      if (!this.#config.assets.some((a) => a.name === name)) throw new StrataError(ErrorCode.assetMissing, `the host config's qemu class pins no '${name}' asset (runtime/microvm/build-assets.sh builds the kernel and initramfs; pin them with 'strata host pin qemu --asset NAME --path FILE')`);
    }
    const verified = await verifyAssets(this.#config.assets);
    if (manifest !== undefined) checkRecordedAssets(manifest.backend.assets, this.#config.assets, hostArch());
    return verified;
  }

  #state(prepared: Prepared, live: boolean): State {
    const state = states.get(prepared);
    if (state === undefined) throw new StrataError(ErrorCode.invalidOption, 'not prepared by this qemu backend');
    if (live && state.cleaned) throw new StrataError(ErrorCode.invalidOption, 'this prepared sandbox was cleaned up');
    return state;
  }
}

/**
 * Store a qemu snapshot's manifest (its layers are in the blob store
 * already): the prepared manifest's image (unless `withImage` is false),
 * root, mounts (identity ones without contents) and process, the class,
 * and what ran it.
 */
async function recordSnapshot(store: ImageStore, manifest: BackendManifest, labels: Readonly<Record<string, string>> | undefined, backend: SnapshotManifest['backend'], delta: SnapshotManifest['delta'], parent: string | undefined, withImage: boolean): Promise<Checkpoint> {
  const snapshot: SnapshotManifest = {
    mediaType: snapshotMediaType,
    schemaVersion: 1,
    created: new Date().toISOString(),
    ...(labels !== undefined && { labels: { ...labels } }),
    ...(parent !== undefined && { parent: parent as SnapshotManifest['parent'] & string }),
    ...(withImage && manifest.image !== undefined && { image: manifest.image as SnapshotManifest['image'] & object }),
    root: manifest.root as SnapshotManifest['root'],
    mounts: manifest.mounts.map((m) => (m.type === 'identity' ? { type: 'identity', target: m.target } : m)) as SnapshotManifest['mounts'],
    ...(manifest.process !== undefined && { process: { args: [...manifest.process.args], env: [...manifest.process.env], workdir: manifest.process.workdir } }),
    class: 'qemu',
    backend,
    delta,
  };
  const { digest, manifest: stored } = await new SnapshotStore(store).adopt(snapshot);
  return { digest, manifest: stored };
}
