import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { open, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ErrorCode, StrataError } from '../../errors.js';

/** The OCI runtimes with runc's command line that this backend drives. */
export type RuntimeName = 'runc' | 'crun' | 'runsc';

/**
 * How one runtime is invoked: its verified binary, its state root, and the
 * per-runtime settings recorded in the manifest's `backend.config`.
 */
export interface RuntimeInvocation {
  readonly name: RuntimeName;
  /** The binary, verified against its pin just before. */
  readonly path: string;
  /** `--root`: where the runtime keeps container state (removed at cleanup). */
  readonly stateRoot: string;
  /** runsc: `--platform` (default `ptrace`: `kvm` hangs on these hosts). */
  readonly platform?: string;
  /** runsc: `--file-access` (`exclusive`, the default, or `shared`). */
  readonly fileAccess?: string;
  /** runsc: the overlay flag this binary has, probed (`--overlay2=root:memory` or `--overlay`); set only for an overlay root. */
  readonly overlayFlag?: string;
  /**
   * crun on a host whose cgroups are in hybrid v1+v2 mode: `crun create`
   * runs in a private mount namespace with `/sys/fs/cgroup/unified`
   * unmounted (crun refuses hybrid mode otherwise).
   */
  readonly cgroupWorkaround?: 'unmount-unified';
  /**
   * An unprivileged caller. runc needs nothing more (its rootless mode is
   * automatic; no cgroup is made without resources). crun gets
   * `--cgroup-manager=disabled`, and its `create`/`run` run inside
   * `unshare -r -m` with a tmpfs over `/sys/fs/cgroup` (crun refuses a
   * hybrid cgroup layout otherwise); the config's id mappings are then
   * relative to that namespace (the caller is 0 there).
   */
  readonly rootless?: boolean;
  /** Rootless crun: the root overlay its wrapper mounts before `create` (options, and the bundle's rootfs). */
  readonly rootOverlay?: { readonly options: string; readonly target: string };
}

/** The runtime's global flags, before the subcommand. */
export function globalArgs(rt: RuntimeInvocation): string[] {
  const args = ['--root', rt.stateRoot];
  if (rt.name === 'runsc') {
    // runsc refuses the host network namespace setup without privileges it lacks here; a sandbox never gets a network anyway.
    args.push('--network=none', `--platform=${rt.platform ?? 'ptrace'}`, `--file-access=${rt.fileAccess ?? 'exclusive'}`);
    if (rt.overlayFlag !== undefined) args.push(rt.overlayFlag);
  }
  if (rt.name === 'crun' && rt.rootless === true) args.push('--cgroup-manager=disabled');
  return args;
}

/** The argv (command first) of `runtime SUBCOMMAND ARGS`, with crun's cgroup workaround for `create`/`run`/`restore`. */
export function runtimeArgv(rt: RuntimeInvocation, sub: string, args: readonly string[]): string[] {
  const argv = [rt.path, ...globalArgs(rt), sub, ...args];
  if (rt.name === 'crun' && rt.rootless === true && (sub === 'create' || sub === 'run')) {
    // A user and mount namespace of the caller's own: no cgroup hierarchy is visible, so crun sees no hybrid layout.
    const overlay = rt.rootOverlay;
    if (overlay === undefined) return ['unshare', '-r', '-m', 'sh', '-c', 'mount -t tmpfs none /sys/fs/cgroup && exec "$@"', 'sh', ...argv];
    return ['unshare', '-r', '-m', 'sh', '-c', 'mount -t tmpfs none /sys/fs/cgroup && mount -t overlay overlay -o "$1" "$2" && shift 2 && exec "$@"', 'sh', overlay.options, overlay.target, ...argv];
  }
  if (rt.cgroupWorkaround === 'unmount-unified' && (sub === 'create' || sub === 'run')) {
    // A private mount namespace: the host's cgroup mounts stay as they are.
    return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', 'sh', ...argv];
  }
  return argv;
}

/**
 * Run a runtime subcommand to completion (stdin closed) and return its
 * stdout. Its stdio never reaches a container (create's process is a pause
 * program that writes nothing).
 *
 * Errors: ERR_RUNTIME_FAILED (it could not be started, ran past
 * `timeoutMs`, or exited non-zero), with the command and its stderr.
 */
export async function runRuntime(rt: RuntimeInvocation, sub: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const [command, ...rest] = runtimeArgv(rt, sub, args);
  // create and restore hand their stdio to the container's init, which
  // outlives them: give them a log file, not pipes that would never close.
  const detached = sub === 'create' || sub === 'restore';
  const log = detached ? join(dirname(rt.stateRoot), `${sub}-${process.pid}-${logCount++}.log`) : undefined;
  const fd = log !== undefined ? await open(log, 'w') : undefined;
  try {
    const { status, signal, stdout, stderr } = await new Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(command!, rest, { stdio: ['ignore', fd?.fd ?? 'pipe', fd?.fd ?? 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new StrataError(ErrorCode.runtimeFailed, `${rt.name} ${sub}: cannot run '${command!}': ${error.message}`, { cause: error }));
      });
      child.on(detached ? 'exit' : 'close', (status, signal) => {
        clearTimeout(timer);
        resolve({ status, signal, stdout, stderr });
      });
    });
    if (status === 0) return stdout;
    const said = log !== undefined ? await readFile(log, 'utf8').catch(() => '') : stderr || stdout;
    throw new StrataError(ErrorCode.runtimeFailed, `${rt.name} ${sub} ${args.at(-1) ?? ''} failed (${signal ?? `exit ${String(status)}`}): ${said.trim().slice(-2000)}`);
  } finally {
    await fd?.close();
    if (log !== undefined) await rm(log, { force: true });
  }
}

let logCount = 0;

/** Start a runtime subcommand whose stdio are pipes (an exec'd process's). */
export function spawnRuntime(rt: RuntimeInvocation, sub: string, args: readonly string[]): ChildProcess {
  const [command, ...rest] = runtimeArgv(rt, sub, args);
  return spawn(command!, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
}

const overlayFlags = new Map<string, string>();

/**
 * The flag that gives this runsc binary a memory-backed overlay over its
 * root: `--overlay2=root:memory` where `runsc flags` lists `-overlay2`
 * (newer builds), else the older `--overlay`. Probed once per binary
 * (keyed by its verified sha256).
 *
 * Errors: ERR_RUNTIME_FAILED (`runsc flags` cannot run, or lists neither).
 */
export async function probeRunscOverlayFlag(path: string, sha256: string): Promise<string> {
  const known = overlayFlags.get(sha256);
  if (known !== undefined) return known;
  const text = await new Promise<string>((resolve, reject) => {
    execFile(path, ['flags'], { timeout: 10_000, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      // `runsc flags` prints to stderr on some builds and exits 0 or 2.
      if (error !== null && stdout.length + stderr.length === 0) reject(new StrataError(ErrorCode.runtimeFailed, `cannot probe '${path} flags': ${error.message}`, { cause: error }));
      else resolve(`${stdout}\n${stderr}`);
    });
  });
  const flag = /^\s*-overlay2\b/m.test(text) ? '--overlay2=root:memory' : /^\s*-overlay\b/m.test(text) ? '--overlay' : undefined;
  if (flag === undefined) throw new StrataError(ErrorCode.runtimeFailed, `'${path} flags' lists neither -overlay2 nor -overlay: this runsc cannot give an overlay root`);
  overlayFlags.set(sha256, flag);
  return flag;
}
