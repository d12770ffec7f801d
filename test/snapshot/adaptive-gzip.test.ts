import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { adaptiveGzip, looksIncompressible } from '../../src/snapshot/adaptive-gzip.js';
import { seededRandom } from '../support/seeded-random.js';

function noise(bytes: number, seed: number): Buffer {
  const next = seededRandom(seed);
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Math.floor(next() * 256);
  return out;
}

async function gz(chunks: readonly Buffer[]): Promise<{ out: Buffer; seen: number }> {
  let seen = 0;
  const z = adaptiveGzip(1, (chunk) => (seen += chunk.length));
  const parts: Buffer[] = [];
  await pipeline(Readable.from(chunks), z, new Writable({ write: (c: Buffer, _e, done) => (parts.push(c), done()) }));
  return { out: Buffer.concat(parts), seen };
}

describe('adaptive gzip (delta layers)', () => {
  it('tells noise from text by sampling', () => {
    expect(looksIncompressible(noise(256 * 1024, 1))).toBe(true);
    expect(looksIncompressible(Buffer.alloc(256 * 1024, 'strata '))).toBe(false);
  });

  it('stores incompressible chunks, compresses the rest, and is one gzip member that gunzip and gzip -t accept', async () => {
    const chunks = [Buffer.alloc(300_000, 'a'), noise(1 << 20, 2), Buffer.from('tail'), Buffer.alloc(200_000, 'b'), noise(70_000, 3)];
    const whole = Buffer.concat(chunks);
    const { out, seen } = await gz(chunks);
    expect(seen).toBe(whole.length);
    expect(gunzipSync(out).equals(whole)).toBe(true);
    // The noise is stored (a few bytes per 64 KiB block), the runs shrink to almost nothing.
    expect(out.length).toBeLessThan((1 << 20) + 70_000 + 4096);
    expect(out.length).toBeGreaterThan((1 << 20) + 70_000);
    const dir = mkdtempSync(join(tmpdir(), 'strata-gz-'));
    try {
      writeFileSync(join(dir, 'layer.gz'), out);
      const check = spawnSync('gzip', ['-t', join(dir, 'layer.gz')]);
      expect(check.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the bytes in order when small chunks sit between level changes (as tar headers do), run after run', async () => {
    const header = (n: number) => Buffer.alloc(512, n);
    const chunks = [header(1), Buffer.alloc(1 << 20, 'p'), header(2), noise(1 << 20, 4), header(3), Buffer.alloc(256 * 1024, 'q'), header(4), noise(128 * 1024, 5), header(5)];
    const whole = Buffer.concat(chunks);
    for (let run = 0; run < 5; run++) expect(gunzipSync((await gz(chunks)).out).equals(whole)).toBe(true);
  });

  it('keeps the checksum across empty chunks, however often it runs (a tar stream writes some)', async () => {
    const chunks = [Buffer.alloc(512, 1), Buffer.alloc(0), Buffer.from('changed\n'), Buffer.alloc(504), Buffer.alloc(1024)];
    const whole = Buffer.concat(chunks);
    for (let run = 0; run < 200; run++) expect(gunzipSync((await gz(chunks)).out).equals(whole)).toBe(true);
  });

  it('an empty input is a valid empty gzip member', async () => {
    const { out } = await gz([]);
    expect(gunzipSync(out).length).toBe(0);
  });
});
