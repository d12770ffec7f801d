/**
 * Issue 8, item 8: applyLayers changed host directories outside its
 * target. A layer with directory `x/`, directory `x/sub/` (mode 0777), then
 * a symlink `x` pointing outside: the directories' modes and mtimes were
 * applied at the end through the replaced parent, so the outside directory
 * got mode 0777 and mtime 0. Variants with a whiteout, an opaque marker or
 * an implicit directory did the same. The sentinel beside the target must
 * keep every mode and mtime, its own included.
 */
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { t, tar } from '../support/tar-dsl.js';
import { runCase } from './harness.js';

type Layers = (sentinel: string) => ReturnType<typeof t.file>[][];

const open = { mode: 0o777, mtime: 0 };
const cases: [string, Layers][] = [
  ['a directory, then a symlink to an absolute outside path replacing it', (s) => [[t.dir('x'), t.dir('x/sub', open), t.symlink(s, 'x')]]],
  ['a directory, then a symlink to ../sentinel replacing it', () => [[t.dir('x'), t.dir('x/sub', open), t.symlink('../sentinel', 'x')]]],
  ['the sentinel itself, named through the replaced parent', (s) => [[t.dir('x'), t.dir('x/sentinel', open), t.symlink(dirname(s), 'x')]]],
  ['a whiteout in the next layer, then the symlink', (s) => [[t.dir('x'), t.dir('x/sub', open)], [t.whiteout('x'), t.symlink(s, 'x')]]],
  ['an opaque root in the next layer, then the symlink', (s) => [[t.dir('x'), t.dir('x/sub', open)], [t.opaque(''), t.symlink(s, 'x')]]],
  ['an opaque x in the next layer, then a symlink inside it replacing sub', (s) => [[t.dir('x'), t.dir('x/sub/sub', open)], [t.opaque('x'), t.symlink(s, 'x/sub')]]],
  ['implicit directories (a file deep down), then the symlink', (s) => [[t.file('x/sub/f', 'data'), t.symlink(s, 'x')]]],
  ['implicit directories, then the symlink in the next layer', (s) => [[t.file('x/sub/f', 'data')], [t.symlink(s, 'x')]]],
];

describe('a layer that replaces a parent with a symlink', () => {
  it.each(cases)('%s: nothing outside the target changes', async (_name, layers) => {
    let before: { mode: number; mtimeMs: number } | undefined;
    let sentinelPath = '';
    const outcome = await runCase({
      layers: async (sentinel) => {
        sentinelPath = sentinel;
        before = { mode: lstatSync(sentinel).mode, mtimeMs: lstatSync(sentinel).mtimeMs };
        return Promise.all(layers(sentinel).map((items) => tar(...items)));
      },
    });
    const after = lstatSync(sentinelPath);
    expect({ mode: after.mode, mtimeMs: after.mtimeMs }, 'the sentinel directory itself').toEqual(before);
    const sub = lstatSync(join(sentinelPath, 'sub'));
    expect(sub.mode & 0o777).not.toBe(0o777);
    expect(sub.mtimeMs).toBeGreaterThan(0);
    // The tree applies; x is the symlink.
    expect(outcome.code).toBeUndefined();
  });
});

describe('finishing a directory through an fd', () => {
  it('a directory already in the target that the caller may not read still gets its mode and time', async () => {
    let target = '';
    const outcome = await runCase({
      prepare: (t) => {
        target = t;
        mkdirSync(join(t, 'locked'));
        chmodSync(join(t, 'locked'), 0o300);
      },
      layers: async () => [await tar(t.dir('locked', { mode: 0o750, mtime: 1_600_000_000 }))],
    });
    expect(outcome.code).toBeUndefined();
    const st = lstatSync(join(target, 'locked'));
    expect(st.mode & 0o7777).toBe(0o750);
    expect(Math.floor(st.mtimeMs / 1000)).toBe(1_600_000_000);
  });
});
