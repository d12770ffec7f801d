/** Size of a page of file data: 64 KiB. */
export const pageSize = 1 << 16;

/** Pages the thread's pool holds at most: 512 MiB. */
const maxSharedPages = (512 << 20) / pageSize;

/** How often the pool lets go of the pages it did not need: every second. */
const decayMs = 1000;

/**
 * Full pages that no file holds any more (a file removed, truncated, or
 * released with its closed sandbox), kept for the next pages any file of
 * the thread needs instead of allocating. A process that writes and drops
 * large files in turn (a task runner's sandboxes, SQLite's rollback
 * journal) would otherwise allocate every page afresh: each allocation is
 * new memory the kernel faults in and an ArrayBuffer V8 counts towards its
 * external-memory limit, where it collects garbage (docs/benchmarks.md,
 * P3b and P9).
 *
 * A pooled page still holds what its last file wrote: a file that takes
 * one either writes the whole page before the page joins it, or zeroes it
 * first ({@link FileData}), so no byte of one file is ever seen in another.
 *
 * At most `max` pages are kept. Every `decayMs` the pool drops the pages
 * it held all through the last interval (its low-water mark), so memory a
 * process stopped reusing goes back to the collector within two intervals;
 * the timer does not keep the process alive.
 */
export class PagePool {
  readonly #pages: Uint8Array[] = [];
  /** The fewest pages held since the last trim. */
  #low = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly max: number,
    readonly decayMs = Number.POSITIVE_INFINITY,
  ) {}

  /** Pages held now. */
  get size(): number {
    return this.#pages.length;
  }

  /** A page (its old bytes left in it), or undefined when the pool is empty. */
  take(): Uint8Array | undefined {
    const page = this.#pages.pop();
    if (this.#pages.length < this.#low) this.#low = this.#pages.length;
    return page;
  }

  /** Keep a full page that no file holds any more (others, and any past the bound, are left to the collector). */
  give(page: Uint8Array): void {
    if (page.length !== pageSize || this.#pages.length >= this.max) return;
    this.#pages.push(page);
    if (this.#timer === undefined) this.#arm();
  }

  /** Drop the pages held all through the interval since the last trim; go on trimming while any are held. */
  trim(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    // The bottom of the stack is what no take reached: take() pops the top.
    if (this.#low > 0) this.#pages.splice(0, this.#low);
    this.#low = this.#pages.length;
    if (this.#pages.length > 0) this.#arm();
  }

  /** The next trim, `decayMs` from now; the timer keeps no process alive. */
  #arm(): void {
    if (this.decayMs === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.trim(), this.decayMs);
    this.#timer.unref?.();
  }
}

let shared: PagePool | undefined;

/** The thread's pool, which every tmpfs uses unless given its own (made on first use). */
export function sharedPagePool(): PagePool {
  return (shared ??= new PagePool(maxSharedPages, decayMs));
}
