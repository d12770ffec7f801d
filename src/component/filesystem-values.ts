import type { Node, Stat, TimeChange } from '../vfs/index.js';
import { componentError } from './error-code.js';

/**
 * The values of `wasi:filesystem/types` (0.2.x) as jco passes them, and
 * their conversions from the VFS's.
 * https://github.com/WebAssembly/wasi-filesystem/blob/main/wit/types.wit
 */

/** `descriptor-flags`, as jco passes a WIT flags record. */
export interface DescriptorFlags {
  read?: boolean;
  write?: boolean;
  fileIntegritySync?: boolean;
  dataIntegritySync?: boolean;
  requestedWriteSync?: boolean;
  mutateDirectory?: boolean;
}

/** `datetime` of `wasi:clocks/wall-clock`. */
export interface Datetime {
  seconds: bigint;
  nanoseconds: number;
}

/** `new-timestamp`. */
export type NewTimestamp = { tag: 'no-change' } | { tag: 'now' } | { tag: 'timestamp'; val: Datetime };

/** `descriptor-type`. */
export type DescriptorType = 'unknown' | 'block-device' | 'character-device' | 'directory' | 'fifo' | 'symbolic-link' | 'regular-file' | 'socket';

/** `descriptor-stat`. */
export interface DescriptorStat {
  type: DescriptorType;
  linkCount: bigint;
  size: bigint;
  dataAccessTimestamp: Datetime;
  dataModificationTimestamp: Datetime;
  statusChangeTimestamp: Datetime;
}

export const typeOf: Record<Node['type'], DescriptorType> = {
  directory: 'directory',
  file: 'regular-file',
  symlink: 'symbolic-link',
  'character-device': 'character-device',
};

const billion = 1_000_000_000n;
export const datetime = (ns: bigint): Datetime => ({ seconds: ns / billion, nanoseconds: Number(ns % billion) });
export const descriptorStat = (s: Stat): DescriptorStat => ({
  type: typeOf[s.type],
  linkCount: BigInt(s.nlink),
  size: BigInt(s.size),
  dataAccessTimestamp: datetime(s.atimeNs),
  dataModificationTimestamp: datetime(s.mtimeNs),
  statusChangeTimestamp: datetime(s.ctimeNs),
});

/** A `new-timestamp` as the VFS's time change. Errors: `invalid` (nanoseconds past a second). */
export function timeChange(t: NewTimestamp): TimeChange {
  if (t.tag === 'no-change') return undefined;
  if (t.tag === 'now') return 'now';
  if (t.val.nanoseconds >= 1e9) throw componentError('invalid');
  return t.val.seconds * billion + BigInt(t.val.nanoseconds);
}

/** `metadata-hash`: the VFS's (device, inode), nothing of the host. */
export const hashOf = (s: Stat) => ({ lower: BigInt.asUintN(64, s.ino), upper: BigInt.asUintN(64, s.dev) });

/** Most bytes a `read` returns, whatever the guest asks (reads may be short). */
export const maxReadBytes = 1 << 20;
