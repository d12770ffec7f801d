import { describe, expect, it } from 'vitest';
import { FileData, pageSize } from '../../src/vfs/file-data.js';

/** A model of a file: a plain array of bytes, grown by hand. */
class Model {
  bytes = new Uint8Array(0);
  write(src: Uint8Array, position: number): void {
    const end = position + src.length;
    if (end > this.bytes.length) {
      const next = new Uint8Array(end);
      next.set(this.bytes);
      this.bytes = next;
    }
    this.bytes.set(src, position);
  }
  truncate(size: number): void {
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, Math.min(size, this.bytes.length)));
    this.bytes = next;
  }
}

function readAll(data: FileData): Uint8Array {
  const out = new Uint8Array(data.size);
  expect(data.read(out, 0, out.length, 0)).toBe(out.length);
  return out;
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => ((i * 31 + seed) % 251) + 1);
}

describe('FileData', () => {
  const cases: { name: string; ops: (['w', number, number] | ['t', number])[] }[] = [
    { name: 'small appends stay in page 0', ops: [['w', 0, 16], ['w', 16, 16], ['w', 32, 100]] },
    { name: 'a write straddling the first page boundary', ops: [['w', pageSize - 10, 20]] },
    { name: 'a write spanning three pages', ops: [['w', pageSize - 5, 2 * pageSize + 10]] },
    { name: 'a hole of whole pages reads as zeros', ops: [['w', 0, 4], ['w', 5 * pageSize + 3, 7]] },
    { name: 'shrink into page 0 then grow: the old bytes are gone', ops: [['w', 0, 3 * pageSize], ['t', 100], ['t', 2 * pageSize]] },
    { name: 'shrink to a page boundary then grow', ops: [['w', 0, 3 * pageSize], ['t', pageSize], ['t', 3 * pageSize + 1]] },
    { name: 'shrink mid-page then write past the end', ops: [['w', 0, 2 * pageSize], ['t', pageSize + 7], ['w', 2 * pageSize, 5]] },
    { name: 'truncate to zero and write again', ops: [['w', 0, pageSize + 1], ['t', 0], ['w', 10, 3]] },
    { name: 'grow by truncate alone', ops: [['t', 3 * pageSize + 17]] },
  ];

  it.each(cases)('$name', ({ ops }) => {
    const data = new FileData();
    const model = new Model();
    ops.forEach((op, i) => {
      if (op[0] === 'w') {
        const src = pattern(op[2], i);
        data.write(src, 0, src.length, op[1]);
        model.write(src, op[1]);
      } else {
        data.truncate(op[1]);
        model.truncate(op[1]);
      }
      expect(data.size).toBe(model.bytes.length);
    });
    expect(Buffer.compare(readAll(data), model.bytes)).toBe(0);
  });

  it('matches the model over random reads and writes', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const data = new FileData();
    const model = new Model();
    for (let step = 0; step < 300; step++) {
      const kind = rand(10);
      if (kind < 6) {
        const src = pattern(1 + rand(3 * 4096), step);
        const at = rand(3 * pageSize);
        data.write(src, 0, src.length, at);
        model.write(src, at);
      } else if (kind < 8) {
        const size = rand(4 * pageSize);
        data.truncate(size);
        model.truncate(size);
      } else {
        const at = rand(Math.max(1, model.bytes.length));
        const len = rand(2 * pageSize);
        const out = new Uint8Array(len + 8).fill(0xee);
        const n = data.read(out, 8, len, at);
        const want = model.bytes.subarray(at, at + len);
        expect(n).toBe(want.length);
        expect(Buffer.compare(out.subarray(8, 8 + n), want)).toBe(0);
        expect(out.subarray(0, 8).every((b) => b === 0xee)).toBe(true);
      }
    }
    expect(Buffer.compare(readAll(data), model.bytes)).toBe(0);
  });

  describe('memory: what is allocated beyond the data', () => {
    const appends = (data: FileData, chunk: number, total: number) => {
      const src = pattern(chunk, 3);
      for (let at = 0; at < total; at += chunk) data.write(src, 0, Math.min(chunk, total - at), at);
    };

    it('a file written in one write holds exactly its bytes', () => {
      const data = new FileData();
      data.write(pattern(100, 1), 0, 100, 0);
      expect(data.allocated).toBe(100);
    });

    it('small appends: under 2x the data while under a page', () => {
      const data = new FileData();
      appends(data, 16, 1000);
      expect(data.allocated).toBeGreaterThanOrEqual(1000);
      expect(data.allocated).toBeLessThan(2 * 1000);
    });

    it('appends past a page: under one page of slack', () => {
      const data = new FileData();
      appends(data, 4096, 10 * pageSize + 1);
      expect(data.allocated).toBe(11 * pageSize);
      expect(pageSize).toBeLessThanOrEqual(64 * 1024);
    });

    it('4 KiB writes at random offsets covering the file: no slack', () => {
      const data = new FileData();
      const blocks = (4 * pageSize) / 4096;
      const order = Array.from({ length: blocks }, (_, i) => (i * 37) % blocks);
      expect(new Set(order).size).toBe(blocks);
      for (const i of order) data.write(pattern(4096, i), 0, 4096, i * 4096);
      expect(data.size).toBe(4 * pageSize);
      expect(data.allocated).toBe(4 * pageSize);
    });

    it('a hole costs nothing and a byte past it one page', () => {
      const data = new FileData();
      data.write(pattern(1, 1), 0, 1, 10 * pageSize);
      expect(data.size).toBe(10 * pageSize + 1);
      expect(data.allocated).toBe(pageSize);
      data.truncate(0);
      expect(data.allocated).toBe(0);
    });
  });

  it('reads nothing at or past the end', () => {
    const data = new FileData();
    data.write(pattern(10, 1), 0, 10, 0);
    expect(data.read(new Uint8Array(4), 0, 4, 10)).toBe(0);
    expect(data.read(new Uint8Array(4), 0, 4, 50)).toBe(0);
  });
});
