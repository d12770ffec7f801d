/**
 * A process of a pooled sandbox, as the app holds it: its pid, stdio
 * streams, how it ended, and kill.
 */
import { Readable, Writable } from 'node:stream';
import type { ExitReason, WireSpawn } from './protocol.js';
import type { OutputPipe, StdinPipe } from './stdio.js';

/** How a pooled process ended. */
export interface ProcessExit {
  /** proc_exit's code (0 when `_start` returned); null when it did not exit by itself. */
  readonly code: number | null;
  /** `SIGKILL` (or the signal given to `kill`) when killed or timed out; else null. */
  readonly signal: string | null;
  readonly reason: ExitReason;
  /** With reason `error`: why it could not run (ERR_BAD_PATH, ERR_UNKNOWN_IMPORT, ERR_WORKER_LOST…). */
  readonly error?: Error;
  /** With reasons `trap`, `timeout`, `output-limit`: what happened, in words. */
  readonly message?: string;
  /** The program's name, once it was found. */
  readonly program?: string;
  readonly durationMs: number;
}

/**
 * @internal What the pool keeps of a process: its spawn, its streams and
 * its fate. Shared by the {@link Process} handle and its home worker.
 */
export class ProcessJob {
  state: 'compiling' | 'queued' | 'dispatched' | 'done' = 'compiling';
  killReason: 'killed' | 'timeout' | undefined;
  signal: string | undefined;
  timer: NodeJS.Timeout | undefined;
  spec: WireSpawn | undefined;
  readonly exited: Promise<ProcessExit>;
  #resolve!: (exit: ProcessExit) => void;

  constructor(
    readonly pid: number,
    readonly sandbox: number,
    readonly name: string,
    readonly timeoutMs: number | undefined,
    readonly stdout: OutputPipe,
    readonly stderr: OutputPipe,
    readonly stdin: StdinPipe | undefined,
    /** Receives one line per WASI call, when tracing. */
    readonly trace: ((line: string) => void) | undefined,
    /** Called once with how it ended, after the streams end. */
    readonly onEnd: (job: ProcessJob) => void,
  ) {
    this.exited = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** End the process, once: end its streams and resolve `exited`. */
  finish(exit: Omit<ProcessExit, 'signal'>): void {
    if (this.state === 'done') return;
    this.state = 'done';
    if (this.timer !== undefined) clearTimeout(this.timer);
    let reason = exit.reason;
    if (this.killReason !== undefined && (reason === 'killed' || reason === 'error' || reason === 'timeout')) reason = this.killReason;
    const signal = reason === 'killed' || reason === 'timeout' ? (this.signal ?? 'SIGKILL') : null;
    this.stdout.end();
    this.stderr.end();
    this.stdin?.gone();
    this.#resolve({ ...exit, code: reason === 'exit' ? exit.code : null, reason, signal });
    this.onEnd(this);
  }
}

/**
 * A process running (or queued) in a pooled sandbox, returned at once by
 * `PooledSandbox.spawn`.
 *
 * Its sandbox's processes run one after another on the sandbox's home
 * worker, which runs one guest at a time; `exited` resolves however the
 * process ends and never rejects.
 *
 * @example
 * const child = sandbox.spawn(['cat'], { stdin: 'pipe' });
 * child.stdin.end('hello');
 * for await (const chunk of child.stdout) process.stdout.write(chunk);
 * const { code } = await child.exited;
 */
export class Process {
  /** Unique within this host (this Node process). */
  readonly pid: number;
  /** The guest's stdin: end it for EOF. Already ended when `stdin` was given as bytes. */
  readonly stdin: Writable;
  /** The guest's stdout: while it is not read, the guest waits once 1 MiB is unread. */
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** How it ended. */
  readonly exited: Promise<ProcessExit>;
  readonly #kill: (signal: string) => void;

  /** @internal Made by `PooledSandbox.spawn`. */
  constructor(job: ProcessJob, kill: (signal: string) => void) {
    this.pid = job.pid;
    this.stdout = job.stdout.readable;
    this.stderr = job.stderr.readable;
    this.stdin = job.stdin?.writable ?? closedWritable();
    this.exited = job.exited;
    this.#kill = kill;
  }

  /**
   * Stop the process: a queued one never starts; a running one is stopped
   * within milliseconds, even in a loop with no calls, and never inside a
   * filesystem operation. Every signal stops it (preview1 has no signal
   * handlers); `exited` reports the signal given. Killing an ended
   * process does nothing.
   */
  kill(signal = 'SIGKILL'): void {
    this.#kill(signal);
  }

  /** The same streams as web streams. */
  web(): { stdin: WritableStream<Uint8Array>; stdout: ReadableStream<Uint8Array>; stderr: ReadableStream<Uint8Array> } {
    return {
      stdin: Writable.toWeb(this.stdin) as WritableStream<Uint8Array>,
      stdout: Readable.toWeb(this.stdout) as ReadableStream<Uint8Array>,
      stderr: Readable.toWeb(this.stderr) as ReadableStream<Uint8Array>,
    };
  }
}

function closedWritable(): Writable {
  const writable = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  writable.end();
  return writable;
}
