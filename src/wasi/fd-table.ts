import type { Descriptor } from './descriptor.js';
import { wasiError } from './errno.js';

/** Default limit on open fds per process, like a soft `ulimit -n` of 1024. */
export const defaultMaxFds = 1024;

/**
 * The fd table of one process. Fds are small integers, allocated lowest
 * free first, with a hard limit ({@link defaultMaxFds} unless configured):
 * opening past it gives EMFILE. Several fds may share a description (after
 * renumbering none do; the table still closes a description only once).
 */
export class FdTable {
  readonly limit: number;
  readonly #slots: (Descriptor | undefined)[] = [];
  #count = 0;

  constructor(limit = defaultMaxFds) {
    this.limit = limit;
  }

  get count(): number {
    return this.#count;
  }

  /** The description at `fd`. Errors: EBADF. */
  get(fd: number): Descriptor {
    const d = this.#slots[fd];
    if (d === undefined) throw wasiError('EBADF');
    return d;
  }

  /** Errors: EMFILE when the table is full. */
  reserve(): void {
    if (this.#count >= this.limit) throw wasiError('EMFILE');
  }

  /** Put `d` at the lowest free fd. Errors: EMFILE. */
  insert(d: Descriptor): number {
    this.reserve();
    const slots = this.#slots;
    let fd = 0;
    while (fd < slots.length && slots[fd] !== undefined) fd++;
    slots[fd] = d;
    this.#count++;
    return fd;
  }

  /** Put `d` at a specific fd (preopens and stdio). */
  set(fd: number, d: Descriptor): void {
    if (this.#slots[fd] === undefined) this.#count++;
    this.#slots[fd] = d;
  }

  /** Errors: EBADF. */
  close(fd: number): void {
    const d = this.get(fd);
    // Release first, free the slot last: cut short in between, the fd still
    // names a closed description (closing it again does nothing), and no
    // retained node is ever lost from the table while still charged.
    d.close();
    this.#slots[fd] = undefined;
    this.#count--;
    while (this.#slots.length > 0 && this.#slots[this.#slots.length - 1] === undefined) this.#slots.pop();
  }

  /** Every open description, once each, in fd order. */
  *descriptions(): Generator<Descriptor> {
    const seen = new Set<Descriptor>();
    for (const d of this.#slots) {
      if (d !== undefined && !seen.has(d)) {
        seen.add(d);
        yield d;
      }
    }
  }

  /** Move `from` onto `to`, closing what `to` held. Errors: EBADF. */
  renumber(from: number, to: number): void {
    const d = this.get(from);
    this.get(to);
    if (from === to) return;
    this.close(to);
    this.#slots[to] = d;
    this.#slots[from] = undefined;
  }

  /** Close everything (process exit). */
  closeAll(): void {
    for (let fd = 0; fd < this.#slots.length; fd++) {
      const d = this.#slots[fd];
      if (d !== undefined) d.close();
    }
    this.#slots.length = 0;
    this.#count = 0;
  }
}
