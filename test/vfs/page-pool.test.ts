/**
 * Pages no file holds any more (removed, truncated away, or released with
 * a closed sandbox's tmpfs) go to a pool the thread's next files take from:
 * never while a name or an open description still holds the file, never
 * with a byte of the old file visible in the new one, never more than the
 * bound, and not for longer than the pool's decay allows.
 */
import { describe, expect, it } from 'vitest';
import { FileData } from '../../src/vfs/file-data.js';
import { PagePool, pageSize, sharedPagePool } from '../../src/vfs/page-pool.js';
import { Tmpfs } from '../../src/vfs/index.js';
import type { FileNode } from '../../src/vfs/index.js';
import { nearTheStackLimit } from '../support/stack-limit.js';

const full = (n: number, byte: number) => new Uint8Array(n).fill(byte);

function read(file: FileNode): Uint8Array {
  const out = new Uint8Array(file.size);
  file.read(out, 0, out.length, 0);
  return out;
}

/** A pool holding `n` pages full of 0xee: another file's old bytes. */
function dirtyPool(n: number): PagePool {
  const pool = new PagePool(1024);
  for (let i = 0; i < n; i++) pool.give(full(pageSize, 0xee));
  return pool;
}

describe('PagePool', () => {
  it('keeps only full pages, as they are, up to its bound; take returns the last one given', () => {
    const pool = new PagePool(2);
    pool.give(new Uint8Array(100));
    expect(pool.size).toBe(0);
    pool.give(full(pageSize, 7));
    pool.give(full(pageSize, 8));
    pool.give(full(pageSize, 9));
    expect(pool.size).toBe(2);
    expect(pool.take()![0]).toBe(8);
    expect(pool.size).toBe(1);
  });

  it('a trim drops the pages no take reached since the last trim', () => {
    const pool = new PagePool(16);
    for (let i = 0; i < 4; i++) pool.give(full(pageSize, i));
    pool.trim(); // the interval began empty: nothing sat unused all through it
    expect(pool.size).toBe(4);
    pool.take();
    pool.take(); // the low-water mark is now 2
    pool.give(full(pageSize, 9));
    pool.trim();
    expect(pool.size).toBe(1);
    expect(pool.take()![0]).toBe(9); // the bottom went, the page given last stayed
    pool.give(full(pageSize, 1));
    pool.trim(); // the low-water mark was 0
    expect(pool.size).toBe(1);
    pool.trim(); // untouched for a whole interval
    expect(pool.size).toBe(0);
  });

  it('lets go of what it holds within two decay intervals once nothing takes it', async () => {
    const pool = new PagePool(16, 20);
    pool.give(full(pageSize, 1));
    pool.give(full(pageSize, 2));
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(pool.size).toBe(0);
  });

  it("the thread's pool is bounded and decays", () => {
    const pool = sharedPagePool();
    expect(pool).toBe(sharedPagePool());
    expect(pool.max * pageSize).toBe(512 << 20);
    expect(pool.decayMs).toBe(1000);
  });
});

describe('a pooled page never shows its old bytes', () => {
  it('a partial write, a hole, a growth and a first page grown from the pool read zeros', () => {
    const pool = dirtyPool(4);
    const data = new FileData(pool);
    data.write(full(10, 0x55), 0, 10, pageSize + 100); // page 1 from the pool, page 0 a hole
    data.truncate(3 * pageSize); // grows over the rest of page 1 and a hole
    const out = new Uint8Array(data.size);
    data.read(out, 0, out.length, 0);
    expect(out.filter((b) => b !== 0 && b !== 0x55).length).toBe(0);
    expect(out.subarray(pageSize + 100, pageSize + 110).every((b) => b === 0x55)).toBe(true);
    const small = new FileData(pool);
    small.write(full(5000, 2), 0, 5000, 0); // a first page past 4 KiB: a whole pooled page
    small.truncate(pageSize);
    const head = new Uint8Array(pageSize);
    small.read(head, 0, pageSize, 0);
    expect(head.subarray(0, 5000).every((b) => b === 2)).toBe(true);
    expect(head.subarray(5000).every((b) => b === 0)).toBe(true);
  });

  it('a whole-page write takes a pooled page without zeroing it and reads back exactly what it wrote', () => {
    const pool = dirtyPool(2);
    const data = new FileData(pool);
    data.write(full(pageSize, 1), 0, pageSize, 0);
    data.write(full(pageSize, 3), 0, pageSize, pageSize);
    expect(pool.size).toBe(0);
    const out = new Uint8Array(2 * pageSize);
    data.read(out, 0, out.length, 0);
    expect(out.subarray(0, pageSize).every((b) => b === 1)).toBe(true);
    expect(out.subarray(pageSize).every((b) => b === 3)).toBe(true);
  });

  it('a whole-page write cut short at its copy leaves the pooled page out of the file', () => {
    const dirty = full(pageSize, 0xee);
    const pool = new PagePool(4);
    pool.give(dirty);
    const data = new FileData(pool);
    data.truncate(3 * pageSize); // page 1 is a hole inside the size
    const set = Uint8Array.prototype.set;
    Uint8Array.prototype.set = function (this: Uint8Array, ...args: Parameters<typeof set>) {
      if (this === dirty) throw new Error('interrupted');
      return set.apply(this, args);
    };
    try {
      expect(() => data.write(full(pageSize, 0x11), 0, pageSize, pageSize)).toThrow('interrupted');
    } finally {
      Uint8Array.prototype.set = set;
    }
    const out = new Uint8Array(data.size);
    data.read(out, 0, out.length, 0);
    expect(out.every((b) => b === 0)).toBe(true);
  });

  it('a whole-page write into a hole, cut short at every depth near the stack limit, never leaves old bytes in the file', () => {
    const attempt = (data: FileData) => data.write(full(pageSize, 0x11), 0, pageSize, pageSize);
    const make = () => {
      const data = new FileData(dirtyPool(2));
      data.truncate(3 * pageSize); // page 1 is a hole inside the size
      return data;
    };
    attempt(make()); // compile the path first
    const files = Array.from({ length: 600 }, make);
    const thrown = nearTheStackLimit(files.length, (i) => attempt(files[i]!));
    expect(thrown).toBeGreaterThan(0);
    expect(thrown).toBeLessThan(files.length);
    for (const data of files) {
      const out = new Uint8Array(data.size);
      data.read(out, 0, out.length, 0);
      expect(out.some((b) => b === 0xee)).toBe(false);
    }
  });
});

describe('tmpfs files give their pages to the pool', () => {
  it('after unlink, a file of another tmpfs takes them and reads only its own bytes', () => {
    const pool = new PagePool(1024);
    const fs = new Tmpfs({ dev: 1n, pagePool: pool });
    const other = new Tmpfs({ dev: 2n, pagePool: pool });
    const old = fs.root.createFile('journal', 0o644);
    old.write(full(2 * pageSize, 0xaa), 0, 2 * pageSize, 0);
    fs.root.unlink('journal');
    expect(pool.size).toBe(2);
    const next = other.root.createFile('journal', 0o644);
    next.write(full(10, 0x55), 0, 10, pageSize + 100);
    expect(pool.size).toBe(1);
    const bytes = read(next);
    expect(bytes.subarray(0, pageSize + 100).every((x) => x === 0)).toBe(true);
    expect(bytes.subarray(pageSize + 100).every((x) => x === 0x55)).toBe(true);
    next.truncate(2 * pageSize);
    expect(read(next).subarray(pageSize + 110).every((x) => x === 0)).toBe(true);
  });

  it('a file unlinked while open keeps its bytes until its last open description is released', () => {
    const pool = new PagePool(1024);
    const fs = new Tmpfs({ dev: 1n, pagePool: pool });
    const file = fs.root.createFile('f', 0o644) as FileNode & { retain(): void; release(): void };
    file.write(full(pageSize, 0x11), 0, pageSize, 0);
    file.retain();
    fs.root.unlink('f');
    expect(pool.size).toBe(0);
    const other = fs.root.createFile('g', 0o644);
    other.write(full(pageSize, 0x22), 0, pageSize, 0);
    expect(read(file).every((x) => x === 0x11)).toBe(true);
    file.release();
    expect(pool.size).toBe(1);
    expect(read(other).every((x) => x === 0x22)).toBe(true);
  });

  it('a file replaced by a rename gives its pages back; one with another hard link keeps them', () => {
    const pool = new PagePool(1024);
    const fs = new Tmpfs({ dev: 1n, pagePool: pool });
    const a = fs.root.createFile('a', 0o644);
    a.write(full(pageSize, 1), 0, pageSize, 0);
    fs.root.link('a2', a);
    fs.root.unlink('a');
    expect(pool.size).toBe(0);
    expect(read(a).every((x) => x === 1)).toBe(true);
    const b = fs.root.createFile('b', 0o644);
    b.write(full(10, 2), 0, 10, 0);
    fs.root.rename('b', fs.root, 'a2');
    expect(pool.size).toBe(1);
    expect(read(fs.root.lookup('a2') as FileNode)).toEqual(full(10, 2));
  });

  it('a truncate gives the whole pages past the new size', () => {
    const pool = new PagePool(1024);
    const fs = new Tmpfs({ dev: 1n, pagePool: pool });
    const f = fs.root.createFile('f', 0o644);
    f.write(full(4 * pageSize, 1), 0, 4 * pageSize, 0);
    f.truncate(pageSize + 1);
    expect(pool.size).toBe(2);
    expect(read(f).every((x) => x === 1)).toBe(true);
  });

  it('keeps at most its bound; a tmpfs uses the thread pool by default', () => {
    const pool = new PagePool(16);
    const fs = new Tmpfs({ dev: 1n, pagePool: pool });
    const big = fs.root.createFile('big', 0o644);
    big.write(full(40 * pageSize, 3), 0, 40 * pageSize, 0);
    fs.root.unlink('big');
    expect(pool.size).toBe(16);
    expect(new Tmpfs({ dev: 2n }).pagePool).toBe(sharedPagePool());
  });
});

describe('Tmpfs.release', () => {
  it("gives every file's pages to the pool; contents and mutations then fail with EIO", () => {
    const pool = new PagePool(1024);
    const fs = new Tmpfs({ dev: 1n, pagePool: pool });
    const dir = fs.root.mkdir('d', 0o755);
    const a = dir.createFile('a', 0o644);
    a.write(full(3 * pageSize, 1), 0, 3 * pageSize, 0);
    const b = fs.root.createFile('b', 0o644);
    b.write(full(2 * pageSize, 2), 0, 2 * pageSize, 0);
    fs.root.link('b2', b);
    fs.release();
    expect(fs.released).toBe(true);
    expect(pool.size).toBe(5);
    expect(a.size).toBe(0);
    expect(() => a.read(new Uint8Array(1), 0, 1, 0)).toThrow(expect.objectContaining({ errno: 'EIO' }));
    expect(() => b.write(full(1, 1), 0, 1, 0)).toThrow(expect.objectContaining({ errno: 'EIO' }));
    expect(() => fs.root.createFile('c', 0o644)).toThrow(expect.objectContaining({ errno: 'EIO' }));
    expect(() => fs.root.unlink('b')).toThrow(expect.objectContaining({ errno: 'EIO' }));
    expect(fs.root.lookup('d')).toBe(dir);
    fs.release(); // twice: nothing more
    expect(pool.size).toBe(5);
  });

  it('fails contents and mutations with EIO even when no file holds a byte (no walk then)', () => {
    const pool = new PagePool(1024);
    const fs = new Tmpfs({ dev: 1n, pagePool: pool });
    const a = fs.root.mkdir('d', 0o755).createFile('a', 0o644);
    const b = fs.root.createFile('b', 0o644);
    b.write(full(2 * pageSize, 2), 0, 2 * pageSize, 0);
    b.truncate(0); // its pages go back now: nothing is left for release
    expect(pool.size).toBe(2);
    expect(fs.usage.bytes).toBe(0);
    fs.release();
    expect(fs.released).toBe(true);
    expect(pool.size).toBe(2);
    expect(() => a.read(new Uint8Array(1), 0, 1, 0)).toThrow(expect.objectContaining({ errno: 'EIO' }));
    expect(() => b.write(full(1, 1), 0, 1, 0)).toThrow(expect.objectContaining({ errno: 'EIO' }));
    expect(() => fs.root.createFile('c', 0o644)).toThrow(expect.objectContaining({ errno: 'EIO' }));
  });

  it('does nothing to a frozen tmpfs (it may be the lower of a fork)', () => {
    const pool = new PagePool(1024);
    const fs = new Tmpfs({ dev: 1n, pagePool: pool });
    const a = fs.root.createFile('a', 0o644);
    a.write(full(pageSize, 1), 0, pageSize, 0);
    fs.freeze();
    fs.release();
    expect(fs.released).toBe(false);
    expect(pool.size).toBe(0);
    expect(read(a).every((x) => x === 1)).toBe(true);
  });
});
