/**
 * A worker's answers to `PooledSandbox.fs` and the other calls on its
 * sandboxes, arriving on the fs port.
 *
 * When the worker is idle they are served as they come. While a guest
 * runs they are served at its syscall boundaries (the gate drains the
 * port with `receiveMessageOnPort`), synchronously: the `sandbox.fs`
 * methods do all their work before their promise settles, and a vm
 * context whose microtasks run right after each evaluation reads the
 * settled result at once. Copies (`copyIn`, `copyOut`, `cp`) do host I/O
 * across awaits, so they wait until the worker is idle.
 */
import vm from 'node:vm';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { ErrorCode, StrataError } from '../../errors.js';
import type { Sandbox } from '../sandbox.js';
import { SandboxDirent } from '../sandbox-fs-stats.js';
import { Control, type FsReply, type FsRequest } from './protocol.js';
import { toWire } from './wire-error.js';

/** `sandbox.fs` methods a pooled sandbox forwards. */
export const fsMethods = [
  'readFile', 'writeFile', 'readdir', 'stat', 'lstat', 'mkdir', 'rm', 'rmdir', 'unlink', 'rename', 'symlink', 'readlink',
  'link', 'utimes', 'truncate', 'access', 'exists', 'copyIn', 'copyOut', 'cp',
] as const;

/** Other calls on a pooled sandbox, served the same way. */
export const sandboxMethods = ['diff', 'mountChanges', 'applyMount', 'usage', 'sync'] as const;

const fsMethodSet: ReadonlySet<string> = new Set(fsMethods);
const sandboxMethodSet: ReadonlySet<string> = new Set(sandboxMethods);
/** Calls that await host I/O: never started inside a guest's syscall. */
const idleOnly: ReadonlySet<string> = new Set(['copyIn', 'copyOut', 'cp']);

/** An entry of `readdir({ withFileTypes: true })` as it crosses threads. */
export interface WireDirent {
  readonly name: string;
  readonly parentPath: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'character-device';
}

// Microtasks queued by handlers made in this context run as soon as the
// script returns, so a promise that is already settled is read at once.
// Made on first use: a V8 context costs ~0.7 ms, paid otherwise by every
// process that imports strata.
let settle: { context: vm.Context & { p: unknown; out: { value?: unknown; error?: unknown } | undefined }; script: vm.Script } | undefined;

/** The outcome of a promise that is already settled, read at once; undefined while it is pending. */
export function settledNow(promise: Promise<unknown>): { value?: unknown; error?: unknown } | undefined {
  settle ??= {
    context: vm.createContext({ p: undefined, out: undefined }, { microtaskMode: 'afterEvaluate' }) as vm.Context & { p: unknown; out: { value?: unknown; error?: unknown } | undefined },
    script: new vm.Script('out = undefined; p.then((value) => { out = { value }; }, (error) => { out = { error }; });'),
  };
  const { context, script } = settle;
  context.p = promise;
  script.runInContext(context);
  context.p = undefined;
  return context.out;
}

/**
 * A call served on the fs port that is not a sandbox's: `run` does it;
 * `now` says whether it will finish without awaiting anything (only such
 * a call may start inside a guest's syscall, since a termination would
 * drop its pending continuation).
 */
export interface PortCall {
  run(args: readonly unknown[]): unknown;
  now(args: readonly unknown[]): boolean;
}

/** Serves one worker's fs port. */
export class FsServer {
  readonly #sandboxes: ReadonlyMap<number, Sandbox>;
  readonly #port: MessagePort;
  readonly #control: Int32Array;
  readonly #calls: ReadonlyMap<string, PortCall>;
  readonly #deferred: FsRequest[] = [];

  constructor(sandboxes: ReadonlyMap<number, Sandbox>, port: MessagePort, control: Int32Array, calls: ReadonlyMap<string, PortCall> = new Map()) {
    this.#sandboxes = sandboxes;
    this.#port = port;
    this.#control = control;
    this.#calls = calls;
    port.on('message', (request: FsRequest) => this.serve(request, false));
  }

  /** Serve every request waiting on the port, now, inside a guest's host call. */
  drain(): void {
    Atomics.store(this.#control, Control.fsPending, 0);
    for (let m = receiveMessageOnPort(this.#port); m !== undefined; m = receiveMessageOnPort(this.#port)) {
      this.serve(m.message as FsRequest, true);
    }
  }

  /** Serve the requests that waited for the worker to be idle. */
  idle(): void {
    for (const request of this.#deferred.splice(0)) this.serve(request, false);
  }

  /** Serve one request; `busy` when a guest's syscall is on the stack. */
  serve(request: FsRequest, busy: boolean): void {
    const special = this.#calls.get(request.method);
    if (busy && (idleOnly.has(request.method) || (special !== undefined && !special.now(request.args)))) {
      this.#deferred.push(request);
      return;
    }
    let result: unknown;
    try {
      result = this.#call(request);
    } catch (error) {
      this.#reply({ id: request.id, error: toWire(error) });
      return;
    }
    if (!(result instanceof Promise)) {
      this.#reply({ id: request.id, value: wireValue(result) });
      return;
    }
    const now = busy ? settledNow(result) : undefined;
    if (now !== undefined) {
      this.#reply('error' in now ? { id: request.id, error: toWire(now.error) } : { id: request.id, value: wireValue(now.value) });
      return;
    }
    result.then(
      (value) => this.#reply({ id: request.id, value: wireValue(value) }),
      (error: unknown) => this.#reply({ id: request.id, error: toWire(error) }),
    );
  }

  #call(request: FsRequest): unknown {
    const special = this.#calls.get(request.method);
    if (special !== undefined) return special.run(request.args);
    const sandbox = this.#sandboxes.get(request.sandbox);
    if (sandbox === undefined) throw new StrataError(ErrorCode.invalidOption, `sandbox ${request.sandbox} is closed`);
    const args = request.args as never[];
    if (fsMethodSet.has(request.method)) {
      const fs = sandbox.fs as unknown as Record<string, (...a: never[]) => unknown>;
      return fs[request.method]!.apply(sandbox.fs, args);
    }
    if (request.method === 'usage') return sandbox.usage;
    if (sandboxMethodSet.has(request.method)) {
      const target = sandbox as unknown as Record<string, (...a: never[]) => unknown>;
      return target[request.method]!.apply(sandbox, args);
    }
    throw new StrataError(ErrorCode.invalidOption, `unknown sandbox call '${request.method}'`);
  }

  #reply(reply: FsReply): void {
    this.#port.postMessage(reply);
  }
}

/** A result as data: dirents lose their private type in a structured clone, so they travel as {@link WireDirent}. */
function wireValue(value: unknown): unknown {
  if (Array.isArray(value) && value.length > 0 && value[0] instanceof SandboxDirent) {
    return (value as SandboxDirent[]).map((d): WireDirent => ({
      name: d.name,
      parentPath: d.parentPath,
      type: d.isDirectory() ? 'directory' : d.isSymbolicLink() ? 'symlink' : d.isCharacterDevice() ? 'character-device' : 'file',
    }));
  }
  return value;
}
