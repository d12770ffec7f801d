import type { DirEntry } from '../vfs/index.js';
import { filetypeCode, Layout } from './abi.js';
import type { GuestMemory } from './memory.js';

const nameEncoder = new TextEncoder();

/**
 * Writes witx `dirent`s (a 24-byte header, then the name's UTF-8) into the
 * guest's fd_readdir buffer.
 *
 * A whole dirent with an ASCII name, what nearly every listing holds, is
 * written in place: no string is encoded, nothing is allocated. Any other
 * (a name that is not ASCII, or the last dirent, cut short at the end of
 * the buffer) is assembled in this object's scratch bytes, then copied.
 * https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md#fd_readdir
 */
export class DirentScratch {
  // A name is at most 255 bytes of UTF-8 (NAME_MAX); the room is generous.
  readonly #bytes = new Uint8Array(Layout.direntSize + 1024);
  readonly #view = new DataView(this.#bytes.buffer);
  readonly #name = this.#bytes.subarray(Layout.direntSize);

  /** Write `entry` at `at`, truncated at `end`. Returns the bytes written. */
  write(mem: GuestMemory, at: number, end: number, entry: DirEntry): number {
    const name = entry.name;
    const length = name.length;
    if (Layout.direntSize + length <= end - at) {
      const u8 = mem.u8;
      const p = at + Layout.direntSize;
      let i = 0;
      for (; i < length; i++) {
        const c = name.charCodeAt(i);
        if (c >= 0x80) break;
        u8[p + i] = c;
      }
      if (i === length) {
        writeHeader(mem.dv, at, entry, length);
        return Layout.direntSize + length;
      }
      // Not ASCII: the copy below overwrites the bytes written so far (the
      // name's UTF-8 is at least as long as its UTF-16, and the room holds it).
    }
    const { written } = nameEncoder.encodeInto(name, this.#name);
    writeHeader(this.#view, 0, entry, written);
    const size = Math.min(Layout.direntSize + written, end - at);
    mem.u8.set(this.#bytes.subarray(0, size), at);
    return size;
  }
}

/** A dirent's header at `at`: the cookie of the next entry, the inode, the name's length and the filetype. */
function writeHeader(view: DataView, at: number, entry: DirEntry, nameLength: number): void {
  const next = entry.next;
  view.setUint32(at, next >>> 0, true);
  view.setUint32(at + 4, Math.floor(next / 4294967296), true);
  // An inode number is below 2^53 in every filesystem strata has: two halves, no BigInt call.
  const ino = Number(entry.ino);
  if (ino <= Number.MAX_SAFE_INTEGER) {
    view.setUint32(at + 8, ino >>> 0, true);
    view.setUint32(at + 12, Math.floor(ino / 4294967296), true);
  } else {
    view.setBigUint64(at + 8, entry.ino, true);
  }
  view.setUint32(at + 16, nameLength, true);
  view.setUint32(at + 20, filetypeCode[entry.type], true);
}
