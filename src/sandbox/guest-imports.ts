import { ErrorCode, StrataError } from '../errors.js';
import { wasiFunctionNames, wasiModuleName } from '../wasi/index.js';

/**
 * Imports beyond preview1 that a module may have because the embedder
 * provides them at instantiation: for each import module, the names it
 * provides, or `'*'` for any name. Example: `{ env: ['call_host_function'] }`.
 * `wasi_snapshot_preview1` cannot be named: strata provides it, whole.
 */
export type ExtraImports = { readonly [module: string]: readonly string[] | '*' };

/** One import of a module, as `WebAssembly.Module.imports` lists it. */
export type ImportDescriptor = WebAssembly.ModuleImportDescriptor;

const preview1 = new Set(wasiFunctionNames);

/**
 * Check an `imports` option of {@link compileGuest}.
 * Errors: ERR_INVALID_OPTION (not an object of string lists or `'*'`, or it
 * names `wasi_snapshot_preview1`).
 */
export function checkExtraImports(imports: unknown): ExtraImports {
  if (typeof imports !== 'object' || imports === null || Array.isArray(imports)) {
    throw new StrataError(ErrorCode.invalidOption, `imports must be an object of import module names to lists of names or '*', got ${describe(imports)}`);
  }
  for (const [module, names] of Object.entries(imports)) {
    if (module === wasiModuleName) {
      throw new StrataError(ErrorCode.invalidOption, `imports cannot name '${wasiModuleName}': strata provides preview1, and none of its functions can be replaced`);
    }
    if (names !== '*' && !(Array.isArray(names) && names.every((n) => typeof n === 'string'))) {
      throw new StrataError(ErrorCode.invalidOption, `imports['${module}'] must be a list of names or '*', got ${describe(names)}`);
    }
  }
  return imports as ExtraImports;
}

/**
 * Every import of a module that neither preview1 nor `extra` provides, in
 * the module's order. A preview1 import must be one of the 46 functions;
 * an extra one may be of any kind (function, memory, table, global).
 */
export function unknownImports(imports: readonly ImportDescriptor[], extra: ExtraImports): ImportDescriptor[] {
  return imports.filter((imp) => {
    if (imp.module === wasiModuleName) return imp.kind !== 'function' || !preview1.has(imp.name);
    const names = Object.hasOwn(extra, imp.module) ? extra[imp.module] : undefined;
    return names === undefined || (names !== '*' && !names.includes(imp.name));
  });
}

/**
 * The ERR_UNKNOWN_IMPORT error for a module's unknown imports, listing
 * every one (`kind module.name`), not only the first.
 */
export function unknownImportError(name: string, unknown: readonly ImportDescriptor[], extra: ExtraImports): StrataError {
  const list = unknown.map((imp) => `${imp.kind} '${imp.module}.${imp.name}'`).join(', ');
  const declared = Object.keys(extra).length === 0 ? '' : ` or the imports declared (${Object.keys(extra).join(', ')})`;
  return new StrataError(
    ErrorCode.unknownImport,
    `'${name}' has ${unknown.length} import(s) strata does not provide (only ${wasiModuleName} functions${declared}): ${list}`,
  );
}

/**
 * The extra imports a `WebAssembly.Imports` object provides, as
 * {@link ExtraImports}: each module with the names it holds. This is what
 * `run` and `exec` declare when they compile a module given `imports`.
 * Errors: ERR_INVALID_OPTION (not an object of objects, or it has
 * `wasi_snapshot_preview1`).
 */
export function providedImports(imports: unknown): ExtraImports {
  if (typeof imports !== 'object' || imports === null || Array.isArray(imports)) {
    throw new StrataError(ErrorCode.invalidOption, `imports must be a WebAssembly imports object ({ module: { name: value } }), got ${describe(imports)}`);
  }
  const out: Record<string, string[]> = {};
  for (const [module, values] of Object.entries(imports)) {
    if (module === wasiModuleName) {
      throw new StrataError(ErrorCode.invalidOption, `imports cannot have '${wasiModuleName}': strata provides preview1, and none of its functions can be replaced`);
    }
    if (typeof values !== 'object' || values === null) {
      throw new StrataError(ErrorCode.invalidOption, `imports['${module}'] must be an object of import values, got ${describe(values)}`);
    }
    out[module] = Object.keys(values).sort();
  }
  return out;
}

/**
 * The import object of one instance: strata's preview1 functions plus the
 * embedder's extra imports, which may not replace any preview1 name.
 *
 * Errors, in order: ERR_INVALID_OPTION (`provided` is malformed or has
 * `wasi_snapshot_preview1`); ERR_UNKNOWN_IMPORT (the module declared an
 * extra import `provided` lacks; every missing one is listed).
 */
export function linkImports(
  module: WebAssembly.Module,
  name: string,
  wasi: { readonly [wasiModuleName]: Record<string, (...args: never[]) => number> },
  provided: WebAssembly.Imports | undefined,
): WebAssembly.Imports {
  const others = nonWasiImports(module);
  // The usual case, a module that imports preview1 only and no extra imports: nothing to check or merge.
  if (provided === undefined && others.length === 0) return wasi;
  const given = provided === undefined ? {} : provided;
  providedImports(given);
  const missing = others.filter((imp) => !(Object.hasOwn(given, imp.module) && Object.hasOwn(given[imp.module]!, imp.name)));
  if (missing.length > 0) {
    const list = missing.map((imp) => `${imp.kind} '${imp.module}.${imp.name}'`).join(', ');
    throw new StrataError(ErrorCode.unknownImport, `'${name}' needs ${missing.length} import(s) the caller's imports do not provide: ${list}`);
  }
  return { ...given, ...wasi };
}

/** A module's imports, split into preview1's names and the rest, read once per module (`Module.imports` costs ~15 µs a call). */
interface SplitImports {
  readonly wasi: readonly string[];
  readonly others: readonly WebAssembly.ModuleImportDescriptor[];
}

const importsOf = new WeakMap<WebAssembly.Module, SplitImports>();

function splitImports(module: WebAssembly.Module): SplitImports {
  let found = importsOf.get(module);
  if (found === undefined) {
    const all = WebAssembly.Module.imports(module);
    found = {
      wasi: all.filter((imp) => imp.module === wasiModuleName && imp.kind === 'function').map((imp) => imp.name),
      others: all.filter((imp) => imp.module !== wasiModuleName),
    };
    importsOf.set(module, found);
  }
  return found;
}

function nonWasiImports(module: WebAssembly.Module): readonly WebAssembly.ModuleImportDescriptor[] {
  return splitImports(module).others;
}

/** The preview1 functions a module imports: all a host for it needs to provide. */
export function wasiImportNames(module: WebAssembly.Module): readonly string[] {
  return splitImports(module).wasi;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}
