import { describe, expect, it } from 'vitest';
import { PullProgress } from '../../src/cli/progress.js';
import type { Digest } from '../../src/oci/digest.js';
import type { ImageRecord } from '../../src/oci/image-store.js';

const a = `sha256:${'a'.repeat(64)}` as Digest;
const b = `sha256:${'b'.repeat(64)}` as Digest;
const m = `sha256:${'c'.repeat(64)}` as Digest;
const layers = [
  { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: a, size: 2048 },
  { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: b, size: 1000 },
];
const image = { reference: 'r.io/x:1', manifestDigest: m } as ImageRecord;

function run(tty: boolean) {
  const writes: string[] = [];
  const progress = new PullProgress({ write: (t) => writes.push(t), tty, columns: 100 });
  progress.start('r.io/x:1');
  progress.handle({ type: 'resolved', reference: 'r.io/x:1', manifestDigest: m, platform: { os: 'wasi', architecture: 'wasm' }, layers });
  progress.handle({ type: 'fetched', digest: b, size: 1000, cached: true });
  progress.handle({ type: 'progress', digest: a, bytes: 1024, size: 2048 });
  progress.handle({ type: 'fetched', digest: a, size: 2048, cached: false });
  progress.handle({ type: 'indexed', digest: a, diffID: b });
  progress.handle({ type: 'indexed', digest: b, diffID: b });
  progress.handle({ type: 'done', image, durationMs: 1234 });
  return writes;
}

describe('PullProgress', () => {
  it('writes plain lines, one per step, when not on a terminal', () => {
    expect(run(false).join('')).toBe(
      [
        'pulling r.io/x:1',
        `resolved ${m} (wasi/wasm), 2 layers, 3.0 KiB`,
        'sha256:bbbbbbbbbbbb: already present, 1000 B',
        'sha256:aaaaaaaaaaaa: fetched, 2.0 KiB',
        'sha256:aaaaaaaaaaaa: indexed (diffID sha256:bbbbbbbbbbbb)',
        'sha256:bbbbbbbbbbbb: indexed (diffID sha256:bbbbbbbbbbbb)',
        `pulled r.io/x:1 ${m} in 1.23 s`,
        '',
      ].join('\n'),
    );
  });

  it('draws a bar per layer and a total on a terminal, redrawn in place', () => {
    const writes = run(true);
    // Every redraw after the first moves up over the previous frame (2 header lines, 2 layers, total).
    expect(writes[0]).not.toMatch(/\x1b\[\d+A/);
    for (const frame of writes.slice(1, -1)) expect(frame.startsWith('\x1b[5A')).toBe(true);
    const last = writes.at(-2)!.replace(/^\x1b\[5A/, '').split('\n').map((l) => l.replace(/^\r\x1b\[2K/, ''));
    expect(last.slice(0, 2)).toEqual(['pulling r.io/x:1', 'resolved sha256:cccccccccccc (wasi/wasm), 2 layers, 3.0 KiB']);
    expect(last[2]).toMatch(/^ {2}sha256:aaaaaaaaaaaa +\[=+\] 2\.0 KiB \/ 2\.0 KiB +indexed$/);
    expect(last[4]).toMatch(/^ {2}total +\[=+\] 3\.0 KiB \/ 3\.0 KiB +indexed$/);
    expect(writes.at(-1)).toBe(`pulled r.io/x:1 ${m} in 1.23 s\n`);
  });

  it('shows a half-filled bar for half the bytes', () => {
    const writes: string[] = [];
    const progress = new PullProgress({ write: (t) => writes.push(t), tty: true, columns: 100 });
    progress.start('r.io/x:1');
    progress.handle({ type: 'resolved', reference: 'r.io/x:1', manifestDigest: m, layers: [layers[0]!] });
    progress.handle({ type: 'fetched', digest: a, size: 2048, cached: false });
    const frame = writes.at(-1)!;
    expect(frame).toMatch(/total +\[=+\]/);
    const first = writes[0]!;
    expect(first).toMatch(/sha256:aaaaaaaaaaaa +\[ +\] 0 B \/ 2\.0 KiB +waiting/);
  });
});
