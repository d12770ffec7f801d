import type { ImageStore } from '../oci/index.js';
import type { IdentityMount } from '../sandbox/index.js';
import type { VerifiedAsset } from './assets.js';
import type { BackendManifest, ManifestMountKind, ManifestRootMode, SandboxClass } from './manifest.js';

/**
 * What a backend can do on this host, so a caller can refuse a manifest
 * before preparing it.
 */
export interface BackendCapabilities {
  /** Node's platform names it runs on (`linux`, `darwin`, `win32`). */
  readonly platforms: readonly NodeJS.Platform[];
  /** Architectures, in OCI's names (`amd64`, `arm64`); `*` for any. */
  readonly architectures: readonly string[];
  readonly rootModes: readonly ManifestRootMode[];
  readonly mountKinds: readonly ManifestMountKind[];
  /**
   * What `checkpoint` captures: `filesystem` (the root's changes as OCI
   * delta layers; processes are not captured), `memory` (a running
   * process too, as runsc checkpoint does), or `none`.
   */
  readonly checkpoint: 'none' | 'filesystem' | 'memory';
  /** Whether `exec` may run a second process while one is running. */
  readonly concurrentExec: boolean;
}

/** Host-side inputs to {@link Backend.prepare}: never part of a manifest, given afresh each time. */
export interface PrepareOptions {
  /** Identity files injected at start (e.g. `/run/strata`); never baked into a snapshot. */
  readonly identity?: readonly IdentityMount[];
  /** Host directories for bind and overlay mounts, by target, where the manifest records none (or to override it). */
  readonly binds?: Readonly<Record<string, string>>;
  /** Resolves relative host paths. Default `process.cwd()`. */
  readonly cwd?: string;
  /** The image and snapshot store. Default `ImageStore.open()` (`$STRATA_HOME`, …). */
  readonly store?: ImageStore;
}

/**
 * A manifest rendered for this host and ready to start: for `wasm`, a
 * sandbox; for `oci-runtime`, a bundle directory; for `microvm`, disk
 * images and a VM config. Each backend extends it with its own handles.
 */
export interface Prepared {
  readonly class: SandboxClass;
  /** The manifest it was rendered from (with the host's inputs, never their contents). */
  readonly manifest: BackendManifest;
  /** The assets verified for it, as a checkpoint records them. */
  readonly assets: readonly VerifiedAsset[];
}

/** A process to run: argv, env, cwd, stdio and a deadline. */
export interface ProcessSpec {
  /** argv, argv[0] included. Default: the manifest's process. */
  readonly args?: readonly string[];
  /** `KEY=VALUE` pairs, over the manifest's env. */
  readonly env?: readonly string[];
  /** Absolute working directory. Default: the manifest's. */
  readonly workdir?: string;
  readonly stdin?: string | Uint8Array;
  /** Receives stdout as it is written; otherwise it is collected into the exit. */
  readonly stdout?: (chunk: Uint8Array) => void;
  readonly stderr?: (chunk: Uint8Array) => void;
  /** Stop the process after this many milliseconds (reason `timeout`). */
  readonly timeoutMs?: number;
}

/** How a process ended. */
export interface BackendExit {
  /** The exit code; `null` when a signal or the host ended it. */
  readonly code: number | null;
  /** The signal that ended it (`SIGKILL` for a kill), else `null`. */
  readonly signal: string | null;
  readonly reason: 'exit' | 'killed' | 'timeout' | 'trap' | 'output-limit' | 'error';
  /** Collected stdout and stderr (empty when a sink was given). */
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
  /** The error behind reasons other than `exit` and `killed`, with its stable code. */
  readonly error?: Error;
}

/** A process a backend started: signal it, wait for it. */
export interface BackendProcess {
  /** An id unique among this backend's processes. */
  readonly id: string;
  /**
   * Send a signal (default `SIGKILL`). Resolves once it was delivered or
   * the process had already ended; never rejects for an ended process.
   */
  kill(signal?: string): Promise<void>;
  /** Resolves with how it ended, once; every later call resolves alike. Never rejects. */
  wait(): Promise<BackendExit>;
}

/** What {@link Backend.checkpoint} returns: the snapshot's id and manifest. */
export interface Checkpoint {
  /** The manifest's digest (`sha256:…`): the snapshot id. */
  readonly digest: string;
  readonly manifest: BackendManifest;
}

/**
 * A backend renders a snapshot manifest for one host and runs it. One
 * interface serves every sandbox class: `wasm` (in this process),
 * `runsc`/`runc`/`crun` (an OCI bundle, issue 12), `qemu`/`firecracker`
 * (a microVM, issue 13). Backends are chosen by class with
 * `selectBackend(class, hostConfig)`; the binaries a backend runs (its
 * assets) come from the host config, never from the manifest or the
 * workload.
 *
 * ## Lifecycle
 *
 * ```
 *   manifest ──prepare──▶ Prepared ──start──▶ BackendProcess ──wait──▶ exit
 *                            │  ▲                 │
 *                            │  │                 └─kill(signal)
 *                            │  └─────restore(digest)──┐
 *                            ├──exec──▶ BackendProcess │
 *                            ├──checkpoint──▶ { digest, manifest }
 *                            └──cleanup
 * ```
 *
 * 1. **prepare(manifest, options)** checks the manifest against
 *    {@link capabilities}, verifies every asset of the class against its
 *    file (sha256, before anything runs) and, if the manifest records
 *    assets, checks them against the host's, then renders it: the wasm
 *    backend builds a sandbox (image, root mode, mounts, delta layers);
 *    an OCI runtime writes a bundle (`rootfs/` + `config.json`); a
 *    microVM backend builds ext4 images and the VM config. Host-only
 *    inputs (identity files, bind sources) come in `options`, afresh.
 * 2. **start(prepared, spec)** starts the manifest's process (or `spec`'s
 *    argv) and returns a {@link BackendProcess} at once.
 * 3. **exec(prepared, spec)** runs another process in the same sandbox.
 * 4. **process.kill(signal)** and **process.wait()** signal it and
 *    collect its exit. A timeout in `spec` ends it with reason `timeout`.
 * 5. **checkpoint(prepared, labels)** records the sandbox as a snapshot:
 *    the root's changes as OCI delta layers over the image, the assets
 *    that ran it (`backend.assets`), the class and its config. It returns
 *    the manifest and its digest. The sandbox keeps running.
 * 6. **restore(digest, options)** reads the snapshot, verifies its
 *    recorded assets against the host's configured ones and the files,
 *    and prepares it as step 1 does. Any mismatch is refused before
 *    anything runs.
 * 7. **cleanup(prepared)** ends its processes and removes what prepare
 *    made on the host (bundle, state and image files). Idempotent.
 *
 * ## Example
 *
 * A golden snapshot: run an init step once, checkpoint, restore many.
 *
 * ```ts
 * const host = await defaultHostConfig();              // wasm: node pinned to this process's binary
 * const backend = selectBackend('wasm', host);
 *
 * const prepared = await backend.prepare({
 *   class: 'wasm', image: undefined, root: { mode: 'tmpfs' }, mounts: [],
 *   process: { args: ['init'], env: [], workdir: '/' },
 *   backend: { assets: [], config: {} }, delta: [],
 * }, { identity: [{ type: 'identity', target: '/run/strata', files: { token } }] });
 * const init = await backend.start(prepared, { args: ['init.wasm'] });
 * const { code } = await init.wait();                   // 0
 * const { digest } = await backend.checkpoint(prepared, { labels: { golden: 'yes' } });
 * await backend.cleanup(prepared);
 *
 * // Later, in any process of a host configured alike:
 * const copy = await backend.restore(digest, { identity: [...] }); // ERR_ASSET_MISMATCH if node differs
 * const job = await backend.start(copy, { args: ['job.wasm'], timeoutMs: 5_000 });
 * console.log(await job.wait());
 * await backend.cleanup(copy);
 * ```
 *
 * ## Errors
 *
 * `prepare` rejects, in this order of precedence:
 * 1. ERR_INVALID_OPTION: the manifest's class is not this backend's, or
 *    it needs a platform, root mode or mount kind the backend lacks
 *    (`checkCapabilities`; named);
 * 2. ERR_ASSET_MISSING: a configured asset has no entry for this
 *    architecture, or its file cannot be read;
 * 3. ERR_ASSET_MISMATCH: a configured asset's file hashes to another
 *    sha256 than its pin, or an asset the manifest records differs from
 *    the configured one (name, version or sha256), naming the asset, the
 *    expected and the actual value;
 * 4. the rendering's errors (pulling or opening the image,
 *    ERR_INVALID_OPTION for a mount without its host input, ERR_BAD_PATH
 *    for a missing bind source, ENOSPC seeding a tmpfs root).
 *
 * `restore` first reads the snapshot's manifest (ERR_SNAPSHOT_NOT_FOUND,
 * ERR_DIGEST_MISMATCH, ERR_BAD_SNAPSHOT, ERR_SNAPSHOT_VERSION), then
 * rejects as `prepare` does in steps 1–3, before any layer is read; then
 * with the layers' errors (ERR_BLOB_NOT_FOUND, ERR_DIGEST_MISMATCH,
 * ERR_DIFFID_MISMATCH), then step 4's.
 *
 * `start` and `exec` reject with ERR_INVALID_OPTION (no process in spec
 * or manifest, a prepared sandbox that was cleaned up), then with
 * ERR_ASSET_MISMATCH (assets are verified again before every use), then
 * the errors of loading the program (ERR_BAD_PATH, ERR_NOT_WASM, …). A
 * process that starts and then fails resolves `wait()` with a reason.
 * `checkpoint` rejects with ERR_INVALID_OPTION when the class cannot
 * capture what was asked (see `capabilities.checkpoint`).
 *
 * Modeled on containerd's Snapshotter: one interface, a lifecycle in
 * steps, and one conformance suite to run against every implementation.
 */
export interface Backend {
  /** The sandbox class this backend runs. */
  readonly class: SandboxClass;
  readonly capabilities: BackendCapabilities;
  /** Render a manifest for this host, after verifying assets. See the lifecycle above. */
  prepare(manifest: BackendManifest, options?: PrepareOptions): Promise<Prepared>;
  /** Start the prepared sandbox's process; the manifest's process unless `spec.args` is given. */
  start(prepared: Prepared, spec?: ProcessSpec): Promise<BackendProcess>;
  /** Run another process in the prepared sandbox; `spec.args` is required. */
  exec(prepared: Prepared, spec: ProcessSpec): Promise<BackendProcess>;
  /** Record the sandbox as a snapshot: its changes, the assets used, the class. */
  checkpoint(prepared: Prepared, options?: { readonly labels?: Readonly<Record<string, string>> }): Promise<Checkpoint>;
  /** Read a snapshot by digest, verify its recorded assets, and prepare it. */
  restore(digest: string, options?: PrepareOptions): Promise<Prepared>;
  /** End the prepared sandbox's processes and remove what prepare made. Idempotent. */
  cleanup(prepared: Prepared): Promise<void>;
}
