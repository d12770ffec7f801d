/**
 * A small assembler for hand-made core modules in tests: imported and
 * defined functions (i32 only), one exported memory, mutable i32 globals
 * and data segments. Bodies are raw opcodes; see {@link op}.
 * https://webassembly.github.io/spec/core/binary/modules.html
 */
import { writeU32 } from '../../src/sandbox/module-sections.js';

/** An imported function: `module.name`, taking `params` i32s and returning `results` i32s (0 or 1). */
export interface HandImport {
  readonly module: string;
  readonly name: string;
  readonly params: number;
  readonly results: 0 | 1;
}

/** A defined function; its index follows the imports'. */
export interface HandFunction {
  readonly export?: string;
  readonly params?: number;
  readonly results?: 0 | 1;
  /** Opcodes, without the final `end`. */
  readonly body: readonly number[];
}

/** What {@link handModule} assembles. */
export interface HandModuleSpec {
  readonly imports?: readonly HandImport[];
  readonly functions?: readonly HandFunction[];
  /** Pages of the exported memory `memory`; none when omitted. */
  readonly memoryPages?: number;
  /** Mutable i32 globals, by initial value. */
  readonly globals?: readonly number[];
  readonly data?: readonly { readonly offset: number; readonly bytes: readonly number[] }[];
}

/** Opcodes the tests use. */
export const op = {
  i32: (n: number) => [0x41, ...sleb(n)],
  call: (index: number) => [0x10, ...uleb(index)],
  globalGet: (index: number) => [0x23, ...uleb(index)],
  globalSet: (index: number) => [0x24, ...uleb(index)],
  localGet: (index: number) => [0x20, ...uleb(index)],
  drop: [0x1a],
} as const;

/** Assemble a module from a spec. */
export function handModule(spec: HandModuleSpec): Uint8Array {
  const imports = spec.imports ?? [];
  const functions = spec.functions ?? [];
  const sig = (params: number, results: number) => [0x60, ...uleb(params), ...Array<number>(params).fill(0x7f), ...uleb(results), ...Array<number>(results).fill(0x7f)];
  const types = [...imports.map((i) => sig(i.params, i.results)), ...functions.map((f) => sig(f.params ?? 0, f.results ?? 0))];
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const add = (id: number, body: number[]) => out.push(id, ...uleb(body.length), ...body);
  add(1, vec(types));
  if (imports.length > 0) add(2, vec(imports.map((imp, i) => [...name(imp.module), ...name(imp.name), 0x00, ...uleb(i)])));
  if (functions.length > 0) add(3, vec(functions.map((_, i) => uleb(imports.length + i))));
  if (spec.memoryPages !== undefined) add(5, vec([[0x00, ...uleb(spec.memoryPages)]]));
  if ((spec.globals ?? []).length > 0) add(6, vec(spec.globals!.map((g) => [0x7f, 0x01, ...op.i32(g), 0x0b])));
  const exports: number[][] = [];
  if (spec.memoryPages !== undefined) exports.push([...name('memory'), 0x02, 0x00]);
  functions.forEach((f, i) => {
    if (f.export !== undefined) exports.push([...name(f.export), 0x00, ...uleb(imports.length + i)]);
  });
  add(7, vec(exports));
  if (functions.length > 0) {
    add(10, vec(functions.map((f) => {
      const body = [0x00, ...f.body, 0x0b];
      return [...uleb(body.length), ...body];
    })));
  }
  if ((spec.data ?? []).length > 0) add(11, vec(spec.data!.map((d) => [0x00, ...op.i32(d.offset), 0x0b, ...uleb(d.bytes.length), ...d.bytes])));
  return Uint8Array.from(out);
}

/** Bytes of a string, for data segments. */
export function ascii(s: string): number[] {
  return [...Buffer.from(s)];
}

/** A little-endian u32, for data segments. */
export function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

function vec(items: readonly number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const bytes = [...Buffer.from(s)];
  return [...uleb(bytes.length), ...bytes];
}

function uleb(value: number): number[] {
  const out: number[] = [];
  writeU32(out, value);
  return out;
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
