import { ErrorCode, StrataError } from '../errors.js';
import { FsError, type Namespace } from '../vfs/index.js';
import { compileGuest, type CompileOptions, type GuestModule } from './guest-module.js';
import type { Image } from './image.js';

/** A command resolved against an image's config, as `docker run IMAGE [COMMAND]` resolves it. */
export interface ImageCommand {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workdir: string;
}

/**
 * The command to run: `command` replaces the image's `Cmd` and follows its
 * `Entrypoint`; a wasm artifact with neither runs its module; the image's
 * `Env` and `WorkingDir` apply under the caller's `env` and `workdir`.
 * Errors: ERR_INVALID_OPTION (nothing to run).
 */
export function imageCommand(image: Image | undefined, command: readonly string[] | undefined, options: { env?: Readonly<Record<string, string>> | undefined; workdir?: string | undefined }): ImageCommand {
  const config = image?.process;
  let argv = [...(config?.entrypoint ?? []), ...(command ?? config?.cmd ?? [])];
  if (argv.length === 0 && image !== undefined && image.wasmFiles.length === 1) argv = [image.wasmFiles[0]!];
  if (argv.length === 0) throw new StrataError(ErrorCode.invalidOption, 'nothing to run: give a command (the image has no Entrypoint or Cmd)');
  const env: Record<string, string> = {};
  for (const pair of config?.env ?? []) {
    const eq = pair.indexOf('=');
    if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  Object.assign(env, options.env);
  return { argv, env, workdir: options.workdir ?? config?.workdir ?? '/' };
}

/**
 * The bytes of a program in the sandbox, found as execvp finds it: a name
 * with `/` is a path (relative to `workdir`), any other is looked up in
 * `PATH` (default `/usr/local/bin:/usr/bin:/bin`).
 * Errors: ERR_BAD_PATH (missing, or not a regular file).
 */
export function readProgram(ns: Namespace, name: string, path: string | undefined, workdir: string): Uint8Array {
  const candidates = name.includes('/')
    ? [name.startsWith('/') ? name : `${workdir}/${name}`]
    : (path ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter((d) => d.startsWith('/')).map((d) => `${d}/${name}`);
  for (const candidate of candidates) {
    let node;
    try {
      node = ns.resolve(ns.root, candidate, true, 'execve');
    } catch (error) {
      if (error instanceof FsError && candidates.length > 1) continue;
      if (error instanceof FsError) throw new StrataError(ErrorCode.badPath, `program '${name}': ${error.errno}`, { cause: error });
      throw error;
    }
    if (node.type !== 'file') {
      if (candidates.length > 1) continue;
      throw new StrataError(ErrorCode.badPath, `program '${name}' is not a regular file`);
    }
    const bytes = new Uint8Array(node.size);
    node.read(bytes, 0, bytes.length, 0);
    return bytes;
  }
  throw new StrataError(ErrorCode.badPath, `program '${name}' not found in PATH (${path ?? 'unset'})`);
}

// Modules read from sandboxes, compiled once per content digest and limits, per thread.
const compiled = new Map<string, Promise<GuestModule>>();

/** A module read from a sandbox, compiled once per (content digest, compile options) in this thread. */
export function compiledProgram(bytes: Uint8Array, options: CompileOptions): Promise<GuestModule> {
  // node:crypto loads here, on first use, not with the CLI (docs/decisions.md, "CLI start").
  const key = `${process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex')}:${options.memoryLimitBytes ?? ''}:${options.tableLimitElements ?? ''}:${options.reactor === true}:${JSON.stringify(options.imports ?? {})}`;
  let module = compiled.get(key);
  if (module === undefined) {
    module = compileGuest(bytes, options);
    compiled.set(key, module);
    module.catch(() => compiled.delete(key));
  }
  return module;
}
