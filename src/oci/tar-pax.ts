import { StrataError } from '../errors.js';

/**
 * POSIX pax extended header records (`x`, `g`), and what they carry over
 * to the next member.
 * https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_03
 */

const utf8 = new TextDecoder('utf-8');

/** What the pax and GNU long-name headers before a member say about it, until the member's own header arrives. */
export interface PendingMember {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtimeNs?: bigint;
  xattrs?: Map<string, Uint8Array>;
  sparse?: boolean;
  headerOffset?: number;
}

/** Pax records: `LEN KEY=VALUE\n`, LEN counting the whole record in bytes. Errors: ERR_TAR_HEADER. */
export function parsePax(bytes: Uint8Array, at: number): Array<[string, Uint8Array]> {
  const records: Array<[string, Uint8Array]> = [];
  const bad = (why: string): StrataError => new StrataError('ERR_TAR_HEADER', `tar pax header at byte ${at}: ${why}`);
  let i = 0;
  while (i < bytes.length) {
    // Trailing NUL padding after the last record is tolerated.
    if (bytes[i] === 0) break;
    let len = 0;
    let j = i;
    while (j < bytes.length && bytes[j] !== 0x20) {
      const c = bytes[j]!;
      if (c < 0x30 || c > 0x39 || j - i > 9) throw bad('bad record length');
      len = len * 10 + (c - 0x30);
      j++;
    }
    if (j === i || j >= bytes.length || len <= j - i + 1 || i + len > bytes.length) throw bad('bad record length');
    const end = i + len;
    if (bytes[end - 1] !== 0x0a) throw bad('record does not end in a newline');
    const body = bytes.subarray(j + 1, end - 1);
    const eq = body.indexOf(0x3d);
    if (eq <= 0) throw bad('record has no key');
    records.push([utf8.decode(body.subarray(0, eq)), body.subarray(eq + 1)]);
    i = end;
  }
  return records;
}

/** A pax decimal integer field (size, uid, gid). Errors: ERR_TAR_HEADER. */
function paxInteger(value: Uint8Array, key: string, at: number): number {
  const text = utf8.decode(value);
  if (!/^[0-9]{1,16}$/.test(text)) throw new StrataError('ERR_TAR_HEADER', `tar pax header at byte ${at}: bad ${key} '${text.slice(0, 40)}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new StrataError('ERR_TAR_HEADER', `tar pax header at byte ${at}: ${key} out of range`);
  return n;
}

/** A pax time: `[-]SECONDS[.FRACTION]`, to nanoseconds (extra digits truncated). Errors: ERR_TAR_HEADER. */
function paxTime(value: Uint8Array, at: number): bigint {
  const text = utf8.decode(value);
  const m = /^(-?)([0-9]{1,19})(?:\.([0-9]*))?$/.exec(text);
  if (m === null) throw new StrataError('ERR_TAR_HEADER', `tar pax header at byte ${at}: bad mtime '${text.slice(0, 40)}'`);
  const frac = (m[3] ?? '').slice(0, 9).padEnd(9, '0');
  const ns = BigInt(m[2]!) * 1_000_000_000n + BigInt(frac);
  return m[1] === '-' ? -ns : ns;
}

/**
 * Apply an `x` header's records to the member that follows: path,
 * linkpath, size, uid, gid, mtime; `SCHILY.xattr.*` as xattrs; any
 * `GNU.sparse.*` marks it sparse (refused by the reader). Other keys are
 * ignored, as the spec allows. Errors: ERR_TAR_HEADER (a bad number or time).
 */
export function applyPax(p: PendingMember, records: ReadonlyArray<[string, Uint8Array]>, at: number): void {
  for (const [key, value] of records) {
    switch (key) {
      case 'path':
        p.path = utf8.decode(value);
        break;
      case 'linkpath':
        p.linkpath = utf8.decode(value);
        break;
      case 'size':
        p.size = paxInteger(value, key, at);
        break;
      case 'uid':
        p.uid = paxInteger(value, key, at);
        break;
      case 'gid':
        p.gid = paxInteger(value, key, at);
        break;
      case 'mtime':
        p.mtimeNs = paxTime(value, at);
        break;
      default:
        if (key.startsWith('SCHILY.xattr.')) {
          (p.xattrs ??= new Map()).set(key.slice('SCHILY.xattr.'.length), value);
        } else if (key.startsWith('GNU.sparse.')) {
          p.sparse = true;
        }
    }
  }
}
