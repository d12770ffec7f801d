import type { DirNode, Namespace, Node } from '../vfs/index.js';
import { GuestDeadline } from '../wasi/context.js';
import type { StreamSink, StreamSource } from '../wasi/descriptor.js';
import { ProcessEnd } from '../wasi/process-end.js';
import { componentError, toErrorCode, type ErrorCode } from './error-code.js';

/** A WIT `result` as jco lowers it. */
export type Result<T, E> = { tag: 'ok'; val: T } | { tag: 'err'; val: E };

/** A directory handed to the component by `wasi:filesystem/preopens`, by the name it sees. */
export interface ComponentPreopen {
  readonly path: string;
  readonly dir: DirNode;
}

/** What one component process is given. */
export interface ComponentContextOptions {
  readonly namespace: Namespace;
  /** argv, including argv[0]. */
  readonly args: readonly string[];
  readonly env: readonly (readonly [string, string])[];
  readonly preopens: readonly ComponentPreopen[];
  /** `wasi:cli/environment.initial-cwd`; none when undefined. */
  readonly cwd?: string | undefined;
  readonly stdin?: StreamSource | undefined;
  readonly stdout?: StreamSink | undefined;
  readonly stderr?: StreamSink | undefined;
  readonly tty?: { readonly stdin?: boolean | undefined; readonly stdout?: boolean | undefined; readonly stderr?: boolean | undefined } | undefined;
  /** performance.now() after which a blocking call ends the process. Default Infinity. */
  readonly deadline?: number | undefined;
  /** Most host resources (descriptors, streams, pollables) alive at once. Default {@link defaultMaxResources}. */
  readonly maxResources?: number | undefined;
  /**
   * Runs each host call, for a host that must know when one runs (the
   * worker pool's syscall gate: a kill never lands inside one): `call`
   * around every call but `poll`, `poll` around a poll (a sleep stays
   * killable). Each returns what the function returns. Default: none.
   */
  readonly gate?: ComponentGate | undefined;
}

/** How a host runs each call: see {@link ComponentContextOptions.gate}. */
export interface ComponentGate {
  call<T>(fn: () => T): T;
  poll<T>(fn: () => T): T;
}

const ungated: ComponentGate = { call: (fn) => fn(), poll: (fn) => fn() };

/** A host resource the process holds: closed when dropped or at exit. */
export interface Held {
  close(): void;
  /** Refer to the same nodes in a rebased tree (see {@link ComponentContext.rebase}); those without a counterpart stay. */
  rebase?(counterpart: (node: Node) => Node | undefined): void;
}

/** Default bound on a process's live host resources: what a guest can make the host hold. */
export const defaultMaxResources = 4096;

/**
 * The state of one component process that every interface shares, and the
 * two wrappers every call goes through (one place for errors): {@link call}
 * for functions without a `result`, {@link result} for those with one.
 */
export class ComponentContext {
  /** The process's namespace; replaced by {@link rebase} when a commit or fork seals the root. */
  namespace: Namespace;
  readonly options: ComponentContextOptions;
  readonly end = new ProcessEnd();
  readonly deadline: number;
  readonly maxResources: number;
  /** performance.now() at start: the zero of the monotonic clock. */
  readonly startMs = performance.now();
  readonly gate: ComponentGate;
  readonly #held = new Set<Held>();

  constructor(options: ComponentContextOptions) {
    this.namespace = options.namespace;
    this.options = options;
    this.deadline = options.deadline ?? Infinity;
    this.maxResources = options.maxResources ?? defaultMaxResources;
    this.gate = options.gate ?? ungated;
  }

  /** Hold a new host resource until it is dropped or the process ends. Errors: `insufficient-memory` past {@link maxResources}. */
  acquire(resource: Held): void {
    if (this.#held.size >= this.maxResources) throw componentError('insufficient-memory');
    this.#held.add(resource);
  }

  /** A resource was dropped: it no longer counts. */
  release(resource: Held): void {
    this.#held.delete(resource);
  }

  /** How many host resources are held. */
  get resources(): number {
    return this.#held.size;
  }

  /**
   * Go on over `namespace`, the sandbox's new one after a commit or fork
   * sealed its root: every resource that refers to a node of the sealed
   * tree refers to its `counterpart` from now on (a node without one, an
   * unlinked file, keeps the sealed node: it reads the state at the seal
   * and its writes fail with EROFS). As the preview1 host's `rebase`.
   */
  rebase(namespace: Namespace, counterpart: (node: Node) => Node | undefined): void {
    this.namespace = namespace;
    for (const resource of this.#held) resource.rebase?.(counterpart);
  }

  /** The process ended: close every resource still held (releasing unlinked files' data). */
  closeAll(): void {
    for (const resource of this.#held) resource.close();
    this.#held.clear();
  }

  /** Ends the process if it ran past its deadline. */
  checkDeadline(): void {
    if (performance.now() > this.deadline) throw this.end.end(new GuestDeadline());
  }

  /**
   * Run a host function that has no `result`: any error ends the process,
   * finally (a trap the guest cannot catch), and once it has ended every
   * call ends it again.
   */
  call<T>(fn: () => T): T {
    if (this.end.ended) throw this.end.end(undefined);
    try {
      return this.gate.call(fn);
    } catch (error) {
      throw this.end.end(error);
    }
  }

  /** {@link call} for `poll`, through the gate's `poll`: a sleep the host can still stop. */
  callPoll<T>(fn: () => T): T {
    if (this.end.ended) throw this.end.end(undefined);
    try {
      return this.gate.poll(fn);
    } catch (error) {
      throw this.end.end(error);
    }
  }

  /**
   * Run a host function whose WIT type is `result<T, E>`: an error that
   * {@link toErrorCode} knows becomes `err` (through `wrap`, for stream
   * errors); anything else ends the process as in {@link call}.
   */
  result<T, E = ErrorCode>(fn: () => T, wrap?: (code: ErrorCode) => E): Result<T, E> {
    if (this.end.ended) throw this.end.end(undefined);
    try {
      return { tag: 'ok', val: this.gate.call(fn) };
    } catch (error) {
      const code = toErrorCode(error);
      if (code === undefined) throw this.end.end(error);
      return { tag: 'err', val: wrap === undefined ? (code as E) : wrap(code) };
    }
  }
}
