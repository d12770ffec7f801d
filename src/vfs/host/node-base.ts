import { lstatSync, lutimesSync, type BigIntStats } from 'node:fs';
import { fsError } from '../errors.js';
import type { FileType, Stat, TimeChange } from '../node.js';
import { call, type HostAccess } from './access.js';
import type { HostDirectory } from './directory.js';
import type { HostFile, HostSymlink } from './file.js';

/** What the nodes need of their filesystem (implemented by HostDir). */
export interface HostFs {
  readonly dev: bigint;
  readonly readonly: boolean;
  readonly confined: true;
  /** @internal */
  readonly access: HostAccess;
  /** @internal */
  readonly nodes: NodeCache;
  /** @internal */
  readonly times: ExactTimes;
}

export type HostNode = HostDirectory | HostFile | HostSymlink;
export type Place = { dir: HostDirectory; name: string };

/**
 * Host inode → node, so one host inode is one node object while anything
 * holds it: hard links share a node, and a node's identity (mount points,
 * open descriptions) survives repeated lookups. Weak, so a walk over a
 * large host tree does not pin it in memory.
 */
export class NodeCache {
  readonly #byId = new Map<string, WeakRef<HostNode>>();
  readonly #registry = new FinalizationRegistry<string>((id) => {
    if (this.#byId.get(id)?.deref() === undefined) this.#byId.delete(id);
  });

  get(hostDev: bigint, ino: bigint): HostNode | undefined {
    return this.#byId.get(`${hostDev}:${ino}`)?.deref();
  }

  set(node: HostNode): void {
    const id = `${node.hostDev}:${node.ino}`;
    this.#byId.set(id, new WeakRef(node));
    this.#registry.register(node, id);
  }
}

/**
 * Times the guest set, to the nanosecond. Node's utimes carries only
 * microseconds (libuv truncates), so the host keeps a rounded time; while
 * the host still holds exactly what was set, stat reports what the guest
 * asked for, as tmpfs does. Any later change on the host (a write, a touch)
 * moves the time away and the host's own value shows again.
 */
export class ExactTimes {
  static readonly max = 4096;
  readonly #byId = new Map<string, { atimeNs: bigint; mtimeNs: bigint; hostAtimeNs: bigint; hostMtimeNs: bigint }>();

  /** Remember that `atimeNs`/`mtimeNs` were set on the inode whose stat after setting is `st`. */
  record(st: BigIntStats, atimeNs: bigint, mtimeNs: bigint): void {
    const id = `${st.dev}:${st.ino}`;
    this.#byId.delete(id);
    this.#byId.set(id, { atimeNs, mtimeNs, hostAtimeNs: st.atimeNs, hostMtimeNs: st.mtimeNs });
    if (this.#byId.size > ExactTimes.max) this.#byId.delete(this.#byId.keys().next().value as string);
  }

  /** The times to report for a host stat. */
  of(st: BigIntStats): { atimeNs: bigint; mtimeNs: bigint } {
    const set = this.#byId.get(`${st.dev}:${st.ino}`);
    if (set === undefined) return { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs };
    return {
      atimeNs: st.atimeNs === set.hostAtimeNs ? set.atimeNs : st.atimeNs,
      mtimeNs: st.mtimeNs === set.hostMtimeNs ? set.mtimeNs : st.mtimeNs,
    };
  }
}

export function typeOf(st: BigIntStats): FileType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return undefined;
}

export function toStat(fs: HostFs, type: FileType, st: BigIntStats): Stat {
  const { atimeNs, mtimeNs } = fs.times.of(st);
  return {
    dev: fs.dev,
    ino: st.ino,
    type,
    mode: Number(st.mode & 0o7777n),
    nlink: Number(st.nlink),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    atimeNs,
    mtimeNs,
    ctimeNs: st.ctimeNs,
  };
}

/**
 * Seconds as Node's utimes takes them. libuv truncates the double to whole
 * microseconds, so half a microsecond is added: a time is set to the
 * nearest microsecond, and one that is whole microseconds exactly.
 */
function seconds(ns: bigint): number {
  return Number(ns / 1_000_000_000n) + Number((ns % 1_000_000_000n) + 500n) / 1e9;
}

export abstract class HostNodeBase {
  readonly fs: HostFs;
  readonly ino: bigint;
  readonly hostDev: bigint;
  /** Where this node was last seen; undefined for the root and for a node whose last known name was removed. */
  place: Place | undefined;

  constructor(fs: HostFs, st: BigIntStats, place: Place | undefined) {
    this.fs = fs;
    this.ino = st.ino;
    this.hostDev = st.dev;
    this.place = place;
  }

  abstract readonly type: FileType;

  stat(): Stat {
    this.fs.access.begin();
    return toStat(this.fs, this.type, this.hostStat('stat'));
  }

  /**
   * Set access and modification times (`undefined` keeps the current one).
   * Errors: EROFS, ENOENT (gone from where it was seen), EPERM, EACCES.
   */
  setTimes(atime: TimeChange, mtime: TimeChange): void {
    if (this.fs.readonly) throw fsError('EROFS', 'utimensat');
    if (atime === undefined && mtime === undefined) return;
    this.fs.access.begin();
    const now = BigInt(Date.now()) * 1_000_000n;
    const current = atime === undefined || mtime === undefined ? this.fs.times.of(this.hostStat('utimensat')) : undefined;
    const a = atime === 'now' ? now : (atime ?? current!.atimeNs);
    const m = mtime === 'now' ? now : (mtime ?? current!.mtimeNs);
    this.applyTimes(seconds(a), seconds(m));
    this.fs.times.record(this.hostStat('utimensat'), a, m);
  }

  /** The host stat of this node, checked to be the same inode. Errors: ENOENT. */
  hostStat(syscall: string): BigIntStats {
    const place = this.located(syscall);
    const st = call(syscall, place.name, () => lstatSync(this.fs.access.entry(place.dir, place.name, syscall), { bigint: true }), 'ENOENT');
    this.fs.access.recheck(place.dir, syscall);
    if (st.ino !== this.ino || st.dev !== this.hostDev || typeOf(st) !== this.type) throw fsError('ENOENT', syscall, place.name);
    return st;
  }

  protected applyTimes(a: number, m: number): void {
    const place = this.located('utimensat');
    const path = this.fs.access.entry(place.dir, place.name, 'utimensat');
    call('utimensat', place.name, () => lutimesSync(path, a, m));
  }

  /** @internal Where this node is now. Errors: ENOENT (its last known name was removed). */
  located(syscall: string): Place {
    if (this.place === undefined) throw fsError('ENOENT', syscall);
    return this.place;
  }
}
