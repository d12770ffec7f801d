import type { ComponentContext, Held } from './context.js';

/**
 * A host resource handed to the component (a descriptor, a stream, a
 * pollable…). It counts against the process's resource bound from birth
 * until jco drops its handle (`Symbol.dispose`) or the process ends.
 */
export abstract class HostResource implements Held {
  readonly ctx: ComponentContext;
  #closed = false;

  /** Errors: `insufficient-memory` (the process holds too many resources). */
  constructor(ctx: ComponentContext) {
    this.ctx = ctx;
    ctx.acquire(this);
  }

  /** Whether it was closed (dropped, or the process ended). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Release what the resource holds, once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
  }

  /** What closing releases; nothing by default. */
  protected onClose(): void {}

  /** jco calls this when the component drops its own handle. */
  [Symbol.dispose](): void {
    this.ctx.release(this);
    this.close();
  }
}
