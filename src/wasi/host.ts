import type { DirNode, FileNode, Namespace, Node } from '../vfs/index.js';
import { Rights, streamRights, wasiErrnoName } from './abi.js';
import { argsSyscalls } from './args.js';
import { clockSyscalls } from './clock.js';
import { WasiContext } from './context.js';
import { DirectoryDescriptor, FileDescriptor, StreamDescriptor, type StreamSink, type StreamSource } from './descriptor.js';
import { toErrno } from './errno.js';
import { fdSyscalls } from './fd.js';
import { defaultMaxFds } from './fd-table.js';
import { GuestMemory } from './memory.js';
import { pathSyscalls, preopenRights } from './path.js';
import { defaultMaxPollSubscriptions, pollSyscalls } from './poll.js';
import { ProcessEnd } from './process-end.js';
import { procSyscalls } from './proc.js';
import { randomSyscalls } from './random.js';
import { sockSyscalls } from './sock.js';
import { formatCall, wasiSignatures } from './trace.js';

/** The import module name of WASI preview1. */
export const wasiModuleName = 'wasi_snapshot_preview1';

/** A directory handed to the guest at start (fd 3 onwards), by the name it sees. */
export interface Preopen {
  readonly path: string;
  readonly dir: DirNode;
}

/** Options of {@link WasiHost}. */
export interface WasiHostOptions {
  readonly namespace: Namespace;
  /** argv, including argv[0]. */
  readonly args: readonly string[];
  /** Environment as `KEY=VALUE` strings. */
  readonly env: readonly string[];
  readonly preopens: readonly Preopen[];
  readonly stdin?: StreamSource;
  readonly stdout?: StreamSink;
  readonly stderr?: StreamSink;
  /**
   * Which stdio streams are terminals. Only those are character devices to
   * the guest (isatty() 1); the others are `unknown`, like a pipe. Default: none.
   */
  readonly tty?: { readonly stdin?: boolean; readonly stdout?: boolean; readonly stderr?: boolean };
  /** Most fds open at once (EMFILE past it). Default {@link defaultMaxFds}. */
  readonly maxFds?: number;
  /** Most subscriptions per poll_oneoff call (EINVAL past it). Default {@link defaultMaxPollSubscriptions}. */
  readonly maxPollSubscriptions?: number;
  /** performance.now() after which a blocking call gives up. */
  readonly deadline?: number;
  /** Receives one line per call, strace style, when set. */
  readonly trace?: (line: string) => void;
  /**
   * Wraps each call once, inside the error guard: given the call's name and
   * function, returns the function to use, with the same `length`. The
   * worker pool's syscall boundary (kill flag, fs requests) hooks in here.
   * Default: none.
   */
  readonly gate?: (name: string, fn: (...args: never[]) => number) => (...args: never[]) => number;
  /**
   * The preview1 functions to provide: the names the module imports
   * (others are ignored). A process's host then builds only those, which
   * is most of its setup cost for a small program. Default: all 46.
   */
  readonly only?: readonly string[];
}

type Syscall = (...args: never[]) => number;

/**
 * A WASI preview1 host for one process, over a VFS namespace.
 *
 * All 46 functions are provided. Each is wrapped once, here, so that an
 * error thrown inside becomes its errno ({@link toErrno}); a host bug is
 * rethrown and traps the guest. With `trace`, each call is also printed
 * with its arguments and result.
 *
 * An ending (proc_exit, the deadline, an output limit, a host error) is
 * final: it is thrown as a trap the guest cannot catch with wasm exception
 * handling, and every host call after it ends the process again.
 *
 * @example
 * const host = new WasiHost({ namespace, args: ['hello'], env: [], preopens: [{ path: '/', dir: namespace.root }] });
 * const instance = new WebAssembly.Instance(module, host.imports);
 * const code = host.start(instance);
 */
export class WasiHost {
  readonly context: WasiContext;
  readonly imports: { [wasiModuleName]: Record<string, Syscall> };
  readonly #end = new ProcessEnd();

  constructor(options: WasiHostOptions) {
    const ctx = new WasiContext({
      namespace: options.namespace,
      args: options.args,
      env: options.env,
      maxFds: options.maxFds ?? defaultMaxFds,
      deadline: options.deadline ?? Infinity,
    });
    this.context = ctx;
    const tty = options.tty ?? {};
    ctx.fds.set(0, new StreamDescriptor(streamRights & ~Rights.FD_WRITE, { source: options.stdin, tty: tty.stdin }));
    ctx.fds.set(1, new StreamDescriptor(streamRights & ~Rights.FD_READ, { sink: options.stdout, tty: tty.stdout }));
    ctx.fds.set(2, new StreamDescriptor(streamRights & ~Rights.FD_READ, { sink: options.stderr, tty: tty.stderr }));
    options.preopens.forEach((p, i) => {
      ctx.fds.set(3 + i, new DirectoryDescriptor(p.dir, preopenRights.base, preopenRights.inheriting, p.path));
    });

    const maxPoll = options.maxPollSubscriptions ?? defaultMaxPollSubscriptions;
    const made: (Record<string, Syscall> | undefined)[] = [];
    const group = (i: number) => (made[i] ??= syscallGroups[i]!(ctx, maxPoll) as Record<string, Syscall>);
    const trace = options.trace;
    const gate = options.gate;
    const end = this.#end;
    const imports: Record<string, Syscall> = {};
    for (const name of options.only ?? wasiFunctionNames) {
      const i = groupOf.get(name);
      if (i === undefined) continue;
      const raw = group(i)[name]!;
      const fn = gate === undefined ? raw : gate(name, raw);
      imports[name] = trace === undefined ? guard(fn, arity(name, fn), end) : traced(name, fn, ctx, trace, end);
    }
    this.imports = { [wasiModuleName]: imports };
  }

  /**
   * Move the process onto another tree between two of its calls: resolve
   * paths in `namespace` from now on, and point each open file and
   * directory description at `counterpart(node)` where it gives one
   * (positions, rights and flags kept). A description it gives none keeps
   * its node. Used when the tree under a running process was sealed and
   * a fresh upper put over it (a snapshot commit), so the process keeps
   * writing. Costs the open descriptions, never the tree.
   */
  rebase(namespace: Namespace, counterpart: (node: Node) => Node | undefined): void {
    const ctx = this.context;
    ctx.namespace = namespace;
    for (const d of ctx.fds.descriptions()) {
      if (d instanceof FileDescriptor) {
        const next = counterpart(d.node);
        if (next?.type === 'file') d.rebind(next as FileNode);
      } else if (d instanceof DirectoryDescriptor) {
        const next = counterpart(d.node);
        if (next?.type === 'directory') d.node = next as DirNode;
      }
    }
  }

  /** Bind the guest memory the syscalls read and write (done by {@link start}). */
  bindMemory(memory: WebAssembly.Memory): void {
    this.context.bindMemory(new GuestMemory(memory));
  }

  /** The first ending of this process (a ProcExit, GuestDeadline, sink error…), if it ended. */
  get ending(): unknown {
    return this.#end.error;
  }

  /**
   * Run a WASI command: bind its memory, call `_start`, close every fd.
   * Returns the exit code: proc_exit's, or 0 when `_start` returns.
   * Throws what the guest threw otherwise (a trap, a deadline), and the
   * first ending if there was one, whatever the guest did after it.
   */
  start(instance: WebAssembly.Instance): number {
    const memory = instance.exports['memory'];
    const start = instance.exports['_start'];
    if (!(memory instanceof WebAssembly.Memory) || typeof start !== 'function') {
      throw new TypeError('not a WASI command: it must export "memory" and "_start"');
    }
    this.bindMemory(memory);
    const end = this.#end;
    try {
      (start as () => void)();
      if (end.ended) throw end.error;
      return 0;
    } catch (thrown) {
      const error = end.ended ? end.error : thrown;
      if (error instanceof Error && error.name === 'ProcExit') return (error as Error & { code: number }).code;
      throw error;
    } finally {
      this.context.fds.closeAll();
    }
  }
}

/** The names of all 46 preview1 functions strata provides. */
export const wasiFunctionNames: readonly string[] = Object.keys(wasiSignatures).sort();

/** The syscall groups, each made on first use by a host: most programs import a few calls of a few groups. */
const syscallGroups: readonly ((ctx: WasiContext, maxPoll: number) => object)[] = [
  argsSyscalls,
  clockSyscalls,
  fdSyscalls,
  pathSyscalls,
  pollSyscalls,
  procSyscalls,
  randomSyscalls,
  sockSyscalls,
];

/** Which group provides each function, found once by making every group over a context no call will use. */
const groupOf: ReadonlyMap<string, number> = (() => {
  const probe = new WasiContext({ namespace: undefined as never, args: [], env: [], maxFds: 0, deadline: Infinity });
  const map = new Map<string, number>();
  syscallGroups.forEach((make, i) => {
    for (const name of Object.keys(make(probe, 0))) map.set(name, i);
  });
  return map;
})();

/** Each call's parameter count, from its signature (reading `Function.length` per host costs ~0.1 µs a call). */
const arities = new Map(Object.entries(wasiSignatures).map(([name, params]) => [name, params.length]));

function arity(name: string, fn: Syscall): number {
  return arities.get(name) ?? fn.length;
}

/** The errno `e` stands for; anything that is not an errno ends the process, finally. */
function failed(e: unknown, end: ProcessEnd): number {
  let errno: number;
  try {
    errno = toErrno(e);
  } catch {
    throw end.end(e);
  }
  return errno;
}

/**
 * Wrap a syscall so every error becomes an errno, in one place. Anything
 * that is not an errno ends the process, finally ({@link ProcessEnd}), and
 * once it has ended every call ends it again. A fixed arity per shape
 * keeps the call monomorphic (no rest arguments).
 */
function guard(fn: Syscall, arity: number, end: ProcessEnd): Syscall {
  const f = fn as (...args: unknown[]) => number;
  switch (arity) {
    case 0:
      return (() => { if (end.ended) throw end.end(undefined); try { return f(); } catch (e) { return failed(e, end); } }) as Syscall;
    case 1:
      return ((a: unknown) => { if (end.ended) throw end.end(undefined); try { return f(a); } catch (e) { return failed(e, end); } }) as Syscall;
    case 2:
      return ((a: unknown, b: unknown) => {
        if (end.ended) throw end.end(undefined);
        try { return f(a, b); } catch (e) { return failed(e, end); }
      }) as Syscall;
    case 3:
      return ((a: unknown, b: unknown, c: unknown) => {
        if (end.ended) throw end.end(undefined);
        try { return f(a, b, c); } catch (e) { return failed(e, end); }
      }) as Syscall;
    case 4:
      return ((a: unknown, b: unknown, c: unknown, d: unknown) => {
        if (end.ended) throw end.end(undefined);
        try { return f(a, b, c, d); } catch (e) { return failed(e, end); }
      }) as Syscall;
    case 5:
      return ((a: unknown, b: unknown, c: unknown, d: unknown, e: unknown) => {
        if (end.ended) throw end.end(undefined);
        try { return f(a, b, c, d, e); } catch (x) { return failed(x, end); }
      }) as Syscall;
    default:
      return ((...args: unknown[]) => {
        if (end.ended) throw end.end(undefined);
        try { return f(...args); } catch (e) { return failed(e, end); }
      }) as Syscall;
  }
}

function traced(name: string, fn: Syscall, ctx: WasiContext, trace: (line: string) => void, end: ProcessEnd): Syscall {
  const f = fn as (...args: unknown[]) => number;
  return ((...args: unknown[]) => {
    if (end.ended) {
      trace(`${formatCall(name, args, ctx)} = after the process ended`);
      throw end.end(undefined);
    }
    let result: number;
    try {
      result = f(...args);
    } catch (e) {
      if (e instanceof Error && e.name === 'ProcExit') {
        trace(`${formatCall(name, args, ctx)} = exit(${(e as Error & { code: number }).code})`);
        throw end.end(e);
      }
      try {
        result = toErrno(e);
      } catch (bug) {
        trace(`${formatCall(name, args, ctx)} = HOST BUG ${String(bug)}`);
        throw end.end(bug);
      }
    }
    trace(`${formatCall(name, args, ctx)} = ${result === 0 ? '0' : `${result} ${wasiErrnoName[result] ?? '?'}`}`);
    return result;
  }) as Syscall;
}
