import { pageSize, type PagePool } from './page-pool.js';

export { pageSize };
const pageMask = pageSize - 1;
/** The smallest buffer a page starts with. */
const minPage = 64;

/** A first page past this many bytes is taken whole from the pool, when it has one, instead of grown. */
const poolFrom = 4096;

/**
 * The bytes of a regular file, in pages.
 *
 * A small file is one buffer that grows geometrically (×2, from 64 B; appends
 * stay O(1) amortised) up to a page. Past a page, the file is a list of
 * 64 KiB pages, so growing never copies what is already written, and a
 * page never written (a hole left by a seek or a truncate) takes no memory
 * and reads as zeros. What is allocated beyond the data is therefore under
 * 2× for a file under a page, and under one page past that: 64 KiB, where
 * 1 MiB pages left a file of 1.1 MiB holding 2 MiB (docs/decisions.md,
 * "File data: 64 KiB pages").
 *
 * Interruption: an exception, a stack overflow or a timeout may cut a
 * write or truncate short at any call inside it. The size is changed
 * last, by one assignment, so a call cut short leaves the size as it was
 * (a write's bytes inside the old size may be partly written, as a write
 * cut short by a signal leaves them). Bytes past the size may therefore
 * be stale, so whatever grows the file zeroes the gap first.
 */
export class FileData {
  /** Page 0 may be shorter than a page (bytes past its length are zeros); every other allocated page is full. */
  #pages: (Uint8Array | undefined)[] = [];
  #size = 0;
  readonly #pool: PagePool | undefined;

  /** `pool`: where pages come from first, and go back to on {@link clear}. */
  constructor(pool?: PagePool) {
    this.#pool = pool;
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes of buffers this file holds (the data plus the growth slack of its pages). */
  get allocated(): number {
    let bytes = 0;
    for (const page of this.#pages) bytes += page?.length ?? 0;
    return bytes;
  }

  /** Copy up to `length` bytes at `position` into `dst[dstOffset…]`. Returns the count. */
  read(dst: Uint8Array, dstOffset: number, length: number, position: number): number {
    const n = Math.min(length, this.#size - position);
    if (n <= 0) return 0;
    let done = 0;
    while (done < n) {
      const at = position + done;
      const page = this.#pages[Math.floor(at / pageSize)];
      const offset = at & pageMask;
      const take = Math.min(n - done, pageSize - offset);
      const have = page === undefined ? 0 : Math.max(0, Math.min(take, page.length - offset));
      if (have > 0) copy(page!, offset, dst, dstOffset + done, have);
      if (have < take) dst.fill(0, dstOffset + done + have, dstOffset + done + take);
      done += take;
    }
    return n;
  }

  /** Copy `length` bytes from `src[srcOffset…]` to `position`, growing the file as needed. */
  write(src: Uint8Array, srcOffset: number, length: number, position: number): void {
    const end = position + length;
    const size = this.#size;
    if (position > size) this.#zero(size, position);
    let done = 0;
    while (done < length) {
      const at = position + done;
      const index = Math.floor(at / pageSize);
      const offset = at & pageMask;
      const take = Math.min(length - done, pageSize - offset);
      if (take === pageSize && index > 0 && this.#pages[index] === undefined) {
        // A whole new page: a pooled one needs no zeroing, since every
        // byte is written before it joins the file (a copy cut short
        // leaves it out of the file).
        const fresh = this.#pool?.take() ?? new Uint8Array(pageSize);
        copy(src, srcOffset + done, fresh, 0, pageSize);
        this.#pages[index] = fresh;
      } else {
        copy(src, srcOffset + done, this.#page(index, offset + take), offset, take);
      }
      done += take;
    }
    if (end > size) this.#size = end;
  }

  /** Set the size: shrinking drops whole pages past it; growing zeroes the gap. */
  truncate(size: number): void {
    const old = this.#size;
    if (size > old) {
      this.#zero(old, size);
    } else {
      const pages = this.#pages;
      const keep = Math.ceil(size / pageSize);
      if (pages.length > keep) {
        // Cut the list first, so a call cut short leaves no page both in the file and in the pool.
        const dropped = this.#pool === undefined ? undefined : pages.slice(keep);
        pages.length = keep;
        this.#size = size;
        if (dropped !== undefined) for (const page of dropped) if (page !== undefined) this.#pool!.give(page);
        return;
      }
    }
    this.#size = size;
  }

  /** Zero the allocated bytes in [from, to) (past the size: never visible until the size moves). */
  #zero(from: number, to: number): void {
    const pages = this.#pages;
    const last = Math.min(pages.length, Math.ceil(to / pageSize));
    for (let index = Math.floor(from / pageSize); index < last; index++) {
      const page = pages[index];
      if (page === undefined) continue;
      const start = Math.max(0, from - index * pageSize);
      const stop = Math.min(page.length, to - index * pageSize);
      if (stop > start) page.fill(0, start, stop);
    }
  }

  /**
   * Release every page (the file is gone): full pages go back to the pool.
   * The list is dropped first, so a call cut short leaves no page both
   * here and in the pool.
   */
  clear(): void {
    const pages = this.#pages;
    this.#pages = [];
    this.#size = 0;
    const pool = this.#pool;
    if (pool !== undefined) for (const page of pages) if (page !== undefined) pool.give(page);
  }

  /** A page from the pool, zeroed (it holds another file's old bytes), or undefined. */
  #pooled(): Uint8Array | undefined {
    const page = this.#pool?.take();
    if (page !== undefined) page.fill(0);
    return page;
  }

  /** Page `index`, allocated and, for page 0, at least `need` bytes long (grown ×2, at least 64 B, at most a page). */
  #page(index: number, need: number): Uint8Array {
    const page = this.#pages[index];
    if (index > 0) {
      if (page !== undefined) return page;
      const fresh = this.#pooled() ?? new Uint8Array(pageSize);
      this.#pages[index] = fresh;
      return fresh;
    }
    if (page !== undefined && page.length >= need) return page;
    const length = Math.min(pageSize, Math.max(need, (page?.length ?? 0) * 2, minPage));
    const grown = (length > poolFrom ? this.#pooled() : undefined) ?? new Uint8Array(length);
    if (page !== undefined) grown.set(page);
    // A one-page file's list: a literal holds one slot, where `[][0] = x` would reserve 17.
    if (this.#pages.length === 0) this.#pages = [grown];
    else this.#pages[0] = grown;
    return grown;
  }
}

/** Copy `n` bytes; a loop beats `set(subarray())` for the small writes guests make most. */
function copy(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, n: number): void {
  if (n <= 32) {
    for (let i = 0; i < n; i++) dst[dstOffset + i] = src[srcOffset + i]!;
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + n), dstOffset);
  }
}
