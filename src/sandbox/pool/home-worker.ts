/**
 * One pool worker as the main thread sees it: the thread, its control
 * words, its queue of processes (one runs at a time), its pending
 * requests, and kill.
 */
import { MessageChannel, Worker, type MessagePort, type WorkerOptions } from 'node:worker_threads';
import { ErrorCode, StrataError } from '../../errors.js';
import { warnKillFallback, type Terminator } from './kill.js';
import type { ProcessJob } from './process.js';
import { Control, Phase, stateWord, type FromWorker, type FsReply, type ToWorker, type WireSpawn } from './protocol.js';
import { fromWire } from './wire-error.js';

let nextRequest = 1;

/**
 * The app's node options, for the worker, without those that describe
 * the app's own entry (`-e CODE`, `--input-type`): a worker refuses them.
 */
/**
 * Start a worker with the app's own Node flags (loaders, conditions…).
 * Process-wide V8 flags such as `--expose-gc` are refused in a worker's
 * execArgv (they already apply to every thread), so they are left out.
 */
function startWorker(script: URL | string, options: Omit<WorkerOptions, 'execArgv'>): Worker {
  let execArgv = workerExecArgv();
  try {
    return new Worker(script, { ...options, execArgv });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    const refused = new Set(((error as Error).message.split(':')[1] ?? '').split(',').map((f) => f.trim()).filter((f) => f !== ''));
    execArgv = execArgv.filter((arg) => !refused.has(arg) && !refused.has(arg.split('=')[0]!));
    return new Worker(script, { ...options, execArgv });
  }
}

function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--input-type')) continue;
    if (['-e', '--eval', '-p', '--print', '-pe'].includes(arg)) {
      i++;
      continue;
    }
    if (/^--(eval|print)=/.test(arg)) continue;
    out.push(arg);
  }
  return out;
}

/** The main thread's side of one pool worker. */
export class HomeWorker {
  readonly worker: Worker;
  readonly control: Int32Array;
  /** Sandboxes living here. */
  sandboxes = 0;
  /** When the worker became empty (no sandbox), for the idle timeout. */
  emptySince = performance.now();
  /** Set when the thread is gone; every call then fails with it. */
  lost: Error | undefined;
  readonly ready: Promise<void>;
  readonly #fsPort: MessagePort;
  readonly #terminator: Terminator | undefined;
  readonly #queue: ProcessJob[] = [];
  readonly #requests = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  readonly #onLost: (home: HomeWorker) => void;
  #current: ProcessJob | undefined;

  constructor(script: URL, terminator: Terminator | undefined, onLost: (home: HomeWorker) => void) {
    this.#terminator = terminator;
    this.#onLost = onLost;
    const control = new SharedArrayBuffer(Control.words * 4);
    this.control = new Int32Array(control);
    const channel = new MessageChannel();
    this.#fsPort = channel.port1;
    this.worker = startWorker(script, { workerData: { control, fsPort: channel.port2 }, transferList: [channel.port2] });
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (m.t !== 'ready') return;
        this.worker.off('message', onMessage);
        this.worker.on('message', (message: FromWorker) => this.#onMessage(message));
        this.#refresh();
        resolve();
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
    });
    this.worker.on('error', (error) => this.#lose(new StrataError(ErrorCode.workerLost, `a pool worker failed: ${error.message}`, { cause: error })));
    this.worker.on('exit', (code) => this.#lose(new StrataError(ErrorCode.workerLost, `a pool worker ended (exit code ${code})`)));
    this.#fsPort.on('message', (reply: FsReply) => this.#settle(reply.id, 'error' in reply ? fromWire(reply.error) : undefined, 'value' in reply ? reply.value : undefined));
    // Referenced until ready, so an app awaiting the first sandbox stays alive.
  }

  /** Processes queued or running here. */
  get processes(): number {
    return this.#queue.length + (this.#current === undefined ? 0 : 1);
  }

  /** Send a request on the worker's own port (served when it is idle); resolves with its answer. */
  request(make: (id: number) => ToWorker): Promise<unknown> {
    const id = nextRequest++;
    const done = this.#pending(id);
    this.worker.postMessage(make(id));
    return done;
  }

  /**
   * Call a `sandbox.fs` method (or diff, usage…) of a sandbox here, on the
   * fs port: served at once when the worker is idle, at the guest's next
   * syscall when it is busy.
   */
  call(sandbox: number, method: string, args: readonly unknown[]): Promise<unknown> {
    const id = nextRequest++;
    const done = this.#pending(id);
    this.#fsPort.postMessage({ id, sandbox, method, args });
    Atomics.store(this.control, Control.fsPending, 1);
    this.wake();
    return done;
  }

  /**
   * Queue a process at its spawn; it starts when the ones before it have
   * ended. One still compiling holds its place: its sandbox's later
   * processes wait behind it (spawn order is start order within a
   * sandbox), while other sandboxes' ready processes may pass it.
   */
  enqueue(job: ProcessJob): void {
    if (this.lost !== undefined) {
      job.finish({ code: null, reason: 'error', error: this.lost, durationMs: 0 });
      return;
    }
    if (job.spec !== undefined) job.state = 'queued';
    this.#queue.push(job);
    this.#dispatch();
  }

  /** A queued process's module compiled: it may start in its turn. */
  compiled(job: ProcessJob, spec: WireSpawn): void {
    if (job.state !== 'compiling') return;
    job.spec = spec;
    job.state = 'queued';
    this.#dispatch();
  }

  /** A queued process's module failed to compile: it ends with that error. */
  failed(job: ProcessJob, error: Error): void {
    if (job.state !== 'compiling') return;
    this.#unqueue(job);
    job.finish({ code: null, reason: 'error', error, durationMs: 0 });
    this.#dispatch();
  }

  /**
   * Stop a process: a queued one (compiling or not) is dropped; a running
   * one gets the kill flag, and a termination only while its guest runs
   * its own code.
   */
  kill(job: ProcessJob, reason: 'killed' | 'timeout', signal: string): void {
    if (job.state === 'done') return;
    job.killReason ??= reason;
    job.signal ??= signal;
    if (job.state === 'compiling' || job.state === 'queued') {
      this.#unqueue(job);
      job.finish({ code: null, reason, durationMs: 0 });
      this.#dispatch();
      return;
    }
    Atomics.store(this.control, Control.kill, job.pid);
    this.wake();
    this.#terminate(job);
  }

  /**
   * Terminate the job's guest if it runs its own code. If it is in a host
   * call, that call ends it when it returns; and in case it read the flag
   * a moment before it was set (its reads are plain), retry every 2 ms
   * until the process has ended.
   */
  #terminate(job: ProcessJob): void {
    if (job.state === 'done' || this.lost !== undefined) return;
    const inGuest = stateWord(job.pid, Phase.inGuest);
    if (Atomics.compareExchange(this.control, Control.state, inGuest, stateWord(job.pid, Phase.terminating)) !== inGuest) {
      setTimeout(() => this.#terminate(job), 2);
      return;
    }
    if (this.#terminator?.terminate(this.worker) === true) {
      this.worker.postMessage({ t: 'reap', pid: job.pid } satisfies ToWorker);
      return;
    }
    warnKillFallback('a pool worker has no inspector session');
    this.#lose(new StrataError(ErrorCode.workerLost, 'the pool worker was terminated to kill a process (node:inspector is unavailable)'));
    void this.worker.terminate();
  }

  /** Wake a guest call blocked in the worker (output window, stdin, fs requests, kill). */
  wake(): void {
    Atomics.add(this.control, Control.wake, 1);
    Atomics.notify(this.control, Control.wake);
  }

  /** End the thread and everything on it. */
  async terminate(): Promise<void> {
    this.#lose(new StrataError(ErrorCode.workerLost, 'the pool was closed'));
    await this.worker.terminate();
  }

  #dispatch(): void {
    if (this.#current !== undefined || this.lost !== undefined) return;
    const job = this.#next();
    if (job === undefined) {
      this.#refresh();
      return;
    }
    this.#unqueue(job);
    this.#current = job;
    job.state = 'dispatched';
    if (job.timeoutMs !== undefined) {
      job.timer = setTimeout(() => this.kill(job, 'timeout', 'SIGKILL'), job.timeoutMs);
    }
    this.worker.postMessage({ t: 'spawn', spawn: job.spec! } satisfies ToWorker);
    this.#refresh();
  }

  /** The first queued process that is ready and first of its sandbox in the queue. */
  #next(): ProcessJob | undefined {
    const waiting = new Set<number>();
    for (const job of this.#queue) {
      if (job.state === 'queued' && !waiting.has(job.sandbox)) return job;
      waiting.add(job.sandbox);
    }
    return undefined;
  }

  #unqueue(job: ProcessJob): void {
    const at = this.#queue.indexOf(job);
    if (at >= 0) this.#queue.splice(at, 1);
  }

  #onMessage(message: FromWorker): void {
    switch (message.t) {
      case 'out': {
        const job = this.#current;
        if (job?.pid === message.pid) (message.fd === 1 ? job.stdout : job.stderr).deliver(message.chunk);
        return;
      }
      case 'trace': {
        const job = this.#current;
        if (job?.pid === message.pid) job.trace?.(message.line);
        return;
      }
      case 'exited': {
        const job = this.#current;
        if (job?.pid !== message.pid) return;
        this.#current = undefined;
        job.finish({
          code: message.code,
          reason: message.reason,
          durationMs: message.durationMs,
          ...(message.message !== undefined && { message: message.message }),
          ...(message.program !== undefined && { program: message.program }),
          ...(message.error !== undefined && { error: fromWire(message.error) }),
        });
        this.#dispatch();
        return;
      }
      case 'done':
        this.#settle(message.id, message.error === undefined ? undefined : fromWire(message.error), undefined);
        return;
      default:
        return;
    }
  }

  #pending(id: number): Promise<unknown> {
    if (this.lost !== undefined) return Promise.reject(this.lost);
    const done = new Promise<unknown>((resolve, reject) => this.#requests.set(id, { resolve, reject }));
    this.#refresh();
    return done;
  }

  #settle(id: number, error: Error | undefined, value: unknown): void {
    const request = this.#requests.get(id);
    if (request === undefined) return;
    this.#requests.delete(id);
    if (error !== undefined) request.reject(error);
    else request.resolve(value);
    this.#refresh();
  }

  /** Keep the app alive only while something here is in flight. */
  #refresh(): void {
    if (this.lost !== undefined) return;
    if (this.#current !== undefined || this.#queue.length > 0 || this.#requests.size > 0) {
      this.worker.ref();
      this.#fsPort.ref();
    } else {
      this.worker.unref();
      this.#fsPort.unref();
    }
  }

  #lose(error: Error): void {
    if (this.lost !== undefined) return;
    this.lost = error;
    this.#fsPort.close();
    for (const request of this.#requests.values()) request.reject(error);
    this.#requests.clear();
    const current = this.#current;
    this.#current = undefined;
    current?.finish({ code: null, reason: 'error', error, durationMs: 0 });
    for (const job of this.#queue.splice(0)) job.finish({ code: null, reason: 'error', error, durationMs: 0 });
    this.worker.unref();
    this.#onLost(this);
  }
}
