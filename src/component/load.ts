import { ErrorCode, StrataError } from '../errors.js';
import type { ComponentImports } from './interfaces.js';
import type { TranspiledFiles } from './transpile.js';

/** The glue's `instantiate`, in sync mode: core modules by name, the imports object, and back the component's exports. */
type Instantiate = (getCoreModule: (name: string) => WebAssembly.Module, imports: ComponentImports) => Record<string, unknown>;

/** A transpiled component ready to instantiate: its glue evaluated and its core modules compiled, once. */
export interface LoadedComponent {
  readonly digest: string;
  /** The interfaces it imports, unversioned. */
  readonly imports: readonly string[];
  /** Instantiate with `imports`; returns `wasi:cli/run`'s `run`. Throws what the glue or the start functions throw. */
  instantiate(imports: ComponentImports): { run(): void };
}

/**
 * What the glue may not contain: a module import (static or dynamic), a
 * CommonJS require, or a Node builtin. Instantiation mode emits none of
 * these; a glue that has one is refused, so no transpiled component can
 * reach `node:fs` or the preview2 shim whatever jco emits.
 */
const forbidden = [/^\s*import[\s{*]/m, /\bimport\s*\(/, /\brequire\s*\(/, /['"`]node:/, /preview2-shim/, /import\.meta/];

/**
 * jco 1.35 lowers an empty string as `{ ptr: 1, len: 0 }` without calling
 * the guest's `realloc`; the canonical ABI calls it for every string, and
 * the preview1 adapter counts on it: it places each environment value
 * right after its key through its bump allocator, and writes the value's
 * NUL at `ptr + len`. Without the call, `EMPTY=` has no terminator (it
 * reads as the next variable) and address 1 of the guest's memory is
 * overwritten. The glue is patched to call `realloc(0, 0, 1, 0)`; the
 * args-env conformance case checks it.
 */
const emptyStringLowering = 'if (s.length === 0) { return { ptr: 1, len: 0 }; }';
const emptyStringLoweringFixed = 'if (s.length === 0) { return { ptr: realloc(0, 0, 1, 0), len: 0 }; }';

/**
 * Evaluate the glue as a function of its own, with `globalThis` and
 * `process` shadowed (the glue reads `globalThis.process.env.JCO_DEBUG`
 * to log every call; it sees neither), and compile its core modules.
 * Errors: ERR_COMPONENT_TRANSPILE (the glue imports something or does not
 * have the instantiation-mode shape), ERR_INVALID_WASM (a core module does
 * not compile).
 */
export async function loadComponent(digest: string, files: TranspiledFiles, compileCore: (bytes: Uint8Array, name: string) => Promise<WebAssembly.Module>): Promise<LoadedComponent> {
  const bad = forbidden.find((re) => re.test(files.js));
  if (bad !== undefined) throw new StrataError(ErrorCode.componentTranspile, `${digest}: the transpiled glue matches ${String(bad)}; refused`);
  const body = files.js
    .replace(/^export function instantiate\(/m, 'function instantiate(')
    .replace(/^export const _util\b/m, 'const _util')
    .replaceAll(emptyStringLowering, emptyStringLoweringFixed);
  if (/^\s*export\s/m.test(body) || !body.includes('function instantiate(')) {
    throw new StrataError(ErrorCode.componentTranspile, `${digest}: the transpiled glue is not in jco's sync instantiation shape`);
  }
  const shadow = Object.freeze({ WebAssembly });
  const instantiate = new Function('globalThis', 'process', `"use strict";\n${body}\nreturn instantiate;`)(shadow, undefined) as Instantiate;
  const modules = new Map<string, WebAssembly.Module>();
  for (const [name, bytes] of Object.entries(files.cores)) modules.set(name, await compileCore(bytes, name));
  const getCoreModule = (name: string): WebAssembly.Module => {
    const m = modules.get(name);
    if (m === undefined) throw new StrataError(ErrorCode.componentTranspile, `${digest}: the glue asks for a core module '${name}' it was not given`);
    return m;
  };
  return {
    digest,
    imports: files.imports,
    instantiate(imports) {
      const exports = instantiate(getCoreModule, imports);
      const run = (exports['wasi:cli/run@0.2.0'] ?? Object.entries(exports).find(([k]) => k.startsWith('wasi:cli/run@'))?.[1]) as { run?: unknown } | undefined;
      if (typeof run?.run !== 'function') throw new StrataError(ErrorCode.notWasiCommand, `${digest}: the component does not export wasi:cli/run`);
      return { run: run.run as () => void };
    },
  };
}
