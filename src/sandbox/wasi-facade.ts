/**
 * `sandbox.wasi()`: a `node:wasi`-shaped object over a sandbox, for
 * packages that instantiate their module themselves (with their own extra
 * imports) and take a WASI object, as `@ruby/wasm-wasi`'s `RubyVM` does.
 * https://nodejs.org/api/wasi.html
 */
import { readSync, writeSync } from 'node:fs';
import { ErrorCode, StrataError } from '../errors.js';
import type { Namespace } from '../vfs/index.js';
import { WasiHost, wasiModuleName, type StreamSink, type StreamSource } from '../wasi/index.js';
import { toSource } from './guest-run.js';
import { resolvePreopens, type PreopenOption } from './preopens.js';

type Syscall = (...args: never[]) => number;

/** A stdio stream of the facade: a host fd (as node:wasi takes), or strata's sources and sinks. */
export type SandboxWasiStdin = number | string | Uint8Array | StreamSource;
/** Where the guest's stdout or stderr goes: a host fd, or a function given each chunk. */
export type SandboxWasiOutput = number | ((chunk: Uint8Array) => void);

/** Options of `sandbox.wasi()`: node:wasi's, with the sandbox's stdio, preopens and limits. */
export interface SandboxWasiOptions {
  /** Only `preview1` (the default): strata does not provide `wasi_unstable`. */
  readonly version?: 'preview1';
  /** argv, including argv[0], as in node:wasi. Default: none. */
  readonly args?: readonly string[];
  /** Environment variables (`undefined` values are left out, as in node:wasi). Nothing of the host's is passed. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Directories preopened from fd 3, all of them in the sandbox, never on
   * the host: node:wasi's shape (`{ '/data': '/srv/data' }`, the name the
   * guest sees → a sandbox path), or strata's list (`[{ dir, as }]`).
   * Default: the sandbox root as `/`; `{}` or `[]` preopens nothing.
   */
  readonly preopens?: Readonly<Record<string, string>> | readonly PreopenOption[];
  /** Standard input: a host fd to read (node:wasi's shape), text, bytes or a blocking source. Default: empty. */
  readonly stdin?: SandboxWasiStdin;
  /** Standard output: a host fd (node:wasi's shape, e.g. `1`) or a function given each chunk. Default: discarded. */
  readonly stdout?: SandboxWasiOutput;
  /** Standard error, as `stdout`. Default: discarded. */
  readonly stderr?: SandboxWasiOutput;
  /** Which stdio streams are terminals to the guest: `true` for all, or per stream. Default: none. */
  readonly tty?: boolean | { readonly stdin?: boolean; readonly stdout?: boolean; readonly stderr?: boolean };
  /** Receives one line per WASI call, strace style. */
  readonly trace?: (line: string) => void;
  /** Most fds open at once; EMFILE past it. Default 1024. */
  readonly maxFds?: number;
  /** Only `true` (the default): proc_exit returns from `start`, it never ends the host process. */
  readonly returnOnExit?: boolean;
}

/**
 * A WASI preview1 instance over a sandbox, shaped like node:wasi's `WASI`:
 * hand `wasiImport` (or `getImportObject()`) to `WebAssembly.instantiate`
 * with your own imports, then `start` a command or `initialize` a reactor.
 *
 * Everything runs in the caller's thread: the guest's calls into WASI are
 * served by the sandbox's filesystem, with the fd table of this object.
 * The memory and table limits apply only to a module compiled by
 * `compileGuest` (pass its `.module`): a module the caller compiles itself
 * has the limits it declares. There is no timeout: the caller decides how
 * long its calls into the instance run.
 *
 * Errors are node:wasi's, with strata codes: ERR_WASI_ALREADY_STARTED (a
 * second `start` or `initialize`), ERR_NOT_WASI_COMMAND (`start` of an
 * instance without `memory` or `_start`, or with `_initialize`: node's
 * ERR_INVALID_ARG_TYPE), ERR_NOT_WASI_REACTOR (`initialize` of one without
 * `memory`, or with `_start`). What the guest throws (a trap) is rethrown
 * as it is, as node:wasi does.
 *
 * @example
 * const wasi = sandbox.wasi({ args: ['ruby'], stdout: (c) => process.stdout.write(c) });
 * const instance = await WebAssembly.instantiate(module, { ...wasi.getImportObject(), env: { call_host_function } });
 * const code = wasi.start(instance);
 */
export class SandboxWasi {
  /** The 46 preview1 functions, to import as `wasi_snapshot_preview1`. */
  readonly wasiImport: Record<string, Syscall>;
  readonly #host: WasiHost;
  #started = false;

  /**
   * Make the facade over a sandbox's namespace; `sandbox.wasi(options)` is the usual way.
   * Errors: ERR_INVALID_OPTION (a bad version, stdio, tty, maxFds or
   * `returnOnExit: false`), ERR_BAD_PATH (a preopen that is not a directory).
   */
  constructor(namespace: Namespace, options: SandboxWasiOptions = {}) {
    if (options.version !== undefined && options.version !== 'preview1') {
      throw new StrataError(ErrorCode.invalidOption, `version must be 'preview1' (strata does not provide wasi_unstable), got ${JSON.stringify(options.version)}`);
    }
    if (options.returnOnExit !== undefined && options.returnOnExit !== true) {
      throw new StrataError(ErrorCode.invalidOption, 'returnOnExit must be true: a guest never ends the host process');
    }
    const maxFds = options.maxFds;
    if (maxFds !== undefined && (!Number.isInteger(maxFds) || maxFds < 3)) {
      throw new StrataError(ErrorCode.invalidOption, `maxFds must be an integer of at least 3, got ${maxFds}`);
    }
    const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    this.#host = new WasiHost({
      namespace,
      args: (options.args ?? []).map(String),
      env,
      preopens: resolvePreopens(namespace, preopenList(options.preopens)),
      stdin: stdinSource(options.stdin),
      stdout: outputSink('stdout', options.stdout),
      stderr: outputSink('stderr', options.stderr),
      ...(maxFds === undefined ? {} : { maxFds }),
      ...(options.tty === undefined ? {} : { tty: ttyFlags(options.tty) }),
      ...(options.trace === undefined ? {} : { trace: options.trace }),
    });
    this.wasiImport = this.#host.imports[wasiModuleName];
  }

  /** `{ wasi_snapshot_preview1: wasiImport }`, to spread into an import object. */
  getImportObject(): { [wasiModuleName]: Record<string, Syscall> } {
    return { [wasiModuleName]: this.wasiImport };
  }

  /**
   * Run a command instance: bind its memory, call `_start`, close every
   * fd. Returns proc_exit's code, or 0 when `_start` returns.
   * Errors: ERR_WASI_ALREADY_STARTED; ERR_NOT_WASI_COMMAND (no exported
   * `memory` or `_start`, or an `_initialize`); what the guest threw.
   */
  start(instance: WebAssembly.Instance): number {
    const exports = this.#begin(instance, ErrorCode.notWasiCommand);
    if (typeof exports['_start'] !== 'function') throw notA(ErrorCode.notWasiCommand, 'it exports no function "_start"');
    if (exports['_initialize'] !== undefined) throw notA(ErrorCode.notWasiCommand, 'it exports "_initialize" (a reactor: use initialize)');
    return this.#host.start(instance);
  }

  /**
   * Set up a reactor instance: bind its memory and call `_initialize` if
   * it exports one. Its exports may then be called, in the caller's
   * thread, with this object's fds, until {@link close}.
   * Errors: ERR_WASI_ALREADY_STARTED; ERR_NOT_WASI_REACTOR (no exported
   * `memory`, a `_start`, or an `_initialize` that is not a function);
   * what the guest threw (a proc_exit inside `_initialize` throws a
   * `ProcExit` carrying its `code`).
   */
  initialize(instance: WebAssembly.Instance): void {
    const exports = this.#begin(instance, ErrorCode.notWasiReactor);
    if (exports['_start'] !== undefined) throw notA(ErrorCode.notWasiReactor, 'it exports "_start" (a command: use start)');
    const init = exports['_initialize'];
    if (init !== undefined && typeof init !== 'function') throw notA(ErrorCode.notWasiReactor, '"_initialize" is not a function');
    this.#host.bindMemory(exports['memory'] as WebAssembly.Memory);
    if (init !== undefined) {
      (init as () => void)();
      if (this.#host.ending !== undefined) throw this.#host.ending;
    }
  }

  /** The first ending of the guest (a `ProcExit` with its `code`, a host error), if it ended. */
  get ending(): unknown {
    return this.#host.ending;
  }

  /**
   * Close every fd the guest holds, so the sandbox can release what they
   * retain (an unlinked file's bytes). `start` does this itself; call it
   * when done with a reactor. Calls after it find no fds (EBADF).
   */
  close(): void {
    this.#host.context.fds.closeAll();
  }

  /** The started check and the memory check both entry points share (node:wasi's order: started first). */
  #begin(instance: WebAssembly.Instance, code: string): Record<string, unknown> {
    if (this.#started) throw new StrataError(ErrorCode.wasiAlreadyStarted, 'this WASI instance has already started');
    this.#started = true;
    const exports = (instance as { exports?: unknown } | null)?.exports;
    if (typeof exports !== 'object' || exports === null) throw notA(code, 'instance.exports is not an object');
    if (!((exports as Record<string, unknown>)['memory'] instanceof WebAssembly.Memory)) throw notA(code, 'it exports no memory named "memory"');
    return exports as Record<string, unknown>;
  }
}

function notA(code: string, why: string): StrataError {
  return new StrataError(code, `not a WASI ${code === ErrorCode.notWasiReactor ? 'reactor' : 'command'} instance: ${why}`);
}

/** node:wasi's preopen record as strata's list; a list passes through. */
function preopenList(preopens: SandboxWasiOptions['preopens']): readonly PreopenOption[] | undefined {
  if (preopens === undefined || Array.isArray(preopens)) return preopens as readonly PreopenOption[] | undefined;
  if (typeof preopens !== 'object' || preopens === null) {
    throw new StrataError(ErrorCode.invalidOption, `preopens must be an object ({ guestName: sandboxPath }) or a list of { dir, as }, got ${typeof preopens}`);
  }
  return Object.entries(preopens as Record<string, string>).map(([as, dir]) => ({ dir: String(dir), as }));
}

function hostFd(value: number, stream: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
    throw new StrataError(ErrorCode.invalidOption, `${stream} must be a host fd (a non-negative integer), a function or a source, got ${value}`);
  }
  return value;
}

function stdinSource(stdin: SandboxWasiStdin | undefined): StreamSource {
  if (typeof stdin === 'number') {
    const fd = hostFd(stdin, 'stdin');
    return { read: (dst, offset, length) => readSync(fd, dst, offset, length, null) };
  }
  if (stdin !== undefined && typeof stdin !== 'string' && !(stdin instanceof Uint8Array)) {
    if (typeof (stdin as { read?: unknown }).read !== 'function') throw new StrataError(ErrorCode.invalidOption, 'stdin must be a host fd, text, bytes or a source with read()');
    return stdin;
  }
  return toSource(stdin);
}

function outputSink(stream: string, output: SandboxWasiOutput | undefined): StreamSink {
  if (output === undefined) return { write: () => {} };
  if (typeof output === 'number') {
    const fd = hostFd(output, stream);
    return {
      write(src, offset, length) {
        for (let done = 0; done < length; ) done += writeSync(fd, src, offset + done, length - done);
      },
    };
  }
  if (typeof output !== 'function') throw new StrataError(ErrorCode.invalidOption, `${stream} must be a host fd or a function given each chunk`);
  return { write: (src, offset, length) => { if (length > 0) output(src.slice(offset, offset + length)); } };
}

function ttyFlags(tty: NonNullable<SandboxWasiOptions['tty']>): { stdin?: boolean; stdout?: boolean; stderr?: boolean } {
  if (typeof tty === 'boolean') return { stdin: tty, stdout: tty, stderr: tty };
  if (typeof tty === 'object' && tty !== null && Object.entries(tty).every(([k, v]) => ['stdin', 'stdout', 'stderr'].includes(k) && (v === undefined || typeof v === 'boolean'))) {
    return tty;
  }
  throw new StrataError(ErrorCode.invalidOption, `tty must be a boolean or { stdin?, stdout?, stderr? } of booleans, got ${JSON.stringify(tty)}`);
}
