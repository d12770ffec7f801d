/**
 * `sandbox.instantiate()`: a WASI reactor (`_initialize`, no `_start`)
 * compiled with strata's limits, linked with the embedder's extra imports,
 * initialized, and handed back for the caller to call its exports.
 */
import { ErrorCode, StrataError } from '../errors.js';
import type { Namespace } from '../vfs/index.js';
import { compileGuest, GuestModule } from './guest-module.js';
import { linkImports, providedImports } from './guest-imports.js';
import { SandboxWasi, type SandboxWasiOptions } from './wasi-facade.js';

/** Options of `sandbox.instantiate()`: the facade's, the extra imports, and the compile limits. */
export interface InstantiateOptions extends SandboxWasiOptions {
  /**
   * Imports beyond preview1, merged with strata's: `{ env: { call_host_function } }`.
   * They cannot include `wasi_snapshot_preview1`. Given bytes or a path,
   * the module is compiled to accept exactly these.
   */
  readonly imports?: WebAssembly.Imports;
  /** Memory cap when `guest` is bytes or a path. Default 1 GiB. */
  readonly memoryLimitBytes?: number;
  /** Cap on the elements of all tables when `guest` is bytes or a path. Default 1 Mi. */
  readonly tableLimitElements?: number;
}

/** An initialized reactor: call its exports; they run in the caller's thread, over the sandbox. */
export interface ReactorInstance {
  readonly instance: WebAssembly.Instance;
  /** `instance.exports`. */
  readonly exports: WebAssembly.Exports;
  /** The WASI facade the instance is bound to: its fds, `ending`, `close()`. */
  readonly wasi: SandboxWasi;
}

/**
 * Compile (unless given a `GuestModule`), link and initialize a reactor
 * over a namespace. `sandbox.instantiate(guest, options)` is the usual way.
 *
 * Errors, in order: the errors of {@link compileGuest} (with `reactor:
 * true`) and of the {@link SandboxWasi} constructor; ERR_NOT_WASI_REACTOR
 * (a `GuestModule` that is a command); ERR_INVALID_OPTION (`imports` is
 * malformed or has `wasi_snapshot_preview1`); ERR_UNKNOWN_IMPORT (an
 * import `imports` does not provide, every one listed, or one of the wrong
 * type); ERR_GUEST_TRAP (`_initialize` trapped, or ended the process).
 */
export async function instantiateReactor(namespace: Namespace, guest: GuestModule | Uint8Array | string, options: InstantiateOptions = {}): Promise<ReactorInstance> {
  const { imports, memoryLimitBytes, tableLimitElements, ...wasiOptions } = options;
  const compiled =
    guest instanceof GuestModule
      ? guest
      : await compileGuest(guest, {
          reactor: true,
          imports: providedImports(imports ?? {}),
          ...(memoryLimitBytes !== undefined && { memoryLimitBytes }),
          ...(tableLimitElements !== undefined && { tableLimitElements }),
        });
  if (compiled.kind !== 'reactor') {
    throw new StrataError(ErrorCode.notWasiReactor, `'${compiled.name}' is a WASI command (it exports "_start"): run it with run() or exec()`);
  }
  const wasi = new SandboxWasi(namespace, wasiOptions);
  const linked = linkImports(compiled.module, compiled.name, wasi.getImportObject(), imports);
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(compiled.module, linked);
  } catch (error) {
    if (error instanceof WebAssembly.LinkError) {
      throw new StrataError(ErrorCode.unknownImport, `'${compiled.name}' cannot be linked: ${error.message}`, { cause: error });
    }
    throw trapError(compiled.name, 'start', error);
  }
  try {
    wasi.initialize(instance);
  } catch (error) {
    wasi.close();
    if (error instanceof StrataError) throw error;
    throw trapError(compiled.name, '_initialize', error);
  }
  return { instance, exports: instance.exports, wasi };
}

function trapError(name: string, where: string, error: unknown): StrataError {
  const ended = error instanceof Error && error.name === 'ProcExit' ? `exited with code ${(error as Error & { code: number }).code}` : `trapped: ${(error as Error)?.message ?? String(error)}`;
  return new StrataError(ErrorCode.guestTrap, `'${name}' ${ended} in ${where}`, { cause: error });
}
