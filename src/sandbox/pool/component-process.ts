/**
 * One pooled component (WASI preview2) process on its home worker: the
 * same spawn, stdio, gate, limits and endings as a preview1 process
 * (worker-process.ts), with strata's preview2 host (src/component) in
 * place of the preview1 one. Every host call runs behind the syscall gate
 * (`inHost`), so a kill never lands inside a filesystem call; a `poll`
 * stays in the guest's phase, so a sleep is killable at once.
 */
import { runComponent, type ComponentContext, type ComponentGate, type LoadedComponent } from '../../component/index.js';
import { rebasable, refuseTrace } from '../component-run.js';
import { resolvePreopens } from '../preopens.js';
import type { Sandbox } from '../sandbox.js';
import type { SyscallGate } from './gate.js';
import type { FromWorker, WireError, WireSpawn } from './protocol.js';
import { bytesStdin, ringStdin, WorkerOutput } from './stdio-worker.js';
import type { ExitReport, Prepared, Running } from './worker-process.js';

/** A component from the host, as the main thread passes it to the worker: its bytes, transpiled and loaded there. */
export interface HostComponent {
  readonly bytes: Uint8Array;
  readonly name: string;
}

/** Runners that pass each host call through the gate as the named preview1 call would go (one wrap per process, not per call). */
function gateFor(gate: SyscallGate, pid: number): ComponentGate {
  const through = (name: string) => gate.wrap(pid, name, ((fn: () => unknown) => fn()) as never) as unknown as <T>(fn: () => T) => T;
  return { call: through('fd_read'), poll: through('poll_oneoff') };
}

/**
 * Run a prepared component to its end, synchronously, on this thread.
 * Never throws: every ending is a report (`ended` and `ending` are the
 * preview1 runner's, so both report alike).
 */
export function runPreparedComponent(
  sandbox: Sandbox,
  spec: WireSpawn,
  prepared: Prepared & { readonly component: LoadedComponent },
  gate: SyscallGate,
  post: (message: FromWorker, transfer: ArrayBuffer[]) => void,
  onRunning: (running: Running | undefined) => void,
  report: {
    ended: (reason: ExitReport['reason'], code: number | null, extra?: { message?: string; error?: WireError }) => ExitReport;
    ending: (error: unknown) => ExitReport;
    error: (error: unknown) => ExitReport;
    env: () => Record<string, string>;
  },
): ExitReport {
  const deadline = spec.timeoutMs === undefined ? Infinity : performance.now() + spec.timeoutMs;
  let options;
  try {
    refuseTrace(spec.trace, prepared.name);
    options = {
      namespace: sandbox.namespace,
      args: prepared.argv,
      env: Object.entries(report.env()),
      preopens: resolvePreopens(sandbox.namespace, spec.preopens),
      cwd: prepared.workdir,
      stdin: spec.stdin === 'pipe' ? ringStdin(spec.io, gate) : bytesStdin(spec.stdin),
      stdout: new WorkerOutput(spec.pid, 1, spec.io, gate, post, spec.maxOutputBytes),
      stderr: new WorkerOutput(spec.pid, 2, spec.io, gate, post, spec.maxOutputBytes),
      deadline,
      gate: gateFor(gate, spec.pid),
      ...(spec.tty !== undefined && { tty: spec.tty }),
    };
  } catch (error) {
    return report.error(error);
  }
  if (gate.killRequested(spec.pid)) return report.ended('killed', null);
  let context: ComponentContext | undefined;
  let untrack: (() => void) | undefined;
  // A reap after a termination closes what the process held, as for a preview1 process's fds.
  const reapable = { context: { fds: { closeAll: () => context?.closeAll() } } } as unknown as Running['host'];
  onRunning({ pid: spec.pid, host: reapable, program: prepared.name, started: performance.now() });
  try {
    return report.ended('exit', runComponent(prepared.component, options, {
      context: (ctx) => {
        context = ctx;
        gate.killableDeadline(ctx, spec.pid);
        untrack = sandbox.running.track(rebasable(ctx));
      },
      enterGuest: () => gate.enterGuest(spec.pid, deadline),
      leaveGuest: () => gate.leaveGuest(),
    }));
  } catch (error) {
    return report.ending(error);
  } finally {
    onRunning(undefined);
    untrack?.();
  }
}
