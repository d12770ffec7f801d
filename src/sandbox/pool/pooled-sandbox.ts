/**
 * A sandbox living on a pool worker, as the app holds it: spawn, run,
 * exec, files, diff, commit, close. Every call goes to its home worker.
 */
import { ErrorCode, StrataError } from '../../errors.js';
import { GuestModule } from '../guest-module.js';
import type { HostComponent } from './component-process.js';
import type { PreopenOption } from '../preopens.js';
import type { Digest } from '../../oci/index.js';
import type { SnapshotManifest } from '../../snapshot/index.js';
import { defaultMaxOutputBytes, GuestError, type RunResult, type SandboxChange, type SandboxSnapshot } from '../sandbox.js';
import type { HomeWorker } from './home-worker.js';
import { PooledSandboxFs } from './pooled-fs.js';
import { Process, ProcessJob, type ProcessExit } from './process.js';
import { maxPid, stdioBuffer, type WireSpawn } from './protocol.js';
import { OutputPipe, StdinPipe, type OutputMode } from './stdio.js';
import type { GuestLimits } from './worker-process.js';

/** Options of {@link PooledSandbox.spawn}. */
export interface SpawnOptions {
  /**
   * A module from the host (a path, bytes or a compiled `GuestModule`),
   * run with argv as given. Without it, argv follows the image's
   * Entrypoint and `argv[0]` is found in the sandbox as `exec` finds it.
   */
  readonly module?: GuestModule | Uint8Array | string;
  /** Environment variables (over the image's `Env` when running a program of the sandbox). */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory, passed as `PWD`; must exist. `cwd` is the same. */
  readonly workdir?: string;
  readonly cwd?: string;
  /** `pipe` (default): write `process.stdin`, end it for EOF. Bytes or text: those, then EOF. */
  readonly stdin?: 'pipe' | string | Uint8Array;
  /** `pipe` (default): the `process.stdout` Readable. A function: called with each chunk. */
  readonly stdout?: 'pipe' | ((chunk: Uint8Array) => void);
  readonly stderr?: 'pipe' | ((chunk: Uint8Array) => void);
  /** Stop it after this many milliseconds (reason `timeout`). */
  readonly timeoutMs?: number;
  /** Which stdio streams are terminals (see `RunOptions.tty`). */
  readonly tty?: boolean | { readonly stdin?: boolean; readonly stdout?: boolean; readonly stderr?: boolean };
  /** Most fds open at once; EMFILE past it. Default 1024. */
  readonly maxFds?: number;
  /** Cap on linear memory of a module compiled for this spawn. Default 1 GiB. */
  readonly memoryLimitBytes?: number;
  /** Cap on table elements of a module compiled for this spawn (see `compileGuest`). Default 1 Mi. */
  readonly tableLimitElements?: number;
  /** Most bytes per output stream; past it the process ends (reason `output-limit`). Default: no cap (streams are flow-controlled). */
  readonly maxOutputBytes?: number;
  /** Preopened directories (see `RunOptions.preopens`). */
  readonly preopens?: readonly PreopenOption[];
  /** Receives one line per WASI call, strace style (posted by the worker, so slower). */
  readonly trace?: (line: string) => void;
}

/** Options of {@link PooledSandbox.run} and {@link PooledSandbox.exec}: those of `Sandbox.run`, except source objects for stdin. */
export interface PooledRunOptions {
  readonly args?: readonly string[];
  readonly argv0?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly workdir?: string;
  readonly stdin?: string | Uint8Array;
  readonly stdout?: (chunk: Uint8Array) => void;
  readonly stderr?: (chunk: Uint8Array) => void;
  readonly tty?: SpawnOptions['tty'];
  readonly timeoutMs?: number;
  readonly maxFds?: number;
  readonly maxOutputBytes?: number;
  readonly memoryLimitBytes?: number;
  readonly tableLimitElements?: number;
  readonly preopens?: readonly PreopenOption[];
  readonly trace?: (line: string) => void;
}

/** What a pooled sandbox needs of its pool. */
export interface PoolLink {
  readonly maxProcessesPerSandbox: number;
  compile(source: GuestModule | Uint8Array | string, limits: GuestLimits): Promise<GuestModule | HostComponent>;
  closed(sandbox: PooledSandbox): void;
  /** A new sandbox id, and the handle of the sandbox made under it on `home`. */
  nextId(): number;
  adopt(id: number, home: HomeWorker): PooledSandbox;
}

let lastPid = 0;

function nextPid(): number {
  lastPid = lastPid >= maxPid ? 1 : lastPid + 1;
  return lastPid;
}

/**
 * A sandbox on a pool worker: its root, mounts and limits live on that
 * (home) worker's thread, with its processes, so their syscalls never
 * cross threads. Made by {@link SandboxPool.create}.
 *
 * Its processes run one after another on the home worker, which runs one
 * guest at a time (another sandbox's, possibly): a spawn is queued until
 * the ones before it end.
 */
export class PooledSandbox {
  /** Unique within the pool. */
  readonly id: number;
  /** Files in and out, as `sandbox.fs`, served by the home worker. */
  readonly fs: PooledSandboxFs;
  readonly #home: HomeWorker;
  readonly #pool: PoolLink;
  readonly #jobs = new Set<ProcessJob>();
  #closed = false;

  /** @internal Made by `SandboxPool.create`. */
  constructor(id: number, home: HomeWorker, pool: PoolLink) {
    this.id = id;
    this.#home = home;
    this.#pool = pool;
    this.fs = new PooledSandboxFs((method, args) => this.#call(method, args));
  }

  /** Processes queued or running. */
  get processes(): number {
    return this.#jobs.size;
  }

  /**
   * Start a process and return it at once; it is queued behind the home
   * worker's running process. `argv` is the command (after the image's
   * Entrypoint, the image's Cmd when omitted), or with `module` the whole
   * argv (default: the module's name).
   *
   * Errors (thrown): ERR_INVALID_OPTION (a bad option, a closed sandbox),
   * ERR_PROCESS_LIMIT. Everything after, from a missing program to a
   * compile error, is in `exited` (reason `error`).
   */
  spawn(argv?: readonly string[], options: SpawnOptions = {}): Process {
    return this.#spawn(argv, options, undefined);
  }

  /**
   * Run a module from the host to its end, as `Sandbox.run` does: the
   * same results and errors (GuestError ERR_TIMEOUT, ERR_GUEST_TRAP,
   * ERR_OUTPUT_LIMIT with the output so far; ERR_KILLED if the sandbox
   * closed meanwhile).
   */
  async run(guest: GuestModule | Uint8Array | string, options: PooledRunOptions = {}): Promise<RunResult> {
    const name = guest instanceof GuestModule ? guest.name : typeof guest === 'string' ? (guest.split(/[\\/]/).pop() ?? guest) : 'main.wasm';
    const argv = [options.argv0 ?? name, ...(options.args ?? [])];
    return this.#collect(argv, { ...runSpawn(options), module: guest }, name, options.timeoutMs);
  }

  /**
   * Run a command from the sandbox's own files, as `Sandbox.exec` does
   * (image Entrypoint, Cmd, Env, WorkingDir; PATH lookup), with its
   * results and errors.
   */
  async exec(command?: readonly string[], options: Omit<PooledRunOptions, 'args' | 'argv0'> = {}): Promise<RunResult> {
    const name = command?.[0]?.split('/').pop() ?? 'command';
    return this.#collect(command, runSpawn(options), name, options.timeoutMs);
  }

  /**
   * A new pooled sandbox on the same home worker whose root is an O(1)
   * copy-on-write fork of this one's current state (see `Sandbox.fork`).
   * Served between processes: it waits for the worker's running guest
   * to end. Errors: those of `Sandbox.fork`; ERR_INVALID_OPTION (closed).
   */
  async fork(): Promise<PooledSandbox> {
    if (this.#closed) throw new StrataError(ErrorCode.invalidOption, `sandbox ${this.id} is closed`);
    const child = this.#pool.nextId();
    await this.#home.request((id) => ({ t: 'fork', id, sandbox: this.id, child }));
    return this.#pool.adopt(child, this.#home);
  }

  /**
   * Commit the sandbox as a snapshot (see `Sandbox.commit`), even while a
   * guest runs on its home worker. The seal is served as a `sandbox.fs`
   * call is, at the running guest's next syscall: that guest waits only
   * for the O(1) seal (`pauseMs`), whatever the size of the delta. The
   * delta layer is written later, when the worker is idle; the promise
   * settles once the snapshot is stored.
   *
   * A guest of this sandbox running at the seal goes on in the sealed
   * state: it reads what it read, and from the seal on its writes fail
   * with EROFS (through fds it already had open too). Processes started
   * after the commit write to a fresh upper; guests of other sandboxes
   * are untouched.
   *
   * Errors: those of `Sandbox.commit`; ERR_INVALID_OPTION (closed).
   */
  async commit(options: { labels?: Readonly<Record<string, string>>; compression?: 'gzip' | 'none' } = {}): Promise<{ digest: Digest; manifest: SnapshotManifest; pauseMs: number }> {
    const { digest, manifest, pauseMs } = (await this.#call('commit', [this.id, options])) as SandboxSnapshot;
    return { digest, manifest, pauseMs };
  }

  /** See `Sandbox.diff` (`since: 'fork'` for this sandbox's own changes). */
  async diff(options: { contents?: boolean; since?: 'image' | 'fork' } = {}): Promise<SandboxChange[]> {
    return (await this.#call('diff', [options])) as SandboxChange[];
  }

  /** See `Sandbox.mountChanges`. */
  async mountChanges(target: string, options: { contents?: boolean } = {}): Promise<SandboxChange[]> {
    return (await this.#call('mountChanges', [target, options])) as SandboxChange[];
  }

  /** See `Sandbox.applyMount`. */
  async applyMount(target: string, options: { paths?: readonly string[] } = {}): Promise<{ applied: string[] }> {
    return (await this.#call('applyMount', [target, options])) as { applied: string[] };
  }

  /** Bytes and inodes written (see `Sandbox.usage`). */
  async usage(): Promise<{ bytes: number; inodes: number }> {
    return (await this.#call('usage', [])) as { bytes: number; inodes: number };
  }

  /** See `Sandbox.sync`. */
  async sync(): Promise<void> {
    await this.#call('sync', []);
  }

  /**
   * Kill its processes and drop the sandbox from its worker. Calls after
   * it fail with ERR_INVALID_OPTION; closing twice does nothing.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const job of this.#jobs) this.#home.kill(job, 'killed', 'SIGKILL');
    await Promise.all([...this.#jobs].map((job) => job.exited));
    this.#pool.closed(this);
    if (this.#home.lost === undefined) await this.#home.request((id) => ({ t: 'close', id, sandbox: this.id }));
  }

  #call(method: string, args: readonly unknown[]): Promise<unknown> {
    if (this.#closed) return Promise.reject(new StrataError(ErrorCode.invalidOption, `sandbox ${this.id} is closed`));
    return this.#home.call(this.id, method, args);
  }

  async #collect(argv: readonly string[] | undefined, options: SpawnOptions, name: string, timeoutMs: number | undefined): Promise<RunResult> {
    const collect = { stdout: options.stdout === undefined, stderr: options.stderr === undefined };
    const job = this.#job(argv, options, collect);
    const exit = await job.exited;
    const output = { stdout: job.stdout.collected(), stderr: job.stderr.collected() };
    return settle(exit, name, timeoutMs, output);
  }

  #spawn(argv: readonly string[] | undefined, options: SpawnOptions, collect: { stdout: boolean; stderr: boolean } | undefined): Process {
    const job = this.#job(argv, options, collect);
    return new Process(job, (signal) => this.#home.kill(job, 'killed', signal));
  }

  #job(argv: readonly string[] | undefined, options: SpawnOptions, collect: { stdout: boolean; stderr: boolean } | undefined): ProcessJob {
    if (this.#closed) throw new StrataError(ErrorCode.invalidOption, `sandbox ${this.id} is closed`);
    if (this.#jobs.size >= this.#pool.maxProcessesPerSandbox) {
      throw new StrataError(ErrorCode.processLimit, `sandbox ${this.id} already has ${this.#jobs.size} processes queued or running (maxProcessesPerSandbox ${this.#pool.maxProcessesPerSandbox})`);
    }
    checkSpawnOptions(argv, options);
    const wake = () => this.#home.wake();
    const mode = (given: SpawnOptions['stdout'], collected: boolean): OutputMode =>
      collected ? { kind: 'collect' } : typeof given === 'function' ? { kind: 'sink', sink: given } : { kind: 'pipe' };
    const stdin = options.stdin ?? 'pipe';
    const io = stdioBuffer(stdin === 'pipe');
    const pid = nextPid();
    const job = new ProcessJob(
      pid,
      this.id,
      argv?.[0] ?? 'process',
      options.timeoutMs,
      new OutputPipe(1, io, mode(options.stdout, collect?.stdout === true), wake),
      new OutputPipe(2, io, mode(options.stderr, collect?.stderr === true), wake),
      stdin === 'pipe' ? new StdinPipe(io, wake) : undefined,
      options.trace,
      (ended) => this.#jobs.delete(ended),
    );
    this.#jobs.add(job);
    const tty = options.tty === undefined ? undefined : typeof options.tty === 'boolean' ? { stdin: options.tty, stdout: options.tty, stderr: options.tty } : options.tty;
    const spec = (guest: GuestModule | HostComponent | undefined) => ({
      pid,
      sandbox: this.id,
      ...(guest instanceof GuestModule && { guest: wireGuest(guest) }),
      ...(guest !== undefined && !(guest instanceof GuestModule) && { component: guest }),
      argv,
      env: options.env,
      workdir: options.workdir ?? options.cwd,
      tty,
      maxFds: options.maxFds,
      preopens: options.preopens,
      memoryLimitBytes: options.memoryLimitBytes,
      tableLimitElements: options.tableLimitElements,
      timeoutMs: options.timeoutMs,
      maxOutputBytes: options.maxOutputBytes ?? (collect !== undefined ? defaultMaxOutputBytes : 0),
      trace: options.trace !== undefined,
      stdin: stdin === 'pipe' ? ('pipe' as const) : typeof stdin === 'string' ? new TextEncoder().encode(stdin) : stdin,
      io,
    });
    if (options.module === undefined) job.spec = spec(undefined);
    this.#home.enqueue(job);
    if (options.module !== undefined) {
      this.#pool.compile(options.module, { memoryLimitBytes: options.memoryLimitBytes, tableLimitElements: options.tableLimitElements }).then(
        (guest) => this.#home.compiled(job, spec(guest)),
        (error: unknown) => this.#home.failed(job, error as Error),
      );
    }
    return job;
  }
}

function runSpawn(options: PooledRunOptions): SpawnOptions {
  const { args: _args, argv0: _argv0, ...rest } = options as PooledRunOptions & { args?: unknown; argv0?: unknown };
  return { ...(rest as SpawnOptions), stdin: options.stdin ?? new Uint8Array(0) };
}

/** Errors: ERR_INVALID_OPTION, naming the option. */
function checkSpawnOptions(argv: readonly string[] | undefined, options: SpawnOptions): void {
  const bad = (what: string) => new StrataError(ErrorCode.invalidOption, what);
  if (argv !== undefined && (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string'))) throw bad('argv must be an array of strings');
  const t = options.timeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t <= 0)) throw bad(`timeoutMs must be a positive number, got ${String(t)}`);
  const m = options.maxOutputBytes;
  if (m !== undefined && (!Number.isInteger(m) || m < 1)) throw bad(`maxOutputBytes must be a positive integer, got ${String(m)}`);
  const f = options.maxFds;
  if (f !== undefined && (!Number.isInteger(f) || f < 1)) throw bad(`maxFds must be a positive integer, got ${String(f)}`);
  const s = options.stdin;
  if (s !== undefined && s !== 'pipe' && typeof s !== 'string' && !(s instanceof Uint8Array)) throw bad("stdin must be 'pipe', a string or bytes");
  if (options.trace !== undefined && typeof options.trace !== 'function') throw bad('trace must be a function');
  const tty = options.tty;
  if (tty !== undefined && typeof tty !== 'boolean' && (typeof tty !== 'object' || tty === null || !Object.entries(tty).every(([k, v]) => ['stdin', 'stdout', 'stderr'].includes(k) && (v === undefined || typeof v === 'boolean')))) {
    throw bad(`tty must be a boolean or { stdin?, stdout?, stderr? } of booleans, got ${JSON.stringify(tty)}`);
  }
}

/** A run's result, or its GuestError, from how its process ended. */
function settle(exit: ProcessExit, name: string, timeoutMs: number | undefined, output: { stdout: Uint8Array; stderr: Uint8Array }): RunResult {
  switch (exit.reason) {
    case 'exit':
      return { exitCode: exit.code ?? 0, ...output, durationMs: exit.durationMs };
    case 'timeout':
      throw new GuestError(ErrorCode.timeout, `'${exit.program ?? name}' ran longer than ${timeoutMs} ms and was stopped`, output);
    case 'trap':
      throw new GuestError(ErrorCode.guestTrap, exit.message ?? `'${name}' trapped`, output);
    case 'output-limit':
      throw new GuestError(ErrorCode.outputLimit, exit.message ?? `'${name}' passed its output limit and was stopped`, output);
    case 'killed':
      throw new GuestError(ErrorCode.killed, `'${exit.program ?? name}' was killed (${exit.signal ?? 'SIGKILL'})`, output);
    default:
      throw exit.error ?? new StrataError(ErrorCode.internal, `'${name}' could not run`);
  }
}

/** A module as a worker is sent it: with its pooled-memory variant, when it has one (compiled here on its first spawn). */
function wireGuest(guest: GuestModule): NonNullable<WireSpawn['guest']> {
  const pooled = guest.pooled;
  if (pooled === undefined) return { module: guest.module, name: guest.name };
  return { module: guest.module, name: guest.name, pooled: { module: pooled.module, pages: pooled.pages, maxPages: pooled.maxPages } };
}
