import type { DeviceNode, FileNode, Node } from '../vfs/index.js';
import type { StreamSink, StreamSource } from '../wasi/descriptor.js';
import type { ComponentContext, Result } from './context.js';
import { componentError, type ErrorCode } from './error-code.js';
import { HostResource } from './resource.js';

/** Most bytes one `read` or `blocking-read` returns, whatever the guest asks: reads may be short. */
export const maxReadBytes = 1 << 20;
/** What `check-write` permits at once. */
export const writePermit = 1 << 20;

/** `wasi:io/streams` stream-error, as jco lowers it. */
export type StreamError = { tag: 'last-operation-failed'; val: IoError } | { tag: 'closed' };

/** `wasi:io/error.error`: what failed, with its filesystem error-code when it has one. */
export class IoError extends HostResource {
  readonly code: ErrorCode;

  constructor(ctx: ComponentContext, code: ErrorCode) {
    super(ctx);
    this.code = code;
  }

  toDebugString(): string {
    return this.ctx.call(() => this.code);
  }
}

/** `wasi:io/poll.pollable`: ready now, or at a monotonic instant (performance.now() ms). */
export class Pollable extends HostResource {
  readonly at: number;

  constructor(ctx: ComponentContext, at = -Infinity) {
    super(ctx);
    this.at = at;
  }

  ready(): boolean {
    return this.ctx.call(() => performance.now() >= this.at);
  }

  block(): void {
    this.ctx.callPoll(() => sleepUntil(this.ctx, this.at));
  }
}

/** Most pollables one `poll` takes; more ends the process (the list is the guest's to bound). */
export const maxPollables = 65536;

/**
 * `wasi:io/poll.poll`: the indices of the ready pollables, waiting until
 * the earliest is ready. Streams here are always ready (files, collected
 * output, stdin that blocks in its read), so only clocks wait.
 */
export function poll(ctx: ComponentContext, pollables: readonly Pollable[]): Uint32Array {
  return ctx.callPoll(() => {
    if (pollables.length === 0 || pollables.length > maxPollables) {
      throw new RangeError(`poll: ${pollables.length} pollables (1 to ${maxPollables})`);
    }
    let earliest = Infinity;
    for (const p of pollables) earliest = Math.min(earliest, p.at);
    sleepUntil(ctx, earliest);
    const now = performance.now();
    const ready: number[] = [];
    pollables.forEach((p, i) => {
      if (p.at <= now) ready.push(i);
    });
    return Uint32Array.from(ready);
  });
}

// Atomics.wait needs a shared cell nobody ever notifies: a pure timed sleep.
let sleepCell: Int32Array | undefined;

/** Sleep until performance.now() reaches `at`, never past the process's deadline. */
function sleepUntil(ctx: ComponentContext, at: number): void {
  sleepCell ??= new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const now = performance.now();
    if (now >= at) return;
    if (now > ctx.deadline) ctx.checkDeadline();
    Atomics.wait(sleepCell, 0, 0, Math.max(0, Math.min(at, ctx.deadline + 1) - now));
  }
}

/** Where an input stream's bytes come from. */
type Input = { kind: 'source'; source: StreamSource | undefined } | { kind: 'file'; node: FileNode; position: number } | { kind: 'device'; node: DeviceNode };

/** Returned inside a stream call for `closed` (the end of the input). */
const closed = Symbol('closed');

/**
 * A stream call as a `result<T, stream-error>`: an error-code becomes
 * `last-operation-failed` with an {@link IoError} carrying it, the end of
 * input becomes `closed`; anything else ends the process (the context's rule).
 */
function streamResult<T>(ctx: ComponentContext, fn: () => T | typeof closed): Result<T, StreamError> {
  const r = ctx.result<T | typeof closed, StreamError>(fn, (code) => ({ tag: 'last-operation-failed', val: new IoError(ctx, code) }));
  if (r.tag === 'ok' && r.val === closed) return { tag: 'err', val: { tag: 'closed' } };
  return r as Result<T, StreamError>;
}

/** `wasi:io/streams.input-stream`: stdin, a file from an offset (`read-via-stream`), or a device. */
export class InputStream extends HostResource {
  readonly #input: Input;
  #closed = false;

  constructor(ctx: ComponentContext, input: Input) {
    super(ctx);
    this.#input = input;
    if (input.kind === 'file') input.node.retain();
  }

  protected override onClose(): void {
    if (this.#input.kind === 'file') this.#input.node.release();
  }

  /** Go on with the same file in a rebased tree, at the same position. */
  rebase(counterpart: (node: Node) => Node | undefined): void {
    const io = this.#input;
    if (!this.closed && io.kind === 'file') rebaseFile(io, counterpart);
  }

  read(len: bigint): Result<Uint8Array, StreamError> {
    return streamResult(this.ctx, () => this.#read(len));
  }

  blockingRead(len: bigint): Result<Uint8Array, StreamError> {
    return this.read(len);
  }

  skip(len: bigint): Result<bigint, StreamError> {
    return streamResult(this.ctx, () => {
      const bytes = this.#read(len);
      return bytes === closed ? closed : BigInt(bytes.length);
    });
  }

  blockingSkip(len: bigint): Result<bigint, StreamError> {
    return this.skip(len);
  }

  subscribe(): Pollable {
    return this.ctx.call(() => new Pollable(this.ctx));
  }

  /** {@link read} for `splice`, inside its caller's result. */
  readForSplice(len: bigint): Uint8Array | typeof closed {
    return this.#read(len);
  }

  /** Up to `len` bytes (at most {@link maxReadBytes}); at the end, the stream is closed. */
  #read(len: bigint): Uint8Array | typeof closed {
    if (this.#closed) return closed;
    const n = Number(len > BigInt(maxReadBytes) ? BigInt(maxReadBytes) : len < 0n ? 0n : len);
    const buf = new Uint8Array(n);
    if (n === 0) return buf;
    const input = this.#input;
    let got: number;
    if (input.kind === 'source') {
      if (input.source === undefined) throw componentError('bad-descriptor');
      got = input.source.read(buf, 0, n);
    } else if (input.kind === 'file') {
      got = input.node.read(buf, 0, n, input.position);
      input.position += got;
    } else {
      got = input.node.read(buf, 0, n);
    }
    if (got === 0) {
      this.#closed = true;
      return closed;
    }
    return buf.subarray(0, got);
  }
}

/** Where an output stream's bytes go. */
type Output =
  | { kind: 'sink'; sink: StreamSink | undefined }
  | { kind: 'file'; node: FileNode; position: number; append: boolean }
  | { kind: 'device'; node: DeviceNode };

/** `wasi:io/streams.output-stream`: stdout, stderr, a file (`write-via-stream`, `append-via-stream`), or a device. */
export class OutputStream extends HostResource {
  readonly #output: Output;

  constructor(ctx: ComponentContext, output: Output) {
    super(ctx);
    this.#output = output;
    if (output.kind === 'file') output.node.retain();
  }

  protected override onClose(): void {
    if (this.#output.kind === 'file') this.#output.node.release();
  }

  /** Go on with the same file in a rebased tree, at the same position. */
  rebase(counterpart: (node: Node) => Node | undefined): void {
    const io = this.#output;
    if (!this.closed && io.kind === 'file') rebaseFile(io, counterpart);
  }

  checkWrite(): Result<bigint, StreamError> {
    return streamResult(this.ctx, () => BigInt(writePermit));
  }

  write(contents: Uint8Array): Result<undefined, StreamError> {
    return streamResult(this.ctx, () => this.#write(contents));
  }

  blockingWriteAndFlush(contents: Uint8Array): Result<undefined, StreamError> {
    return this.write(contents);
  }

  flush(): Result<undefined, StreamError> {
    return streamResult(this.ctx, () => undefined);
  }

  blockingFlush(): Result<undefined, StreamError> {
    return this.flush();
  }

  writeZeroes(len: bigint): Result<undefined, StreamError> {
    return streamResult(this.ctx, () => this.#write(new Uint8Array(Number(len > BigInt(writePermit) ? BigInt(writePermit) : len < 0n ? 0n : len))));
  }

  blockingWriteZeroesAndFlush(len: bigint): Result<undefined, StreamError> {
    return this.writeZeroes(len);
  }

  splice(src: InputStream, len: bigint): Result<bigint, StreamError> {
    return streamResult(this.ctx, () => {
      const bytes = src.readForSplice(len);
      if (bytes === closed) return closed;
      this.#write(bytes);
      return BigInt(bytes.length);
    });
  }

  blockingSplice(src: InputStream, len: bigint): Result<bigint, StreamError> {
    return this.splice(src, len);
  }

  subscribe(): Pollable {
    return this.ctx.call(() => new Pollable(this.ctx));
  }

  #write(contents: Uint8Array): undefined {
    const out = this.#output;
    if (out.kind === 'sink') {
      if (out.sink === undefined) throw componentError('bad-descriptor');
      out.sink.write(contents, 0, contents.length);
    } else if (out.kind === 'file') {
      if (out.append) out.position = out.node.size;
      out.position += out.node.write(contents, 0, contents.length, out.position);
    } else {
      out.node.write(contents, 0, contents.length);
    }
    return undefined;
  }
}

/** Point a stream's file at its counterpart in a rebased tree (retained before the old one is released); none: it stays. */
function rebaseFile(io: { node: FileNode }, counterpart: (node: Node) => Node | undefined): void {
  const next = counterpart(io.node);
  if (next?.type !== 'file') return;
  next.retain();
  const old = io.node;
  io.node = next as FileNode;
  old.release();
}
