/**
 * Stopping a guest that never makes a call, without losing its worker.
 *
 * The main thread holds an inspector session connected to its own
 * isolate, with `NodeWorker.enable`: every worker thread then has an
 * inspector session the main thread can talk to. `Runtime.terminateExecution`
 * sent to a worker's isolate unwinds the JS and wasm running there (no
 * finally runs) and leaves its event loop, and every sandbox it holds,
 * alive. The pool sends it only when the worker's state word says the
 * guest runs its own code (see gate.ts).
 *
 * Without `node:inspector` (a Node built without it), the fallback is
 * `worker.terminate()`, which loses every sandbox on that worker.
 */
import type { Worker } from 'node:worker_threads';

interface InspectorSession {
  connect(): void;
  disconnect(): void;
  post(method: string, params: object, callback: (error: Error | null) => void): void;
  on(event: string, listener: (message: { params: Record<string, unknown> }) => void): void;
}

/** Sends terminations to worker isolates, by thread id. */
export class Terminator {
  readonly #session: InspectorSession;
  readonly #sessions = new Map<string, string>();
  readonly #waiting = new Map<string, (() => void)[]>();

  private constructor(session: InspectorSession) {
    this.#session = session;
    session.on('NodeWorker.attachedToWorker', (message) => {
      const info = message.params['workerInfo'] as { workerId: string };
      const id = String(info.workerId);
      this.#sessions.set(id, String(message.params['sessionId']));
      for (const resolve of this.#waiting.get(id) ?? []) resolve();
      this.#waiting.delete(id);
    });
    session.on('NodeWorker.detachedFromWorker', (message) => {
      const sessionId = String(message.params['sessionId']);
      for (const [id, s] of this.#sessions) if (s === sessionId) this.#sessions.delete(id);
    });
  }

  /** A terminator over a new inspector session, or undefined when `node:inspector` is missing. */
  static async open(): Promise<Terminator | undefined> {
    let inspector: { Session: new () => InspectorSession };
    try {
      inspector = (await import('node:inspector')) as unknown as { Session: new () => InspectorSession };
    } catch {
      return undefined;
    }
    const session = new inspector.Session();
    session.connect();
    const terminator = new Terminator(session);
    try {
      await new Promise<void>((resolve, reject) => session.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, (e) => (e ? reject(e) : resolve())));
    } catch {
      session.disconnect();
      return undefined;
    }
    return terminator;
  }

  /** Resolves once the worker's inspector session is known (at most `timeoutMs`). */
  attached(worker: Worker, timeoutMs = 5_000): Promise<boolean> {
    const id = String(worker.threadId);
    if (this.#sessions.has(id)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
      const list = this.#waiting.get(id) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
      this.#waiting.set(id, list);
    });
  }

  /** Ask the worker's isolate to terminate what it runs now. False when its session is unknown. */
  terminate(worker: Worker): boolean {
    const sessionId = this.#sessions.get(String(worker.threadId));
    if (sessionId === undefined) return false;
    this.#session.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id: 1, method: 'Runtime.terminateExecution' }) }, () => {});
    return true;
  }
}

let shared: Promise<Terminator | undefined> | undefined;
let warned = false;

/** Warn, once per process, that a kill may end a whole worker. */
export function warnKillFallback(why: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(`strata: ${why}, so a kill of a guest running its own code ends its whole pool worker and every sandbox on it`, { code: 'STRATA_POOL_KILL_FALLBACK' });
}

/** The process's one terminator (one inspector session serves every pool). */
export function terminator(): Promise<Terminator | undefined> {
  shared ??= Terminator.open();
  return shared;
}
