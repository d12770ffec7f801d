import { StrataError } from '../errors.js';

/**
 * The fields of one 512-byte tar header block (ustar, v7, GNU): numbers in
 * octal or GNU base-256, NUL-terminated strings, the checksum.
 * https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06
 */

/** The size of a tar block: every header, and the unit data is padded to. */
export const tarBlock = 512;

const utf8 = new TextDecoder('utf-8');

/** Whether a header block is all zeros (one of the two end-of-archive blocks). */
export function isZeroBlock(h: Uint8Array): boolean {
  for (let i = 0; i < tarBlock; i++) if (h[i] !== 0) return false;
  return true;
}

/** The header's magic: POSIX ustar, GNU, or neither (v7). */
export function ustarKind(h: Uint8Array): 'posix' | 'gnu' | undefined {
  // "ustar\0" "00" is POSIX; "ustar " " \0" is GNU.
  if (h[257] !== 0x75 || h[258] !== 0x73 || h[259] !== 0x74 || h[260] !== 0x61 || h[261] !== 0x72) return undefined;
  return h[262] === 0 ? 'posix' : 'gnu';
}

/** Check the header's checksum, summed unsigned or (old tars) signed. Errors: ERR_TAR_HEADER. */
export function checkChecksum(h: Uint8Array, at: number): void {
  let unsigned = 8 * 0x20;
  for (let i = 0; i < 148; i++) unsigned += h[i]!;
  for (let i = 156; i < tarBlock; i++) unsigned += h[i]!;
  const stored = readOctal(h, 148, 8);
  if (stored === unsigned) return;
  // Old tars summed signed bytes; accept either, as GNU tar does.
  let signed = 8 * 0x20;
  for (let i = 0; i < tarBlock; i++) {
    if (i >= 148 && i < 156) continue;
    const b = h[i]!;
    signed += b > 127 ? b - 256 : b;
  }
  if (stored === undefined || stored !== signed) {
    throw new StrataError('ERR_TAR_HEADER', `tar header at byte ${at} has a bad checksum (not a tar, or corrupt)`);
  }
}

/** An octal field (spaces and NULs around the digits), or undefined if malformed. */
function readOctal(h: Uint8Array, off: number, len: number): number | undefined {
  let i = off;
  const end = off + len;
  while (i < end && (h[i] === 0x20 || h[i] === 0)) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = h[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) return undefined;
    value = value * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) if (h[i] !== 0x20 && h[i] !== 0) return undefined;
  return digits === 0 ? 0 : value;
}

/** A numeric field, octal or GNU base-256. Errors: ERR_TAR_HEADER (malformed, negative, over 2^53). */
export function readNumber(h: Uint8Array, off: number, len: number, field: string, at: number): number {
  const first = h[off]!;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement in the remaining bits.
    if (first === 0xff) throw new StrataError('ERR_TAR_HEADER', `tar header at byte ${at} has a negative ${field}`);
    let value = first & 0x7f;
    for (let i = off + 1; i < off + len; i++) {
      value = value * 256 + h[i]!;
      if (value > Number.MAX_SAFE_INTEGER) throw new StrataError('ERR_TAR_HEADER', `tar header at byte ${at} has an out-of-range ${field}`);
    }
    return value;
  }
  const value = readOctal(h, off, len);
  if (value === undefined) throw new StrataError('ERR_TAR_HEADER', `tar header at byte ${at} has a malformed ${field} field`);
  return value;
}

/** A NUL-terminated (or full-width) string field, as UTF-8. */
export function readString(h: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && h[end] !== 0) end++;
  return utf8.decode(h.subarray(off, end));
}

/** A GNU long name or link body, up to its first NUL, as UTF-8. */
export function decodeCString(bytes: Uint8Array): string {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  return utf8.decode(bytes.subarray(0, end));
}
