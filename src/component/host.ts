import { ErrorCode, StrataError } from '../errors.js';
import { ComponentContext, type ComponentContextOptions } from './context.js';
import { componentImports } from './interfaces.js';
import type { LoadedComponent } from './load.js';

/** Every interface (unversioned) strata's host serves. */
export const providedInterfaces: readonly string[] = Object.keys(componentImports(new ComponentContext({ namespace: undefined as never, args: [], env: [], preopens: [] })));

/** What {@link runComponent} tells its caller. */
export interface RunHooks {
  /** The process's context, before anything runs. */
  readonly context?: (ctx: ComponentContext) => void;
  /** The guest's own code starts (instantiation, then `run`). */
  readonly enterGuest?: () => void;
  /** The guest's own code has returned or thrown; the host closes what it held after this. */
  readonly leaveGuest?: () => void;
}

/**
 * Run a loaded component's `wasi:cli/run` as one process over the context's
 * namespace, with strata's host as its imports (never jco's preview2-shim).
 * Returns the exit code: `exit`'s (the preview1 adapter passes 0 or 1),
 * 0 when `run` returns ok, 1 when it returns err. Throws what ended the
 * process otherwise (a trap, the deadline, an output limit), whatever the
 * guest did after it. Every resource still held is closed at the end.
 * `hooks` let a host see the context before anything runs, and mark
 * where the guest's own code runs (instantiation and `run`), apart from
 * the host's work before and after it.
 * Errors: ERR_UNKNOWN_IMPORT (it imports an interface strata does not
 * serve, such as wasi:sockets; each is named).
 */
export function runComponent(component: LoadedComponent, options: ComponentContextOptions, hooks: RunHooks = {}): number {
  const unknown = component.imports.filter((name) => !providedInterfaces.includes(name.replace(/@.*$/, '')));
  if (unknown.length > 0) {
    throw new StrataError(ErrorCode.unknownImport, `component ${component.digest} imports what strata does not provide: ${unknown.join(', ')}`);
  }
  const ctx = new ComponentContext(options);
  hooks.context?.(ctx);
  const end = ctx.end;
  try {
    hooks.enterGuest?.();
    try {
      const { run } = component.instantiate(componentImports(ctx));
      run();
    } finally {
      hooks.leaveGuest?.();
    }
    if (end.ended) throw end.error;
    return 0;
  } catch (thrown) {
    const error = end.ended ? end.error : thrown;
    if (error instanceof Error && error.name === 'ProcExit') return (error as Error & { code: number }).code;
    // run() returned err. jco 1.35 throws the err payload, which for wasi:cli/run's
    // `result` (no payload) is `undefined`; other jco versions wrap it in a
    // ComponentError (an own `payload`). Nothing else throws undefined here:
    // host errors and traps are Error objects.
    if (error === undefined) return 1;
    if (error instanceof Error && error.constructor.name === 'ComponentError' && Object.hasOwn(error, 'payload')) return 1;
    throw error;
  } finally {
    ctx.closeAll();
  }
}
