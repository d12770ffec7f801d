import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { ErrorCode, StrataError } from '../errors.js';

/** The transpiler and the options every component is transpiled with: part of the cache key. */
export const transpilerId = 'jco-transpile@0.15.0 instantiation=sync';

/** What `jco transpile --instantiation sync` gives: the JS glue and the core modules it names. */
export interface TranspiledFiles {
  /** `component.js`. */
  readonly js: string;
  /** Core modules by the file name the glue asks `getCoreModule` for. */
  readonly cores: Readonly<Record<string, Uint8Array>>;
  /** The interfaces the component imports, unversioned (`wasi:cli/stdout`). */
  readonly imports: readonly string[];
}

/**
 * Where transpiled components are kept, by the component's digest (the
 * sandbox keeps them in the image store's blob store). `get` verifies what
 * it returns against the digests it recorded.
 */
export interface TranspileCache {
  get(digest: string): Promise<TranspiledFiles | undefined>;
  put(digest: string, files: TranspiledFiles): Promise<void>;
}

/** `sha256:<hex>` of a component's bytes. */
export function componentDigest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Transpile a component with `@bytecodealliance/jco-transpile`, in
 * instantiation mode: the glue imports nothing (no preview2-shim, no
 * `node:*`); every WASI interface comes from the imports object strata
 * builds. The transpiler is an optional peer dependency, loaded only here.
 * Errors: ERR_COMPONENT_TRANSPILE (the transpiler is not installed, or it
 * refused the component; the message says which).
 */
export async function transpileComponent(bytes: Uint8Array, name: string): Promise<TranspiledFiles> {
  let jco: typeof import('@bytecodealliance/jco-transpile');
  try {
    jco = await import('@bytecodealliance/jco-transpile');
  } catch (error) {
    throw new StrataError(ErrorCode.componentTranspile, `'${name}' is a WebAssembly component; running it needs @bytecodealliance/jco-transpile (npm install @bytecodealliance/jco-transpile@0.15.0)`, { cause: error });
  }
  await isolateTranspiler();
  let result;
  try {
    result = await jco.transpileBytes(bytes, {
      name: 'component',
      instantiation: 'sync',
      emitTypescriptDeclarations: false,
      wasiShim: false,
    });
  } catch (error) {
    throw new StrataError(ErrorCode.componentTranspile, `'${name}' cannot be transpiled: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  const cores: Record<string, Uint8Array> = {};
  let js: string | undefined;
  for (const [file, data] of Object.entries(result.files)) {
    if (file === 'component.js') js = new TextDecoder().decode(data);
    else if (file.endsWith('.wasm')) cores[file] = data;
  }
  if (js === undefined) throw new StrataError(ErrorCode.componentTranspile, `'${name}': the transpiler gave no component.js`);
  return { js, cores, imports: [...result.imports] };
}

let isolated: Promise<void> | undefined;

/**
 * jco's bindgen is itself a component, run in this process on the
 * preview2 shim jco-transpile depends on. That shim sets no preopen (so
 * it sees no host directory), but hands it the host's environment,
 * argv and cwd: they are emptied here, once, for that shim instance only
 * (strata's own host never uses it). Best effort: a layout where the shim
 * cannot be found is left as it is.
 */
function isolateTranspiler(): Promise<void> {
  isolated ??= (async () => {
    try {
      const fromTranspiler = createRequire(createRequire(import.meta.url).resolve('@bytecodealliance/jco-transpile'));
      const url = (specifier: string) => pathToFileURL(fromTranspiler.resolve(specifier)).href;
      const cli = (await import(url('@bytecodealliance/preview2-shim/cli'))) as { _setEnv?(env: Record<string, string>): void; _setArgs?(args: string[]): void; _setCwd?(cwd: string): void };
      cli._setEnv?.({});
      cli._setArgs?.([]);
      cli._setCwd?.('/');
      const fs = (await import(url('@bytecodealliance/preview2-shim/filesystem'))) as { _clearPreopens?(): void };
      fs._clearPreopens?.();
    } catch {
      // Not found where expected: the transpiler runs as jco-transpile configures it.
    }
  })();
  return isolated;
}
