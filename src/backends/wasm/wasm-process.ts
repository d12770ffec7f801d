import { ErrorCode, StrataError } from '../../errors.js';
import type { GuestModule, RunOptions, Sandbox } from '../../sandbox/index.js';
import type { BackendExit, BackendProcess } from '../backend.js';

const reasons: Readonly<Record<string, BackendExit['reason']>> = {
  [ErrorCode.timeout]: 'timeout',
  [ErrorCode.guestTrap]: 'trap',
  [ErrorCode.outputLimit]: 'output-limit',
};

let nextId = 1;

/**
 * A guest run in the calling thread, started on a later turn of the event
 * loop so that `start` returns at once. A kill before that turn drops it
 * (reason `killed`, signal `SIGKILL`); once it runs, the thread is the
 * guest's until it ends, so only its `timeoutMs` can stop it.
 */
export class WasmProcess implements BackendProcess {
  readonly id = `wasm-${nextId++}`;
  #state: 'queued' | 'running' | 'ended' = 'queued';
  readonly #exit: Promise<BackendExit>;
  #settle!: (exit: BackendExit) => void;

  constructor(sandbox: Sandbox, guest: GuestModule, options: RunOptions) {
    this.#exit = new Promise((resolve) => (this.#settle = resolve));
    setImmediate(() => {
      if (this.#state !== 'queued') return;
      this.#state = 'running';
      let exit: BackendExit;
      try {
        const result = sandbox.runSync(guest, options);
        exit = { code: result.exitCode, signal: null, reason: 'exit', stdout: result.stdout, stderr: result.stderr };
      } catch (error) {
        const output = error as { stdout?: Uint8Array; stderr?: Uint8Array };
        const code = error instanceof StrataError ? error.code : undefined;
        exit = { code: null, signal: null, reason: (code !== undefined && reasons[code]) || 'error', stdout: output.stdout ?? new Uint8Array(), stderr: output.stderr ?? new Uint8Array(), error: error as Error };
      }
      this.#state = 'ended';
      this.#settle(exit);
    });
  }

  /** Whether it has not ended yet. */
  get live(): boolean {
    return this.#state !== 'ended';
  }

  /**
   * Drop the process if it has not begun (any signal ends it: a queued
   * guest has no handlers). Does nothing once it ran.
   */
  async kill(signal = 'SIGKILL'): Promise<void> {
    if (this.#state !== 'queued') return;
    this.#state = 'ended';
    this.#settle({ code: null, signal, reason: 'killed', stdout: new Uint8Array(), stderr: new Uint8Array() });
  }

  wait(): Promise<BackendExit> {
    return this.#exit;
  }
}
