import vm from 'node:vm';
import { ErrorCode, StrataError } from '../errors.js';
import { FsError, Namespace, Tmpfs, type DirNode, type TmpfsLimits } from '../vfs/index.js';
import { GuestDeadline, WasiHost, type StreamSink, type StreamSource } from '../wasi/index.js';
import { compileGuest, GuestModule } from './guest-module.js';

/** Root modes. Only `tmpfs` exists until the image issue lands `readonly` and `overlay`. */
export const RootMode = { tmpfs: 'tmpfs' } as const;
export type RootMode = (typeof RootMode)[keyof typeof RootMode];

/** Options of {@link Sandbox.create}. */
export interface SandboxOptions {
  /** The root's mode. Default `tmpfs`: a private, empty in-memory root. */
  readonly root?: RootMode;
  /** Quotas of the tmpfs root. Default 1 GiB and 1 Mi inodes. */
  readonly tmpfs?: Partial<TmpfsLimits>;
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
  /** Stop the guest after this many milliseconds (ERR_TIMEOUT). Default: no limit. */
  readonly timeoutMs?: number;
  /** Most fds open at once; EMFILE past it. Default 1024. */
  readonly maxFds?: number;
  /** Most bytes collected per output stream (ERR_OUTPUT_LIMIT past it). Default 64 MiB. */
  readonly maxOutputBytes?: number;
  /** Memory cap when `guest` is bytes or a path. Default 1 GiB. */
  readonly memoryLimitBytes?: number;
  /** Receives one line per WASI call, strace style. */
  readonly trace?: (line: string) => void;
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
  readonly namespace: Namespace;
  readonly #tmpfs: Tmpfs;

  private constructor(tmpfs: Tmpfs) {
    this.#tmpfs = tmpfs;
    this.namespace = new Namespace(tmpfs.root);
  }

  /**
   * Make a sandbox.
   * Errors: ERR_INVALID_OPTION (unknown root mode or bad quota).
   */
  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    const root = options.root ?? RootMode.tmpfs;
    if (root !== RootMode.tmpfs) {
      throw new StrataError(ErrorCode.invalidOption, `root mode '${String(root)}' is not available yet: only 'tmpfs' (readonly and overlay need an image)`);
    }
    for (const [key, value] of Object.entries(options.tmpfs ?? {})) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new StrataError(ErrorCode.invalidOption, `tmpfs.${key} must be a positive integer, got ${String(value)}`);
      }
    }
    return new Sandbox(new Tmpfs({ dev: 1n, ...(options.tmpfs === undefined ? {} : { limits: options.tmpfs }) }));
  }

  /** Bytes and inodes used in the root. */
  get usage(): { bytes: number; inodes: number } {
    return this.#tmpfs.usage;
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
        : await compileGuest(guest, options.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: options.memoryLimitBytes });
    return this.runSync(compiled, options);
  }

  /** {@link run} without the promise, for callers that already hold a compiled module. */
  runSync(guest: GuestModule, options: RunOptions = {}): RunResult {
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
      preopens: [{ path: '/', dir: this.namespace.root }],
      stdin: toSource(options.stdin),
      stdout,
      stderr,
      ...(options.maxFds === undefined ? {} : { maxFds: options.maxFds }),
      ...(timeoutMs === undefined ? {} : { deadline: started + timeoutMs }),
      ...(options.trace === undefined ? {} : { trace: options.trace }),
    });
    const output = () => ({ stdout: stdout.collected(), stderr: stderr.collected() });
    let exitCode: number;
    try {
      const instance = new WebAssembly.Instance(guest.module, host.imports);
      exitCode = timeoutMs === undefined ? host.start(instance) : runWithTimeout(() => host.start(instance), timeoutMs);
    } catch (error) {
      throw guestError(error, guest.name, timeoutMs, output());
    }
    return { exitCode, ...output(), durationMs: performance.now() - started };
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
  return error;
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
