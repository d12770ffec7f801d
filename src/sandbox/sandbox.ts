import vm from 'node:vm';
import { createHash } from 'node:crypto';
import { ErrorCode, StrataError } from '../errors.js';
import { defaultStoreRoot, type ImageStore } from '../oci/index.js';
import { FsError, Namespace, type DirNode, type OverlayChange, type TmpfsLimits } from '../vfs/index.js';
import { GuestDeadline, WasiHost, type StreamSink, type StreamSource } from '../wasi/index.js';
import { applyChanges } from './apply-back.js';
import { forkRoot } from './fork.js';
import { compileGuest, GuestModule, type CompileOptions } from './guest-module.js';
import { linkImports, providedImports } from './guest-imports.js';
import { instantiateReactor, type InstantiateOptions, type ReactorInstance } from './reactor.js';
import { SandboxWasi, type SandboxWasiOptions } from './wasi-facade.js';
import { resolvePreopens, type PreopenOption } from './preopens.js';
import { openImage, type Image, type OpenImageOptions } from './image.js';
import { overlayChanges, type MountSpec } from './mounts.js';
import { buildRoot, RootMode, usage, type SandboxRoot } from './root.js';
import { SandboxFs } from './sandbox-fs.js';

export { RootMode } from './root.js';

/** Options of {@link Sandbox.create}. */
export interface SandboxOptions {
  /**
   * The image the root is built over: a reference (`oci:DIR:TAG`,
   * `HOST/REPO:TAG`, …), pulled first when it is not in the store, or an
   * {@link Image} already opened. Default: none, an empty root.
   */
  readonly image?: string | Image;
  /**
   * The root's mode. Default `overlay` over an image (a copy-on-write upper),
   * `tmpfs` without one (a private, empty in-memory root). `readonly` needs
   * an image, and adds tmpfs at `/tmp` and `/run` unless `mounts` has a
   * tmpfs of its own; `tmpfs` over an image copies the image in.
   */
  readonly root?: RootMode;
  /** Quotas of the tmpfs root, or of the overlay's in-memory upper. Default 1 GiB and 1 Mi inodes. */
  readonly tmpfs?: Partial<TmpfsLimits>;
  /** Keep the overlay's upper in this host directory instead of memory; it survives the sandbox. */
  readonly upper?: { readonly dir: string };
  /** Mounts, at any path; missing mount points are made without writing the root. */
  readonly mounts?: readonly MountSpec[];
  /** Mount the minimal `/dev` (null, zero, full, random, urandom, stdin, stdout, stderr). Default true. */
  readonly dev?: boolean;
  /** The image store, for the image and for volumes. Default: `ImageStore.open()`. */
  readonly store?: ImageStore;
  /** Pulling a missing image: `missing` (default) or `never`; plus the pull's options. */
  readonly pull?: OpenImageOptions['pull'];
  readonly insecure?: boolean;
  readonly onPullEvent?: OpenImageOptions['onEvent'];
  /** Resolves relative host paths (mount sources, `oci:` references). Default `process.cwd()`. */
  readonly cwd?: string;
}

/** Options of {@link Sandbox.run}. */
export interface RunOptions {
  /** Arguments after argv[0]. */
  readonly args?: readonly string[];
  /** argv[0]. Default: the module's file name, or `main.wasm`. */
  readonly argv0?: string;
  /** Environment variables. Nothing of the host's environment is passed unless given here. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Working directory, which must exist in the sandbox. Preview1 has no
   * cwd, so it is passed as `PWD`; see docs/decisions.md.
   */
  readonly workdir?: string;
  /** Standard input: bytes, text, or a blocking source. Default: empty. */
  readonly stdin?: string | Uint8Array | StreamSource;
  /** Receives stdout as it is written. Default: collected into the result. */
  readonly stdout?: (chunk: Uint8Array) => void;
  /** Receives stderr as it is written. Default: collected into the result. */
  readonly stderr?: (chunk: Uint8Array) => void;
  /**
   * Which stdio streams are terminals: `true` for all three, or per stream.
   * Only a terminal is a character device to the guest (isatty() is 1 and
   * libc line-buffers stdout); any other stream has WASI filetype
   * `unknown`, like a pipe. Default: none. The CLI passes the truth of its
   * own fds. See docs/decisions.md.
   */
  readonly tty?: boolean | { readonly stdin?: boolean; readonly stdout?: boolean; readonly stderr?: boolean };
  /** Stop the guest after this many milliseconds (ERR_TIMEOUT). Default: no limit. */
  readonly timeoutMs?: number;
  /** Most fds open at once; EMFILE past it. Default 1024. */
  readonly maxFds?: number;
  /** Most bytes collected per output stream (ERR_OUTPUT_LIMIT past it). Default 64 MiB. */
  readonly maxOutputBytes?: number;
  /** Memory cap when `guest` is bytes or a path. Default 1 GiB. */
  readonly memoryLimitBytes?: number;
  /** Cap on the elements of all the guest's tables when `guest` is bytes or a path. Default 1 Mi. */
  readonly tableLimitElements?: number;
  /** Receives one line per WASI call, strace style. */
  readonly trace?: (line: string) => void;
  /**
   * The directories preopened for the guest, in order from fd 3: each a
   * sandbox directory and the name the guest sees. Default
   * `[{ dir: '/', as: '/' }]`, the root as `/`; `[]` preopens nothing.
   */
  readonly preopens?: readonly PreopenOption[];
  /**
   * Imports beyond preview1, merged with strata's (`{ env: { call_host_function } }`);
   * they cannot include `wasi_snapshot_preview1`. A module given as bytes
   * or a path, or found by `exec`, is compiled to accept exactly these; a
   * `GuestModule` must have declared them to `compileGuest`. The guest
   * calls them in the caller's thread.
   */
  readonly imports?: WebAssembly.Imports;
}

/** What a finished process left. */
export interface RunResult {
  /** proc_exit's code, or 0 when `_start` returned. */
  readonly exitCode: number;
  /** Collected stdout (empty when a `stdout` sink was given). */
  readonly stdout: Uint8Array;
  /** Collected stderr (empty when a `stderr` sink was given). */
  readonly stderr: Uint8Array;
  readonly durationMs: number;
}

/**
 * A process that did not exit: it trapped, timed out or flooded its output.
 * `code` says which; the output collected up to that point is kept.
 */
export class GuestError extends StrataError {
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;

  constructor(code: string, message: string, output: { stdout: Uint8Array; stderr: Uint8Array }, cause?: unknown) {
    super(code, message, { cause });
    this.name = 'GuestError';
    this.stdout = output.stdout;
    this.stderr = output.stderr;
  }
}

/** Default cap on collected output per stream. */
export const defaultMaxOutputBytes = 64 * 1024 * 1024;

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

  private constructor(root: SandboxRoot, image: Image | undefined) {
    this.#root = root;
    this.image = image;
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
    for (const [key, value] of Object.entries(options.tmpfs ?? {})) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new StrataError(ErrorCode.invalidOption, `tmpfs.${key} must be a positive integer, got ${String(value)}`);
      }
    }
    const mode = options.root ?? (options.image === undefined ? RootMode.tmpfs : RootMode.overlay);
    if (!Object.values(RootMode).includes(mode)) {
      throw new StrataError(ErrorCode.invalidOption, `unknown root mode '${String(mode)}' (one of readonly, overlay, tmpfs)`);
    }
    const cwd = options.cwd ?? process.cwd();
    let image: Image | undefined;
    if (typeof options.image === 'string') {
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
    const root = buildRoot({
      mode,
      ...(image !== undefined && { image }),
      ...(options.tmpfs !== undefined && { limits: options.tmpfs }),
      ...(options.upper !== undefined && { upperDir: options.upper.dir }),
      mounts: options.mounts ?? [],
      dev: options.dev ?? true,
      cwd,
      storeRoot: options.store?.root ?? defaultStoreRoot(),
    });
    return new Sandbox(root, image);
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
    this.#root = parent;
    return new Sandbox(child, this.image);
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
   * Release what the sandbox holds on the host: the fds of its bind, volume
   * and overlay mounts and of an upper in a host directory (syncing that
   * upper first). Later file operations on those mounts fail with EIO.
   * Closing twice does nothing.
   */
  close(): void {
    this.sync();
    for (const dir of this.#root.hostDirs) dir.close();
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
    const process = this.image?.process;
    let argv = [...(process?.entrypoint ?? []), ...(command ?? process?.cmd ?? [])];
    if (argv.length === 0 && this.image !== undefined && this.image.wasmFiles.length === 1) argv = [this.image.wasmFiles[0]!];
    if (argv.length === 0) throw new StrataError(ErrorCode.invalidOption, 'nothing to run: give a command (the image has no Entrypoint or Cmd)');
    const env: Record<string, string> = {};
    for (const pair of process?.env ?? []) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    Object.assign(env, options.env);
    const workdir = options.workdir ?? process?.workdir ?? '/';
    const guest = await this.#program(argv[0]!, env['PATH'], workdir, compileOptions(options));
    return this.runSync(guest, { ...options, env, workdir, argv0: argv[0]!, args: argv.slice(1) });
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
    if (guest.kind !== 'command') throw new StrataError(ErrorCode.notWasiCommand, `'${guest.name}' is a WASI reactor (no "_start"): use instantiate() or wasi().initialize()`);
    const env = { ...options.env };
    if (options.workdir !== undefined) {
      this.#checkWorkdir(options.workdir);
      env['PWD'] ??= options.workdir;
    }
    const maxOutput = options.maxOutputBytes ?? defaultMaxOutputBytes;
    const stdout = new OutputStream('stdout', options.stdout, maxOutput);
    const stderr = new OutputStream('stderr', options.stderr, maxOutput);
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
      throw new StrataError(ErrorCode.invalidOption, `timeoutMs must be a positive number, got ${timeoutMs}`);
    }
    const started = performance.now();
    const host = new WasiHost({
      namespace: this.namespace,
      args: [options.argv0 ?? guest.name, ...(options.args ?? [])],
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      preopens: resolvePreopens(this.namespace, options.preopens),
      stdin: toSource(options.stdin),
      stdout,
      stderr,
      ...(options.maxFds === undefined ? {} : { maxFds: options.maxFds }),
      ...(options.tty === undefined ? {} : { tty: stdioTty(options.tty) }),
      ...(timeoutMs === undefined ? {} : { deadline: started + timeoutMs }),
      ...(options.trace === undefined ? {} : { trace: options.trace }),
    });
    const output = () => ({ stdout: stdout.collected(), stderr: stderr.collected() });
    const imports = linkImports(guest.module, guest.name, host.imports, options.imports);
    let exitCode: number;
    try {
      const instance = new WebAssembly.Instance(guest.module, imports);
      exitCode = timeoutMs === undefined ? host.start(instance) : runWithTimeout(() => host.start(instance), timeoutMs);
    } catch (error) {
      throw guestError(error, guest.name, timeoutMs, output());
    }
    return { exitCode, ...output(), durationMs: performance.now() - started };
  }

  #mount(target: string) {
    const mount = this.#root.mounts.get(target.replace(/\/+$/, '') || '/');
    if (mount === undefined) throw new StrataError(ErrorCode.invalidOption, `no mount at '${target}'`);
    return mount;
  }

  /** The compiled module of a program in the sandbox, found as execvp finds it. */
  async #program(name: string, path: string | undefined, workdir: string, limits: CompileOptions): Promise<GuestModule> {
    const candidates = name.includes('/') ? [name.startsWith('/') ? name : `${workdir}/${name}`] : (path ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter((d) => d.startsWith('/')).map((d) => `${d}/${name}`);
    for (const candidate of candidates) {
      let node;
      try {
        node = this.namespace.resolve(this.namespace.root, candidate, true, 'execve');
      } catch (error) {
        if (error instanceof FsError && candidates.length > 1) continue;
        if (error instanceof FsError) throw new StrataError(ErrorCode.badPath, `program '${name}': ${error.errno}`, { cause: error });
        throw error;
      }
      if (node.type !== 'file') {
        if (candidates.length > 1) continue;
        throw new StrataError(ErrorCode.badPath, `program '${name}' is not a regular file`);
      }
      const bytes = new Uint8Array(node.size);
      node.read(bytes, 0, bytes.length, 0);
      return compiledFromSandbox(bytes, limits);
    }
    throw new StrataError(ErrorCode.badPath, `program '${name}' not found in PATH (${path ?? 'unset'})`);
  }

  #checkWorkdir(workdir: string): void {
    let node;
    try {
      node = this.namespace.resolve(this.namespace.root, workdir, true, 'chdir');
    } catch (error) {
      if (error instanceof FsError) throw new StrataError(ErrorCode.badPath, `workdir '${workdir}': ${error.errno}`, { cause: error });
      throw error;
    }
    if (node.type !== 'directory') throw new StrataError(ErrorCode.badPath, `workdir '${workdir}' is not a directory`);
  }
}

/** One change in a sandbox's root or overlay mount, like a line of `docker diff`. */
export interface SandboxChange {
  readonly path: string;
  readonly kind: 'added' | 'changed' | 'deleted';
  readonly type: 'directory' | 'file' | 'symlink' | 'character-device';
  /** The file's bytes now (added or changed regular files, when asked for). */
  readonly contents?: Uint8Array;
  /** A symlink's target now. */
  readonly target?: string;
}

function describeChange(change: OverlayChange, contents: boolean): SandboxChange {
  const node = change.node;
  const base = { path: change.path, kind: change.kind, type: change.type } as const;
  if (node?.type === 'symlink') return { ...base, target: node.target };
  if (contents && node?.type === 'file') {
    const bytes = new Uint8Array(node.size);
    node.read(bytes, 0, bytes.length, 0);
    return { ...base, contents: bytes };
  }
  return base;
}

// Modules read from sandboxes, compiled once per content digest and memory limit.
const compiled = new Map<string, Promise<GuestModule>>();

function compiledFromSandbox(bytes: Uint8Array, limits: CompileOptions): Promise<GuestModule> {
  const key = `${createHash('sha256').update(bytes).digest('hex')}:${limits.memoryLimitBytes ?? ''}:${limits.tableLimitElements ?? ''}:${JSON.stringify(limits.imports ?? {})}`;
  let module = compiled.get(key);
  if (module === undefined) {
    module = compileGuest(bytes, limits);
    compiled.set(key, module);
    module.catch(() => compiled.delete(key));
  }
  return module;
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

// One context reused by every timed run: the timeout is enforced by V8's
// watchdog, which interrupts even a loop with no calls, and leaves the
// sandbox intact.
const timedContext = vm.createContext({ job: undefined as (() => number) | undefined });
const timedScript = new vm.Script('job()');

function runWithTimeout(job: () => number, timeoutMs: number): number {
  (timedContext as { job: (() => number) | undefined }).job = job;
  try {
    return timedScript.runInContext(timedContext, { timeout: Math.max(1, Math.ceil(timeoutMs)) }) as number;
  } finally {
    (timedContext as { job: (() => number) | undefined }).job = undefined;
  }
}

class OutputLimit extends Error {
  constructor(readonly stream: string, readonly limit: number) {
    super(`${stream} exceeded ${limit} bytes`);
    this.name = 'OutputLimit';
  }
}

function guestError(error: unknown, name: string, timeoutMs: number | undefined, output: { stdout: Uint8Array; stderr: Uint8Array }): unknown {
  if (error instanceof GuestDeadline || (error as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
    return new GuestError(ErrorCode.timeout, `'${name}' ran longer than ${timeoutMs} ms and was stopped`, output, error);
  }
  if (error instanceof OutputLimit) {
    return new GuestError(ErrorCode.outputLimit, `'${name}' wrote more than ${error.limit} bytes to ${error.stream} and was stopped`, output, error);
  }
  if (error instanceof WebAssembly.RuntimeError || error instanceof RangeError) {
    return new GuestError(ErrorCode.guestTrap, `'${name}' trapped: ${(error as Error).message}`, output, error);
  }
  if (error instanceof WebAssembly.LinkError) {
    return new StrataError(ErrorCode.unknownImport, `'${name}' cannot be linked: ${error.message}`, { cause: error });
  }
  if (error instanceof StrataError) return error;
  // Anything else is a host bug: typed, never disguised as the guest's doing.
  return new StrataError(ErrorCode.internal, `'${name}': internal error: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** An output stream: to a caller's sink, or collected up to a limit. */
class OutputStream implements StreamSink {
  readonly #chunks: Uint8Array[] = [];
  #bytes = 0;

  constructor(
    readonly stream: string,
    readonly sink: ((chunk: Uint8Array) => void) | undefined,
    readonly limit: number,
  ) {}

  write(src: Uint8Array, offset: number, length: number): void {
    if (length === 0) return;
    const chunk = src.slice(offset, offset + length);
    if (this.sink !== undefined) {
      this.sink(chunk);
      return;
    }
    if (this.#bytes + length > this.limit) {
      const room = this.limit - this.#bytes;
      if (room > 0) this.#chunks.push(chunk.subarray(0, room));
      this.#bytes = this.limit;
      throw new OutputLimit(this.stream, this.limit);
    }
    this.#chunks.push(chunk);
    this.#bytes += length;
  }

  collected(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0]!;
    return Buffer.concat(this.#chunks);
  }
}

function toSource(stdin: RunOptions['stdin']): StreamSource {
  if (stdin !== undefined && typeof stdin !== 'string' && !(stdin instanceof Uint8Array)) return stdin;
  const bytes = typeof stdin === 'string' ? new TextEncoder().encode(stdin) : (stdin ?? new Uint8Array(0));
  let at = 0;
  return {
    read(dst, offset, length) {
      const n = Math.min(length, bytes.length - at);
      dst.set(bytes.subarray(at, at + n), offset);
      at += n;
      return n;
    },
  };
}

/** RunOptions.tty as one flag per stream. Errors: ERR_INVALID_OPTION. */
function stdioTty(tty: NonNullable<RunOptions['tty']>): { stdin?: boolean; stdout?: boolean; stderr?: boolean } {
  if (typeof tty === 'boolean') return { stdin: tty, stdout: tty, stderr: tty };
  if (typeof tty === 'object' && tty !== null && Object.entries(tty).every(([k, v]) => ['stdin', 'stdout', 'stderr'].includes(k) && (v === undefined || typeof v === 'boolean'))) {
    return tty;
  }
  throw new StrataError(ErrorCode.invalidOption, `tty must be a boolean or { stdin?, stdout?, stderr? } of booleans, got ${JSON.stringify(tty)}`);
}
