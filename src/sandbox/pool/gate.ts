/**
 * The syscall boundary of a pool worker: where a kill may land, where a
 * kill flag is seen, and where `sandbox.fs` requests are served while a
 * guest runs.
 *
 * The worker's `state` word says whether the guest runs its own code
 * (a termination may land: nothing of the host is on the stack) or is in
 * a host call (it may not: the main thread sets the kill flag and the call
 * sees it when it returns). See the pool README's invariants.
 */
import { GuestDeadline } from '../../wasi/index.js';
import { Control, Phase, stateWord } from './protocol.js';

type Syscall = (...args: never[]) => number;

/** A process ended by the pool's kill flag at a syscall boundary. */
export class ProcessKilled extends Error {
  constructor() {
    super('killed');
    this.name = 'ProcessKilled';
  }
}

/**
 * Calls during which a termination may land: they touch no filesystem
 * state (poll_oneoff only reads fds and sleeps), and a long sleep must
 * stay killable in milliseconds.
 */
const interruptible: ReadonlySet<string> = new Set(['poll_oneoff']);

/**
 * Calls that touch nothing but the guest's memory and the process's own
 * argv, environ, clocks and random source: a termination may land inside
 * them, so they skip the state exchange (the gate's whole cost on a clock
 * read) and only look at the fs-request and kill words, with plain reads.
 */
const free: ReadonlySet<string> = new Set([
  'args_get',
  'args_sizes_get',
  'environ_get',
  'environ_sizes_get',
  'clock_res_get',
  'clock_time_get',
  'random_get',
  'sched_yield',
]);

/**
 * One worker's gate, shared by the processes it runs one after another.
 * `drain` serves waiting fs requests; it runs only inside a host call.
 */
export class SyscallGate {
  readonly #ctl: Int32Array;
  readonly #drain: () => void;
  #pid = 0;
  #deadline = Infinity;

  constructor(control: Int32Array, drain: () => void) {
    this.#ctl = control;
    this.#drain = drain;
  }

  /** The pid whose guest code runs now, or 0. */
  get pid(): number {
    return this.#pid;
  }

  /** Whether the main thread asked to stop `pid`. */
  killRequested(pid: number): boolean {
    return Atomics.load(this.#ctl, Control.kill) === pid;
  }

  /**
   * Mark `pid` as running its own code: from now a kill may terminate it.
   * `deadline` (performance.now()) bounds the waits of its host calls.
   */
  enterGuest(pid: number, deadline: number): void {
    this.#pid = pid;
    this.#deadline = deadline;
    Atomics.store(this.#ctl, Control.state, stateWord(pid, Phase.inGuest));
  }

  /**
   * The guest's code has returned or thrown: no termination may land from
   * here. If one is on its way, wait for it (it unwinds this thread's
   * stack, and the next message reaps the process).
   */
  leaveGuest(): void {
    const pid = this.#pid;
    const prev = Atomics.compareExchange(this.#ctl, Control.state, stateWord(pid, Phase.inGuest), Phase.idle);
    if (prev === stateWord(pid, Phase.terminating)) this.#awaitTermination();
    this.#pid = 0;
  }

  /**
   * Make the context's deadline also fall at a kill of `pid`: the host
   * calls that run long (a random_get of a gigabyte) stop between two
   * chunks at their deadline, and so they stop at a kill too.
   */
  killableDeadline(context: { readonly deadline: number }, pid: number): void {
    const deadline = context.deadline;
    const control = this.#ctl;
    Object.defineProperty(context, 'deadline', { get: () => (Atomics.load(control, Control.kill) === pid ? -Infinity : deadline) });
  }

  /** After a termination: nothing runs any more. */
  reset(): void {
    Atomics.store(this.#ctl, Control.state, Phase.idle);
    this.#pid = 0;
  }

  /**
   * Block inside a host call until `ready()`, serving fs requests, and
   * giving up at a kill or the deadline. Woken by the main thread's bump
   * of the `wake` word. Errors: ProcessKilled, GuestDeadline.
   */
  waitUntil(ready: () => boolean): void {
    const ctl = this.#ctl;
    for (;;) {
      const seen = Atomics.load(ctl, Control.wake);
      if (ready()) return;
      if (Atomics.load(ctl, Control.kill) === this.#pid) throw new ProcessKilled();
      const left = this.#deadline - performance.now();
      if (left <= 0) throw new GuestDeadline();
      if (Atomics.load(ctl, Control.fsPending) !== 0) {
        this.#drain();
        continue;
      }
      Atomics.wait(ctl, Control.wake, seen, Math.min(left, 1000));
    }
  }

  /**
   * `fn` behind the gate for process `pid`, with the same arity (the
   * host's guard keys on it). Entering compare-exchanges `inGuest →
   * inHost` (a termination on its way is awaited first) and serves
   * waiting fs requests; leaving stores `inGuest` and ends the process if
   * a kill was asked meanwhile (ProcessKilled).
   */
  wrap(pid: number, name: string, fn: Syscall): Syscall {
    const f = fn as (...args: unknown[]) => number;
    const ctl = this.#ctl;
    const inGuest = stateWord(pid, Phase.inGuest);
    const inHost = stateWord(pid, Phase.inHost);
    const terminating = stateWord(pid, Phase.terminating);
    // Entering must be a compare-exchange: it excludes the main thread's
    // `inGuest → terminating`. The rest are plain reads and writes of the
    // shared words (an Atomics call costs ~20 ns here, a plain one ~1 ns):
    // a kill flag read a moment stale is caught by the main thread, which
    // retries its exchange until the process has ended (HomeWorker.kill).
    const enter = (): void => {
      if (Atomics.compareExchange(ctl, Control.state, inGuest, inHost) === terminating) this.#awaitTermination();
      if (ctl[Control.fsPending] !== 0) this.#drain();
    };
    const exit = (): void => {
      ctl[Control.state] = inGuest;
      if (ctl[Control.kill] === pid) throw new ProcessKilled();
    };
    // A kill asked during a call that lets terminations in is seen when it returns.
    const killCheck = (result: number): number => {
      if (ctl[Control.kill] === pid) throw new ProcessKilled();
      return result;
    };
    if (free.has(name)) {
      // Serve fs requests through the full gate when one waits; else call straight through.
      const serve = (): void => {
        if (ctl[Control.fsPending] !== 0) {
          enter();
          exit();
        }
      };
      switch (fn.length) {
        case 2:
          return ((a: unknown, b: unknown) => (serve(), killCheck(f(a, b)))) as Syscall;
        case 3:
          return ((a: unknown, b: unknown, c: unknown) => (serve(), killCheck(f(a, b, c)))) as Syscall;
        default:
          return arity(fn.length, (...args: unknown[]) => (serve(), killCheck(f(...args))));
      }
    }
    if (interruptible.has(name)) {
      return arity(fn.length, (...args: unknown[]) => {
        enter();
        exit();
        return killCheck(f(...args));
      });
    }
    switch (fn.length) {
      case 1:
        return ((a: unknown) => { enter(); try { return f(a); } finally { exit(); } }) as Syscall;
      case 2:
        return ((a: unknown, b: unknown) => { enter(); try { return f(a, b); } finally { exit(); } }) as Syscall;
      case 3:
        return ((a: unknown, b: unknown, c: unknown) => { enter(); try { return f(a, b, c); } finally { exit(); } }) as Syscall;
      case 4:
        return ((a: unknown, b: unknown, c: unknown, d: unknown) => { enter(); try { return f(a, b, c, d); } finally { exit(); } }) as Syscall;
      default:
        return arity(fn.length, (...args: unknown[]) => { enter(); try { return f(...args); } finally { exit(); } });
    }
  }

  #awaitTermination(): never {
    // The termination is on its way; Atomics.wait is interrupted by it.
    for (;;) Atomics.wait(this.#ctl, Control.kill, Atomics.load(this.#ctl, Control.kill), 1000);
  }
}

/** `fn` reporting `length` parameters, as the wrapped call does. */
function arity(length: number, fn: (...args: unknown[]) => number): Syscall {
  Object.defineProperty(fn, 'length', { value: length });
  return fn as Syscall;
}
