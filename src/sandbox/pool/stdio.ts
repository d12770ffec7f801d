/**
 * A pooled process's stdio, on the main thread's side: output chunks
 * from the worker, handed to a Readable, a callback or a collector, each
 * acknowledged once its consumer has taken it (so the guest never runs
 * more than a window ahead of a slow reader); stdin written into the
 * shared ring the guest reads.
 */
import { Readable, Writable } from 'node:stream';
import { Stdio, stdinRingBytes } from './protocol.js';

/** `Atomics.waitAsync` (ES2024; in Node since 16), which the ES2023 lib does not declare. */
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}

/** Where a process's output goes on the main thread. */
export type OutputMode = { readonly kind: 'pipe' } | { readonly kind: 'sink'; readonly sink: (chunk: Uint8Array) => void } | { readonly kind: 'collect' };

/** One output stream (stdout or stderr) of a pooled process. */
export class OutputPipe {
  /** The stream's Readable; ended when the process ends. Empty unless the mode is `pipe`. */
  readonly readable: Readable;
  readonly #words: Int32Array;
  readonly #slot: number;
  readonly #wake: () => void;
  readonly #mode: OutputMode;
  readonly #chunks: Uint8Array[] = [];
  #held = 0;

  constructor(fd: 1 | 2, io: SharedArrayBuffer, mode: OutputMode, wake: () => void) {
    this.#words = new Int32Array(io, 0, Stdio.words);
    this.#slot = Stdio.unacked + fd - 1;
    this.#wake = wake;
    this.#mode = mode;
    this.readable = new Readable({
      read: () => {
        const held = this.#held;
        this.#held = 0;
        if (held > 0) this.#ack(held);
      },
    });
    if (mode.kind !== 'pipe') this.readable.push(null);
  }

  /** A chunk from the worker. */
  deliver(chunk: Uint8Array): void {
    switch (this.#mode.kind) {
      case 'collect':
        this.#chunks.push(chunk);
        this.#ack(chunk.length);
        return;
      case 'sink':
        this.#ack(chunk.length);
        this.#mode.sink(chunk);
        return;
      case 'pipe':
        if (this.readable.push(chunk)) this.#ack(chunk.length);
        else this.#held += chunk.length;
    }
  }

  /** The process ended: no more chunks. */
  end(): void {
    if (this.#mode.kind === 'pipe') this.readable.push(null);
  }

  /** What was collected (mode `collect`). */
  collected(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0]!;
    return Buffer.concat(this.#chunks);
  }

  #ack(bytes: number): void {
    Atomics.sub(this.#words, this.#slot, bytes);
    this.#wake();
  }
}

/**
 * stdin of a pooled process, as a Writable into the shared ring. A write
 * waits while the ring is full; `end()` is EOF to the guest. Writes after
 * the process ended are dropped.
 */
export class StdinPipe {
  readonly writable: Writable;
  readonly #words: Int32Array;
  readonly #ring: Uint8Array;
  readonly #wake: () => void;
  #writeAt = 0;
  #gone = false;

  constructor(io: SharedArrayBuffer, wake: () => void) {
    this.#words = new Int32Array(io, 0, Stdio.words);
    this.#ring = new Uint8Array(io, Stdio.words * 4, stdinRingBytes);
    this.#wake = wake;
    this.writable = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.#write(chunk).then(() => callback(), callback);
      },
      final: (callback) => {
        Atomics.store(this.#words, Stdio.stdinClosed, 1);
        this.#wake();
        callback();
      },
    });
  }

  /** The process ended: stop waiting for room. */
  gone(): void {
    this.#gone = true;
    Atomics.notify(this.#words, Stdio.stdinAvail);
  }

  async #write(bytes: Uint8Array): Promise<void> {
    const words = this.#words;
    let at = 0;
    while (at < bytes.length && !this.#gone) {
      const avail = Atomics.load(words, Stdio.stdinAvail);
      const room = stdinRingBytes - avail;
      if (room === 0) {
        const waited = (Atomics as unknown as AtomicsWaitAsync).waitAsync(words, Stdio.stdinAvail, avail, 1000);
        if (waited.async) await waited.value;
        continue;
      }
      const n = Math.min(room, bytes.length - at);
      const first = Math.min(n, stdinRingBytes - this.#writeAt);
      this.#ring.set(bytes.subarray(at, at + first), this.#writeAt);
      if (n > first) this.#ring.set(bytes.subarray(at + first, at + n), 0);
      this.#writeAt = (this.#writeAt + n) % stdinRingBytes;
      at += n;
      Atomics.add(words, Stdio.stdinAvail, n);
      this.#wake();
    }
  }
}
