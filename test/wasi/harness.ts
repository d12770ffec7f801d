/**
 * Drive the WASI preview1 host directly, without a guest module: a fresh
 * tmpfs, namespace, host and one page of guest memory per case, helpers to
 * lay out arguments in that memory and read results back, and the table
 * runner every test file in this directory uses.
 *
 * A case is (function, name, setup, call, expected errno, effect). The
 * expected errnos of each function are listed in {@link requiredOutcomes};
 * {@link checkCoverage} fails when a table lacks one of them.
 */
import { describe, expect, it } from 'vitest';
import { Namespace, Tmpfs, type DirNode, type FileNode, type Node, type TmpfsLimits } from '../../src/vfs/index.js';
import {
  directoryRights,
  EventType,
  fileRights,
  Layout,
  LookupFlags,
  OFlags,
  Rights,
  type WasiErrnoName,
} from '../../src/wasi/abi.js';
import { ProcExit, WasiHost, wasiErrnoName, wasiSignatures, type WasiHostOptions } from '../../src/wasi/index.js';

export { directoryRights, fileRights, LookupFlags, OFlags, Rights as R };

/** The 46 functions, by spec group (one source file and one test file each). */
export const groups = {
  args: ['args_get', 'args_sizes_get', 'environ_get', 'environ_sizes_get'],
  clock: ['clock_res_get', 'clock_time_get'],
  fd: [
    'fd_advise', 'fd_allocate', 'fd_close', 'fd_datasync', 'fd_fdstat_get', 'fd_fdstat_set_flags',
    'fd_fdstat_set_rights', 'fd_filestat_get', 'fd_filestat_set_size', 'fd_filestat_set_times', 'fd_pread',
    'fd_prestat_get', 'fd_prestat_dir_name', 'fd_pwrite', 'fd_read', 'fd_readdir', 'fd_renumber', 'fd_seek',
    'fd_sync', 'fd_tell', 'fd_write',
  ],
  path: [
    'path_create_directory', 'path_filestat_get', 'path_filestat_set_times', 'path_link', 'path_open',
    'path_readlink', 'path_remove_directory', 'path_rename', 'path_symlink', 'path_unlink_file',
  ],
  poll: ['poll_oneoff'],
  proc: ['proc_exit', 'proc_raise', 'sched_yield'],
  random: ['random_get'],
  sock: ['sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown'],
} as const;
export type Group = keyof typeof groups;
export type WasiName = (typeof groups)[Group][number];

/** What a case expects: an errno, or that the call ends the process (ProcExit). */
export type Outcome = WasiErrnoName | 'exit';

/**
 * The functions own errors each table must show, besides SUCCESS, EBADF (for
 * a function taking an fd) and EFAULT (for one dereferencing a pointer).
 */
const ownErrors: Readonly<Record<WasiName, readonly Outcome[]>> = {
  args_get: [],
  args_sizes_get: [],
  environ_get: [],
  environ_sizes_get: [],
  clock_res_get: ['EINVAL'],
  clock_time_get: ['EINVAL'],
  fd_advise: ['ENOTCAPABLE', 'EINVAL'],
  fd_allocate: ['ENOTCAPABLE', 'EISDIR', 'ESPIPE', 'EINVAL', 'EFBIG', 'ENOSPC'],
  fd_close: [],
  fd_datasync: ['ENOTCAPABLE'],
  fd_fdstat_get: [],
  fd_fdstat_set_flags: ['ENOTCAPABLE', 'EINVAL'],
  fd_fdstat_set_rights: ['ENOTCAPABLE'],
  fd_filestat_get: ['ENOTCAPABLE'],
  fd_filestat_set_size: ['EISDIR', 'EINVAL', 'EFBIG', 'ENOSPC'],
  fd_filestat_set_times: ['ENOTCAPABLE', 'EINVAL'],
  fd_pread: ['ENOTCAPABLE', 'EISDIR', 'ESPIPE', 'EINVAL'],
  fd_prestat_get: [],
  fd_prestat_dir_name: ['ENAMETOOLONG'],
  fd_pwrite: ['ENOTCAPABLE', 'ESPIPE', 'EINVAL', 'EFBIG', 'ENOSPC'],
  fd_read: ['ENOTCAPABLE', 'EISDIR'],
  fd_readdir: ['ENOTCAPABLE', 'ENOTDIR'],
  fd_renumber: [],
  fd_seek: ['ENOTCAPABLE', 'ESPIPE', 'EINVAL'],
  fd_sync: ['ENOTCAPABLE'],
  fd_tell: ['ENOTCAPABLE', 'ESPIPE'],
  fd_write: ['ENOTCAPABLE', 'ENOSPC'],
  path_create_directory: ['ENOTDIR', 'ENOTCAPABLE', 'EILSEQ', 'EPERM', 'EEXIST', 'ENOENT', 'ENAMETOOLONG', 'ENOSPC'],
  path_filestat_get: ['ENOTDIR', 'ENOTCAPABLE', 'EILSEQ', 'EPERM', 'ENOENT', 'ELOOP', 'ENAMETOOLONG'],
  path_filestat_set_times: ['ENOTCAPABLE', 'EINVAL', 'EPERM', 'ENOENT'],
  path_link: ['ENOTCAPABLE', 'EEXIST', 'ENOENT', 'EPERM'],
  path_open: [
    'ENOTDIR', 'ENOTCAPABLE', 'EILSEQ', 'EINVAL', 'EPERM', 'ENOENT', 'EEXIST', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'EMFILE',
    'ENOSPC',
  ],
  path_readlink: ['ENOTCAPABLE', 'EPERM', 'EINVAL', 'ENOENT'],
  path_remove_directory: ['ENOTCAPABLE', 'EPERM', 'ENOENT', 'ENOTDIR', 'ENOTEMPTY', 'EINVAL'],
  path_rename: ['ENOTCAPABLE', 'EPERM', 'ENOENT', 'EISDIR', 'ENOTDIR', 'ENOTEMPTY', 'EINVAL'],
  path_symlink: ['ENOTCAPABLE', 'EPERM', 'EEXIST', 'ENOENT', 'ENOSPC'],
  path_unlink_file: ['ENOTCAPABLE', 'EPERM', 'ENOENT', 'EISDIR', 'ENOTDIR'],
  // EBADF here is the error of an event, not of the call.
  poll_oneoff: ['EINVAL', 'EBADF'],
  proc_exit: ['exit'],
  proc_raise: ['exit', 'EINVAL'],
  sched_yield: [],
  random_get: [],
  sock_accept: ['ENOTSOCK'],
  sock_recv: ['ENOTSOCK'],
  sock_send: ['ENOTSOCK'],
  sock_shutdown: ['ENOTSOCK'],
};

/** Functions with no guest pointer to dereference (sockets check the fd, then answer ENOTSOCK). */
const noPointer = new Set<WasiName>([
  'fd_advise', 'fd_allocate', 'fd_close', 'fd_datasync', 'fd_fdstat_set_flags', 'fd_fdstat_set_rights',
  'fd_filestat_set_size', 'fd_filestat_set_times', 'fd_renumber', 'fd_sync', 'proc_exit', 'proc_raise', 'sched_yield',
  'sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown',
]);

/** Functions that never succeed (proc_exit ends the process; no socket exists to succeed on). */
const neverSucceeds = new Set<WasiName>(['proc_exit', 'sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown']);

/** Does `fn` take an fd parameter (by its signature)? */
export function takesFd(fn: WasiName): boolean {
  return (wasiSignatures[fn] ?? []).some((p) => p === 'fd' || p === 'oldFd' || p === 'newFd' || p === 'to');
}

/** Every outcome a table must show for `fn`. */
export function requiredOutcomes(fn: WasiName): Outcome[] {
  const out: Outcome[] = [];
  if (!neverSucceeds.has(fn)) out.push('SUCCESS');
  if (takesFd(fn)) out.push('EBADF');
  if (!noPointer.has(fn)) out.push('EFAULT');
  for (const e of ownErrors[fn]) if (!out.includes(e)) out.push(e);
  return out;
}

// ---------------------------------------------------------------------------
// Guest memory layout used by the tables.

/** Bytes of guest memory: one wasm page. */
export const memEnd = 65536;
/** A result slot with room for the largest struct (a 64-byte filestat). */
export const out = 0x100;
/** A second result slot. */
export const out2 = 0x180;
/** 0xFFFFFFF0 as a wasm i32 argument arrives in JS: negative. */
export const badPtr = 0xfffffff0 | 0;
/** Two bytes before the end: any result of 4 or more bytes overruns memory. */
export const tail = memEnd - 2;
/** An fd that is never open. */
export const badFd = 99;
/** The preopened root `/`. */
export const rootFd = 3;
/** A count whose iovec array size (count * 8) is exactly 2^32: it must not wrap to 0. */
export const wrappingIovCount = 0x2000_0000;

// ---------------------------------------------------------------------------
// The fixture.

/** The standard tree every case starts from, unless `empty` or `jail`. */
export const standardTree = [
  'file.txt=hello world',
  'dir/',
  'full/',
  'full/a.txt=A',
  'link -> file.txt',
  'abs -> /file.txt',
  'dirlink -> dir',
  'loop1 -> loop2',
  'loop2 -> loop1',
  'dangling -> missing',
] as const;

export interface FixtureOptions {
  /** Start from an empty root instead of {@link standardTree}. */
  readonly empty?: boolean;
  /**
   * Make the process root the directory `/jail` of the tmpfs, which holds
   * `secret=inside`, while `/secret=outside` lies beyond it, plus symlinks
   * trying to reach it: `escape -> /secret`, `up -> ../../../secret`.
   */
  readonly jail?: boolean;
  readonly limits?: Partial<TmpfsLimits>;
  readonly maxFds?: number;
  readonly args?: readonly string[];
  readonly env?: readonly string[];
  /** Bytes stdin yields; without it fd 0 has no source. */
  readonly stdin?: string;
  /** Which stdio streams are terminals (default none). */
  readonly tty?: WasiHostOptions['tty'];
  /** Replace the namespace (to inject a faulty one). */
  readonly namespace?: (root: DirNode) => Namespace;
  readonly trace?: (line: string) => void;
}

/** Options of {@link Fixture.openAt}: path_open's arguments, with defaults. */
export interface OpenArgs {
  readonly dir?: number;
  readonly follow?: boolean;
  readonly oflags?: number;
  /** Base rights; default every file right (or every directory right with O_DIRECTORY). */
  readonly rights?: number;
  readonly inheriting?: number;
  readonly fdflags?: number;
  /** Where the new fd is stored; default {@link out}. */
  readonly opened?: number;
}

type Imports = { readonly [K in WasiName]: (...args: (number | bigint)[]) => number };

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A parsed dirent: `truncated` when the buffer ended inside it. */
export interface Dirent {
  readonly next: bigint;
  readonly ino: bigint;
  readonly type: number;
  readonly name: string;
}

/** A parsed poll event. */
export interface PollEvent {
  readonly userdata: bigint;
  readonly error: WasiErrnoName;
  readonly type: number;
  readonly nbytes: bigint;
}

/** One poll subscription. */
export type Subscription =
  | { readonly userdata: bigint; readonly clock: { readonly id: number; readonly timeout: bigint; readonly flags?: number } }
  | { readonly userdata: bigint; readonly read: number }
  | { readonly userdata: bigint; readonly write: number }
  | { readonly userdata: bigint; readonly tag: number };

/**
 * One process: a tmpfs with the standard tree, its namespace, a host with
 * fds 0-2 (stdio) and 3 (`/`), and one page of memory.
 */
export class Fixture {
  readonly fs: Tmpfs;
  readonly ns: Namespace;
  readonly host: WasiHost;
  readonly memory = new WebAssembly.Memory({ initial: 1 });
  readonly w: Imports;
  readonly #stdout: number[] = [];
  readonly #stderr: number[] = [];
  #heap = 0x1000;

  constructor(options: FixtureOptions = {}) {
    this.fs = new Tmpfs(options.limits === undefined ? { dev: 1n } : { dev: 1n, limits: options.limits });
    let root: DirNode = this.fs.root;
    if (options.jail === true) {
      const outer = new Namespace(this.fs.root);
      build(outer, ['secret=outside', 'jail/', 'jail/secret=inside', 'jail/escape -> /secret', 'jail/up -> ../../../secret']);
      const jail = outer.resolve(outer.root, 'jail', true, 'open');
      if (jail.type !== 'directory') throw new Error('jail is not a directory');
      root = jail;
    }
    this.ns = options.namespace === undefined ? new Namespace(root) : options.namespace(root);
    if (options.empty !== true && options.jail !== true) build(this.ns, standardTree);
    const stdin = options.stdin === undefined ? undefined : utf8.encode(options.stdin);
    let stdinAt = 0;
    const hostOptions: WasiHostOptions = {
      namespace: this.ns,
      args: options.args ?? ['prog', 'a'],
      env: options.env ?? ['K=V'],
      preopens: [{ path: '/', dir: this.ns.root }],
      stdout: { write: (src, off, len) => void this.#stdout.push(...src.subarray(off, off + len)) },
      stderr: { write: (src, off, len) => void this.#stderr.push(...src.subarray(off, off + len)) },
      ...(stdin === undefined
        ? {}
        : {
            stdin: {
              read(dst: Uint8Array, off: number, len: number): number {
                const n = Math.min(len, stdin.length - stdinAt);
                dst.set(stdin.subarray(stdinAt, stdinAt + n), off);
                stdinAt += n;
                return n;
              },
            },
          }),
      ...(options.maxFds === undefined ? {} : { maxFds: options.maxFds }),
      ...(options.tty === undefined ? {} : { tty: options.tty }),
      ...(options.trace === undefined ? {} : { trace: options.trace }),
    };
    this.host = new WasiHost(hostOptions);
    this.host.bindMemory(this.memory);
    this.w = this.host.imports.wasi_snapshot_preview1 as unknown as Imports;
  }

  /** What the guest wrote to stdout / stderr. */
  get stdout(): string {
    return fromUtf8.decode(Uint8Array.from(this.#stdout));
  }

  get stderr(): string {
    return fromUtf8.decode(Uint8Array.from(this.#stderr));
  }

  get u8(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  get dv(): DataView {
    return new DataView(this.memory.buffer);
  }

  // --- memory writers ------------------------------------------------------

  /** Reserve `size` zeroed bytes of guest memory. */
  alloc(size: number, align = 8): number {
    const p = Math.ceil(this.#heap / align) * align;
    this.#heap = p + size;
    if (this.#heap > memEnd) throw new Error('test heap exhausted');
    return p;
  }

  /** Put a string (UTF-8) or bytes in memory: `[ptr, len]`, ready to spread into a call. */
  str(s: string | Uint8Array): [number, number] {
    const bytes = typeof s === 'string' ? utf8.encode(s) : s;
    const p = this.alloc(bytes.length, 1);
    this.u8.set(bytes, p);
    return [p, bytes.length];
  }

  /** Put bytes at a chosen address. */
  put(ptr: number, s: string | Uint8Array): void {
    this.u8.set(typeof s === 'string' ? utf8.encode(s) : s, ptr);
  }

  /** An iovec array over the given data (for writes): `[iovs, count]`. */
  ciovs(...parts: (string | Uint8Array)[]): [number, number] {
    const iovs = this.alloc(parts.length * Layout.iovecSize);
    parts.forEach((part, i) => {
      const [p, n] = this.str(part);
      this.setU32(iovs + i * 8, p);
      this.setU32(iovs + i * 8 + 4, n);
    });
    return [iovs, parts.length];
  }

  /** An iovec array of empty buffers of the given sizes (for reads). */
  iovs(...sizes: number[]): { iovs: [number, number]; bufs: number[] } {
    const iovs = this.alloc(sizes.length * Layout.iovecSize);
    const bufs = sizes.map((size, i) => {
      const p = this.alloc(size, 1);
      this.setU32(iovs + i * 8, p);
      this.setU32(iovs + i * 8 + 4, size);
      return p;
    });
    return { iovs: [iovs, sizes.length], bufs };
  }

  /** An iovec array of raw (buf, len) pairs, which may point anywhere. */
  rawIovs(...pairs: [number, number][]): [number, number] {
    const iovs = this.alloc(pairs.length * Layout.iovecSize);
    pairs.forEach(([p, n], i) => {
      this.setU32(iovs + i * 8, p >>> 0);
      this.setU32(iovs + i * 8 + 4, n >>> 0);
    });
    return [iovs, pairs.length];
  }

  /** Poll subscriptions: `[ptr, count]`. */
  subscriptions(...subs: Subscription[]): [number, number] {
    const base = this.alloc(subs.length * Layout.subscriptionSize);
    const dv = this.dv;
    subs.forEach((s, i) => {
      const p = base + i * Layout.subscriptionSize;
      dv.setBigUint64(p, s.userdata, true);
      if ('clock' in s) {
        dv.setUint8(p + 8, EventType.CLOCK);
        dv.setUint32(p + 16, s.clock.id, true);
        dv.setBigUint64(p + 24, s.clock.timeout, true);
        dv.setUint16(p + 40, s.clock.flags ?? 0, true);
      } else if ('read' in s) {
        dv.setUint8(p + 8, EventType.FD_READ);
        dv.setUint32(p + 16, s.read, true);
      } else if ('write' in s) {
        dv.setUint8(p + 8, EventType.FD_WRITE);
        dv.setUint32(p + 16, s.write, true);
      } else {
        dv.setUint8(p + 8, s.tag);
      }
    });
    return [base, subs.length];
  }

  setU32(ptr: number, value: number): void {
    this.dv.setUint32(ptr, value, true);
  }

  // --- memory readers ------------------------------------------------------

  u16(ptr: number): number {
    return this.dv.getUint16(ptr, true);
  }

  u32(ptr: number): number {
    return this.dv.getUint32(ptr, true);
  }

  u64(ptr: number): bigint {
    return this.dv.getBigUint64(ptr, true);
  }

  bytes(ptr: number, len: number): Uint8Array {
    return this.u8.slice(ptr, ptr + len);
  }

  text(ptr: number, len: number): string {
    return fromUtf8.decode(this.bytes(ptr, len));
  }

  /** Dirents in `buf[0, used)`; an entry cut off by the end of the buffer is left out. */
  dirents(buf: number, used: number): Dirent[] {
    const list: Dirent[] = [];
    let at = buf;
    while (at + Layout.direntSize <= buf + used) {
      const namlen = this.u32(at + 16);
      if (at + Layout.direntSize + namlen > buf + used) break;
      list.push({
        next: this.u64(at),
        ino: this.u64(at + 8),
        type: this.u8[at + 20]!,
        name: this.text(at + Layout.direntSize, namlen),
      });
      at += Layout.direntSize + namlen;
    }
    return list;
  }

  /** Poll events at `ptr`. */
  events(ptr: number, n: number): PollEvent[] {
    const list: PollEvent[] = [];
    for (let i = 0; i < n; i++) {
      const p = ptr + i * Layout.eventSize;
      list.push({ userdata: this.u64(p), error: errnoName(this.u16(p + 8)), type: this.u8[p + 10]!, nbytes: this.u64(p + 16) });
    }
    return list;
  }

  /** fd_filestat_get / path_filestat_get's struct at `ptr`. */
  filestat(ptr: number): { dev: bigint; ino: bigint; type: number; nlink: bigint; size: bigint; atim: bigint; mtim: bigint; ctim: bigint } {
    return {
      dev: this.u64(ptr),
      ino: this.u64(ptr + 8),
      type: this.u8[ptr + 16]!,
      nlink: this.u64(ptr + 24),
      size: this.u64(ptr + 32),
      atim: this.u64(ptr + 40),
      mtim: this.u64(ptr + 48),
      ctim: this.u64(ptr + 56),
    };
  }

  /** fd_fdstat_get's struct at `ptr`. */
  fdstat(ptr: number): { type: number; flags: number; base: bigint; inheriting: bigint } {
    return { type: this.u8[ptr]!, flags: this.u16(ptr + 2), base: this.u64(ptr + 8), inheriting: this.u64(ptr + 16) };
  }

  // --- syscall shorthands (each asserts success) ----------------------------

  /** path_open with defaults; returns the errno and leaves the fd at `opened`. */
  openAt(path: string | Uint8Array, o: OpenArgs = {}): number {
    const oflags = o.oflags ?? 0;
    const rights = o.rights ?? ((oflags & OFlags.DIRECTORY) !== 0 ? directoryRights : fileRights);
    return this.w.path_open(
      o.dir ?? rootFd,
      o.follow === false ? 0 : LookupFlags.SYMLINK_FOLLOW,
      ...this.str(path),
      oflags,
      BigInt(rights),
      BigInt(o.inheriting ?? 0),
      o.fdflags ?? 0,
      o.opened ?? out,
    );
  }

  /** Open `path` and return the new fd (fails the test otherwise). */
  open(path: string, o: Omit<OpenArgs, 'opened'> = {}): number {
    const slot = this.alloc(4);
    expectOk(this.openAt(path, { ...o, opened: slot }), `path_open ${path}`);
    return this.u32(slot);
  }

  /** Open the directory at `path` (with every directory right and every inheritable right by default). */
  openDir(path: string, o: Omit<OpenArgs, 'opened' | 'oflags'> = {}): number {
    return this.open(path, { inheriting: directoryRights | fileRights, ...o, oflags: OFlags.DIRECTORY });
  }

  /** Write `data` at the fd's position; returns bytes written. */
  write(fd: number, data: string): number {
    const n = this.alloc(4);
    expectOk(this.w.fd_write(fd, ...this.ciovs(data), n), 'fd_write');
    return this.u32(n);
  }

  /** Read up to `max` bytes at the fd's position. */
  read(fd: number, max = 256): string {
    const { iovs, bufs } = this.iovs(max);
    const n = this.alloc(4);
    expectOk(this.w.fd_read(fd, ...iovs, n), 'fd_read');
    return this.text(bufs[0]!, this.u32(n));
  }

  /** Read `max` bytes at `offset` without moving the position. */
  pread(fd: number, offset = 0, max = 256): string {
    const { iovs, bufs } = this.iovs(max);
    const n = this.alloc(4);
    expectOk(this.w.fd_pread(fd, ...iovs, BigInt(offset), n), 'fd_pread');
    return this.text(bufs[0]!, this.u32(n));
  }

  /** The fd's position (fd_tell). */
  tell(fd: number): number {
    const p = this.alloc(8);
    expectOk(this.w.fd_tell(fd, p), 'fd_tell');
    return Number(this.u64(p));
  }

  /** fd_fdstat_get, parsed. */
  fdstatOf(fd: number): ReturnType<Fixture['fdstat']> {
    const p = this.alloc(Layout.fdstatSize);
    expectOk(this.w.fd_fdstat_get(fd, p), 'fd_fdstat_get');
    return this.fdstat(p);
  }

  /** fd_filestat_get, parsed. */
  filestatOf(fd: number): ReturnType<Fixture['filestat']> {
    const p = this.alloc(Layout.filestatSize);
    expectOk(this.w.fd_filestat_get(fd, p), 'fd_filestat_get');
    return this.filestat(p);
  }

  /** Drop `rights` from the fd's base rights. */
  dropRights(fd: number, rights: number): void {
    const st = this.fdstatOf(fd);
    expectOk(this.w.fd_fdstat_set_rights(fd, st.base & ~BigInt(rights), st.inheriting), 'fd_fdstat_set_rights');
  }

  /** Names listed by fd_readdir from `cookie` with a roomy buffer. */
  list(fd: number, cookie = 0n): Dirent[] {
    const buf = this.alloc(4096);
    const used = this.alloc(4);
    expectOk(this.w.fd_readdir(fd, buf, 4096, cookie, used), 'fd_readdir');
    return this.dirents(buf, this.u32(used));
  }

  // --- looking at the filesystem directly -----------------------------------

  /** The node at `path` (not following a final symlink), or undefined. */
  node(path: string): Node | undefined {
    try {
      return this.ns.resolve(this.ns.root, path, false, 'test');
    } catch {
      return undefined;
    }
  }

  /** The whole contents of the file at `path`. */
  contents(path: string): string {
    const node = this.ns.resolve(this.ns.root, path, true, 'test');
    return contentsOf(Namespace.asFile(node, 'test'));
  }

  /** The inode number at `path` (not following a final symlink). */
  ino(path: string): bigint {
    return this.ns.resolve(this.ns.root, path, false, 'test').ino;
  }
}

/** Build a tree: `'d/'` a directory, `'f=text'` a file, `'l -> target'` a symlink. */
export function build(ns: Namespace, entries: readonly string[]): void {
  for (const entry of entries) {
    const arrow = entry.indexOf(' -> ');
    const eq = entry.indexOf('=');
    if (arrow >= 0) ns.symlink(entry.slice(arrow + 4), ns.root, entry.slice(0, arrow));
    else if (entry.endsWith('/')) ns.mkdir(ns.root, entry);
    else {
      const file = Namespace.asFile(ns.open(ns.root, eq >= 0 ? entry.slice(0, eq) : entry, { follow: true, create: true }).node, 'open');
      const bytes = utf8.encode(eq >= 0 ? entry.slice(eq + 1) : '');
      file.write(bytes, 0, bytes.length, 0);
    }
  }
}

function contentsOf(file: FileNode): string {
  const buf = new Uint8Array(file.size);
  file.read(buf, 0, buf.length, 0);
  return fromUtf8.decode(buf);
}

/** An errno number's name (or the number, for one WASI lacks). */
export function errnoName(errno: number): WasiErrnoName {
  return (wasiErrnoName[errno] ?? String(errno)) as WasiErrnoName;
}

function expectOk(errno: number, what: string): void {
  if (errno !== 0) throw new Error(`${what} failed in setup: ${errnoName(errno)}`);
}

// ---------------------------------------------------------------------------
// Tables.

/**
 * One row of a table: call `fn` (after `setup`), expect `errno` (or a
 * ProcExit with `exitCode`), then check `effect`.
 */
export interface Case<S = unknown> {
  readonly fn: WasiName;
  readonly name: string;
  readonly options?: FixtureOptions;
  readonly setup?: (f: Fixture) => S;
  readonly call: (f: Fixture, s: S) => number;
  readonly errno: Outcome;
  readonly exitCode?: number;
  /** An errno the case shows inside its result (a poll event), for the coverage check. */
  readonly eventErrno?: WasiErrnoName;
  readonly effect?: (f: Fixture, s: S) => void;
}

/** A row, with `setup`'s result typed for `call` and `effect`. */
export function row<S = undefined>(c: Case<S>): Case {
  return c as unknown as Case;
}

/** Run a table: one test per row, on a fresh fixture. */
export function runCases(cases: readonly Case[]): void {
  const titled = cases.map((c) => [`${c.fn}: ${c.name} → ${c.errno === 'exit' ? `exit ${c.exitCode}` : c.errno}`, c] as const);
  it.each(titled)('%s', (_title, c) => {
    const f = new Fixture(c.options);
    const s = c.setup === undefined ? undefined : c.setup(f);
    if (c.errno === 'exit') {
      let thrown: unknown;
      try {
        c.call(f, s);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ProcExit);
      expect((thrown as ProcExit).code).toBe(c.exitCode);
    } else {
      const result = c.call(f, s);
      expect(typeof result).toBe('number');
      expect(errnoName(result)).toBe(c.errno);
    }
    c.effect?.(f, s);
  });
}

/** Fail if the group's tables lack a required outcome of one of its functions. */
export function checkCoverage(group: Group, cases: readonly Case[]): void {
  describe(`the ${group} tables cover`, () => {
    it.each(groups[group].map((fn) => [fn] as const))('%s has a row for every outcome it must show', (fn) => {
      const have = new Set<Outcome>();
      for (const c of cases) {
        if (c.fn !== fn) continue;
        have.add(c.errno);
        if (c.eventErrno !== undefined) have.add(c.eventErrno);
      }
      expect(requiredOutcomes(fn).filter((o) => !have.has(o)), `outcomes of ${fn} without a row`).toEqual([]);
    });
    it('only functions of this group', () => {
      const names: readonly string[] = groups[group];
      expect(cases.filter((c) => !names.includes(c.fn)).map((c) => c.fn)).toEqual([]);
    });
  });
}

/** Rights of a file fd: every file right except `minus`. */
export function fileRightsWithout(...minus: number[]): number {
  return minus.reduce((r, m) => r & ~m, fileRights);
}

/** Rights of a directory fd: every directory right except `minus`. */
export function dirRightsWithout(...minus: number[]): number {
  return minus.reduce((r, m) => r & ~m, directoryRights);
}
