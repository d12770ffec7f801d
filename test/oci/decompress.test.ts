import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/error-code.js';
import { decompress, layerFormat, maxZstdWindowBytes, type LayerCompression } from '../../src/oci/decompress.js';
import { concat, zstdRaw, zstdRle } from '../support/tar-dsl.js';

async function collect(source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, compression: LayerCompression, maxBytes?: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of decompress(source, compression, maxBytes === undefined ? {} : { maxBytes })) parts.push(chunk);
  return concat(...parts);
}

/** Byte equality without a per-element diff (fast on big arrays). */
function same(a: Uint8Array, b: Uint8Array): void {
  expect(a.length).toBe(b.length);
  expect(Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))).toBe(true);
}


/** Split bytes into chunks of `size` (to exercise boundaries). */
function chunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

const truncated = (bytes: Uint8Array) => bytes.subarray(0, bytes.length >> 1);

const sample = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);

describe('layerFormat', () => {
  it('knows OCI, Docker and wasm layer media types', () => {
    expect(layerFormat('application/vnd.oci.image.layer.v1.tar')).toEqual({ kind: 'tar', compression: 'none' });
    expect(layerFormat('application/vnd.oci.image.layer.v1.tar+gzip')).toEqual({ kind: 'tar', compression: 'gzip' });
    expect(layerFormat('application/vnd.oci.image.layer.v1.tar+zstd')).toEqual({ kind: 'tar', compression: 'zstd' });
    expect(layerFormat('application/vnd.docker.image.rootfs.diff.tar.gzip')).toEqual({ kind: 'tar', compression: 'gzip' });
    expect(layerFormat('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')).toEqual({ kind: 'tar', compression: 'gzip' });
    expect(layerFormat('application/wasm')).toEqual({ kind: 'wasm', compression: 'none' });
  });

  it('refuses anything else, naming it', () => {
    for (const type of ['application/vnd.oci.image.layer.v1.tar+bzip2', 'toString', '__proto__', '']) {
      expect(() => layerFormat(type)).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_MEDIA_TYPE' }));
    }
  });
});

describe('decompress', () => {
  it('passes an uncompressed stream through', async () => {
    same(await collect(chunks(sample, 1000), 'none'), sample);
    same(await collect([], 'none'), new Uint8Array(0));
  });

  it('gunzips, across chunk boundaries and gzip members', async () => {
    const gz = new Uint8Array(gzipSync(sample));
    same(await collect(chunks(gz, 999), 'gzip'), sample);
    const two = concat(new Uint8Array(gzipSync(sample.subarray(0, 100))), new Uint8Array(gzipSync(sample.subarray(100))));
    same(await collect([two], 'gzip'), sample);
  });

  it('decompresses zstd frames: raw and RLE blocks, several frames, skippable frames', async () => {
    const raw = zstdRaw(sample);
    for (const size of [5, 4096, raw.length]) same(await collect(chunks(raw, size), 'zstd'), sample);
    const small = sample.subarray(0, 3000);
    same(await collect(chunks(zstdRaw(small), 1), 'zstd'), small);
    expect(await collect(chunks(new Uint8Array(gzipSync(small)), 1), 'none')).toEqual(small);
    const skippable = Uint8Array.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
    const multi = concat(zstdRaw(sample.subarray(0, 10)), skippable, zstdRle(5, 7), zstdRaw(sample.subarray(10)));
    const expected = concat(sample.subarray(0, 10), new Uint8Array(5).fill(7), sample.subarray(10));
    same(await collect(chunks(multi, 3), 'zstd'), expected);
  });

  it('sniffs a compressed blob declared uncompressed (docker-archive layer.tar)', async () => {
    same(await collect([new Uint8Array(gzipSync(sample))], 'none'), sample);
    same(await collect([zstdRaw(sample)], 'none'), sample);
  });

  const errors: Array<[string, () => Uint8Array, LayerCompression, string]> = [
    ['gzip declared, plain data', () => sample, 'gzip', 'ERR_LAYER_DECOMPRESS'],
    ['zstd declared, gzip data', () => new Uint8Array(gzipSync(sample)), 'zstd', 'ERR_LAYER_DECOMPRESS'],
    ['corrupt gzip', () => new Uint8Array(gzipSync(sample)).map((b, i) => (i > 20 && i < 40 ? b ^ 0xff : b)), 'gzip', 'ERR_LAYER_DECOMPRESS'],
    ['truncated gzip', () => truncated(new Uint8Array(gzipSync(sample))), 'gzip', 'ERR_LAYER_DECOMPRESS'],
    ['truncated zstd', () => zstdRaw(sample).subarray(0, 5000), 'zstd', 'ERR_LAYER_DECOMPRESS'],
    ['zstd with trailing garbage', () => concat(zstdRaw(sample), new Uint8Array(20).fill(1)), 'zstd', 'ERR_LAYER_DECOMPRESS'],
    ['zstd reserved block type', () => Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50, 0x07, 0, 0, 0, 0, 0]), 'zstd', 'ERR_LAYER_DECOMPRESS'],
    ['zstd window over the limit', () => Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (31 - 10) << 3, 0x01, 0, 0]), 'zstd', 'ERR_LAYER_DECOMPRESS'],
    ['zstd single-segment frame claiming 2 GiB', () => Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0, 0, 0, 0, 0x80, 0x01, 0, 0]), 'zstd', 'ERR_LAYER_DECOMPRESS'],
  ];
  for (const [name, input, compression, code] of errors) {
    it(`fails with ${code}: ${name}`, async () => {
      expect(await codeOf(collect([input()], compression))).toBe(code);
    });
  }

  it('stops at the uncompressed cap (ERR_LAYER_TOO_LARGE)', async () => {
    expect(await codeOf(collect([sample], 'none', 1000))).toBe('ERR_LAYER_TOO_LARGE');
    expect(await codeOf(collect([new Uint8Array(gzipSync(sample))], 'gzip', 1000))).toBe('ERR_LAYER_TOO_LARGE');
    expect(await codeOf(collect([zstdRaw(sample)], 'zstd', 1000))).toBe('ERR_LAYER_TOO_LARGE');
    same(await collect([zstdRaw(sample)], 'zstd', sample.length), sample);
    expect(maxZstdWindowBytes).toBe(2 ** 27);
  });
});
