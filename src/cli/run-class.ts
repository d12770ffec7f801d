import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { Backend, BackendExit, PrepareOptions, Prepared } from '../backends/backend.js';
import { hostConfigPath, readHostConfig } from '../backends/host-config.js';
import type { BackendManifest, ManifestMount } from '../backends/manifest.js';
import { selectBackend, type HostConfig } from '../backends/registry.js';
import { ErrorCode, StrataError } from '../errors.js';
import { ImageStore } from '../oci/image-store.js';
import type { MountSpec } from '../sandbox/index.js';
import { writeAll, UsageError } from './io.js';
import type { RunArgs } from './run-args.js';
import { isTerminal } from './terminal.js';
import { openImageWithProgress } from './run.js';

/** Flags of `strata run` that only the in-process wasm host has. */
function refuseWasmOnly(parsed: RunArgs, cls: string): void {
  const wasmOnly: [boolean, string][] = [
    [parsed.options.trace !== undefined, '--trace'],
    [parsed.diff, '--diff'],
    [parsed.apply, '--apply'],
    [!parsed.dev, '--no-dev'],
    [parsed.name !== undefined, '--name'],
  ];
  for (const [given, flag] of wasmOnly) if (given) throw new UsageError(`${flag} is not available with --class ${cls} (the wasm class only)`);
}

/** The backend for `cls` from the host config, with this run's limits over the class's. */
function backendFor(cls: string, host: HostConfig, parsed: RunArgs): Backend {
  const limits: Record<string, number> = {};
  if (parsed.options.memoryLimitBytes !== undefined) limits['memoryBytes'] = parsed.options.memoryLimitBytes;
  if (parsed.options.maxFds !== undefined) limits['maxFds'] = parsed.options.maxFds;
  const classes = host.classes as Record<string, { assets: never[]; config?: Record<string, unknown> } | undefined>;
  const current = classes[cls];
  if (current === undefined || Object.keys(limits).length === 0) return selectBackend(cls, host);
  const config = { ...(current.config ?? {}), limits: { ...((current.config?.['limits'] as object | undefined) ?? {}), ...limits } };
  return selectBackend(cls, { classes: { ...host.classes, [cls]: { ...current, config } } });
}

/** A `strata run` mount as a manifest mount, and its host side as prepare options. */
function manifestMounts(mounts: readonly MountSpec[]): { mounts: ManifestMount[]; binds: Record<string, string> } {
  const binds: Record<string, string> = {};
  const out = mounts.map((m): ManifestMount => {
    switch (m.type) {
      case 'tmpfs':
        return { type: 'tmpfs', target: m.target, ...(m.size !== undefined && { size: m.size }), ...(m.inodes !== undefined && { inodes: m.inodes }) };
      case 'bind':
        binds[m.target] = m.source;
        return { type: 'bind', target: m.target, readonly: m.readonly === true };
      case 'overlay':
        binds[m.target] = m.source;
        return { type: 'overlay', target: m.target };
      case 'volume':
        return { type: 'volume', target: m.target, name: m.name, readonly: m.readonly === true };
      case 'identity':
        return { type: 'identity', target: m.target };
    }
  });
  return { mounts: out, binds };
}

/**
 * `strata run --class CLASS …`: the run on another sandbox class's backend
 * (runsc, runc, crun, qemu…), as the host config enables it. The image's
 * process (or COMMAND) runs with the host's stdio; strata exits with its
 * code (124 on timeout, 128+N for a signal). Nothing is kept.
 *
 * Errors: UsageError (a wasm-only flag; a module file); those of the host
 * config, `selectBackend` and the backend's prepare/restore/start.
 */
export async function runOnClass(parsed: RunArgs, cls: string, hostConfig: string | undefined): Promise<number> {
  refuseWasmOnly(parsed, cls);
  const backend = backendFor(cls, await readHostConfig(hostConfigPath(hostConfig)), parsed);
  const store = await ImageStore.open();
  const command = parsed.explicitCommand || parsed.guestArgs.length > 0 ? parsed.guestArgs : undefined;
  const { mounts, binds } = manifestMounts(parsed.mounts);
  const options: PrepareOptions = { store, binds };
  let prepared: Prepared;
  if (parsed.from !== undefined) {
    prepared = await backend.restore(parsed.from, options);
  } else {
    const target = parsed.target!;
    if (target.endsWith('.wasm')) throw new UsageError(`--class ${cls} runs images, not module files`);
    const image = await openImageWithProgress(target, parsed, store);
    const p = image.process;
    const manifest: BackendManifest = {
      class: cls as BackendManifest['class'],
      image: { reference: image.record.reference, manifestDigest: image.record.manifestDigest, configDigest: image.record.config.digest, diffIDs: image.record.layers.map((l) => l.diffID ?? l.digest) },
      root: { mode: parsed.root ?? 'overlay', ...(Object.keys(parsed.tmpfs).length > 0 && { limits: parsed.tmpfs }) },
      mounts,
      process: { args: [...p.entrypoint, ...(command ?? p.cmd)], env: p.env, workdir: p.workdir },
      backend: { assets: [], config: {} },
      delta: [],
    };
    prepared = await backend.prepare(manifest, options);
  }
  try {
    return exitStatus(await startAndWait(backend, prepared, parsed, parsed.from !== undefined ? command : undefined));
  } finally {
    await backend.cleanup(prepared);
  }
}

/** `strata snapshot restore --class CLASS SNAPSHOT [-- COMMAND]`: restore on that backend, run, clean up. */
export async function restoreOnClass(cls: string, snapshot: string, command: readonly string[], hostConfig: string | undefined): Promise<number> {
  const backend = selectBackend(cls, await readHostConfig(hostConfigPath(hostConfig)));
  const prepared = await backend.restore(snapshot, { store: await ImageStore.open() });
  try {
    const exit = await startAndWait(backend, prepared, undefined, command.length > 0 ? command : undefined);
    return exitStatus(exit);
  } finally {
    await backend.cleanup(prepared);
  }
}

async function startAndWait(backend: Backend, prepared: Prepared, parsed: RunArgs | undefined, args: readonly string[] | undefined): Promise<BackendExit> {
  const env = Object.entries(parsed?.options.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const stdin = isTerminal(0) ? undefined : readFileSync(0);
  const process = await backend.start(prepared, {
    ...(args !== undefined && { args }),
    ...(env.length > 0 && { env }),
    ...(parsed?.options.workdir !== undefined && { workdir: parsed.options.workdir }),
    ...(parsed?.options.timeoutMs !== undefined && { timeoutMs: parsed.options.timeoutMs }),
    ...(stdin !== undefined && { stdin }),
    stdout: (chunk) => writeAll(1, chunk),
    stderr: (chunk) => writeAll(2, chunk),
  });
  return process.wait();
}

function exitStatus(exit: BackendExit): number {
  if (exit.reason === 'timeout') throw new StrataError(ErrorCode.timeout, `the process ran past its time limit and was killed`);
  if (exit.code !== null) return exit.code;
  if (exit.signal !== null) return 128 + ((constants.signals as Record<string, number>)[exit.signal] ?? 0);
  throw exit.error ?? new StrataError(ErrorCode.runtimeFailed, `the process ended without an exit code (${exit.reason})`);
}
