/**
 * Running one guest in the caller's thread: the watchdog for timeouts,
 * collected or streamed output with its cap, stdin as a source, and the
 * typed error a run that did not exit becomes.
 */
import type vm from 'node:vm';
import { ErrorCode, StrataError } from '../errors.js';
import { GuestDeadline, type StreamSink, type StreamSource } from '../wasi/index.js';
import { GuestError, type RunOptions } from './run-options.js';

// One context reused by every timed run: the timeout is enforced by V8's
// watchdog, which interrupts even a loop with no calls, and leaves the
// sandbox intact. Made by the first timed run: a V8 context costs ~0.7 ms,
// which every process importing strata would pay otherwise.
let timed: { context: vm.Context & { job: (() => number) | undefined }; script: vm.Script } | undefined;

const encoder = new TextEncoder();

/** Run `job` under V8's watchdog: past `timeoutMs` it is interrupted (ERR_SCRIPT_EXECUTION_TIMEOUT). */
export function runWithTimeout(job: () => number, timeoutMs: number): number {
  if (timed === undefined) {
    const { createContext, Script } = process.getBuiltinModule('node:vm');
    timed = { context: createContext({ job: undefined }) as vm.Context & { job: (() => number) | undefined }, script: new Script('job()') };
  }
  const { context, script } = timed;
  context.job = job;
  try {
    return script.runInContext(context, { timeout: Math.max(1, Math.ceil(timeoutMs)) }) as number;
  } finally {
    context.job = undefined;
  }
}

/** Thrown by {@link OutputStream} when collected output passes its cap. */
export class OutputLimit extends Error {
  constructor(readonly stream: string, readonly limit: number) {
    super(`${stream} exceeded ${limit} bytes`);
    this.name = 'OutputLimit';
  }
}

/** The typed error a run that did not exit becomes (timeout, output limit, trap, link error, or ERR_INTERNAL). */
export function guestError(error: unknown, name: string, timeoutMs: number | undefined, output: { stdout: Uint8Array; stderr: Uint8Array }): unknown {
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
export class OutputStream implements StreamSink {
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
    // Most runs leave stderr empty: no Buffer machinery for nothing.
    if (this.#chunks.length === 0) return new Uint8Array(0);
    return Buffer.concat(this.#chunks);
  }
}

/** An empty stdin: EOF at once. It holds no state, so every run shares it. */
const emptySource: StreamSource = { read: () => 0 };

/** stdin as a blocking source: bytes or text are read through once, then EOF. */
export function toSource(stdin: RunOptions['stdin']): StreamSource {
  if (stdin === undefined || stdin === '' || (stdin instanceof Uint8Array && stdin.length === 0)) return emptySource;
  if (typeof stdin !== 'string' && !(stdin instanceof Uint8Array)) return stdin;
  const bytes = typeof stdin === 'string' ? encoder.encode(stdin) : stdin;
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
/** Which stdio streams are terminals, from `RunOptions.tty`. Errors: ERR_INVALID_OPTION. */
export function stdioTty(tty: NonNullable<RunOptions['tty']>): { stdin?: boolean; stdout?: boolean; stderr?: boolean } {
  if (typeof tty === 'boolean') return { stdin: tty, stdout: tty, stderr: tty };
  if (typeof tty === 'object' && tty !== null && Object.entries(tty).every(([k, v]) => ['stdin', 'stdout', 'stderr'].includes(k) && (v === undefined || typeof v === 'boolean'))) {
    return tty;
  }
  throw new StrataError(ErrorCode.invalidOption, `tty must be a boolean or { stdin?, stdout?, stderr? } of booleans, got ${JSON.stringify(tty)}`);
}
