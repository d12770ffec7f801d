/**
 * One pooled process, on its home worker: what to run (the module, argv,
 * env, workdir, found as `Sandbox.exec` finds them), then running it
 * behind the worker's syscall gate, and how it ended.
 */
import { ErrorCode, StrataError } from '../../errors.js';
import { GuestDeadline, WasiHost } from '../../wasi/index.js';
import type { CompileOptions } from '../guest-module.js';
import { compiledProgram, imageCommand, readProgram } from '../program.js';
import { checkWorkdir } from '../command-run.js';
import { linkImports, wasiImportNames } from '../guest-imports.js';
import { keepMemory, takeMemory, withMemory, type PooledVariant } from '../memory-pool.js';
import { resolvePreopens } from '../preopens.js';
import type { Sandbox } from '../sandbox.js';
import { ProcessKilled, type SyscallGate } from './gate.js';
import type { ExitReason, FromWorker, WireError, WireSpawn } from './protocol.js';
import { bytesStdin, OutputLimitReached, ringStdin, WorkerOutput } from './stdio-worker.js';
import { toWire } from './wire-error.js';
import { isComponent, type LoadedComponent } from '../../component/index.js';
import { loadedComponent } from '../component-run.js';
import { runPreparedComponent } from './component-process.js';

/** What a spawn runs, once resolved. */
export interface Prepared {
  /** The module to run; or, for a component found in the sandbox, none and `component` (component-process.ts). */
  readonly module: WebAssembly.Module | undefined;
  /** Its variant that runs in a memory a finished process on this thread left (src/sandbox/memory-pool.ts), if it has one. */
  readonly pooled?: PooledVariant | undefined;
  readonly component?: LoadedComponent;
  readonly name: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workdir: string | undefined;
}

/** How a process ended, as the worker reports it. */
export interface ExitReport {
  readonly code: number | null;
  readonly reason: ExitReason;
  readonly message?: string;
  readonly error?: WireError;
  readonly program?: string;
  readonly durationMs: number;
}

/** A process whose guest code is running, kept so a termination can be cleaned up after. */
export interface Running {
  readonly pid: number;
  readonly host: WasiHost;
  readonly program: string;
  readonly started: number;
}

/** The limits a module is compiled with. */
export interface GuestLimits {
  readonly memoryLimitBytes: number | undefined;
  readonly tableLimitElements: number | undefined;
}

/** compileGuest's options for a pooled command with these limits (no extra imports, never a reactor). */
export function compileLimits(limits: GuestLimits): CompileOptions {
  return {
    reactor: false,
    ...(limits.memoryLimitBytes !== undefined && { memoryLimitBytes: limits.memoryLimitBytes }),
    ...(limits.tableLimitElements !== undefined && { tableLimitElements: limits.tableLimitElements }),
  };
}

/**
 * Resolve a spawn: with a module from the host, its argv as given;
 * without, the command after the image's Entrypoint (its Cmd when none),
 * `argv[0]` found as execvp finds it, with the image's Env and WorkingDir
 * under the caller's.
 * Errors: ERR_INVALID_OPTION (nothing to run), ERR_BAD_PATH (the program
 * is missing or not a file), the errors of compileGuest.
 */
export async function prepare(sandbox: Sandbox, spec: WireSpawn): Promise<Prepared> {
  if (spec.component !== undefined) {
    const { bytes, name } = spec.component;
    const argv = spec.argv !== undefined && spec.argv.length > 0 ? spec.argv : [name];
    return { module: undefined, component: await loadedComponent(bytes, name, sandbox.storeRoot, spec), name, argv, env: spec.env ?? {}, workdir: spec.workdir };
  }
  if (spec.guest !== undefined) {
    const argv = spec.argv !== undefined && spec.argv.length > 0 ? spec.argv : [spec.guest.name];
    return { module: spec.guest.module, pooled: spec.guest.pooled, name: spec.guest.name, argv, env: spec.env ?? {}, workdir: spec.workdir };
  }
  const { argv, env, workdir } = imageCommand(sandbox.image, spec.argv, spec);
  const name = argv[0]!;
  const program = readProgram(sandbox.namespace, name, env['PATH'], workdir);
  const base = name.split('/').pop() ?? name;
  if (isComponent(program)) {
    const component = await loadedComponent(program, base, sandbox.storeRoot, spec);
    return { module: undefined, component, name: base, argv, env, workdir };
  }
  const guest = await compiledProgram(program, compileLimits(spec));
  return { module: guest.module, pooled: guest.pooled, name: base, argv, env, workdir };
}

/**
 * Run a prepared process to its end, synchronously, on this thread. Its
 * guest code runs in the gate's `inGuest` phase, where a termination may
 * land; `onRunning` receives it first so that a termination can be reaped.
 * Never throws: every ending is a report.
 */
export function runPrepared(
  sandbox: Sandbox,
  spec: WireSpawn,
  prepared: Prepared,
  gate: SyscallGate,
  post: (message: FromWorker, transfer: ArrayBuffer[]) => void,
  onRunning: (running: Running | undefined) => void,
): ExitReport {
  const started = performance.now();
  const ended = (reason: ExitReason, code: number | null, extra: { message?: string; error?: WireError } = {}): ExitReport => ({
    code,
    reason,
    ...extra,
    program: prepared.name,
    durationMs: performance.now() - started,
  });
  const deadline = spec.timeoutMs === undefined ? Infinity : started + spec.timeoutMs;
  const { component, module } = prepared;
  if (component !== undefined || module === undefined) {
    return runPreparedComponent(sandbox, spec, { ...prepared, component: component! }, gate, post, onRunning, {
      ended,
      ending: (error) => (gate.killRequested(spec.pid) ? ended('killed', null) : ending(error, prepared.name, spec, ended)),
      error: (error) => ended('error', null, { error: toWire(error) }),
      env: () => {
        const env = { ...prepared.env };
        if (prepared.workdir !== undefined) {
          checkWorkdir(sandbox.namespace, prepared.workdir);
          env['PWD'] ??= prepared.workdir;
        }
        return env;
      },
    });
  }
  let host: WasiHost;
  try {
    const env = { ...prepared.env };
    if (prepared.workdir !== undefined) {
      checkWorkdir(sandbox.namespace, prepared.workdir);
      env['PWD'] ??= prepared.workdir;
    }
    host = new WasiHost({
      namespace: sandbox.namespace,
      args: prepared.argv,
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      preopens: resolvePreopens(sandbox.namespace, spec.preopens),
      stdin: spec.stdin === 'pipe' ? ringStdin(spec.io, gate) : bytesStdin(spec.stdin),
      stdout: new WorkerOutput(spec.pid, 1, spec.io, gate, post, spec.maxOutputBytes),
      stderr: new WorkerOutput(spec.pid, 2, spec.io, gate, post, spec.maxOutputBytes),
      deadline,
      gate: (name, fn) => gate.wrap(spec.pid, name, fn),
      only: wasiImportNames(module),
      ...(spec.maxFds !== undefined && { maxFds: spec.maxFds }),
      ...(spec.tty !== undefined && { tty: spec.tty }),
      ...(spec.trace && { trace: (line: string) => post({ t: 'trace', pid: spec.pid, line }, []) }),
    });
  } catch (error) {
    return ended('error', null, { error: toWire(error) });
  }
  if (gate.killRequested(spec.pid)) return ended('killed', null);
  gate.killableDeadline(host.context, spec.pid);
  onRunning({ pid: spec.pid, host, program: prepared.name, started });
  const untrack = sandbox.running.track(host);
  // A memory a finished process on this thread left, zeroed (memory-pool.ts); taken before the guest phase, where no kill lands.
  const { pooled } = prepared;
  const memory = pooled === undefined ? undefined : takeMemory(pooled);
  // From here the guest's own code may run (a start function too), so a kill may terminate it.
  gate.enterGuest(spec.pid, deadline);
  let instance: WebAssembly.Instance;
  try {
    // A worker provides preview1 only: a module declaring extra imports is
    // refused here, every missing import named (ERR_UNKNOWN_IMPORT).
    const imports = linkImports(module, prepared.name, host.imports, undefined);
    instance = memory === undefined ? new WebAssembly.Instance(module, imports) : new WebAssembly.Instance(pooled!.module, withMemory(imports, memory));
  } catch (error) {
    gate.leaveGuest();
    onRunning(undefined);
    untrack();
    host.context.fds.closeAll();
    if (error instanceof WebAssembly.LinkError) {
      return ended('error', null, { error: toWire(new StrataError(ErrorCode.unknownImport, `'${prepared.name}' cannot be linked: ${error.message}`)) });
    }
    return ending(error, prepared.name, spec, ended);
  }
  const start = instance.exports['_start'] as () => void;
  // _start behind the gate: the guest's code runs in the inGuest phase, and
  // nothing of the host after it (host.start closes the fds) can be terminated.
  const gated = {
    exports: {
      memory: instance.exports['memory'],
      _start: () => {
        try {
          start();
        } finally {
          gate.leaveGuest();
        }
      },
    },
  } as unknown as WebAssembly.Instance;
  try {
    return ended('exit', host.start(gated));
  } catch (error) {
    return ending(error, prepared.name, spec, ended);
  } finally {
    onRunning(undefined);
    untrack();
    // The process is over: its memory may serve the next one (zeroed first).
    if (pooled !== undefined) keepMemory(pooled, instance.exports['memory']);
  }
}

function ending(error: unknown, name: string, spec: WireSpawn, ended: (reason: ExitReason, code: number | null, extra?: { message?: string; error?: WireError }) => ExitReport): ExitReport {
  if (error instanceof ProcessKilled) return ended('killed', null);
  if (error instanceof GuestDeadline) return ended('timeout', null, { message: `'${name}' ran longer than ${spec.timeoutMs} ms and was stopped` });
  if (error instanceof OutputLimitReached) {
    return ended('output-limit', null, { message: `'${name}' wrote more than ${error.limit} bytes to ${error.stream} and was stopped` });
  }
  if (error instanceof WebAssembly.RuntimeError || error instanceof RangeError) return ended('trap', null, { message: `'${name}' trapped: ${error.message}` });
  return ended('error', null, { error: toWire(error) });
}

