/**
 * A module's binary rewritten section by section, never instruction by
 * instruction: its memory and table maxima lowered to the caller's limits,
 * and the variant that imports its memory instead of defining it (what a
 * pooled memory is handed to). Every other section is copied as it is.
 * https://webassembly.github.io/spec/core/binary/modules.html
 */
import { ErrorCode, StrataError } from '../errors.js';

const wasmPage = 65536;

/**
 * Return `bytes` with every defined memory's maximum lowered to `maxPages`
 * and the tables' maxima lowered so that all together hold at most
 * `maxElements`. Only the table (id 4) and memory (id 5) sections are
 * rewritten; everything else is copied.
 * https://webassembly.github.io/spec/core/binary/modules.html#memory-section
 */
export function limitSections(bytes: Uint8Array, maxPages: number, maxElements: number, name: string): Uint8Array {
  return rewriteSections(bytes, (id, body) =>
    id === 4 ? limitTables(bytes, body, maxElements, name) : id === 5 ? limitMemories(bytes, body, maxPages, name) : undefined,
  );
}

/** The type of a module's one memory, in 64 KiB pages: its size at start and its maximum. */
export interface MemoryType {
  readonly pages: number;
  readonly maxPages: number;
}

/** Where {@link importingMemory}'s module imports its memory from: a name no preview1 module or caller uses. */
export const importedMemory = { module: 'strata:guest', name: 'memory' } as const;

/**
 * The type of the module's memory when {@link importingMemory} can import
 * it instead: exactly one memory, defined (not imported), with a maximum
 * (as {@link limitSections} leaves every memory), neither shared nor
 * 64-bit, of at most `maxStartPages`, in a module with an import section.
 * Undefined for any other module. Reads the sections; copies nothing.
 */
export function importableMemory(bytes: Uint8Array, maxStartPages: number): MemoryType | undefined {
  let memtype: Uint8Array | undefined;
  let hasImports = false;
  const whole = eachSection(bytes, (id, body, size) => {
    if (id === 2) hasImports = true;
    if (id !== 5) return;
    const [count, countLen] = readU32(bytes, body);
    if (count === 1) memtype = bytes.subarray(body + countLen, body + size);
  });
  if (!whole || memtype === undefined || !hasImports || memtype[0] !== 1) return undefined;
  const [pages, pagesLen] = readU32(memtype, 1);
  const [maxPages, maxLen] = readU32(memtype, 1 + pagesLen);
  if (pages > maxStartPages || 1 + pagesLen + maxLen !== memtype.length) return undefined;
  return { pages, maxPages };
}

/**
 * The same module with its memory (of type `type`, found by
 * {@link importableMemory}) imported as {@link importedMemory} rather
 * than defined. The memory keeps index 0, so no instruction, export or
 * data segment changes: the memory section is dropped and one import
 * appended to the import section (last, so no function index moves).
 */
export function importingMemory(bytes: Uint8Array, type: MemoryType): Uint8Array {
  const entry: number[] = [];
  for (const text of [importedMemory.module, importedMemory.name]) {
    const utf8 = Buffer.from(text);
    writeU32(entry, utf8.length);
    entry.push(...utf8);
  }
  entry.push(0x02, 0x01);
  writeU32(entry, type.pages);
  writeU32(entry, type.maxPages);
  return rewriteSections(bytes, (id, body, size) => {
    if (id === 5) return null;
    if (id !== 2) return undefined;
    const [count, countLen] = readU32(bytes, body);
    const out: number[] = [];
    writeU32(out, count + 1);
    for (let i = body + countLen; i < body + size; i++) out.push(bytes[i]!);
    out.push(...entry);
    return out;
  });
}

/**
 * `bytes` with each section given to `rewrite`: a new body replaces it,
 * null drops it, undefined copies it. A truncated module is returned as it
 * is, for the compiler to report.
 */
function rewriteSections(bytes: Uint8Array, rewrite: (id: number, body: number, size: number) => number[] | null | undefined): Uint8Array {
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  const whole = eachSection(bytes, (id, body, size, start) => {
    const rewritten = rewrite(id, body, size);
    if (rewritten === undefined) {
      parts.push(bytes.subarray(start, body + size));
    } else if (rewritten !== null) {
      const header: number[] = [id];
      writeU32(header, rewritten.length);
      parts.push(Uint8Array.from(header), Uint8Array.from(rewritten));
    }
  });
  return whole ? Buffer.concat(parts) : bytes;
}

/** Call `visit` with each section's id, body offset and size, and where it starts; false if the module is truncated. */
function eachSection(bytes: Uint8Array, visit: (id: number, body: number, size: number, start: number) => void): boolean {
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos]!;
    const [size, sizeLen] = readU32(bytes, pos + 1);
    const body = pos + 1 + sizeLen;
    if (body + size > bytes.length) return false;
    visit(id, body, size, pos);
    pos = body + size;
  }
  return true;
}

function limitMemories(bytes: Uint8Array, body: number, maxPages: number, name: string): number[] {
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
      throw new StrataError(ErrorCode.invalidWasm, `'${name}' needs ${min * wasmPage} bytes of memory at start, over the limit of ${maxPages * wasmPage}`);
    }
    out.push(flags | 1);
    writeU32(out, min);
    writeU32(out, max);
  }
  return out;
}

/**
 * The table section with maxima lowered: the minima must fit in
 * `maxElements` together, and the room left is given to the tables in
 * order, each up to its declared maximum.
 * https://webassembly.github.io/spec/core/binary/modules.html#table-section
 */
function limitTables(bytes: Uint8Array, body: number, maxElements: number, name: string): number[] {
  let p = body;
  const [count, countLen] = readU32(bytes, p);
  p += countLen;
  const tables: { refType: number; min: number; max: number | undefined }[] = [];
  for (let i = 0; i < count; i++) {
    const refType = bytes[p++]!;
    const flags = bytes[p++]!;
    if (refType === 0x40 || (flags & ~1) !== 0) {
      throw new StrataError(ErrorCode.invalidWasm, `'${name}' declares a table strata cannot bound (type 0x${refType.toString(16)}, limits 0x${flags.toString(16)})`);
    }
    const [min, minLen] = readU32(bytes, p);
    p += minLen;
    let max: number | undefined;
    if (flags & 1) {
      const [declared, maxLen] = readU32(bytes, p);
      p += maxLen;
      max = declared;
    }
    tables.push({ refType, min, max });
  }
  const atStart = tables.reduce((sum, t) => sum + t.min, 0);
  if (atStart > maxElements) {
    throw new StrataError(ErrorCode.invalidWasm, `'${name}' needs ${atStart} table elements at start, over the limit of ${maxElements}`);
  }
  let spare = maxElements - atStart;
  const out: number[] = [];
  writeU32(out, count);
  for (const t of tables) {
    const extra = Math.min(spare, Math.max(0, (t.max ?? Infinity) - t.min));
    spare -= extra;
    out.push(t.refType, 1);
    writeU32(out, t.min);
    writeU32(out, t.min + extra);
  }
  return out;
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

/** Append `value` as unsigned LEB128. */
export function writeU32(out: number[], value: number): void {
  let v = value;
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
}

