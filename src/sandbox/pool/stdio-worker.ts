/**
 * A pooled process's stdio, on the worker's side: output posted to the
 * main thread in chunks, never more than a window ahead of its consumer;
 * stdin read from bytes given at spawn, or from a ring the main thread
 * fills.
 */
import type { StreamSink, StreamSource } from '../../wasi/index.js';
import type { SyscallGate } from './gate.js';
import { outputWindowBytes, Stdio, stdinRingBytes, type FromWorker } from './protocol.js';
import { toSource } from '../guest-run.js';

/** A process's output passed its cap (`maxOutputBytes`). */
export class OutputLimitReached extends Error {
  constructor(
    readonly stream: string,
    readonly limit: number,
  ) {
    super(`${stream} exceeded ${limit} bytes`);
    this.name = 'OutputLimitReached';
  }
}

/**
 * stdout or stderr of a pooled process. Each write is posted as one
 * chunk; when more than {@link outputWindowBytes} are unread by the
 * consumer, the write waits (serving fs requests, honouring kill and
 * deadline) until they are read. With a cap, the bytes up to it are
 * posted and the write that passes it ends the process.
 */
export class WorkerOutput implements StreamSink {
  readonly #words: Int32Array;
  readonly #slot: number;
  #bytes = 0;

  constructor(
    readonly pid: number,
    readonly fd: 1 | 2,
    io: SharedArrayBuffer,
    readonly gate: SyscallGate,
    readonly post: (message: FromWorker, transfer: ArrayBuffer[]) => void,
    /** Most bytes in all; 0 for no cap. */
    readonly limit: number,
  ) {
    this.#words = new Int32Array(io, 0, Stdio.words);
    this.#slot = Stdio.unacked + fd - 1;
  }

  write(src: Uint8Array, offset: number, length: number): void {
    if (length === 0) return;
    const over = this.limit > 0 && this.#bytes + length > this.limit;
    const n = over ? this.limit - this.#bytes : length;
    if (n > 0) {
      const chunk = src.slice(offset, offset + n);
      this.#bytes += n;
      Atomics.add(this.#words, this.#slot, n);
      this.post({ t: 'out', pid: this.pid, fd: this.fd, chunk }, [chunk.buffer]);
    }
    if (over) throw new OutputLimitReached(this.fd === 1 ? 'stdout' : 'stderr', this.limit);
    const words = this.#words;
    const slot = this.#slot;
    if (Atomics.load(words, slot) > outputWindowBytes) this.gate.waitUntil(() => Atomics.load(words, slot) <= outputWindowBytes);
  }
}

/** stdin from bytes given at spawn: read through, then EOF (as in-thread runs read it). */
export function bytesStdin(bytes: Uint8Array): StreamSource {
  return toSource(bytes);
}

/**
 * stdin from the ring the main thread fills: a read waits for bytes or
 * the writer's end (serving fs requests, honouring kill and deadline).
 */
export function ringStdin(io: SharedArrayBuffer, gate: SyscallGate): StreamSource {
  const words = new Int32Array(io, 0, Stdio.words);
  const ring = new Uint8Array(io, Stdio.words * 4, stdinRingBytes);
  let readAt = 0;
  const ready = () => Atomics.load(words, Stdio.stdinAvail) > 0 || Atomics.load(words, Stdio.stdinClosed) !== 0;
  return {
    read(dst, offset, length) {
      if (length === 0) return 0;
      gate.waitUntil(ready);
      // The writer adds bytes before it closes, so bytes seen after the close are all there are.
      const avail = Atomics.load(words, Stdio.stdinAvail);
      const n = Math.min(length, avail);
      const first = Math.min(n, stdinRingBytes - readAt);
      dst.set(ring.subarray(readAt, readAt + first), offset);
      if (n > first) dst.set(ring.subarray(0, n - first), offset + first);
      readAt = (readAt + n) % stdinRingBytes;
      if (n > 0) {
        Atomics.sub(words, Stdio.stdinAvail, n);
        Atomics.notify(words, Stdio.stdinAvail);
      }
      return n;
    },
  };
}
