import { firstEntryCookie } from './node.js';

/**
 * The entries of one directory, with readdir cookies that stay valid while
 * entries come and go.
 *
 * Every insertion gets the next sequence number of this directory (never a
 * global counter). Entries live in `order`, sorted by sequence; a removal
 * leaves a hole that is compacted away once holes outnumber live entries.
 * A cookie is a sequence number (offset by the two reserved cookies of `.`
 * and `..`), so resuming after compaction is a binary search, and an entry
 * removed since the cookie was handed out simply isn't there any more.
 */
export class DirEntries<T> {
  readonly #byName = new Map<string, Slot<T>>();
  #order: Slot<T>[] = [];
  #holes = 0;
  #nextSeq = 1;

  get size(): number {
    return this.#byName.size;
  }

  get(name: string): T | undefined {
    return this.#byName.get(name)?.value;
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /**
   * Add or replace `name`. A replaced entry gets a new position at the end.
   * set and delete change state only after their last call (compaction
   * comes first), so an interruption leaves the entries as they were.
   */
  set(name: string, value: T): void {
    const old = this.#byName.get(name);
    const slot: Slot<T> = { name, value, seq: this.#nextSeq++, live: true };
    this.#byName.set(name, slot);
    this.#order.push(slot);
    if (old !== undefined) {
      old.live = false;
      this.#holes++;
    }
  }

  delete(name: string): boolean {
    const slot = this.#byName.get(name);
    if (slot === undefined) return false;
    if (this.#holes >= 32 && this.#holes >= this.#byName.size - 1) this.#compact();
    this.#byName.delete(name);
    slot.live = false;
    this.#holes++;
    return true;
  }

  /** Live entries after `cookie`, with the cookie that resumes after each. */
  forEachFrom(cookie: number, take: (name: string, value: T, next: number) => boolean): void {
    const after = cookie - firstEntryCookie;
    const order = this.#order;
    for (let i = this.#firstAfter(after); i < order.length; i++) {
      const slot = order[i]!;
      if (!slot.live) continue;
      if (!take(slot.name, slot.value, slot.seq + firstEntryCookie)) return;
    }
  }

  values(): IterableIterator<T> {
    const it = this.#byName.values();
    return (function* () {
      for (const slot of it) yield slot.value;
    })();
  }

  #firstAfter(seq: number): number {
    const order = this.#order;
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (order[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #compact(): void {
    this.#order = this.#order.filter((slot) => slot.live);
    this.#holes = 0;
  }
}

interface Slot<T> {
  readonly name: string;
  readonly value: T;
  readonly seq: number;
  live: boolean;
}
