import { closeSync, constants, fstatSync, openSync, readFile, readSync } from 'node:fs';
import { ErrorCode, StrataError } from '../errors.js';
import { checkExtraImports, unknownImportError, unknownImports, type ExtraImports } from './guest-imports.js';
import { pooledMemoryModule, type PooledMemoryModule } from './memory-pool.js';
import { limitSections } from './module-sections.js';

const wasmPage = 65536;

/** Default cap on a guest's linear memory: 1 GiB. */
export const defaultMemoryLimitBytes = 1 << 30;

/**
 * Default cap on the elements of a guest's tables, all tables together:
 * 1 Mi elements. V8 spends about 30 bytes of host memory per element, so
 * this bounds tables to about 32 MiB.
 */
export const defaultTableLimitElements = 1 << 20;

/** Options of {@link compileGuest}. */
export interface CompileOptions {
  /**
   * Most bytes of linear memory the guest may ever have. Enforced by
   * rewriting the module's declared memory maximum, so `memory.grow` past
   * it fails inside the guest (malloc returns NULL) instead of the host
   * running out. Default {@link defaultMemoryLimitBytes}.
   */
  readonly memoryLimitBytes?: number;
  /**
   * Most elements the guest's tables may ever hold, all tables together.
   * Enforced like the memory limit, by rewriting each table's declared
   * maximum (the first tables get the room first), so `table.grow` past
   * it fails inside the guest; a module whose tables need more at start
   * is refused. Default {@link defaultTableLimitElements}.
   */
  readonly tableLimitElements?: number;
  /**
   * Imports beyond preview1 that the embedder will provide when it
   * instantiates the module (`run`/`exec`'s `imports`, or its own
   * `WebAssembly.instantiate` with `sandbox.wasi()`): for each import
   * module, its names or `'*'`. Default: none, only preview1.
   */
  readonly imports?: ExtraImports;
  /**
   * `true`: the module must be a WASI reactor (a `memory`, no `_start`,
   * perhaps `_initialize`), instantiated with `sandbox.instantiate` or
   * `sandbox.wasi().initialize`. Default `false`: it must be a command
   * (`_start`), as every runner of commands (`run`, `exec`, the pool)
   * expects; a reactor is then refused, and the message says to ask for one.
   */
  readonly reactor?: boolean;
}

/** What a module is to WASI: a command (`_start`, run once) or a reactor (`_initialize`, then its exports are called). */
export type GuestKind = 'command' | 'reactor';

/**
 * A validated, compiled WASI command or reactor, reusable across any
 * number of runs or instances.
 */
export class GuestModule {
  readonly module: WebAssembly.Module;
  readonly memoryLimitBytes: number;
  readonly name: string;
  /** A command (`_start`) or a reactor (`_initialize`). */
  readonly kind: GuestKind;
  /** The extra imports it was compiled to accept, beyond preview1. */
  readonly imports: ExtraImports;
  /** @internal The variant that runs in a pooled memory (src/sandbox/memory-pool.ts), for a small command with no extra imports. */
  readonly pooled: PooledMemoryModule | undefined;

  /** @internal Use {@link compileGuest}. */
  constructor(
    module: WebAssembly.Module,
    memoryLimitBytes: number,
    name: string,
    kind: GuestKind = 'command',
    imports: ExtraImports = {},
    pooled?: PooledMemoryModule,
  ) {
    this.module = module;
    this.memoryLimitBytes = memoryLimitBytes;
    this.name = name;
    this.kind = kind;
    this.imports = imports;
    this.pooled = pooled;
  }
}

/**
 * Validate and compile a WASI command or reactor module from bytes or a
 * file path.
 * A module over 256 KiB is read and compiled asynchronously
 * (`WebAssembly.compile`), so the caller's event loop keeps running while
 * it compiles; a smaller one takes a millisecond or two in this thread.
 *
 * Errors, in order:
 * - ERR_HOST_FILE: the path cannot be read;
 * - ERR_NOT_WASM: no `\0asm` magic or an unknown version;
 * - ERR_INVALID_OPTION: a memory or table limit that is not a positive
 *   number, or `imports` that is malformed or names preview1;
 * - ERR_INVALID_WASM: the binary fails to compile, or needs more initial
 *   memory or table elements than the limits;
 * - ERR_UNKNOWN_IMPORT: imports other than preview1 functions and the
 *   declared `imports` (the message lists every one, `module.name`);
 * - ERR_NOT_WASI_COMMAND: no exported `memory` or `_start` (without
 *   `reactor: true`);
 * - ERR_NOT_WASI_REACTOR: `reactor: true` and it exports `_start`.
 */
export async function compileGuest(source: Uint8Array | string, options: CompileOptions = {}): Promise<GuestModule> {
  const { bytes, name } = await readModuleSource(source);
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new StrataError(ErrorCode.notWasm, `'${name}' is not a WebAssembly module (no \\0asm magic)`);
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new StrataError(ErrorCode.notWasm, `'${name}' is a WebAssembly component or an unknown version; only core modules run here`);
  }
  const limit = options.memoryLimitBytes ?? defaultMemoryLimitBytes;
  if (!Number.isFinite(limit) || limit < wasmPage) {
    throw new StrataError(ErrorCode.invalidOption, `memoryLimitBytes must be at least ${wasmPage} (one page), got ${limit}`);
  }
  const tableLimit = options.tableLimitElements ?? defaultTableLimitElements;
  if (!Number.isInteger(tableLimit) || tableLimit < 0 || tableLimit > 2 ** 32 - 1) {
    throw new StrataError(ErrorCode.invalidOption, `tableLimitElements must be an integer from 0 to 2^32-1, got ${tableLimit}`);
  }
  const extra = checkExtraImports(options.imports ?? {});
  const patched = limitSections(bytes, Math.floor(limit / wasmPage), tableLimit, name);
  let module: WebAssembly.Module;
  try {
    // A small module compiles in about a millisecond: in this thread, which
    // saves the hop to a compile thread and back (~0.5 ms of the CLI's start).
    module = patched.length <= syncBytes ? new WebAssembly.Module(patched) : await WebAssembly.compile(patched);
  } catch (error) {
    throw new StrataError(ErrorCode.invalidWasm, `'${name}' does not compile: ${(error as Error).message}`, { cause: error });
  }
  const unknown = unknownImports(WebAssembly.Module.imports(module), extra);
  if (unknown.length > 0) throw unknownImportError(name, unknown, extra);
  const kind = guestKind(module, name, options.reactor);
  const pooled = kind === 'command' && Object.keys(extra).length === 0 && patched.length <= syncBytes ? pooledMemoryModule(patched) : undefined;
  return new GuestModule(module, limit, name, kind, extra, pooled);
}

/** A module's kind by its exports. Errors: ERR_NOT_WASI_COMMAND, ERR_NOT_WASI_REACTOR (see {@link compileGuest}). */
function guestKind(module: WebAssembly.Module, name: string, reactor: boolean | undefined): GuestKind {
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  const memory = exports.get('memory') === 'memory';
  const start = exports.get('_start') === 'function';
  const initialize = exports.get('_initialize') === 'function';
  if (reactor === true) {
    if (!memory || start) throw new StrataError(ErrorCode.notWasiReactor, `'${name}' is not a WASI reactor: it must export a memory named "memory" and no "_start"`);
    return 'reactor';
  }
  if (memory && start) return 'command';
  throw new StrataError(
    ErrorCode.notWasiCommand,
    memory && initialize
      ? `'${name}' is a WASI reactor ("_initialize", no "_start"), not a command: compile it with reactor: true and use sandbox.instantiate() or sandbox.wasi().initialize()`
      : `'${name}' is not a WASI command: it must export a memory named "memory" and a function "_start"`,
  );
}

/**
 * A module's bytes and the name it goes by: a host path is read (named by
 * its file name), bytes are `main.wasm`.
 * Errors: ERR_HOST_FILE (the path cannot be read).
 */
export async function readModuleSource(source: Uint8Array | string): Promise<{ bytes: Uint8Array; name: string }> {
  if (typeof source !== 'string') return { bytes: source, name: 'main.wasm' };
  const name = source.split(/[\\/]/).pop() ?? source;
  try {
    const bytes = readSmallFile(source) ?? (await new Promise<Buffer>((resolve, reject) => readFile(source, (error, data) => (error === null ? resolve(data) : reject(error)))));
    return { bytes, name };
  } catch (error) {
    throw new StrataError(ErrorCode.hostFile, `cannot read module '${source}': ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A module up to this size is read and compiled in the caller's thread,
 * without waiting for a thread of libuv's pool or of V8's compiler: the
 * few milliseconds that costs at most are less than the hops (a first
 * asynchronous file read starts libuv's threads, ~0.5 ms). Larger ones are
 * read and compiled asynchronously, so the event loop keeps running.
 */
const syncBytes = 256 << 10;

/**
 * The file's bytes when it is a regular file of at most {@link syncBytes},
 * read with blocking calls; undefined for anything else (read it
 * asynchronously: fs.readFile, not node:fs/promises, gives the same bytes
 * and errors without loading that module, ~2 ms of the CLI's start).
 * Errors: those of open, fstat and read.
 */
function readSmallFile(path: string): Buffer | undefined {
  // O_NONBLOCK: a FIFO's open would otherwise wait for a writer, here in the caller's thread.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > syncBytes) return undefined;
    const bytes = Buffer.allocUnsafe(stat.size);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
