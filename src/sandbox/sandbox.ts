import { ErrorCode, StrataError } from '../errors.js';
// A module-file run in a tmpfs root needs none of the image, store and
// component code: those modules are imported where they are used.
import { defaultStoreRoot } from '../oci/store-root.js';
import type { ImageStore } from '../oci/index.js';
import { FsError, Namespace, type DirNode } from '../vfs/index.js';
import { applyChanges } from './apply-back.js';
import { forkRoot } from './fork.js';
import { compileGuest, GuestModule, readModuleSource, type CompileOptions } from './guest-module.js';
import { isComponent } from '../component/binary.js';
import { runCommand } from './command-run.js';
import { compiledProgram, imageCommand, readProgram } from './program.js';
import type { RunOptions, RunResult } from './run-options.js';
import { describeChange, type SandboxChange } from './sandbox-change.js';
import { providedImports } from './guest-imports.js';
import { instantiateReactor, type InstantiateOptions, type ReactorInstance } from './reactor.js';
import { SandboxWasi, type SandboxWasiOptions } from './wasi-facade.js';
import type { Image } from './image.js';
import { overlayChanges } from './mounts.js';
import type { Mutable } from './mutable.js';
import { buildRoot, closeRoot, RootMode, usage, type RootOptions, type SandboxRoot } from './root.js';
import { SandboxFs } from './sandbox-fs.js';
import type { SandboxOptions } from './sandbox-options.js';
import { RunningProcesses } from './rebase.js';
import { commitRoot, restoreOptions, sealRoot, type Lineage, type SandboxCommitOptions, type SandboxSnapshot } from './snapshot.js';

export { RootMode } from './root.js';
export { GuestError, defaultMaxOutputBytes } from './run-options.js';
export type { RunOptions, RunResult } from './run-options.js';
export type { SandboxChange } from './sandbox-change.js';
export type { SandboxCommitOptions, SandboxSnapshot } from './snapshot.js';
export type { SandboxOptions } from './sandbox-options.js';

/** The root modes, as a set: checked on every `create`, without an array per call. */
const rootModes: ReadonlySet<string> = new Set(Object.values(RootMode));

/**
 * A sandbox: one root plus its mounts and limits, in which processes run.
 *
 * Each run gets fresh fds and the same root, so files written by one run
 * are seen by the next. The guest sees the root preopened as `/` (fd 3).
 *
 * @example
 * const sandbox = await Sandbox.create();
 * sandbox.writeFile('/greeting.txt', 'hi');
 * const { exitCode, stdout } = await sandbox.run('guests/bin/hello.wasm', { args: ['strata'] });
 */
export class Sandbox {
  /** Files in and out, shaped like `node:fs/promises`. */
  readonly fs: SandboxFs;
  /** The image the root is built over, if any. */
  readonly image: Image | undefined;
  #root: SandboxRoot;
  #lineage: Lineage;
  /** @internal Processes running here, moved onto the fresh upper when a commit or fork seals the root. */
  readonly running = new RunningProcesses();

  private constructor(root: SandboxRoot, image: Image | undefined, lineage: Lineage) {
    this.#root = root;
    this.image = image;
    this.#lineage = lineage;
    this.fs = new SandboxFs(() => this.#root.namespace);
  }

  /** The root and its mounts, as processes see them (a fork gives its parent a new one). */
  get namespace(): Namespace {
    return this.#root.namespace;
  }

  /**
   * Make a sandbox: a root over an image (or an empty one) and its mounts.
   * Over an image already opened in this process it costs O(1) in the
   * image's size (an `overlay` or `readonly` root walks and copies nothing).
   *
   * Errors: ERR_INVALID_OPTION (an unknown root mode, a mode that needs an
   * image, a bad quota or mount); the errors of pulling and opening the
   * image (ERR_BAD_REFERENCE, ERR_IMAGE_NOT_FOUND, ERR_REGISTRY_*,
   * ERR_LAYER_*…); ERR_BAD_PATH (a mount point under a file, a missing host
   * source); FsError ENOSPC (a `tmpfs` root seeded past its quota).
   */
  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    if (options.tmpfs !== undefined) {
      for (const [key, value] of Object.entries(options.tmpfs)) {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
          throw new StrataError(ErrorCode.invalidOption, `tmpfs.${key} must be a positive integer, got ${String(value)}`);
        }
      }
    }
    if (options.from !== undefined) {
      const restored = await restoreOptions(options);
      const sandbox = await Sandbox.create(restored.options);
      sandbox.#lineage = restored.lineage;
      return sandbox;
    }
    const mode = options.root ?? (options.image === undefined ? RootMode.tmpfs : RootMode.overlay);
    if (!rootModes.has(mode)) {
      throw new StrataError(ErrorCode.invalidOption, `unknown root mode '${String(mode)}' (one of readonly, overlay, tmpfs)`);
    }
    const cwd = options.cwd ?? process.cwd();
    let image: Image | undefined;
    if (typeof options.image === 'string') {
      const { openImage } = await import('./image.js');
      image = await openImage(options.image, {
        cwd,
        ...(options.store !== undefined && { store: options.store }),
        ...(options.pull !== undefined && { pull: options.pull }),
        ...(options.insecure !== undefined && { insecure: options.insecure }),
        ...(options.onPullEvent !== undefined && { onEvent: options.onPullEvent }),
      });
    } else {
      image = options.image;
    }
    let storeRoot = options.store?.root;
    const rootOptions: Mutable<RootOptions> = {
      mode,
      mounts: options.mounts ?? [],
      dev: options.dev ?? true,
      cwd,
      // Read from the environment only when needed (volumes, commits): reading process.env costs ~5 µs a sandbox.
      get storeRoot() {
        return (storeRoot ??= defaultStoreRoot());
      },
    };
    if (image !== undefined) rootOptions.image = image;
    if (options.tmpfs !== undefined) rootOptions.limits = options.tmpfs;
    if (options.upper !== undefined) rootOptions.upperDir = options.upper.dir;
    return new Sandbox(buildRoot(rootOptions), image, image === undefined || mode === RootMode.tmpfs ? {} : { image: image.record });
  }

  /**
   * A new sandbox whose root is a copy-on-write fork of this one's current
   * state, in O(1) whatever the image's and the upper's sizes: from then on
   * each side's writes are its own. Over the same image; the child's
   * mounts are built afresh from the same specs (bind and volume mounts
   * share their host directories, identity files are injected anew, tmpfs
   * mounts start empty, overlay mounts start over their host directory),
   * while this sandbox keeps its own. Each side's upper has the root's
   * quotas, counted from the fork. A fork's {@link diff} lists changes
   * since the image, its parent's included. In-thread no process can be
   * running in the sandbox meanwhile (a run is synchronous); a
   * `sandbox.fs` handle opened before the fork reads the state at the
   * fork and its writes fail with EROFS. See src/sandbox/fork.ts.
   *
   * Errors: ERR_INVALID_OPTION (the root is a host directory: a bind at
   * `/`, or `upper: { dir }`), ERR_FORK_TOO_DEEP (a chain of forks that
   * each wrote would stack more than 1,024 overlays); nothing changes.
   */
  async fork(): Promise<Sandbox> {
    const { parent, child } = forkRoot(this.#root);
    this.running.rebase(this.#root, parent);
    this.#root = parent;
    return new Sandbox(child, this.image, this.#lineage);
  }

  /**
   * Commit the root as a snapshot: sealed in O(1) (`pauseMs`), the sandbox
   * goes on at once over a fresh upper, and the delta is written as OCI
   * layers off the guest's path; `parent` is the snapshot it was restored
   * from or last committed. See {@link commitRoot}.
   * Errors: ERR_INVALID_OPTION (a host-directory root), ERR_FORK_TOO_DEEP
   * (nothing changed); then ERR_STORE_BUSY and host I/O errors.
   */
  async commit(options: SandboxCommitOptions = {}): Promise<SandboxSnapshot> {
    const { root, lineage, done } = commitRoot(this.#root, this.#lineage, () => openStore(this.#root.options.storeRoot), this.image, options);
    this.running.rebase(this.#root, root);
    this.#root = root;
    this.#lineage = lineage;
    return done;
  }

  /**
   * {@link commit} in two halves, for a host that must not start I/O at
   * the moment it seals (a pool worker seals inside a guest's syscall and
   * writes once idle): the root is sealed now, synchronously, and the
   * sandbox goes on over a fresh upper; `write()` writes the delta. A
   * process running in this sandbox at the seal is moved onto the fresh
   * upper (its open fds re-pointed by name, src/sandbox/rebase.ts), so it
   * writes on. See {@link sealRoot}.
   * Errors: those of {@link commit}, the later ones from `write()`.
   */
  beginCommit(options: SandboxCommitOptions = {}): { readonly pauseMs: number; write(): Promise<SandboxSnapshot> } {
    const sealed = sealRoot(this.#root, this.#lineage, () => openStore(this.#root.options.storeRoot), this.image, options);
    this.running.rebase(this.#root, sealed.root);
    this.#root = sealed.root;
    this.#lineage = sealed.lineage;
    return { pauseMs: sealed.pauseMs, write: sealed.write };
  }

  /** @internal The store this sandbox's root was made over (components' transpile cache). */
  get storeRoot(): string {
    return this.#root.options.storeRoot;
  }

  /** The root's mode. */
  get rootMode(): RootMode {
    return this.#root.mode;
  }

  /** Bytes and inodes written: the tmpfs root's, or the overlay upper's (in memory). */
  get usage(): { bytes: number; inodes: number } {
    return usage(this.#root);
  }

  /**
   * Release what the sandbox holds (`closeRoot`): the fds of its host mounts
   * and host upper (synced first), and its in-memory files' pages, for the
   * thread's next files. Their file operations then fail with EIO; the
   * image's files, and state a fork or commit shares, stay. Closing twice does nothing.
   */
  close(): void {
    this.sync();
    closeRoot(this.#root);
  }

  /** `await using sandbox = await Sandbox.create(…)` closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /**
   * Write into the overlay's upper what it holds only in memory (times set
   * on image files copy no data until the first write), so an upper in a
   * host directory (`upper: { dir }`) is complete. Does nothing for other
   * roots.
   */
  sync(): void {
    this.#root.overlay?.materialize();
  }

  /**
   * What changed in the root since the image, like `docker diff`: added,
   * changed and deleted paths, straight from the overlay's upper (and the
   * sealed uppers under it, for a fork). With `since: 'fork'`, only what
   * changed since this sandbox was forked or last forked (its own upper).
   * With `contents`, each added or changed regular file carries its bytes.
   * Errors: ERR_INVALID_OPTION (the root is not an overlay).
   */
  diff(options: { contents?: boolean; since?: 'image' | 'fork' } = {}): SandboxChange[] {
    const overlay = this.#root.overlay;
    if (overlay === undefined || this.#root.mode !== RootMode.overlay) throw new StrataError(ErrorCode.invalidOption, `diff needs an overlay root; this sandbox's root is '${this.#root.mode}'`);
    const changes = options.since === 'fork' ? overlay.changes() : overlay.stackChanges();
    return changes.map((c) => describeChange(c, options.contents === true));
  }

  /**
   * The changes the guest made in an overlay mount (`type: 'overlay'`),
   * for review; the host directory is untouched.
   * Errors: ERR_INVALID_OPTION (no mount at `target`, or not an overlay mount).
   */
  mountChanges(target: string, options: { contents?: boolean } = {}): SandboxChange[] {
    return overlayChanges(this.#mount(target)).map((c) => describeChange(c, options.contents === true));
  }

  /**
   * Write an overlay mount's changes back to its host directory (all of
   * them, or only `paths`). Every conflict is checked before anything is
   * written; each file is written atomically; nothing follows a symlink out.
   * Errors: ERR_INVALID_OPTION (not an overlay mount), ERR_APPLY_CONFLICT
   * (a host file changed since the guest saw it; names the path).
   */
  applyMount(target: string, options: { paths?: readonly string[] } = {}): { applied: string[] } {
    const mount = this.#mount(target);
    return applyChanges(overlayChanges(mount), mount.hostPath!, options);
  }

  /**
   * Run a command from the sandbox's own files, as `docker run IMAGE [CMD]`
   * does: `command` replaces the image's `Cmd` and follows its
   * `Entrypoint`; the program is found through `PATH` when it has no `/`.
   * A wasm artifact image with neither runs its module. The image's `Env`
   * and `WorkingDir` apply, under `env` and `workdir`.
   *
   * Errors: ERR_INVALID_OPTION (nothing to run), ERR_BAD_PATH (the program
   * is missing or not a file), the errors of {@link compileGuest} and
   * {@link run}.
   */
  async exec(command?: readonly string[], options: Omit<RunOptions, 'args' | 'argv0'> = {}): Promise<RunResult> {
    const { argv, env, workdir } = imageCommand(this.image, command, options);
    const program = readProgram(this.namespace, argv[0]!, env['PATH'], workdir);
    const runOptions = { ...options, env, workdir, argv0: argv[0]!, args: argv.slice(1) };
    if (isComponent(program)) return this.#runComponent(program, argv[0]!, runOptions);
    const guest = await compiledProgram(program, compileOptions(options));
    return this.runSync(guest, runOptions);
  }

  /** Write a file in the sandbox, replacing it. Errors: FsError (ENOENT for a missing parent, ENOSPC…). */
  writeFile(path: string, data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const { node } = this.namespace.open(this.namespace.root, path, { follow: true, create: true });
    const file = Namespace.asFile(node, 'writeFile');
    file.truncate(0);
    file.write(bytes, 0, bytes.length, 0);
  }

  /** Read a whole file from the sandbox. Errors: FsError (ENOENT, EISDIR…). */
  readFile(path: string): Uint8Array {
    const file = Namespace.asFile(this.namespace.resolve(this.namespace.root, path, true, 'readFile'), 'readFile');
    const out = new Uint8Array(file.size);
    file.read(out, 0, out.length, 0);
    return out;
  }

  /** Make a directory; with `recursive`, its missing parents too. Errors: FsError. */
  mkdir(path: string, options: { recursive?: boolean } = {}): void {
    if (options.recursive !== true) {
      this.namespace.mkdir(this.namespace.root, path);
      return;
    }
    let dir: DirNode = this.namespace.root;
    for (const part of path.split('/').filter((p) => p !== '' && p !== '.')) {
      let next;
      try {
        next = this.namespace.resolve(dir, part, true, 'mkdir');
      } catch (error) {
        if (!(error instanceof FsError) || error.errno !== 'ENOENT') throw error;
        next = this.namespace.mkdir(dir, part);
      }
      if (next.type !== 'directory') throw new FsError('ENOTDIR', 'mkdir', path);
      dir = next;
    }
  }

  /**
   * Run a WASI command to completion in this sandbox.
   *
   * Resolves with the exit code whatever it is. Rejects with:
   * - the errors of {@link compileGuest} when given bytes or a path;
   * - ERR_BAD_PATH: `workdir` is missing or not a directory;
   * - GuestError ERR_TIMEOUT, ERR_GUEST_TRAP or ERR_OUTPUT_LIMIT, with the
   *   output so far.
   */
  async run(guest: GuestModule | Uint8Array | string, options: RunOptions = {}): Promise<RunResult> {
    if (!(guest instanceof GuestModule)) {
      const { bytes, name } = await readModuleSource(guest);
      if (isComponent(bytes)) return this.#runComponent(bytes, name, options);
    }
    const compiled =
      guest instanceof GuestModule
        ? guest
        : await compileGuest(guest, compileOptions(options));
    return this.runSync(compiled, options);
  }

  /**
   * A `node:wasi`-shaped facade over this sandbox, for packages that
   * instantiate their module themselves: `{ wasiImport, getImportObject(),
   * start(instance), initialize(instance) }`. Runs in the caller's thread.
   * It serves the namespace of this moment: after a {@link fork}, one made
   * before reads the state at the fork and its writes fail with EROFS, as
   * a `sandbox.fs` handle does. See {@link SandboxWasi}.
   */
  wasi(options: SandboxWasiOptions = {}): SandboxWasi {
    return new SandboxWasi(this.namespace, options);
  }

  /**
   * Instantiate a WASI reactor in this sandbox with extra imports, call its
   * `_initialize`, and return it: its exports then run in the caller's
   * thread, over this sandbox's files, with the fds of `result.wasi`.
   * See {@link instantiateReactor} for the errors.
   */
  instantiate(guest: GuestModule | Uint8Array | string, options: InstantiateOptions = {}): Promise<ReactorInstance> {
    return instantiateReactor(this.namespace, guest, options);
  }

  /** {@link run} without the promise, for callers that already hold a compiled module. */
  runSync(guest: GuestModule, options: RunOptions = {}): RunResult {
    return runCommand(this.namespace, this.running, guest, options);
  }

  /** A WebAssembly component (preview2): transpiled and cached by digest, run over this namespace (src/sandbox/component-run.ts). */
  async #runComponent(bytes: Uint8Array, name: string, options: RunOptions): Promise<RunResult> {
    const { loadedComponent, runLoadedComponent } = await import('./component-run.js');
    const component = await loadedComponent(bytes, name, this.storeRoot, options);
    return runLoadedComponent(this.namespace, component, name, options, this.running);
  }

  #mount(target: string) {
    const mount = this.#root.mounts.get(target.replace(/\/+$/, '') || '/');
    if (mount === undefined) throw new StrataError(ErrorCode.invalidOption, `no mount at '${target}'`);
    return mount;
  }
}

/** The image store at `root`, for a commit. */
async function openStore(root: string): Promise<ImageStore> {
  const { ImageStore } = await import('../oci/index.js');
  return ImageStore.open(root);
}

/** The compile limits a run's options carry. */
function compileOptions(options: Pick<RunOptions, 'memoryLimitBytes' | 'tableLimitElements' | 'imports'>): CompileOptions {
  return {
    reactor: false,
    ...(options.imports !== undefined && { imports: providedImports(options.imports) }),
    ...(options.memoryLimitBytes !== undefined && { memoryLimitBytes: options.memoryLimitBytes }),
    ...(options.tableLimitElements !== undefined && { tableLimitElements: options.tableLimitElements }),
  };
}

