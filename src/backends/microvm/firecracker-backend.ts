import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ErrorCode, StrataError } from '../../errors.js';
import { ImageStore } from '../../oci/index.js';
import { identityView, type IdentityMount } from '../../sandbox/index.js';
import { SnapshotStore } from '../../snapshot/index.js';
import { checkRecordedAssets, hostArch, verifyAssets, type VerifiedAsset } from '../assets.js';
import type { Backend, BackendCapabilities, BackendProcess, Checkpoint, PrepareOptions, Prepared } from '../backend.js';
import { checkCapabilities } from '../capabilities.js';
import { rootLimit, type BackendManifest, type ManifestMount } from '../manifest.js';
import type { ClassConfig } from '../registry.js';
import { closeRootfsLayers, materializeRootfs } from '../rootfs.js';
import { emptyExt4, ext4FromTree, makeMountpoints } from './disk.js';
import { renderFirecrackerConfig, type FirecrackerConfig } from './firecracker-config.js';

/** What the `firecracker` class can do: every root mode; tmpfs and identity mounts (Firecracker has no shared-directory device); no checkpoints. */
export const firecrackerCapabilities: BackendCapabilities = {
  platforms: ['linux'],
  architectures: ['amd64', 'arm64'],
  rootModes: ['readonly', 'overlay', 'tmpfs'],
  mountKinds: ['tmpfs', 'identity'],
  checkpoint: 'none',
  concurrentExec: false,
};

/** A manifest prepared for Firecracker: its disk images and VM config file in `dir`. */
export interface FirecrackerPrepared extends Prepared {
  readonly class: 'firecracker';
  readonly dir: string;
  /** The rendered VM config (`firecracker --no-api --config-file configPath`), validated in the tests against Firecracker's API spec. */
  readonly config: FirecrackerConfig;
  readonly configPath: string;
}

const prepared = new WeakMap<Prepared, { cleaned: boolean }>();

/**
 * The `firecracker` sandbox class, as far as this host allows: `prepare`
 * builds the same ext4 images as the `qemu` class (plus an identity drive)
 * and renders Firecracker's VM config file (boot-source, drives,
 * machine-config, vsock) with {@link renderFirecrackerConfig}. Running it
 * needs a configured `firecracker` binary **and** a guest channel for
 * stdio and the exit code over vsock, which is not built: `start` and
 * `exec` refuse with ERR_BACKEND_UNAVAILABLE saying which is missing.
 * Nothing pretends to run.
 */
export class FirecrackerBackend implements Backend {
  readonly class = 'firecracker' as const;
  readonly capabilities = firecrackerCapabilities;
  readonly #config: ClassConfig;

  constructor(config: ClassConfig) {
    this.#config = config;
  }

  /**
   * Verify the assets (`kernel` and `initramfs` required, `firecracker`
   * when configured), build the images and write the VM config.
   *
   * Errors, in order: ERR_INVALID_OPTION (`checkCapabilities`);
   * ERR_ASSET_MISSING, ERR_ASSET_MISMATCH; ERR_INVALID_OPTION (an identity
   * mount without files, `vcpus`/`memMib` out of Firecracker's range);
   * those of materializing the root; ERR_RUNTIME_FAILED (mke2fs).
   */
  async prepare(manifest: BackendManifest, options: PrepareOptions = {}): Promise<FirecrackerPrepared> {
    checkCapabilities('firecracker', this.capabilities, manifest);
    const assets = await this.#verify(manifest);
    const store = options.store ?? (await ImageStore.open());
    const identity = new Map<string, IdentityMount>((options.identity ?? []).map((m) => [m.target, m]));
    const mounts: ManifestMount[] = [...manifest.mounts];
    for (const m of mounts) if (m.type === 'identity' && !identity.has(m.target)) throw new StrataError(ErrorCode.invalidOption, `identity mount at '${m.target}' needs its files in options.identity (they are never in a snapshot)`);
    for (const target of identity.keys()) if (!mounts.some((m) => m.type === 'identity' && m.target === target)) mounts.push({ type: 'identity', target });
    const settings = (this.#config.config ?? {}) as { vcpus?: number; memMib?: number };
    const dir = await mkdtemp(join(tmpdir(), 'strata-fc-'));
    try {
      const tree = join(dir, 'rootfs');
      closeRootfsLayers(await materializeRootfs(manifest, tree, { store, ...(options.cwd !== undefined && { cwd: options.cwd }) }));
      await makeMountpoints(tree, ['/dev', '/proc', ...mounts.map((m) => m.target)]);
      const rootfsImage = join(dir, 'rootfs.ext4');
      await ext4FromTree(rootfsImage, tree);
      await rm(tree, { recursive: true, force: true });
      let upperImage: string | undefined;
      if (manifest.root.mode === 'overlay') await emptyExt4((upperImage = join(dir, 'upper.ext4')), rootLimit(manifest, 'maxBytes') ?? 256 << 20, rootLimit(manifest, 'maxInodes') ?? 65536);
      let identityImage: string | undefined;
      const identities = mounts.filter((m) => m.type === 'identity');
      if (identities.length > 0) {
        // One directory per identity mount, in manifest order (the guest's strata.identity= words).
        const files = join(dir, 'identity');
        for (const [n, m] of identities.entries()) {
          const given = identity.get(m.target)!;
          identityView(given.files, 0n); // validates names and size
          for (const [name, content] of Object.entries(given.files)) {
            const path = join(files, String(n), ...name.split('/').filter((p) => p !== '' && p !== '.'));
            await mkdir(dirname(path), { recursive: true });
            await writeFile(path, content, { mode: 0o444 });
          }
        }
        await ext4FromTree((identityImage = join(dir, 'identity.ext4')), files);
      }
      const kernel = assets.find((a) => a.name === 'kernel')!.path;
      const initrd = assets.find((a) => a.name === 'initramfs')!.path;
      const config = renderFirecrackerConfig({ ...manifest, mounts }, {
        kernel,
        initrd,
        rootfsImage,
        ...(upperImage !== undefined && { upperImage }),
        ...(identityImage !== undefined && { identityImage }),
        vcpus: settings.vcpus ?? 1,
        memMib: settings.memMib ?? 256,
        vsock: { cid: 3, udsPath: join(dir, 'vsock.sock') },
      });
      const configPath = join(dir, 'vm-config.json');
      await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
      const result: FirecrackerPrepared = { class: 'firecracker', manifest, assets, dir, config, configPath };
      prepared.set(result, { cleaned: false });
      return result;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Refused: see the class's doc. Errors: ERR_INVALID_OPTION (not prepared here, or cleaned up); ERR_BACKEND_UNAVAILABLE. */
  async start(p: Prepared): Promise<BackendProcess> {
    this.#live(p);
    const binary = this.#config.assets.find((a) => a.name === 'firecracker');
    throw new StrataError(
      ErrorCode.backendUnavailable,
      binary === undefined
        ? `no 'firecracker' binary is configured for the firecracker class on this host (pin one with 'strata host pin firecracker'); its VM config is at ${(p as FirecrackerPrepared).configPath}`
        : `running Firecracker is not built yet: the guest's stdio and exit code need a vsock channel (the qemu class uses virtio-console ports); the VM config is at ${(p as FirecrackerPrepared).configPath}`,
    );
  }

  /** Refused as {@link start} is. */
  async exec(p: Prepared): Promise<BackendProcess> {
    return this.start(p);
  }

  /** Refused: the class captures nothing (`capabilities.checkpoint` is `none`). Errors: ERR_INVALID_OPTION. */
  async checkpoint(p: Prepared): Promise<Checkpoint> {
    this.#live(p);
    throw new StrataError(ErrorCode.invalidOption, 'the firecracker class cannot checkpoint (capabilities.checkpoint is none)');
  }

  /** Prepare a snapshot's filesystem (any class's) for Firecracker. Errors: those of reading the manifest, then {@link prepare}'s. */
  async restore(digest: string, options: PrepareOptions = {}): Promise<FirecrackerPrepared> {
    const store = options.store ?? (await ImageStore.open());
    const { manifest } = await new SnapshotStore(store).inspect(digest);
    return this.prepare({ ...manifest, class: 'firecracker', backend: manifest.class === 'firecracker' ? manifest.backend : { assets: [], config: {} } }, { ...options, store });
  }

  /** Remove the images and the config. Idempotent. */
  async cleanup(p: Prepared): Promise<void> {
    const state = prepared.get(p);
    if (state === undefined) throw new StrataError(ErrorCode.invalidOption, 'not prepared by this firecracker backend');
    state.cleaned = true;
    await rm((p as FirecrackerPrepared).dir, { recursive: true, force: true });
  }

  async #verify(manifest: BackendManifest): Promise<VerifiedAsset[]> {
    for (const name of ['kernel', 'initramfs']) {
      if (!this.#config.assets.some((a) => a.name === name)) throw new StrataError(ErrorCode.assetMissing, `the host config's firecracker class pins no '${name}' asset (runtime/microvm/build-assets.sh builds them)`);
    }
    const verified = await verifyAssets(this.#config.assets);
    checkRecordedAssets(manifest.backend.assets, this.#config.assets, hostArch());
    return verified;
  }

  #live(p: Prepared): void {
    const state = prepared.get(p);
    if (state === undefined) throw new StrataError(ErrorCode.invalidOption, 'not prepared by this firecracker backend');
    if (state.cleaned) throw new StrataError(ErrorCode.invalidOption, 'this prepared sandbox was cleaned up');
  }
}
