/**
 * The end of a process, made final.
 *
 * A guest built with wasm exception handling can catch, with `catch_all`,
 * any JS exception a host function throws: proc_exit's, the deadline's, an
 * output limit's. A wasm trap, though, is never caught by wasm code, even
 * after passing through JS frames. So an ending is thrown as a trap: the
 * host calls a one-instruction wasm function (`unreachable`), takes the
 * RuntimeError it raises, and gives it the ending's class and fields.
 * V8 keeps the error uncatchable (the mark is on the object), while JS
 * callers still see `instanceof ProcExit` and its `code`.
 * See docs/decisions.md, "Exits are final".
 */

// (module (func (export "t") unreachable))
const trapBytes = new Uint8Array([
  0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 0x74, 0, 0, 10, 5, 1, 3, 0, 0, 0x0b,
]);

let trapper: (() => void) | undefined;

/**
 * `error`, re-thrown as a trap the guest cannot catch: the same class and
 * own fields. If no trap can be made (the stack is exhausted), `error`
 * itself.
 */
export function uncatchable(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  let trap: unknown;
  try {
    trapper ??= new WebAssembly.Instance(new WebAssembly.Module(trapBytes)).exports['t'] as () => void;
    trapper();
  } catch (thrown) {
    trap = thrown;
  }
  if (!(trap instanceof WebAssembly.RuntimeError)) return error;
  try {
    Object.setPrototypeOf(trap, Object.getPrototypeOf(error) as object | null);
    for (const key of Reflect.ownKeys(error)) {
      Object.defineProperty(trap, key, Object.getOwnPropertyDescriptor(error, key)!);
    }
  } catch {
    return error;
  }
  return trap;
}

/**
 * Whether and how one process ended. Set once, by the first ending
 * (proc_exit, a deadline, an output limit, a host error); every host call
 * after it ends the process again.
 */
export class ProcessEnd {
  #error: unknown;
  #ended = false;

  get ended(): boolean {
    return this.#ended;
  }

  /** The first ending. */
  get error(): unknown {
    return this.#error;
  }

  /** Record `error` as the ending (unless one is recorded) and return it, uncatchable, to throw. */
  end(error: unknown): unknown {
    if (!this.#ended) {
      this.#ended = true;
      this.#error = error;
    }
    return uncatchable(this.#error);
  }
}
