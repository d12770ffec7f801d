/**
 * Running a WASI command in the caller's thread over a sandbox's
 * namespace: its host, stdio, imports, deadline and exit. What
 * `Sandbox.runSync` (and so `run` and `exec`) does for a preview1 module.
 */
import { ErrorCode, StrataError } from '../errors.js';
import { FsError, type Namespace } from '../vfs/index.js';
import { elapsedMs, WasiHost, type WasiHostOptions } from '../wasi/index.js';
import type { GuestModule } from './guest-module.js';
import { linkImports, wasiImportNames } from './guest-imports.js';
import { keepMemory, takeMemory, withMemory } from './memory-pool.js';
import { guestError, OutputStream, runWithTimeout, stdioTty, toSource } from './guest-run.js';
import type { Mutable } from './mutable.js';
import { resolvePreopens } from './preopens.js';
import type { RunningProcesses } from './rebase.js';
import { defaultMaxOutputBytes, type RunOptions, type RunResult } from './run-options.js';

/**
 * Check that `workdir` names a directory in `namespace`.
 * Errors: ERR_BAD_PATH (missing, or not a directory).
 */
export function checkWorkdir(namespace: Namespace, workdir: string): void {
  let node;
  try {
    node = namespace.resolve(namespace.root, workdir, true, 'chdir');
  } catch (error) {
    if (error instanceof FsError) throw new StrataError(ErrorCode.badPath, `workdir '${workdir}': ${error.errno}`, { cause: error });
    throw error;
  }
  if (node.type !== 'directory') throw new StrataError(ErrorCode.badPath, `workdir '${workdir}' is not a directory`);
}

/** What a run in the caller's thread starts from, a command's or a component's alike. */
export interface RunSetup {
  /** The environment, with `PWD` set to the working directory when one is given. */
  readonly env: Record<string, string>;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly timeoutMs: number | undefined;
  /** `process.hrtime()` at the start, for the run's duration ({@link elapsedMs}). */
  readonly started: [number, number];
  /** performance.now() past which the run's blocking calls give up (set only with a timeout: reading that clock loads `node:perf_hooks`). */
  readonly deadline: number | undefined;
  /** What the streams collected so far. */
  output(): { stdout: Uint8Array; stderr: Uint8Array };
}

/**
 * Check a run's options and make its environment and output streams.
 * Errors: ERR_BAD_PATH (a bad workdir), ERR_INVALID_OPTION (a timeout
 * that is not a positive number).
 */
export function runSetup(namespace: Namespace, options: RunOptions): RunSetup {
  // Copied only to add PWD; otherwise read as given (never written).
  let env: Record<string, string> = options.env ?? {};
  if (options.workdir !== undefined) {
    checkWorkdir(namespace, options.workdir);
    env = { ...env };
    env['PWD'] ??= options.workdir;
  }
  const maxOutput = options.maxOutputBytes ?? defaultMaxOutputBytes;
  const stdout = new OutputStream('stdout', options.stdout, maxOutput);
  const stderr = new OutputStream('stderr', options.stderr, maxOutput);
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new StrataError(ErrorCode.invalidOption, `timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  const started = process.hrtime();
  const deadline = timeoutMs === undefined ? undefined : performance.now() + timeoutMs;
  return { env, stdout, stderr, timeoutMs, started, deadline, output: () => ({ stdout: stdout.collected(), stderr: stderr.collected() }) };
}


/**
 * Run `guest` to its end over `namespace`, tracked in `running` while it
 * runs (a commit moves it onto the fresh upper). Errors: those of
 * `Sandbox.runSync`.
 */
export function runCommand(namespace: Namespace, running: RunningProcesses, guest: GuestModule, options: RunOptions): RunResult {
  if (guest.kind !== 'command') throw new StrataError(ErrorCode.notWasiCommand, `'${guest.name}' is a WASI reactor (no "_start"): use instantiate() or wasi().initialize()`);
  const { env, stdout, stderr, timeoutMs, started, deadline, output } = runSetup(namespace, options);
  const args = [options.argv0 ?? guest.name];
  const more = options.args;
  if (more !== undefined) for (let i = 0; i < more.length; i++) args.push(more[i]!);
  const envStrings: string[] = [];
  for (const k of Object.keys(env)) envStrings.push(`${k}=${env[k]!}`);
  // Set one by one, not spread: a run's setup is part of every spawn's cost.
  const hostOptions: Mutable<WasiHostOptions> = {
    namespace,
    args,
    env: envStrings,
    preopens: resolvePreopens(namespace, options.preopens),
    stdin: toSource(options.stdin),
    stdout,
    stderr,
    only: wasiImportNames(guest.module),
  };
  if (options.maxFds !== undefined) hostOptions.maxFds = options.maxFds;
  if (options.tty !== undefined) hostOptions.tty = stdioTty(options.tty);
  if (deadline !== undefined) hostOptions.deadline = deadline;
  if (options.trace !== undefined) hostOptions.trace = options.trace;
  const host = new WasiHost(hostOptions);
  const imports = linkImports(guest.module, guest.name, host.imports, options.imports);
  // A small command runs in a memory a finished process left, when one is
  // kept (memory-pool.ts); never with caller-provided imports around.
  const pooled = options.imports === undefined ? guest.pooled : undefined;
  const memory = pooled === undefined ? undefined : takeMemory(pooled);
  let exitCode: number;
  let instance: WebAssembly.Instance | undefined;
  const untrack = running.track(host);
  try {
    instance =
      memory === undefined
        ? new WebAssembly.Instance(guest.module, imports)
        : new WebAssembly.Instance(pooled!.module, withMemory(imports, memory));
    const live = instance;
    exitCode = timeoutMs === undefined ? host.start(live) : runWithTimeout(() => host.start(live), timeoutMs);
  } catch (error) {
    throw guestError(error, guest.name, timeoutMs, output());
  } finally {
    untrack();
    // The process is over: nothing calls into its instance again.
    if (pooled !== undefined && instance !== undefined) keepMemory(pooled, instance.exports['memory']);
  }
  return { exitCode, stdout: stdout.collected(), stderr: stderr.collected(), durationMs: elapsedMs(started) };
}
