/**
 * Pages of removed files are reused by the next files of the same tmpfs:
 * never while a name or an open description still holds the file, never
 * with a byte of the old file left in them, never more than the bound.
 */
import { describe, expect, it } from 'vitest';
import { FileData, PagePool, pageSize } from '../../src/vfs/file-data.js';
import { Tmpfs } from '../../src/vfs/index.js';
import type { FileNode } from '../../src/vfs/index.js';

const full = (n: number, byte: number) => new Uint8Array(n).fill(byte);

function read(file: FileNode): Uint8Array {
  const out = new Uint8Array(file.size);
  file.read(out, 0, out.length, 0);
  return out;
}

describe('PagePool', () => {
  it('takes back only full pages, zeroed, up to its bound', () => {
    const pool = new PagePool(2);
    pool.give(new Uint8Array(100));
    expect(pool.size).toBe(0);
    const page = full(pageSize, 7);
    pool.give(page);
    pool.give(full(pageSize, 8));
    pool.give(full(pageSize, 9));
    expect(pool.size).toBe(2);
    const taken = pool.take()!;
    expect(taken.every((b) => b === 0)).toBe(true);
    expect(pool.size).toBe(1);
  });

  it('a FileData gives its pages back on clear and takes them for a first page past 4 KiB', () => {
    const pool = new PagePool(8);
    const a = new FileData(pool);
    a.write(full(3 * pageSize, 0xaa), 0, 3 * pageSize, 0);
    a.clear();
    expect(pool.size).toBe(3);
    expect(a.size).toBe(0);
    const b = new FileData(pool);
    b.write(full(100, 1), 0, 100, 0); // a small first page is grown, not taken
    expect(pool.size).toBe(3);
    b.write(full(5000, 2), 0, 5000, 100); // past 4 KiB: a whole page from the pool
    expect(pool.size).toBe(2);
    expect(b.allocated).toBe(pageSize);
    const out = new Uint8Array(5100);
    b.read(out, 0, 5100, 0);
    expect(out.subarray(0, 100).every((x) => x === 1)).toBe(true);
    expect(out.subarray(100).every((x) => x === 2)).toBe(true);
  });
});

describe('a tmpfs reuses the pages of removed files', () => {
  it('after unlink, a new file of the same tmpfs takes them and reads only its own bytes (holes are zeros)', () => {
    const fs = new Tmpfs({ dev: 1n });
    const old = fs.root.createFile('journal', 0o644);
    old.write(full(2 * pageSize, 0xaa), 0, 2 * pageSize, 0);
    fs.root.unlink('journal');
    expect(fs.pagePool.size).toBe(2);
    const next = fs.root.createFile('journal', 0o644);
    // A sparse write into the second page: the first page is a hole, the second comes from the pool.
    next.write(full(10, 0x55), 0, 10, pageSize + 100);
    expect(fs.pagePool.size).toBe(1);
    const bytes = read(next);
    expect(bytes.length).toBe(pageSize + 110);
    expect(bytes.subarray(0, pageSize + 100).every((x) => x === 0)).toBe(true);
    expect(bytes.subarray(pageSize + 100).every((x) => x === 0x55)).toBe(true);
    // Growing past the written end shows zeros, not the old file's bytes.
    next.truncate(2 * pageSize);
    expect(read(next).subarray(pageSize + 110).every((x) => x === 0)).toBe(true);
  });

  it('a file unlinked while open keeps its bytes until its last open description is released', () => {
    const fs = new Tmpfs({ dev: 1n });
    const file = fs.root.createFile('f', 0o644) as FileNode & { retain(): void; release(): void };
    file.write(full(pageSize, 0x11), 0, pageSize, 0);
    file.retain();
    fs.root.unlink('f');
    expect(fs.pagePool.size).toBe(0);
    const other = fs.root.createFile('g', 0o644);
    other.write(full(pageSize, 0x22), 0, pageSize, 0);
    expect(read(file).every((x) => x === 0x11)).toBe(true);
    file.release();
    expect(fs.pagePool.size).toBe(1);
    expect(read(other).every((x) => x === 0x22)).toBe(true);
  });

  it('a file replaced by a rename gives its pages back; one with another hard link keeps them', () => {
    const fs = new Tmpfs({ dev: 1n });
    const a = fs.root.createFile('a', 0o644);
    a.write(full(pageSize, 1), 0, pageSize, 0);
    fs.root.link('a2', a);
    fs.root.unlink('a');
    expect(fs.pagePool.size).toBe(0);
    expect(read(a).every((x) => x === 1)).toBe(true);
    const b = fs.root.createFile('b', 0o644);
    b.write(full(10, 2), 0, 10, 0);
    fs.root.rename('b', fs.root, 'a2');
    expect(fs.pagePool.size).toBe(1);
    expect(read(fs.root.lookup('a2') as FileNode)).toEqual(full(10, 2));
  });

  it('keeps at most 1 MiB, and pools are not shared between filesystems', () => {
    const fs = new Tmpfs({ dev: 1n });
    const other = new Tmpfs({ dev: 2n });
    const big = fs.root.createFile('big', 0o644);
    big.write(full(40 * pageSize, 3), 0, 40 * pageSize, 0);
    fs.root.unlink('big');
    expect(fs.pagePool.size * pageSize).toBe(1 << 20);
    expect(other.pagePool.size).toBe(0);
  });
});
