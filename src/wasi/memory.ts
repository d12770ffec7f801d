import { fsError, maxPathBytes } from '../vfs/index.js';

/**
 * Bounds-checked access to a guest's linear memory.
 *
 * Every guest pointer goes through here. An access that does not fit in
 * memory throws {@link GuestFault}, which the syscall boundary turns into
 * EFAULT; nothing ever reads or writes outside the guest's memory.
 * The views are refreshed only when `memory.grow` has detached them.
 */
export class GuestMemory {
  readonly #memory: WebAssembly.Memory;
  readonly #shared: boolean;
  u8: Uint8Array;
  dv: DataView;

  constructor(memory: WebAssembly.Memory) {
    this.#memory = memory;
    this.#shared = !(memory.buffer instanceof ArrayBuffer);
    this.u8 = new Uint8Array(memory.buffer);
    this.dv = new DataView(memory.buffer);
  }

  /**
   * Fresh views if the memory grew. Growing a non-shared memory detaches
   * the old buffer, so a view of length 0 is the cheap signal; reading
   * `memory.buffer` on every call would cost more than most syscalls. A
   * shared memory never detaches, so its length is compared instead.
   */
  refresh(): void {
    if (this.u8.length === 0 || (this.#shared && this.u8.length !== this.#memory.buffer.byteLength)) {
      this.u8 = new Uint8Array(this.#memory.buffer);
      this.dv = new DataView(this.#memory.buffer);
    }
  }

  /**
   * Throw GuestFault unless [ptr, ptr+len) lies in memory. Returns ptr as unsigned.
   * `len` is a guest u32 (negative when it came in as an i32) or a size the
   * host computed, such as a count times a struct size, which may exceed 2^32
   * and must not wrap.
   */
  check(ptr: number, len: number): number {
    const p = ptr >>> 0;
    const n = len < 0 ? len >>> 0 : len;
    if (p + n > this.u8.length) throw new GuestFault(p, n);
    return p;
  }

  u32(ptr: number): number {
    const p = ptr >>> 0;
    if (p + 4 > this.u8.length) throw new GuestFault(p, 4);
    return this.dv.getUint32(p, true);
  }

  setU8(ptr: number, value: number): void {
    const p = ptr >>> 0;
    if (p + 1 > this.u8.length) throw new GuestFault(p, 1);
    this.u8[p] = value;
  }

  setU16(ptr: number, value: number): void {
    const p = ptr >>> 0;
    if (p + 2 > this.u8.length) throw new GuestFault(p, 2);
    this.dv.setUint16(p, value, true);
  }

  setU32(ptr: number, value: number): void {
    const p = ptr >>> 0;
    if (p + 4 > this.u8.length) throw new GuestFault(p, 4);
    this.dv.setUint32(p, value, true);
  }

  /** Store a non-negative integer below 2^53 as a u64 without BigInt. */
  setU64n(ptr: number, value: number): void {
    const p = ptr >>> 0;
    if (p + 8 > this.u8.length) throw new GuestFault(p, 8);
    this.dv.setUint32(p, value >>> 0, true);
    this.dv.setUint32(p + 4, Math.floor(value / 4294967296), true);
  }

  setU64(ptr: number, value: bigint): void {
    const p = ptr >>> 0;
    if (p + 8 > this.u8.length) throw new GuestFault(p, 8);
    this.dv.setBigUint64(p, value, true);
  }

  u64(ptr: number): bigint {
    const p = ptr >>> 0;
    if (p + 8 > this.u8.length) throw new GuestFault(p, 8);
    return this.dv.getBigUint64(p, true);
  }

  /** Decode a UTF-8 string; invalid UTF-8 throws {@link GuestIllegalSequence}. */
  string(ptr: number, len: number): string {
    const p = this.check(ptr, len);
    const end = p + (len >>> 0);
    const u8 = this.u8;
    for (let i = p; i < end; i++) {
      if (u8[i]! >= 0x80) return decodeUtf8(u8, p, end - p);
    }
    // ASCII: one native copy into a flat string. Strings built by
    // concatenation are cons strings, and hashing them for a directory
    // lookup would flatten them again.
    return latin1Slice.call(u8, p, end);
  }

  /**
   * Decode a path argument (a path, or a symlink's target). Its length is
   * checked before a byte is decoded: a path of PATH_MAX bytes or more is
   * ENAMETOOLONG from its length alone, so a guest cannot make the host
   * build a huge string. Errors: EFAULT (outside memory), ENAMETOOLONG,
   * EILSEQ.
   */
  path(ptr: number, len: number): string {
    this.check(ptr, len);
    if (len >>> 0 >= maxPathBytes) throw fsError('ENAMETOOLONG', 'path', `(${len >>> 0} bytes)`);
    return this.string(ptr, len);
  }

  /** Copy bytes into guest memory at ptr (checked). */
  write(ptr: number, bytes: Uint8Array): void {
    const p = this.check(ptr, bytes.length);
    this.u8.set(bytes, p);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
// Node's native one-byte decoder; it accepts any Uint8Array as `this`.
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

const utf8Encoder = new TextEncoder();

/**
 * `s` as UTF-8, NUL-terminated when `terminated`. An ASCII string is
 * copied by hand into a small array V8 allocates on its own heap;
 * `TextEncoder.encode` would give each one a backing store of its own,
 * which costs more than the copy.
 */
export function utf8Bytes(s: string, terminated = false): Uint8Array {
  const n = s.length;
  const out = new Uint8Array(terminated ? n + 1 : n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return utf8Encoder.encode(terminated ? s + '\0' : s);
    out[i] = c;
  }
  return out;
}

function decodeUtf8(u8: Uint8Array, p: number, n: number): string {
  try {
    return utf8.decode(u8.subarray(p, p + n));
  } catch {
    throw new GuestIllegalSequence();
  }
}

/** A guest pointer or length outside its memory. Becomes EFAULT. */
export class GuestFault extends Error {
  constructor(ptr: number, len: number) {
    super(`guest memory access out of bounds: ${len} bytes at 0x${ptr.toString(16)}`);
    this.name = 'GuestFault';
  }
}

/** A guest string that is not valid UTF-8. Becomes EILSEQ. */
export class GuestIllegalSequence extends Error {
  constructor() {
    super('guest string is not valid UTF-8');
    this.name = 'GuestIllegalSequence';
  }
}
