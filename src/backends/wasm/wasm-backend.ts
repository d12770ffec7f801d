import { readFileSync, realpathSync } from 'node:fs';
import { ErrorCode, StrataError } from '../../errors.js';
import { packageVersion } from '../../package-files.js';
import { defaultStoreRoot, ImageStore } from '../../oci/index.js';
import { Sandbox, type RunOptions } from '../../sandbox/index.js';
import { compiledProgram, readProgram } from '../../sandbox/program.js';
import { SnapshotStore } from '../../snapshot/index.js';
import { checkCapabilities } from '../capabilities.js';
import { checkRecordedAssets, hostArch, recordAssets, verifyAssets, type VerifiedAsset } from '../assets.js';
import type { Backend, BackendCapabilities, BackendProcess, Checkpoint, PrepareOptions, Prepared, ProcessSpec } from '../backend.js';
import type { BackendManifest } from '../manifest.js';
import type { ClassConfig } from '../registry.js';
import { sandboxMounts } from './mounts.js';
import { WasmProcess } from './wasm-process.js';

/** A manifest prepared by the wasm backend: an in-thread {@link Sandbox} and its processes. */
export interface WasmPrepared extends Prepared {
  readonly class: 'wasm';
  readonly sandbox: Sandbox;
}

interface State {
  readonly processes: Set<WasmProcess>;
  /** The store the sandbox was built from, where its checkpoints go. */
  readonly storeRoot: string;
  cleaned: boolean;
}

const states = new WeakMap<Prepared, State>();

/** The capabilities of the wasm backend: every platform, root mode and mount kind; filesystem checkpoints. */
export const wasmCapabilities: BackendCapabilities = {
  platforms: ['linux', 'darwin', 'win32'],
  architectures: ['*'],
  rootModes: ['readonly', 'overlay', 'tmpfs'],
  mountKinds: ['tmpfs', 'bind', 'overlay', 'volume', 'identity'],
  checkpoint: 'filesystem',
  concurrentExec: false,
};

/**
 * The `wasm` sandbox class: WASI preview1 guests in this process, over the
 * in-thread {@link Sandbox}. Its one asset is the JS runtime running
 * strata (`node`): the host config pins its sha256, and the pin must name
 * the binary this process runs (`process.execPath`).
 *
 * Guests run in the calling thread, one at a time per sandbox (a start or
 * exec while one runs waits its turn); `kill` drops a process that has not
 * begun, and `timeoutMs` stops one that has. Checkpoints capture the
 * filesystem (the root's changes as delta layers), not a running guest.
 * See src/backends/README.md and the {@link Backend} lifecycle.
 */
export class WasmBackend implements Backend {
  readonly class = 'wasm' as const;
  readonly capabilities = wasmCapabilities;
  readonly #config: ClassConfig;

  constructor(config: ClassConfig) {
    this.#config = config;
  }

  /**
   * Verify the assets, then build the sandbox the manifest describes: its
   * image (pulled when missing, then checked against the recorded manifest
   * digest), root mode and quotas, and mounts with the host's inputs.
   *
   * Errors, in order: ERR_INVALID_OPTION (another class, see
   * `checkCapabilities`; a manifest with delta layers, which is restored
   * by digest); ERR_ASSET_MISSING,
   * ERR_ASSET_MISMATCH (see {@link Backend}); ERR_INVALID_OPTION (a mount
   * without its host input); the errors of `Sandbox.create`;
   * ERR_DIGEST_MISMATCH (the image's manifest digest is not the recorded one).
   */
  async prepare(manifest: BackendManifest, options: PrepareOptions = {}): Promise<WasmPrepared> {
    checkCapabilities('wasm', this.capabilities, manifest);
    if (manifest.delta.length > 0 || manifest.parent !== undefined) throw new StrataError(ErrorCode.invalidOption, 'a manifest with delta layers is a snapshot: restore it by digest (backend.restore)');
    const assets = await this.#verify(manifest);
    const mounts = sandboxMounts(manifest.mounts, options);
    const limits = manifest.root.limits as { maxBytes?: number; maxInodes?: number } | undefined;
    const sandbox = await Sandbox.create({
      root: manifest.root.mode,
      mounts,
      ...(manifest.image !== undefined && { image: manifest.image.reference }),
      ...(limits !== undefined && { tmpfs: { ...(limits.maxBytes !== undefined && { maxBytes: limits.maxBytes }), ...(limits.maxInodes !== undefined && { maxInodes: limits.maxInodes }) } }),
      ...(options.store !== undefined && { store: options.store }),
      ...(options.cwd !== undefined && { cwd: options.cwd }),
    });
    const opened = sandbox.image?.record.manifestDigest;
    if (manifest.image !== undefined && opened !== manifest.image.manifestDigest) {
      sandbox.close();
      throw new StrataError(ErrorCode.digestMismatch, `image '${manifest.image.reference}': the manifest records ${manifest.image.manifestDigest}, the store has ${String(opened)}`);
    }
    return this.#prepared(manifest, assets, sandbox, options.store?.root ?? defaultStoreRoot());
  }

  /** Start the manifest's process, or `spec.args`. See {@link Backend.start}. */
  async start(prepared: Prepared, spec: ProcessSpec = {}): Promise<BackendProcess> {
    return this.#run(prepared, spec, spec.args ?? prepared.manifest.process?.args);
  }

  /** Run `spec.args` in the same sandbox, after any process already started. */
  async exec(prepared: Prepared, spec: ProcessSpec): Promise<BackendProcess> {
    if (spec.args === undefined) throw new StrataError(ErrorCode.invalidOption, 'exec needs args');
    return this.#run(prepared, spec, spec.args);
  }

  /**
   * Commit the sandbox's root (`sandbox.commit`: sealed in O(1), written
   * off the guest's path) and record what ran it: `backend.assets` (the
   * verified `node`), `backend.config` (the host's config for the class,
   * plus `strata`, this package's version, for the record) and the
   * prepared manifest's process. The sandbox goes on over a fresh upper.
   *
   * Errors, in order: ERR_INVALID_OPTION (not prepared here, or cleaned
   * up); ERR_ASSET_MISSING, ERR_ASSET_MISMATCH (verified again); those of
   * `sandbox.commit` (ERR_INVALID_OPTION for a host-directory root,
   * ERR_FORK_TOO_DEEP, ERR_STORE_BUSY, ERR_BAD_SNAPSHOT).
   */
  async checkpoint(prepared: Prepared, options: { readonly labels?: Readonly<Record<string, string>> } = {}): Promise<Checkpoint> {
    this.#state(prepared, true);
    const assets = await this.#verify();
    const { sandbox, manifest } = prepared as WasmPrepared;
    // One snapshot: what the sandbox holds, and what ran it.
    const { digest, manifest: committed } = await sandbox.commit({
      ...(options.labels !== undefined && { labels: options.labels }),
      class: 'wasm',
      backend: { assets: recordAssets(assets), config: { ...this.#config.config, strata: packageVersion() } },
      ...(manifest.process !== undefined && { process: { args: [...manifest.process.args], env: [...manifest.process.env], workdir: manifest.process.workdir } }),
    });
    return { digest, manifest: committed };
  }

  /**
   * Restore a snapshot (its digest, or a unique prefix) into a new
   * sandbox. Its manifest is read and verified first, then its recorded
   * assets are checked against the host's (and the files) before any
   * layer is read or any sandbox built; then `Sandbox.create({ from })`
   * verifies and stacks every layer of its chain.
   *
   * Errors, in order: ERR_SNAPSHOT_NOT_FOUND, ERR_DIGEST_MISMATCH,
   * ERR_BAD_SNAPSHOT, ERR_SNAPSHOT_VERSION (the manifest);
   * ERR_INVALID_OPTION (another class); ERR_ASSET_MISSING,
   * ERR_ASSET_MISMATCH; ERR_INVALID_OPTION (a mount without its host
   * input); the errors of restoring the layers (ERR_BLOB_NOT_FOUND,
   * ERR_DIGEST_MISMATCH, ERR_DIFFID_MISMATCH…).
   */
  async restore(digest: string, options: PrepareOptions = {}): Promise<WasmPrepared> {
    const store = options.store ?? (await ImageStore.open());
    const { digest: resolved, manifest } = await new SnapshotStore(store).inspect(digest);
    checkCapabilities('wasm', this.capabilities, manifest);
    const assets = await this.#verify(manifest);
    const sandbox = await Sandbox.create({
      from: resolved,
      store,
      mounts: sandboxMounts(manifest.mounts, options),
      ...(options.cwd !== undefined && { cwd: options.cwd }),
    });
    return this.#prepared(manifest, assets, sandbox, store.root);
  }

  /** Drop processes that have not begun, and close the sandbox (its host fds). Idempotent. */
  async cleanup(prepared: Prepared): Promise<void> {
    const state = this.#state(prepared, false);
    if (state.cleaned) return;
    state.cleaned = true;
    for (const p of state.processes) await p.kill();
    (prepared as WasmPrepared).sandbox.close();
  }

  /**
   * The configured assets, each verified against its file, the `node` pin
   * against this very process's binary, and the manifest's recorded assets
   * against the configured ones.
   */
  async #verify(manifest?: BackendManifest): Promise<VerifiedAsset[]> {
    const verified = await verifyAssets(this.#config.assets);
    const node = verified.find((a) => a.name === 'node');
    if (node === undefined) throw new StrataError(ErrorCode.assetMissing, "the host config's wasm class pins no 'node' asset (the JS runtime that runs the guests)");
    const running = realpathSync(process.execPath);
    if (realpathSync(node.path) !== running) {
      throw new StrataError(ErrorCode.assetMismatch, `backend asset 'node': the host config pins '${node.path}', but this process runs '${running}'`);
    }
    if (manifest !== undefined) checkRecordedAssets(manifest.backend.assets, this.#config.assets, hostArch());
    return verified;
  }

  #prepared(manifest: BackendManifest, assets: readonly VerifiedAsset[], sandbox: Sandbox, storeRoot: string): WasmPrepared {
    const prepared: WasmPrepared = { class: 'wasm', manifest, assets, sandbox };
    states.set(prepared, { processes: new Set(), storeRoot, cleaned: false });
    return prepared;
  }

  #state(prepared: Prepared, live: boolean): State {
    const state = states.get(prepared);
    if (state === undefined) throw new StrataError(ErrorCode.invalidOption, 'not prepared by this wasm backend');
    if (live && state.cleaned) throw new StrataError(ErrorCode.invalidOption, 'this prepared sandbox was cleaned up');
    return state;
  }

  async #run(prepared: Prepared, spec: ProcessSpec, args: readonly string[] | undefined): Promise<BackendProcess> {
    const state = this.#state(prepared, true);
    if (args === undefined || args.length === 0) throw new StrataError(ErrorCode.invalidOption, 'nothing to run: the manifest records no process and spec.args is empty');
    await this.#verify();
    const { sandbox, manifest } = prepared as WasmPrepared;
    const env: Record<string, string> = {};
    for (const pair of [...(manifest.process?.env ?? []), ...(spec.env ?? [])]) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    const workdir = spec.workdir ?? manifest.process?.workdir ?? '/';
    const guest = await compiledProgram(readProgram(sandbox.namespace, args[0]!, env['PATH'], workdir), { reactor: false });
    const options: RunOptions = {
      argv0: args[0]!,
      args: args.slice(1),
      env,
      workdir,
      ...(spec.stdin !== undefined && { stdin: spec.stdin }),
      ...(spec.stdout !== undefined && { stdout: spec.stdout }),
      ...(spec.stderr !== undefined && { stderr: spec.stderr }),
      ...(spec.timeoutMs !== undefined && { timeoutMs: spec.timeoutMs }),
    };
    const process = new WasmProcess(sandbox, guest, options);
    state.processes.add(process);
    void process.wait().then(() => state.processes.delete(process));
    return process;
  }
}
