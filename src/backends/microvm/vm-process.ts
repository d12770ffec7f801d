import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { ErrorCode, StrataError } from '../../errors.js';
import type { BackendExit, BackendProcess } from '../backend.js';

/** Collected stdout plus stderr a VM may produce before it is ended with reason `output-limit`. */
export const defaultMaxOutputBytes = 64 << 20;
/** The kernel console's tail kept for error messages. */
const consoleTailBytes = 16 << 10;

/** What {@link startVm} runs. */
export interface VmOptions {
  /** The VMM binary (verified by the caller). */
  readonly qemu: string;
  /** Its argv, rendered with `ports` = {@link portPaths}(dir). */
  readonly args: readonly string[];
  /** A directory for the port sockets (short: Unix socket paths hold at most 107 bytes). */
  readonly dir: string;
  readonly stdout?: ((chunk: Uint8Array) => void) | undefined;
  readonly stderr?: ((chunk: Uint8Array) => void) | undefined;
  /** Kill the VM after this long (reason `timeout`). Always set: nothing keeps a VM alive forever. */
  readonly timeoutMs: number;
  readonly maxOutputBytes?: number;
  /** Called with each control line (`exit N`, `state 1`, `opaque …`, `error …`). */
  readonly onControl?: (line: string) => void;
}

/** The Unix socket paths of the virtio-console ports, in `dir`. */
export function portPaths(dir: string): { stdout: string; stderr: string; control: string } {
  return { stdout: join(dir, 'out.sock'), stderr: join(dir, 'err.sock'), control: join(dir, 'ctl.sock') };
}

// Every VM still running, so that a process exiting (a failed test, an
// uncaught error) takes its VMs with it: each is its own process group.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) killGroup(child);
});

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** How many VMs this process runs now (tests assert it returns to 0). */
export function liveVms(): number {
  return live.size;
}

/**
 * A VM running one job. Its stdout and stderr arrive on their own
 * virtio-console ports, its exit code on the `control` port (`exit N`);
 * the kernel's console (ttyS0) is kept only as a tail for messages.
 *
 * Ending: the guest ends the VM itself after reporting (isa-debug-exit);
 * `kill` and the timeout SIGKILL the VM's process group (the VMM under
 * `timeout --signal=KILL`, which also ends it if this process dies first).
 */
export class VmProcess implements BackendProcess {
  readonly id = randomUUID();
  readonly #child: ChildProcess;
  readonly #exit: Promise<BackendExit>;
  #ending: 'killed' | 'timeout' | 'output-limit' | undefined;

  private constructor(child: ChildProcess, exit: (self: VmProcess) => Promise<BackendExit>) {
    this.#child = child;
    this.#exit = exit(this);
  }

  /** @internal */
  static create(child: ChildProcess, exit: (self: VmProcess) => Promise<BackendExit>): VmProcess {
    return new VmProcess(child, exit);
  }

  /** @internal How the host ended it, if it did. */
  get ending(): 'killed' | 'timeout' | 'output-limit' | undefined {
    return this.#ending;
  }

  /** @internal End the VM for `why`. */
  end(why: 'killed' | 'timeout' | 'output-limit'): void {
    this.#ending ??= why;
    killGroup(this.#child);
  }

  /** SIGKILL the VM (any signal ends the whole VM: there is no agent to deliver it to one process). */
  async kill(): Promise<void> {
    if (live.has(this.#child)) this.end('killed');
    await this.#exit;
  }

  wait(): Promise<BackendExit> {
    return this.#exit;
  }
}

/**
 * Start a VM: listen on the port sockets, spawn the VMM under a hard
 * deadline, and return the process at once.
 *
 * Errors: ERR_RUNTIME_FAILED (a socket cannot be listened on). A VMM that
 * fails to start, or a guest that reports no exit, resolves `wait()` with
 * reason `error` and ERR_RUNTIME_FAILED carrying the console's tail.
 */
export async function startVm(options: VmOptions): Promise<VmProcess> {
  const paths = portPaths(options.dir);
  const maxOutput = options.maxOutputBytes ?? defaultMaxOutputBytes;
  const collected = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  let outputBytes = 0;
  let control = '';
  const ended: Promise<void>[] = [];
  const servers: Server[] = [];
  let vm: VmProcess | undefined;
  const listen = (path: string, onData: (chunk: Buffer) => void) =>
    new Promise<void>((resolve, reject) => {
      let closed!: () => void;
      ended.push(new Promise<void>((r) => (closed = r)));
      const server = createServer((socket: Socket) => {
        socket.on('data', onData);
        socket.on('close', closed);
        socket.on('error', closed);
      });
      servers.push(server);
      server.on('error', (error) => reject(new StrataError(ErrorCode.runtimeFailed, `cannot listen on '${path}': ${error.message}`, { cause: error })));
      server.listen(path, resolve);
      // A VMM that never connects (it failed to start) must not hold the wait.
      server.on('close', closed);
    });
  const output = (name: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const sink = options[name];
    if (sink !== undefined) return sink(new Uint8Array(chunk));
    outputBytes += chunk.length;
    if (outputBytes > maxOutput) return vm?.end('output-limit');
    collected[name].push(chunk);
  };
  const onControl = (chunk: Buffer) => {
    control += chunk.toString('utf8');
    let nl;
    while ((nl = control.indexOf('\n')) >= 0) {
      options.onControl?.(control.slice(0, nl));
      lines.push(control.slice(0, nl));
      control = control.slice(nl + 1);
    }
  };
  const lines: string[] = [];
  try {
    await listen(paths.stdout, output('stdout'));
    await listen(paths.stderr, output('stderr'));
    await listen(paths.control, onControl);
  } catch (error) {
    for (const s of servers) s.close();
    throw error;
  }

  const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000) + 5);
  const child = spawn('timeout', ['--signal=KILL', String(seconds), options.qemu, ...options.args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  let consoleTail = '';
  const keep = (chunk: Buffer) => {
    consoleTail = (consoleTail + chunk.toString('utf8')).slice(-consoleTailBytes);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const status = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });

  vm = VmProcess.create(child, async (self) => {
    const timer = setTimeout(() => self.end('timeout'), options.timeoutMs);
    const { code, error } = await status;
    clearTimeout(timer);
    live.delete(child);
    killGroup(child); // nothing of the group outlives the VMM
    // The ports close when the VMM exits; wait for their last bytes (bounded).
    await Promise.race([Promise.all(ended), new Promise((r) => setTimeout(r, 2000))]);
    for (const s of servers) s.close();
    const stdout = new Uint8Array(Buffer.concat(collected.stdout));
    const stderr = new Uint8Array(Buffer.concat(collected.stderr));
    const why = self.ending;
    if (why === 'killed') return { code: null, signal: 'SIGKILL', reason: 'killed', stdout, stderr };
    if (why === 'timeout') return { code: null, signal: 'SIGKILL', reason: 'timeout', stdout, stderr, error: new StrataError(ErrorCode.timeout, `the microVM ran over its ${options.timeoutMs} ms and was killed`) };
    if (why === 'output-limit') return { code: null, signal: 'SIGKILL', reason: 'output-limit', stdout, stderr, error: new StrataError(ErrorCode.outputLimit, `the microVM's output went over ${maxOutput} bytes and it was killed`) };
    const exit = lines.map((l) => /^exit (\d+)$/.exec(l)).find((m) => m !== null);
    // The guest reports N on the control port and N & 127 through isa-debug-exit ((N << 1) | 1).
    if (exit !== undefined && exit !== null && code === ((((Number(exit[1]) & 127) << 1) | 1) & 255)) {
      return { code: Number(exit[1]), signal: null, reason: 'exit', stdout, stderr };
    }
    const guestError = lines.find((l) => l.startsWith('error '));
    const why2 = error !== undefined ? `cannot run '${options.qemu}': ${error.message}` : guestError !== undefined ? `the guest init failed: ${guestError.slice(6)}` : `the microVM ended (status ${String(code)}) without reporting an exit code`;
    return { code: null, signal: null, reason: 'error', stdout, stderr, error: new StrataError(ErrorCode.runtimeFailed, `${why2}; console: ${consoleTail.trim().slice(-2000)}`) };
  });
  return vm;
}
