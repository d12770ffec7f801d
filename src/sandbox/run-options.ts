import { StrataError } from '../errors.js';
import type { StreamSource } from '../wasi/index.js';
import type { PreopenOption } from './preopens.js';

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
