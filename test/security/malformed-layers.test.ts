import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { StrataError } from '../../src/errors.js';
import { indexLayer } from '../../src/oci/layer-index.js';
import { mediaTypes, tempStore } from '../support/layer-trees.js';
import { concat, endOfArchive, rawHeader, rawPax, t, tar, zstdRle } from '../support/tar-dsl.js';
import { runCase } from './harness.js';

/** Duplicate entries, truncated tars, oversized headers, devices and decompression bombs. */
describe('duplicate entries', () => {
  it('the last of duplicate files, links and directories wins', async () => {
    const o = await runCase({
      layers: async () => [
        await tar(t.file('f', 'one'), t.file('f', 'two'), t.symlink('a', 'l'), t.symlink('b', 'l'), t.dir('d', { mode: 0o700 }), t.file('d/x', '1'), t.dir('d', { mode: 0o750 })),
      ],
    });
    expect(o.tree!['f']!.content).toBe('two');
    expect(o.tree!['l']!.target).toBe('b');
    expect(o.tree!['d']!.mode).toBe(0o750);
    expect(o.tree!['d/x']!.content).toBe('1');
  });

  it('a file over a directory drops its subtree; a directory over a file replaces it', async () => {
    const o = await runCase({ layers: async () => [await tar(t.dir('d'), t.file('d/x', '1'), t.file('d', 'file'), t.file('f', 'file'), t.dir('f'), t.file('f/y', '2'))] });
    expect(Object.keys(o.tree!).sort()).toEqual(['d', 'f', 'f/y']);
  });

  it('a hardlink to a duplicate links the last one', async () => {
    const o = await runCase({ layers: async () => [await tar(t.file('a', 'old'), t.file('a', 'new'), t.link('a', 'b'))] });
    expect(o.tree!['b']).toMatchObject({ content: 'new', links: ['a'] });
  });
});

describe('malformed tars', () => {
  const cases: Array<[string, () => Promise<Uint8Array>, string]> = [
    ['truncated inside a header', async () => (await tar(t.file('a', 'x'), t.file('b', 'y'))).subarray(0, 1024 + 200), 'ERR_TAR_TRUNCATED'],
    ['truncated inside data', async () => (await tar(t.file('a', 'x'.repeat(4000)))).subarray(0, 2048), 'ERR_TAR_TRUNCATED'],
    ['a pax header over 1 MiB', async () => concat(rawPax({ path: 'p'.repeat((1 << 20) + 10) }), rawHeader({ name: 'a' }), endOfArchive), 'ERR_TAR_PAX_TOO_LARGE'],
    ['a GNU long name over 1 MiB', async () => concat(rawHeader({ name: '././@LongLink', type: 'L', size: (1 << 20) + 1 }), new Uint8Array((1 << 20) + 512)), 'ERR_TAR_PAX_TOO_LARGE'],
    ['a bad checksum', async () => concat(rawHeader({ name: 'a', checksum: 'bad' }), endOfArchive), 'ERR_TAR_HEADER'],
    ['random bytes', async () => new Uint8Array(4096).map((_, i) => (i * 131 + 7) & 0xff), 'ERR_TAR_HEADER'],
  ];
  for (const [name, make, code] of cases) {
    it(`${name}: ${code}`, async () => {
      const o = await runCase({ layers: async () => [await make()] });
      expect(o.code).toBe(code);
    });
  }

  it('a tar without end-of-archive blocks still applies', async () => {
    const bytes = await tar(t.file('a', 'x'));
    const o = await runCase({ layers: async () => [bytes.subarray(0, bytes.length - 1024)] });
    expect(o.tree!['a']!.content).toBe('x');
  });
});

describe('device nodes and fifos', () => {
  it('are skipped and listed in the warnings; the path keeps what lower layers had', async () => {
    const o = await runCase({ layers: async () => [await tar(t.dir('dev'), t.file('dev/null', 'lower')), await tar(t.charDevice('dev/null'), t.blockDevice('dev/sda'), t.fifo('run/fifo'))] });
    expect(o.tree!['dev/null']!.content).toBe('lower');
    expect(o.tree!['dev/sda']).toBeUndefined();
    expect(o.result!.warnings).toEqual(['dev/null: device node skipped', 'dev/sda: device node skipped', 'run/fifo: fifo skipped']);
  });
});

describe('decompression bombs', () => {
  const total = 100 * 1024 * 1024;
  const cap = 10 * 1024 * 1024;

  async function bomb(blob: Uint8Array, mediaType: string): Promise<{ code: string; heapGrowth: number; blobBytes: number }> {
    const store = await tempStore();
    const digest = await store.put(blob);
    const before = process.memoryUsage().rss;
    try {
      await indexLayer(store, { digest, mediaType }, { maxUncompressedBytes: cap });
      return { code: 'ok', heapGrowth: 0, blobBytes: blob.length };
    } catch (error) {
      expect(error).toBeInstanceOf(StrataError);
      return { code: (error as StrataError).code, heapGrowth: process.memoryUsage().rss - before, blobBytes: blob.length };
    }
  }

  it('a gzip bomb (100 MB of zeros) stops at a 10 MB cap', async () => {
    const r = await bomb(new Uint8Array(gzipSync(new Uint8Array(total), { level: 9 })), mediaTypes.gzip);
    expect(r.code).toBe('ERR_LAYER_TOO_LARGE');
    expect(r.blobBytes).toBeLessThan(200_000);
    expect(r.heapGrowth).toBeLessThan(64 * 1024 * 1024);
  });

  it('a zstd bomb (100 MB in RLE blocks, ~3 KB) stops at a 10 MB cap', async () => {
    const r = await bomb(zstdRle(total), mediaTypes.zstd);
    expect(r.code).toBe('ERR_LAYER_TOO_LARGE');
    expect(r.blobBytes).toBeLessThan(4_000);
    expect(r.heapGrowth).toBeLessThan(64 * 1024 * 1024);
  });

  it('a bomb whose bytes are a valid tar is stopped the same way', async () => {
    const inner = await tar(t.file('zeros', new Uint8Array(30 * 1024 * 1024)));
    const r = await bomb(new Uint8Array(gzipSync(inner)), mediaTypes.gzip);
    expect(r.code).toBe('ERR_LAYER_TOO_LARGE');
  });
});
