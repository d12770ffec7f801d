import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { ErrorCode, StrataError } from '../../errors.js';
import type { BackendExit, BackendProcess } from '../backend.js';
import { runRuntime, spawnRuntime, type RuntimeInvocation } from './runtime-cli.js';

let nextId = 1;

/**
 * A process started with `runtime exec --process FILE ID` in a running
 * sandbox, its stdio over pipes. Its exit code is the runtime's exit
 * status (runc, crun and runsc exec report the process's own). A signal
 * is sent to the process itself, by its pid: the host pid from
 * `--pid-file` (runc, crun; `kill(2)`), or the sandbox pid from
 * `--internal-pid-file` through `runsc kill --pid`.
 */
export class OciProcess implements BackendProcess {
  readonly id = `oci-${nextId++}`;
  readonly #rt: RuntimeInvocation;
  readonly #container: string;
  readonly #pidFile: string;
  readonly #child: ChildProcess;
  readonly #exit: Promise<BackendExit>;
  #ended = false;
  #sent: { signal: string; reason: 'killed' | 'timeout' } | undefined;

  constructor(rt: RuntimeInvocation, container: string, processFile: string, pidFile: string, options: { stdin?: string | Uint8Array; stdout?: (c: Uint8Array) => void; stderr?: (c: Uint8Array) => void; timeoutMs?: number }) {
    this.#rt = rt;
    this.#container = container;
    this.#pidFile = pidFile;
    const pidFlag = rt.name === 'runsc' ? '--internal-pid-file' : '--pid-file';
    this.#child = spawnRuntime(rt, 'exec', ['--process', processFile, pidFlag, pidFile, container]);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    this.#child.stdout!.on('data', (c: Buffer) => (options.stdout !== undefined ? options.stdout(c) : out.push(c)));
    this.#child.stderr!.on('data', (c: Buffer) => (options.stderr !== undefined ? options.stderr(c) : err.push(c)));
    this.#child.stdin!.on('error', () => {}); // a process that exits without reading its stdin
    this.#child.stdin!.end(options.stdin ?? '');
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => void this.#signal('SIGKILL', 'timeout'), options.timeoutMs);
    this.#exit = new Promise((resolve) => {
      this.#child.on('error', (error) => {
        this.#ended = true;
        clearTimeout(timer);
        resolve({ code: null, signal: null, reason: 'error', stdout: new Uint8Array(), stderr: new Uint8Array(), error: new StrataError(ErrorCode.runtimeFailed, `${rt.name} exec: ${error.message}`, { cause: error }) });
      });
      this.#child.on('close', (status, signal) => {
        this.#ended = true;
        clearTimeout(timer);
        const stdout = new Uint8Array(Buffer.concat(out));
        const stderr = new Uint8Array(Buffer.concat(err));
        const sent = this.#sent;
        if (sent !== undefined) {
          resolve({ code: null, signal: sent.signal, reason: sent.reason, stdout, stderr, ...(sent.reason === 'timeout' && { error: new StrataError(ErrorCode.timeout, `the process ran past its ${String(options.timeoutMs)} ms`) }) });
        } else if (status === null) {
          resolve({ code: null, signal, reason: 'error', stdout, stderr, error: new StrataError(ErrorCode.runtimeFailed, `${rt.name} exec ended by ${String(signal)}`) });
        } else if (status >= 128 && status < 128 + 65 && killedBySignal(status)) {
          resolve({ code: null, signal: killedBySignal(status)!, reason: 'killed', stdout, stderr });
        } else {
          resolve({ code: status, signal: null, reason: 'exit', stdout, stderr });
        }
      });
    });
  }

  /** Send `signal` to the process (default SIGKILL). Resolves once sent, or at once if it ended. */
  async kill(signal = 'SIGKILL'): Promise<void> {
    await this.#signal(signal, 'killed');
  }

  wait(): Promise<BackendExit> {
    return this.#exit;
  }

  async #signal(signal: string, reason: 'killed' | 'timeout'): Promise<void> {
    if (this.#ended) return;
    if (!(signal in constants.signals)) throw new StrataError(ErrorCode.invalidOption, `unknown signal '${signal}'`);
    const pid = await this.#pid();
    if (pid === undefined || this.#ended) return;
    this.#sent ??= { signal, reason };
    try {
      if (this.#rt.name === 'runsc') await runRuntime(this.#rt, 'kill', ['--pid', String(pid), this.#container, signal]);
      else process.kill(pid, signal as NodeJS.Signals);
    } catch {
      // It ended meanwhile.
    }
  }

  /** The pid the runtime wrote, once it has (polled while the exec runs). */
  async #pid(): Promise<number | undefined> {
    for (let i = 0; i < 400 && !this.#ended; i++) {
      const text = await readFile(this.#pidFile, 'utf8').catch(() => '');
      const pid = Number.parseInt(text.trim(), 10);
      if (Number.isInteger(pid) && pid > 0) return pid;
      await new Promise((r) => setTimeout(r, 5));
    }
    return undefined;
  }
}

/** The signal name behind an exit status of 128+N that runtimes report for a signalled process. */
function killedBySignal(status: number): string | undefined {
  const n = status - 128;
  // Only what a sandbox is killed with; a process may well exit 130 by itself otherwise.
  return n === constants.signals.SIGKILL ? 'SIGKILL' : undefined;
}
