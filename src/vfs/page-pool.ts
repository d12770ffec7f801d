import { IdlePool } from './idle-pool.js';

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
 * Bounded and let go of as an {@link IdlePool} is.
 */
export class PagePool extends IdlePool<Uint8Array> {
  /** Keep a full page that no file holds any more (others, and any past the bound, are left to the collector). */
  override give(page: Uint8Array): void {
    if (page.length === pageSize) super.give(page);
  }
}

let shared: PagePool | undefined;

/** The thread's pool, which every tmpfs uses unless given its own (made on first use). */
export function sharedPagePool(): PagePool {
  return (shared ??= new PagePool(maxSharedPages, decayMs));
}
