/**
 * What the main thread and a pool worker say to each other, and the
 * shared words they both read. Everything here crosses threads by
 * structured clone, so it holds data only: no functions, no classes.
 */
import type { ImageRecord } from '../../oci/index.js';
import type { PooledVariant } from '../memory-pool.js';
import type { MountSpec } from '../mounts.js';
import type { PreopenOption } from '../preopens.js';
import type { RootMode } from '../root.js';
import type { TmpfsLimits } from '../../vfs/index.js';

/**
 * The worker's control words, an `Int32Array` over a SharedArrayBuffer.
 * - `state`: `pid * 4 + phase` of the guest running now (0 when none), so
 *   a compare-exchange names the process and its phase at once.
 * - `kill`: the pid the main thread wants stopped.
 * - `wake`: bumped (and notified) by the main thread on every event a
 *   blocked guest call may wait for: an ack of output, stdin, a kill, an
 *   fs request.
 * - `fsPending`: set when a request waits on the fs port.
 */
export const Control = { state: 0, kill: 1, wake: 2, fsPending: 3, words: 4 } as const;

/** Phases of the `state` word. */
export const Phase = {
  /** No guest runs. */
  idle: 0,
  /** The guest runs its own code: a termination may land now. */
  inGuest: 1,
  /** The guest is inside a host call: the kill waits for its end. */
  inHost: 2,
  /** The main thread is terminating the guest; a call that starts now waits for it. */
  terminating: 3,
} as const;

/** pids are below 2^29 so `pid * 4 + phase` fits an int32. */
export const maxPid = 2 ** 29 - 1;

/** The `state` word of `pid` in `phase`. */
export function stateWord(pid: number, phase: number): number {
  return pid * 4 + phase;
}

/**
 * A process's stdio words (an `Int32Array`), then its stdin ring.
 * - `unacked + fd - 1`: bytes of stdout (1) or stderr (2) posted and not yet
 *   read by the consumer; past {@link outputWindowBytes} the guest waits.
 * - `stdinAvail`, `stdinClosed`: bytes in the ring, and the writer's end.
 * `stdinRead` and `stdinWrite` are positions each side keeps for itself.
 */
export const Stdio = { unacked: 0, stdinAvail: 2, stdinClosed: 3, stdinRead: 4, stdinWrite: 5, words: 8 } as const;

/** Bytes of the stdin ring. */
export const stdinRingBytes = 64 * 1024;

/** Output a consumer may leave unread before the guest's fd_write waits. */
export const outputWindowBytes = 1 << 20;

/** A new SharedArrayBuffer for one process's stdio words, and its stdin ring when stdin is a pipe. */
export function stdioBuffer(ring: boolean): SharedArrayBuffer {
  return new SharedArrayBuffer(Stdio.words * 4 + (ring ? stdinRingBytes : 0));
}

/** Why a process ended. */
export type ExitReason = 'exit' | 'killed' | 'timeout' | 'trap' | 'output-limit' | 'error';

/** An error as it crosses threads, rebuilt on the other side. */
export type WireError =
  | { readonly kind: 'fs'; readonly errno: string; readonly syscall: string; readonly path: string | undefined }
  | { readonly kind: 'strata'; readonly code: string; readonly message: string; readonly name: string }
  | { readonly kind: 'other'; readonly message: string; readonly name: string };

/** Options of a sandbox as the worker builds it (SandboxOptions without what cannot cross). */
export interface WireSandboxOptions {
  readonly root?: RootMode;
  readonly tmpfs?: Partial<TmpfsLimits>;
  readonly upper?: { readonly dir: string };
  readonly mounts?: readonly MountSpec[];
  readonly dev?: boolean;
  readonly cwd: string;
  readonly storeRoot: string;
  readonly record?: ImageRecord;
  /** A snapshot to restore (its digest or a unique prefix): the worker opens it from the store at `storeRoot`. */
  readonly from?: string;
}

/** A process as the worker starts it. */
export interface WireSpawn {
  readonly pid: number;
  readonly sandbox: number;
  /**
   * A module compiled by the main thread, or none: find `argv[0]` in the
   * sandbox, as `exec` does. `pooled`: its variant that runs in a memory a
   * finished process on the worker left (src/sandbox/memory-pool.ts).
   */
  readonly guest?: { readonly module: WebAssembly.Module; readonly name: string; readonly pooled?: PooledVariant };
  /** A component from the host (WASI preview2), transpiled and loaded by the worker (src/sandbox/pool/component-process.ts). */
  readonly component?: { readonly bytes: Uint8Array; readonly name: string };
  /** With a guest: the whole argv. Without: the command after the image's Entrypoint (Cmd when absent). */
  readonly argv: readonly string[] | undefined;
  readonly env: Readonly<Record<string, string>> | undefined;
  readonly workdir: string | undefined;
  readonly tty: { readonly stdin?: boolean; readonly stdout?: boolean; readonly stderr?: boolean } | undefined;
  readonly maxFds: number | undefined;
  readonly preopens: readonly PreopenOption[] | undefined;
  readonly memoryLimitBytes: number | undefined;
  readonly tableLimitElements: number | undefined;
  readonly timeoutMs: number | undefined;
  /** Per stream; 0 for no cap. */
  readonly maxOutputBytes: number;
  /** Post one line per WASI call (`trace` messages). */
  readonly trace: boolean;
  /** Bytes to read then EOF, or `pipe`: read the ring in `io`. */
  readonly stdin: Uint8Array | 'pipe';
  readonly io: SharedArrayBuffer;
}

/** Main thread → worker, on the worker's own port (served when it is idle). */
export type ToWorker =
  | { readonly t: 'spawn'; readonly spawn: WireSpawn }
  | { readonly t: 'reap'; readonly pid: number }
  | { readonly t: 'close'; readonly id: number; readonly sandbox: number }
  | { readonly t: 'fork'; readonly id: number; readonly sandbox: number; readonly child: number };

/** Worker → main thread. */
export type FromWorker =
  | { readonly t: 'ready' }
  | { readonly t: 'done'; readonly id: number; readonly error?: WireError }
  | { readonly t: 'out'; readonly pid: number; readonly fd: 1 | 2; readonly chunk: Uint8Array }
  | { readonly t: 'trace'; readonly pid: number; readonly line: string }
  | {
      readonly t: 'exited';
      readonly pid: number;
      readonly code: number | null;
      readonly reason: ExitReason;
      readonly message?: string;
      readonly error?: WireError;
      readonly program?: string;
      readonly durationMs: number;
    };

/** A request on the fs port: a `sandbox.fs` method or another call on the sandbox. */
export interface FsRequest {
  readonly id: number;
  readonly sandbox: number;
  readonly method: string;
  readonly args: readonly unknown[];
}

/** The answer to an {@link FsRequest}. */
export type FsReply = { readonly id: number; readonly value: unknown } | { readonly id: number; readonly error: WireError };
