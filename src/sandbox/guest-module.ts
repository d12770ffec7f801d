import { readFile } from 'node:fs/promises';
import { ErrorCode, StrataError } from '../errors.js';
import { wasiFunctionNames, wasiModuleName } from '../wasi/index.js';

const wasmPage = 65536;

/** Default cap on a guest's linear memory: 1 GiB. */
export const defaultMemoryLimitBytes = 1 << 30;

/** Options of {@link compileGuest}. */
export interface CompileOptions {
  /**
   * Most bytes of linear memory the guest may ever have. Enforced by
   * rewriting the module's declared memory maximum, so `memory.grow` past
   * it fails inside the guest (malloc returns NULL) instead of the host
   * running out. Default {@link defaultMemoryLimitBytes}.
   */
  readonly memoryLimitBytes?: number;
}

/**
 * A validated, compiled WASI command, reusable across any number of runs.
 */
export class GuestModule {
  readonly module: WebAssembly.Module;
  readonly memoryLimitBytes: number;
  readonly name: string;

  /** @internal Use {@link compileGuest}. */
  constructor(module: WebAssembly.Module, memoryLimitBytes: number, name: string) {
    this.module = module;
    this.memoryLimitBytes = memoryLimitBytes;
    this.name = name;
  }
}

const known = new Set(wasiFunctionNames);

/**
 * Validate and compile a WASI command module from bytes or a file path.
 *
 * Errors, in order:
 * - ERR_HOST_FILE: the path cannot be read;
 * - ERR_NOT_WASM: no `\0asm` magic or an unknown version;
 * - ERR_INVALID_OPTION: a memory limit that is not a positive number;
 * - ERR_INVALID_WASM: the binary fails to compile, or needs more initial
 *   memory than the limit;
 * - ERR_UNKNOWN_IMPORT: an import other than a preview1 function (the
 *   message names it, `module.name`);
 * - ERR_NOT_WASI_COMMAND: no exported `memory` or `_start`.
 */
export async function compileGuest(source: Uint8Array | string, options: CompileOptions = {}): Promise<GuestModule> {
  let bytes: Uint8Array;
  let name = 'main.wasm';
  if (typeof source === 'string') {
    name = source.split(/[\\/]/).pop() ?? source;
    try {
      bytes = await readFile(source);
    } catch (error) {
      throw new StrataError(ErrorCode.hostFile, `cannot read module '${source}': ${(error as Error).message}`, { cause: error });
    }
  } else {
    bytes = source;
  }
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
  const patched = limitMemory(bytes, Math.floor(limit / wasmPage), name);
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(patched);
  } catch (error) {
    throw new StrataError(ErrorCode.invalidWasm, `'${name}' does not compile: ${(error as Error).message}`, { cause: error });
  }
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== wasiModuleName || imp.kind !== 'function' || !known.has(imp.name)) {
      throw new StrataError(
        ErrorCode.unknownImport,
        `'${name}' imports ${imp.kind} '${imp.module}.${imp.name}', which strata does not provide (only ${wasiModuleName} functions)`,
      );
    }
  }
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  if (exports.get('memory') !== 'memory' || exports.get('_start') !== 'function') {
    throw new StrataError(ErrorCode.notWasiCommand, `'${name}' is not a WASI command: it must export a memory named "memory" and a function "_start"`);
  }
  return new GuestModule(module, limit, name);
}

/**
 * Return `bytes` with every defined memory's maximum lowered to `maxPages`.
 * Only the memory section (id 5) is rewritten; everything else is copied.
 * https://webassembly.github.io/spec/core/binary/modules.html#memory-section
 */
function limitMemory(bytes: Uint8Array, maxPages: number, name: string): Uint8Array {
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos]!;
    const [size, sizeLen] = readU32(bytes, pos + 1);
    const body = pos + 1 + sizeLen;
    if (body + size > bytes.length) return bytes; // Let the compiler report the truncation.
    if (id === 5) {
      const out: number[] = [];
      let p = body;
      const [count, countLen] = readU32(bytes, p);
      p += countLen;
      writeU32(out, count);
      for (let i = 0; i < count; i++) {
        const flags = bytes[p++]!;
        const [min, minLen] = readU32(bytes, p);
        p += minLen;
        let max = maxPages;
        if (flags & 1) {
          const [declared, maxLen] = readU32(bytes, p);
          p += maxLen;
          max = Math.min(declared, maxPages);
        }
        if (min > maxPages) {
          throw new StrataError(
            ErrorCode.invalidWasm,
            `'${name}' needs ${min * wasmPage} bytes of memory at start, over the limit of ${maxPages * wasmPage}`,
          );
        }
        out.push(flags | 1);
        writeU32(out, min);
        writeU32(out, max);
      }
      const section: number[] = [5];
      writeU32(section, out.length);
      const result = new Uint8Array(pos + section.length + out.length + (bytes.length - (body + size)));
      result.set(bytes.subarray(0, pos), 0);
      result.set(section, pos);
      result.set(out, pos + section.length);
      result.set(bytes.subarray(body + size), pos + section.length + out.length);
      return result;
    }
    pos = body + size;
  }
  return bytes;
}

function readU32(bytes: Uint8Array, at: number): [number, number] {
  let result = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    const b = bytes[i++];
    if (b === undefined) return [0, i - at];
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0 || shift > 28) return [result, i - at];
    shift += 7;
  }
}

function writeU32(out: number[], value: number): void {
  let v = value;
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}
