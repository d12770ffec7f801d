import type { DeviceNode, DirNode, FileNode, Node } from '../vfs/index.js';
import type { StreamSink } from '../wasi/descriptor.js';
import { escapesBase } from '../wasi/path.js';
import type { ComponentContext, Result } from './context.js';
import { componentError, type ErrorCode } from './error-code.js';
import { DirectoryEntryStream } from './directory-stream.js';
import { descriptorStat, hashOf, maxReadBytes, timeChange, typeOf, type DescriptorFlags, type DescriptorStat, type DescriptorType, type NewTimestamp } from './filesystem-values.js';
import { HostResource } from './resource.js';
import { InputStream, IoError, OutputStream } from './streams.js';

export { DirectoryEntryStream } from './directory-stream.js';
export type { Datetime, DescriptorFlags, DescriptorStat, DescriptorType, NewTimestamp } from './filesystem-values.js';

/** `path`, if it stays beneath its descriptor (WASI's rule, as preview1's). Errors: `not-permitted`. */
function beneath(path: string): string {
  if (escapesBase(path)) throw componentError('not-permitted');
  return path;
}

/** What a descriptor refers to. */
type Target = { kind: 'directory'; node: DirNode } | { kind: 'file'; node: FileNode } | { kind: 'device'; node: DeviceNode };

/**
 * `wasi:filesystem/types.descriptor`: an open directory, regular file or
 * device of the process's namespace, with the flags it was opened with.
 *
 * A path argument follows WASI's rules, as in preview1: absolute, or
 * climbing above the descriptor with `..`, fails with `not-permitted`
 * before anything is resolved; links in the tree resolve inside the
 * process root (the namespace's rule). A directory passes its
 * `mutate-directory` on to what is opened from it (as wasmtime does); a
 * file is readable or writable as its flags say (`bad-descriptor`
 * otherwise). Every error becomes an `error-code` in the context, once.
 * https://github.com/WebAssembly/wasi-filesystem/blob/main/wit/types.wit
 */
export class Descriptor extends HostResource {
  #target: Target;
  readonly #flags: DescriptorFlags;

  constructor(ctx: ComponentContext, target: Target, flags: DescriptorFlags) {
    super(ctx);
    this.#target = target;
    this.#flags = flags;
    if (target.kind === 'file') target.node.retain();
  }

  protected override onClose(): void {
    if (this.#target.kind === 'file') this.#target.node.release();
  }

  /** Refer to the same file or directory in a rebased tree. */
  rebase(counterpart: (node: Node) => Node | undefined): void {
    const t = this.#target;
    if (this.closed || t.kind === 'device') return;
    const next = counterpart(t.node);
    if (t.kind === 'directory' && next?.type === 'directory') this.#target = { kind: 'directory', node: next };
    if (t.kind === 'file' && next?.type === 'file') {
      next.retain();
      this.#target = { kind: 'file', node: next };
      t.node.release();
    }
  }

  /** The node, for `is-same-object` and `link-at`/`rename-at` targets. */
  get node(): Node {
    return this.#target.node;
  }

  #dir(): DirNode {
    if (this.#target.kind !== 'directory') throw componentError('not-directory');
    return this.#target.node;
  }

  #file(): FileNode {
    if (this.#target.kind === 'directory') throw componentError('is-directory');
    if (this.#target.kind !== 'file') throw componentError('invalid-seek');
    return this.#target.node;
  }

  #mutating(): DirNode {
    const dir = this.#dir();
    if (this.#flags.mutateDirectory !== true) throw componentError('not-permitted');
    return dir;
  }

  #r<T>(fn: () => T): Result<T, ErrorCode> {
    return this.ctx.result(fn);
  }

  readViaStream(offset: bigint): Result<InputStream, ErrorCode> {
    return this.#r(() => {
      if (this.#flags.read !== true) throw componentError('bad-descriptor');
      const t = this.#target;
      if (t.kind === 'device') {
        if (t.node.device === 'stdin') return new InputStream(this.ctx, { kind: 'source', source: this.ctx.options.stdin });
        return new InputStream(this.ctx, { kind: 'device', node: t.node });
      }
      return new InputStream(this.ctx, { kind: 'file', node: this.#file(), position: Number(offset) });
    });
  }

  writeViaStream(offset: bigint): Result<OutputStream, ErrorCode> {
    return this.#r(() => this.#output(Number(offset), false));
  }

  appendViaStream(): Result<OutputStream, ErrorCode> {
    return this.#r(() => this.#output(0, true));
  }

  #output(position: number, append: boolean): OutputStream {
    if (this.#flags.write !== true) throw componentError('bad-descriptor');
    const t = this.#target;
    if (t.kind === 'device') {
      const sink = stdioSink(this.ctx, t.node);
      return new OutputStream(this.ctx, sink === null ? { kind: 'device', node: t.node } : { kind: 'sink', sink });
    }
    return new OutputStream(this.ctx, { kind: 'file', node: this.#file(), position, append });
  }

  advise(_offset: bigint, _length: bigint, _advice: string): Result<undefined, ErrorCode> {
    return this.#r(() => {
      this.#file();
      return undefined;
    });
  }

  syncData(): Result<undefined, ErrorCode> {
    return this.#r(() => undefined);
  }

  sync(): Result<undefined, ErrorCode> {
    return this.#r(() => undefined);
  }

  getFlags(): Result<DescriptorFlags, ErrorCode> {
    return this.#r(() => ({ ...this.#flags }));
  }

  getType(): Result<DescriptorType, ErrorCode> {
    return this.#r(() => typeOf[this.#target.node.type]);
  }

  setSize(size: bigint): Result<undefined, ErrorCode> {
    return this.#r(() => {
      const file = this.#file();
      // Linux's ftruncate on an fd not open for writing, as preview1 answers.
      if (this.#flags.write !== true) throw componentError('invalid');
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw componentError('file-too-large');
      file.truncate(Number(size));
      return undefined;
    });
  }

  setTimes(atime: NewTimestamp, mtime: NewTimestamp): Result<undefined, ErrorCode> {
    return this.#r(() => {
      this.#target.node.setTimes(timeChange(atime), timeChange(mtime));
      return undefined;
    });
  }

  /** At most {@link maxReadBytes} per call; `true` with the bytes at the end of the file. */
  read(length: bigint, offset: bigint): Result<[Uint8Array, boolean], ErrorCode> {
    return this.#r((): [Uint8Array, boolean] => {
      if (this.#flags.read !== true) throw componentError('bad-descriptor');
      const t = this.#target;
      const n = Number(length > BigInt(maxReadBytes) ? BigInt(maxReadBytes) : length);
      const buf = new Uint8Array(n);
      if (t.kind === 'device') {
        const source = t.node.device === 'stdin' ? this.ctx.options.stdin : null;
        if (source === undefined) throw componentError('bad-descriptor');
        const got = source === null ? t.node.read(buf, 0, n) : source.read(buf, 0, n);
        // A device has no size: reading nothing (/dev/null, stdin at its end) is its end.
        return [buf.subarray(0, got), got === 0 && n > 0];
      }
      const file = this.#file();
      const got = offset >= BigInt(file.size) ? 0 : file.read(buf, 0, n, Number(offset));
      return [buf.subarray(0, got), got < n];
    });
  }

  write(buffer: Uint8Array, offset: bigint): Result<bigint, ErrorCode> {
    return this.#r(() => {
      if (this.#flags.write !== true) throw componentError('bad-descriptor');
      const t = this.#target;
      if (t.kind === 'device') {
        const sink = stdioSink(this.ctx, t.node);
        if (sink === undefined) throw componentError('bad-descriptor');
        if (sink === null) return BigInt(t.node.write(buffer, 0, buffer.length));
        sink.write(buffer, 0, buffer.length);
        return BigInt(buffer.length);
      }
      if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw componentError('file-too-large');
      return BigInt(this.#file().write(buffer, 0, buffer.length, Number(offset)));
    });
  }

  readDirectory(): Result<DirectoryEntryStream, ErrorCode> {
    return this.#r(() => new DirectoryEntryStream(this.ctx, this.#dir()));
  }

  createDirectoryAt(path: string): Result<undefined, ErrorCode> {
    return this.#r(() => {
      this.ctx.namespace.mkdir(this.#mutating(), beneath(path));
      return undefined;
    });
  }

  stat(): Result<DescriptorStat, ErrorCode> {
    return this.#r(() => descriptorStat(this.#target.node.stat()));
  }

  statAt(flags: { symlinkFollow?: boolean }, path: string): Result<DescriptorStat, ErrorCode> {
    return this.#r(() => descriptorStat(this.ctx.namespace.stat(this.#dir(), beneath(path), flags.symlinkFollow === true)));
  }

  setTimesAt(flags: { symlinkFollow?: boolean }, path: string, atime: NewTimestamp, mtime: NewTimestamp): Result<undefined, ErrorCode> {
    return this.#r(() => {
      const dir = this.#dir();
      this.ctx.namespace.setTimes(dir, beneath(path), flags.symlinkFollow === true, timeChange(atime), timeChange(mtime));
      return undefined;
    });
  }

  linkAt(flags: { symlinkFollow?: boolean }, oldPath: string, newDescriptor: Descriptor, newPath: string): Result<undefined, ErrorCode> {
    return this.#r(() => {
      const from = this.#mutating();
      const to = newDescriptor.#mutating();
      this.ctx.namespace.link(from, beneath(oldPath), flags.symlinkFollow === true, to, beneath(newPath));
      return undefined;
    });
  }

  openAt(flags: { symlinkFollow?: boolean }, path: string, open: { create?: boolean; directory?: boolean; exclusive?: boolean; truncate?: boolean }, fdFlags: DescriptorFlags): Result<Descriptor, ErrorCode> {
    return this.#r(() => {
      const dir = this.#dir();
      beneath(path);
      const mutate = this.#flags.mutateDirectory === true;
      if (!mutate && (fdFlags.write === true || fdFlags.mutateDirectory === true || open.create === true || open.truncate === true)) {
        throw componentError('not-permitted');
      }
      const { node } = this.ctx.namespace.open(dir, path, {
        follow: flags.symlinkFollow === true,
        create: open.create === true,
        exclusive: open.exclusive === true,
        directory: open.directory === true,
      });
      if (node.type === 'directory') {
        if (open.truncate === true || fdFlags.write === true) throw componentError('is-directory');
        return new Descriptor(this.ctx, { kind: 'directory', node }, { read: true, mutateDirectory: mutate });
      }
      const opened = { read: fdFlags.read === true, write: fdFlags.write === true };
      if (node.type === 'file') {
        if (open.truncate === true) node.truncate(0);
        return new Descriptor(this.ctx, { kind: 'file', node }, opened);
      }
      if (node.type === 'character-device') return new Descriptor(this.ctx, { kind: 'device', node }, opened);
      throw componentError('loop');
    });
  }

  readlinkAt(path: string): Result<string, ErrorCode> {
    return this.#r(() => this.ctx.namespace.readlink(this.#dir(), beneath(path)));
  }

  removeDirectoryAt(path: string): Result<undefined, ErrorCode> {
    return this.#r(() => {
      this.ctx.namespace.rmdir(this.#mutating(), beneath(path));
      return undefined;
    });
  }

  renameAt(oldPath: string, newDescriptor: Descriptor, newPath: string): Result<undefined, ErrorCode> {
    return this.#r(() => {
      const from = this.#mutating();
      const to = newDescriptor.#mutating();
      this.ctx.namespace.rename(from, beneath(oldPath), to, beneath(newPath));
      return undefined;
    });
  }

  /** A relative target may climb (it resolves inside the process root); an absolute one is `not-permitted`. */
  symlinkAt(oldPath: string, newPath: string): Result<undefined, ErrorCode> {
    return this.#r(() => {
      const dir = this.#mutating();
      if (oldPath.charCodeAt(0) === 47) throw componentError('not-permitted');
      this.ctx.namespace.symlink(oldPath, dir, beneath(newPath));
      return undefined;
    });
  }

  unlinkFileAt(path: string): Result<undefined, ErrorCode> {
    return this.#r(() => {
      this.ctx.namespace.unlink(this.#mutating(), beneath(path));
      return undefined;
    });
  }

  isSameObject(other: Descriptor): boolean {
    return this.ctx.call(() => other.#target.node === this.#target.node);
  }

  /** The VFS's (device, inode): stable for the node, nothing of the host. */
  metadataHash(): Result<{ lower: bigint; upper: bigint }, ErrorCode> {
    return this.#r(() => hashOf(this.#target.node.stat()));
  }

  metadataHashAt(flags: { symlinkFollow?: boolean }, path: string): Result<{ lower: bigint; upper: bigint }, ErrorCode> {
    return this.#r(() => hashOf(this.ctx.namespace.stat(this.#dir(), beneath(path), flags.symlinkFollow === true)));
  }
}

/**
 * `/dev/stdout` and `/dev/stderr` write to the process's own streams, as
 * Linux's `/proc/self/fd/N` links do (the VFS has no process: its stdio
 * devices answer ENXIO); null for any other device, undefined for a
 * stream the process was not given.
 */
function stdioSink(ctx: ComponentContext, node: DeviceNode): StreamSink | undefined | null {
  if (node.device === 'stdout') return ctx.options.stdout;
  if (node.device === 'stderr') return ctx.options.stderr;
  return null;
}



/** `filesystem-error-code`: the error-code a stream error carries, if it came from the filesystem. */
export function filesystemErrorCode(ctx: ComponentContext, error: IoError): ErrorCode | undefined {
  return ctx.call(() => error.code);
}
