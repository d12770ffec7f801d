/**
 * A tiny WebAssembly assembler for hostile-guest repros that C cannot
 * express (wasm exception handling, table bombs): a WASI command with the
 * given preview1 imports and one `_start` body, written in opcodes.
 * https://webassembly.github.io/spec/core/binary/modules.html
 */

/** Value types. */
export const i32 = 0x7f;
export const i64 = 0x7e;

/** Opcodes used by the repros (legacy exception handling: try/catch_all). */
export const op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  try: 0x06,
  catchAll: 0x19,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  call: 0x10,
  drop: 0x1a,
  localGet: 0x20,
  localSet: 0x21,
  i32Load: 0x28,
  i32Store: 0x36,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Add: 0x6a,
  i32Eqz: 0x45,
  void: 0x40,
  tableGrow: [0xfc, 15],
  refNull: 0xd0,
  funcref: 0x70,
} as const;

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of an i32 or i64 value. */
export function sleb(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

/** One preview1 import: its name, parameter types and whether it returns an errno. */
export interface Import {
  readonly name: string;
  readonly params: readonly number[];
  readonly noResult?: boolean;
}

export interface CommandSpec {
  readonly imports: readonly Import[];
  /** `_start`'s body, without the final `end`. Imports are functions 0…n-1. */
  readonly body: readonly number[];
  /** i32 locals of `_start`. */
  readonly locals?: number;
  /** Funcref tables: [min, max or undefined] each. */
  readonly tables?: readonly (readonly [number, number | undefined])[];
  /** Memory pages at start. Default 1. */
  readonly pages?: number;
}

/** Assemble a WASI command module. */
export function wasiCommand(spec: CommandSpec): Uint8Array {
  const types: number[][] = spec.imports.map((imp) => [0x60, ...uleb(imp.params.length), ...imp.params, ...(imp.noResult === true ? [0] : [1, i32])]);
  types.push([0x60, 0, 0]);
  const startType = types.length - 1;
  const bytes = [
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [...uleb(types.length), ...types.flat()]),
    ...section(2, [...uleb(spec.imports.length), ...spec.imports.flatMap((imp, i) => [...name('wasi_snapshot_preview1'), ...name(imp.name), 0, ...uleb(i)])]),
    ...section(3, [1, ...uleb(startType)]),
    ...(spec.tables === undefined
      ? []
      : section(4, [
          ...uleb(spec.tables.length),
          ...spec.tables.flatMap(([min, max]) => [op.funcref, ...(max === undefined ? [0, ...uleb(min)] : [1, ...uleb(min), ...uleb(max)])]),
        ])),
    ...section(5, [1, 0, ...uleb(spec.pages ?? 1)]),
    ...section(7, [2, ...name('memory'), 2, 0, ...name('_start'), 0, ...uleb(spec.imports.length)]),
  ];
  const locals = spec.locals ?? 0;
  const fn = [...(locals > 0 ? [1, ...uleb(locals), i32] : [0]), ...spec.body, op.end];
  bytes.push(...section(10, [1, ...uleb(fn.length), ...fn]));
  return new Uint8Array(bytes);
}
