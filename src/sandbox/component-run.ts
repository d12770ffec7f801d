/**
 * Running a WebAssembly component (WASI preview2) in a sandbox: transpiled
 * once per digest (kept in the store's blob store), loaded once per digest
 * and limits in this thread, then run over the sandbox's namespace with
 * the same options, limits and typed errors as a preview1 command. A running component is tracked
 * like a preview1 process, so a commit or fork moves it onto the fresh upper.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, StrataError } from '../errors.js';
import { ComponentContext, componentDigest, loadComponent, runComponent, transpileComponent, transpilerId, type LoadedComponent, type TranspileCache, type TranspiledFiles } from '../component/index.js';
import { BlobStore, digestHex, parseDigest, type Digest } from '../oci/index.js';
import type { Namespace } from '../vfs/index.js';
import { elapsedMs } from '../wasi/index.js';
import { defaultMemoryLimitBytes, defaultTableLimitElements } from './guest-module.js';
import { limitSections } from './module-sections.js';
import { guestError, runWithTimeout, stdioTty, toSource } from './guest-run.js';
import { runSetup } from './command-run.js';
import { resolvePreopens } from './preopens.js';
import type { RebasableProcess, RunningProcesses } from './rebase.js';
import type { RunOptions, RunResult } from './run-options.js';

/** What the cache records per component: the transpiler, and each output file's blob. */
interface CacheRecord {
  readonly transpiler: string;
  readonly js: Digest;
  readonly cores: Record<string, Digest>;
  readonly imports: string[];
}

/**
 * The transpile cache in a store: each output file is a blob (verified
 * when read back), and `components/<component digest hex>.json` names
 * them. A record made by another transpiler, or naming a blob that is gone
 * or corrupt (after `strata gc`), is a miss.
 */
export function blobTranspileCache(storeRoot: string): TranspileCache {
  const recordPath = (digest: string) => join(storeRoot, 'components', `${digestHex(parseDigest(digest))}.json`);
  return {
    async get(digest) {
      let record: CacheRecord;
      try {
        record = JSON.parse(await readFile(recordPath(digest), 'utf8')) as CacheRecord;
      } catch {
        return undefined;
      }
      if (record.transpiler !== transpilerId) return undefined;
      try {
        const blobs = await BlobStore.open(storeRoot);
        const cores: Record<string, Uint8Array> = {};
        for (const [name, d] of Object.entries(record.cores)) cores[name] = await blobs.readVerified(d);
        return { js: new TextDecoder().decode(await blobs.readVerified(record.js)), cores, imports: record.imports };
      } catch (error) {
        if (error instanceof StrataError) return undefined;
        throw error;
      }
    },
    async put(digest, files) {
      const blobs = await BlobStore.open(storeRoot);
      const cores: Record<string, Digest> = {};
      for (const [name, bytes] of Object.entries(files.cores)) cores[name] = await blobs.put(bytes);
      const record: CacheRecord = { transpiler: transpilerId, js: await blobs.put(new TextEncoder().encode(files.js)), cores, imports: [...files.imports] };
      await mkdir(join(storeRoot, 'components'), { recursive: true });
      const temp = blobs.tempPath('component');
      await writeFile(temp, JSON.stringify(record));
      await rename(temp, recordPath(digest));
    },
  };
}

/** The limits a component's core modules are compiled with. */
export interface ComponentCompileOptions {
  readonly memoryLimitBytes?: number | undefined;
  readonly tableLimitElements?: number | undefined;
}

const loaded = new Map<string, Promise<LoadedComponent>>();

/**
 * A component ready to run: from this thread's cache, else from the
 * store's transpile cache, else transpiled now (and cached). Its core
 * modules are compiled with the memory and table limits, as a module's are.
 * Errors: ERR_COMPONENT_TRANSPILE, ERR_INVALID_WASM, ERR_INVALID_OPTION (limits).
 */
export function loadedComponent(bytes: Uint8Array, name: string, storeRoot: string, options: ComponentCompileOptions = {}): Promise<LoadedComponent> {
  const digest = componentDigest(bytes);
  const memory = options.memoryLimitBytes ?? defaultMemoryLimitBytes;
  const table = options.tableLimitElements ?? defaultTableLimitElements;
  if (!Number.isFinite(memory) || memory < 65536) throw new StrataError(ErrorCode.invalidOption, `memoryLimitBytes must be at least 65536 (one page), got ${memory}`);
  if (!Number.isInteger(table) || table < 0 || table > 2 ** 32 - 1) throw new StrataError(ErrorCode.invalidOption, `tableLimitElements must be an integer from 0 to 2^32-1, got ${table}`);
  const key = `${digest}:${memory}:${table}:${storeRoot}`;
  let entry = loaded.get(key);
  if (entry === undefined) {
    entry = (async () => {
      const cache = blobTranspileCache(storeRoot);
      let files: TranspiledFiles | undefined = await cache.get(digest);
      if (files === undefined) {
        files = await transpileComponent(bytes, name);
        await cache.put(digest, files);
      }
      return loadComponent(digest, files, async (core, coreName) => {
        try {
          return await WebAssembly.compile(limitSections(core, Math.floor(memory / 65536), table, `${name} (${coreName})`));
        } catch (error) {
          if (error instanceof StrataError) throw error;
          throw new StrataError(ErrorCode.invalidWasm, `'${name}' (${coreName}) does not compile: ${(error as Error).message}`, { cause: error });
        }
      });
    })();
    loaded.set(key, entry);
    entry.catch(() => loaded.delete(key));
  }
  return entry;
}

/**
 * Run a loaded component as one process in `namespace`: `run`'s options
 * and result, as for a preview1 command. The working directory is
 * `wasi:cli/environment.initial-cwd` (preview2 has one), and `PWD`.
 * Rejects as `Sandbox.run` does (ERR_INVALID_OPTION for `trace`, which
 * components do not have yet; ERR_BAD_PATH for a bad workdir; GuestError
 * ERR_TIMEOUT, ERR_GUEST_TRAP, ERR_OUTPUT_LIMIT with the output so far).
 */
export function runLoadedComponent(namespace: Namespace, component: LoadedComponent, name: string, options: RunOptions = {}, running?: RunningProcesses): RunResult {
  refuseTrace(options.trace !== undefined, name);
  const { env, stdout, stderr, timeoutMs, started, deadline, output } = runSetup(namespace, options);
  const context = {
    namespace,
    args: [options.argv0 ?? name, ...(options.args ?? [])],
    env: Object.entries(env),
    preopens: resolvePreopens(namespace, options.preopens),
    cwd: options.workdir,
    stdin: toSource(options.stdin),
    stdout,
    stderr,
    ...(options.tty === undefined ? {} : { tty: stdioTty(options.tty) }),
    ...(deadline === undefined ? {} : { deadline }),
  };
  let untrack: (() => void) | undefined;
  const hooks = { context: (ctx: ComponentContext) => (untrack = running?.track(rebasable(ctx))) };
  let exitCode: number;
  try {
    exitCode = timeoutMs === undefined ? runComponent(component, context, hooks) : runWithTimeout(() => runComponent(component, context, hooks), timeoutMs);
  } catch (error) {
    throw guestError(error, name, timeoutMs, output());
  } finally {
    untrack?.();
  }
  return { exitCode, ...output(), durationMs: elapsedMs(started) };
}

/** `trace` is preview1's strace; components have none yet. Errors: ERR_INVALID_OPTION. */
export function refuseTrace(trace: boolean, name: string): void {
  if (trace) throw new StrataError(ErrorCode.invalidOption, `'${name}' is a WebAssembly component: trace is not supported for components yet`);
}

/** A component's context as the sandbox's running processes track it: moved onto the fresh upper when a commit or fork seals the root. */
export function rebasable(ctx: ComponentContext): RebasableProcess {
  return { context: ctx, rebase: (namespace, counterpart) => ctx.rebase(namespace, counterpart) };
}
