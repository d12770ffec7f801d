/**
 * Things no user holds any more, kept for the thread's next user instead
 * of being made afresh: what {@link PagePool} keeps for files, and the
 * sandbox keeps for guest memories.
 *
 * At most `max` are kept. Every `decayMs` the pool drops what it held all
 * through the last interval (its low-water mark), so what a process
 * stopped reusing goes back to the collector within two intervals; the
 * timer does not keep the process alive.
 */
export class IdlePool<T> {
  readonly #items: T[] = [];
  /** The fewest items held since the last trim. */
  #low = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly max: number,
    readonly decayMs = Number.POSITIVE_INFINITY,
  ) {}

  /** Items held now. */
  get size(): number {
    return this.#items.length;
  }

  /**
   * The item given last (that `fits`, when given), or undefined. Items
   * below it move down one place, so the bottom of the pool stays what no
   * take reached since the last trim.
   */
  take(fits?: (item: T) => boolean): T | undefined {
    const items = this.#items;
    let i = items.length - 1;
    if (fits !== undefined) while (i >= 0 && !fits(items[i]!)) i--;
    if (i < 0) return undefined;
    const item = i === items.length - 1 ? items.pop()! : items.splice(i, 1)[0]!;
    if (items.length < this.#low) this.#low = items.length;
    return item;
  }

  /** Keep `item`, unless the pool is full (then it is left to the collector). */
  give(item: T): void {
    if (this.#items.length >= this.max) return;
    this.#items.push(item);
    if (this.#timer === undefined) this.#arm();
  }

  /** Drop what was held all through the interval since the last trim; go on trimming while anything is held. */
  trim(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#low > 0) this.#items.splice(0, this.#low);
    this.#low = this.#items.length;
    if (this.#items.length > 0) this.#arm();
  }

  /** The next trim, `decayMs` from now; the timer keeps no process alive. */
  #arm(): void {
    if (this.decayMs === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => this.trim(), this.decayMs);
    this.#timer.unref?.();
  }
}
