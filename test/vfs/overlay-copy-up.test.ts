import { describe, expect, it } from 'vitest';
import { Namespace, Overlay, maxRenameCopyUp, type DirNode, type FileNode, type Node } from '../../src/vfs/index.js';
import { freshUsage, fullDump, lowerKinds, makeLower, overlayWorld, randomOperation, seeded, upperLines, type OverlayWorld } from './overlay-world.js';
import { contents, outcome, readFile, writeFile } from './tree.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const lstat = (w: OverlayWorld, path: string) => w.ns.stat(w.root, path, false);
const at = (w: OverlayWorld, path: string): Node => w.ns.resolve(w.root, path, false, 'stat');

/** Everything a failed operation must leave as it was (ctimes aside: undoing a step is a change of its own). */
function snapshot(w: OverlayWorld): unknown {
  const noCtime = (lines: string[]) => lines.map((l) => l.replace(/"ctimeNs":"\d+",?/, ''));
  return { upper: upperLines(w.overlay.upperRoot), usage: w.upper.usage, merged: noCtime(fullDump(w.root)), upperTree: noCtime(fullDump(w.overlay.upperRoot)) };
}

/** Nodes a setup keeps open for its operation. */
const held = new WeakMap<OverlayWorld, FileNode>();

/** Operations that copy up, each from the standard lower (an optional setup first). */
const copyUps: Array<[name: string, op: (w: OverlayWorld) => unknown, setup?: (w: OverlayWorld) => void]> = [
  ['a write deep in the lower', (w) => (at(w, 'usr/lib/deep/c') as FileNode).write(bytes('new contents'), 0, 12, 0)],
  ['an append', (w) => (at(w, 'usr/lib/deep/c') as FileNode).write(bytes('++'), 0, 2, 3)],
  ['a truncate', (w) => (at(w, 'etc/passwd') as FileNode).truncate(2)],
  ['a rename of a lower directory tree', (w) => w.ns.rename(w.root, 'usr/lib', w.root, 'lib')],
  ['a rename of a lower directory over an empty lower one (opaque)', (w) => w.ns.rename(w.root, 'usr/lib', w.root, 'empty')],
  ['a rename of a lower file over another', (w) => w.ns.rename(w.root, 'etc/motd', w.root, 'etc/passwd')],
  ['an unlink (whiteout)', (w) => w.ns.unlink(w.root, 'usr/lib/deep/c')],
  ['an rmdir (whiteout)', (w) => w.ns.rmdir(w.root, 'empty')],
  ['a mkdir over a deleted lower directory (opaque)', (w) => w.ns.mkdir(w.root, 'empty'), (w) => w.ns.rmdir(w.root, 'empty')],
  ['a write through a hard link (both names)', (w) => (at(w, 'bin/bash') as FileNode).write(bytes('B'), 0, 1, 0)],
  ['a new link to a hardlinked lower file', (w) => w.ns.link(w.root, 'bin/sh', false, w.root, 'usr/sh')],
  ['setTimes on a symlink', (w) => w.ns.setTimes(w.root, 'link', false, 1n, 2n)],
  ['materialize after setTimes', (w) => w.overlay.materialize(), (w) => w.ns.setTimes(w.root, 'usr/lib/deep/c', false, 1n, 2n)],
  ['a write to a file unlinked while open', (w) => held.get(w)!.write(bytes('x'), 0, 1, 0), (w) => {
    held.set(w, at(w, 'bin/sh') as FileNode);
    held.get(w)!.retain();
    w.ns.unlink(w.root, 'bin/sh');
    w.ns.unlink(w.root, 'bin/bash');
  }],
];

describe.each(lowerKinds)('copy-up over a %s', (kind) => {
  describe.each(copyUps)('%s', (_name, op, setup) => {
    it('either succeeds or fails with ENOSPC leaving the overlay and its quota exactly as they were', async () => {
      const outcomes = new Set<string>();
      for (const limits of [
        ...Array.from({ length: 14 }, (_, i) => ({ maxInodes: i + 1 })),
        ...Array.from({ length: 14 }, (_, i) => ({ maxBytes: i * 2 })),
      ]) {
        const w = await overlayWorld(kind, undefined, { limits });
        const lowerBefore = fullDump(w.lower.root);
        if (setup !== undefined && outcome(() => setup(w)) !== 'ok') continue;
        const before = snapshot(w);
        const result = outcome(() => op(w));
        outcomes.add(result);
        if (result !== 'ok') {
          expect(result, JSON.stringify(limits)).toBe('ENOSPC');
          expect(snapshot(w), JSON.stringify(limits)).toEqual(before);
        }
        // (An open unlinked file holds its bytes outside the tree.)
        if (!held.has(w)) expect(freshUsage(w.overlay.upperRoot)).toEqual(w.upper.usage);
        expect(fullDump(w.lower.root)).toEqual(lowerBefore);
      }
      // The limits span both outcomes, so the rollback was exercised.
      expect([...outcomes].sort()).toEqual(['ENOSPC', 'ok']);
    });
  });

  it('random single operations under tight quotas: each succeeds, or fails leaving everything as it was', async () => {
    let failed = 0;
    let done = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const random = seeded(seed);
      const w = await overlayWorld(kind, undefined, { limits: { maxInodes: 10 + random(8), maxBytes: 20 + random(40) } });
      const lowerBefore = fullDump(w.lower.root);
      for (let i = 0; i < 50; i++) {
        const [what, op] = randomOperation(w, random);
        const before = snapshot(w);
        const result = outcome(op);
        if (result === 'ok') done++;
        else {
          failed++;
          expect(snapshot(w), `seed ${seed}: ${what} gave ${result}`).toEqual(before);
        }
        expect(freshUsage(w.overlay.upperRoot), `seed ${seed}: ${what}`).toEqual(w.upper.usage);
      }
      expect(fullDump(w.lower.root)).toEqual(lowerBefore);
    }
    expect(Math.min(failed, done)).toBeGreaterThan(50);
  });

  describe('hardlinks', () => {
    it('two lower names copy up to one upper inode', async () => {
      const w = await overlayWorld(kind);
      const ino = lstat(w, 'bin/sh').ino;
      expect(lstat(w, 'bin/bash')).toMatchObject({ ino, nlink: 2 });
      writeFile(w.ns, 'bin/bash', 'new shell');
      expect(readFile(w.ns, 'bin/sh')).toBe('new shell');
      expect(lstat(w, 'bin/sh')).toMatchObject({ ino, nlink: 2, mode: 0o755 });
      const upperBin = w.overlay.upperRoot.lookup('bin') as DirNode;
      expect(upperBin.lookup('sh')).toBe(upperBin.lookup('bash'));
      expect(upperBin.lookup('sh')!.stat().nlink).toBe(2);
      w.ns.link(w.root, 'bin/sh', false, w.root, 'etc/sh');
      expect(lstat(w, 'bin/bash').nlink).toBe(3);
    });

    it('a name deleted before the copy-up is not copied', async () => {
      const w = await overlayWorld(kind);
      w.ns.unlink(w.root, 'bin/sh');
      expect(lstat(w, 'bin/bash').nlink).toBe(1);
      writeFile(w.ns, 'bin/bash', 'B');
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/bin/', '/bin/.wh.sh=', '/bin/bash=B']);
      expect(lstat(w, 'bin/bash').nlink).toBe(1);
    });
  });

  describe('open files', () => {
    it('a lower file unlinked while open reads, takes writes, and frees its copy on release', async () => {
      const w = await overlayWorld(kind);
      const f = at(w, 'etc/motd') as FileNode;
      f.retain();
      w.ns.unlink(w.root, 'etc/motd');
      expect(contents(f)).toBe('hello');
      expect(f.stat().nlink).toBe(0);
      f.write(bytes('J'), 0, 1, 0);
      expect(contents(f)).toBe('Jello');
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/etc/', '/etc/.wh.motd=']);
      expect(w.upper.usage.bytes).toBe(5);
      f.release();
      expect(w.upper.usage.bytes).toBe(0);
    });

    it('a lower file unlinked with nothing open takes no write (nothing could hold its bytes)', async () => {
      const w = await overlayWorld(kind);
      const f = at(w, 'etc/motd') as FileNode;
      w.ns.unlink(w.root, 'etc/motd');
      const before = snapshot(w);
      expect(outcome(() => f.write(bytes('J'), 0, 1, 0))).toBe('ENOENT');
      expect(snapshot(w)).toEqual(before);
      expect(contents(f)).toBe('hello');
    });

    it('a lower file open before its copy-up follows it to the upper', async () => {
      const w = await overlayWorld(kind);
      const f = at(w, 'etc/motd') as FileNode;
      f.retain();
      writeFile(w.ns, 'etc/motd', 'fresh');
      w.ns.unlink(w.root, 'etc/motd');
      expect(contents(f)).toBe('fresh');
      f.release();
      expect(w.upper.usage.bytes).toBe(0);
    });
  });

  describe('the lower', () => {
    it('is not walked to make an overlay', async () => {
      const lower = await makeLower(kind);
      const calls: string[] = [];
      const counted = (node: Node): Node => {
        if (node.type !== 'directory') return node;
        return new Proxy(node, {
          get(target, key, receiver) {
            const value: unknown = Reflect.get(target, key, receiver);
            if (key === 'lookup') return (name: string) => (calls.push(`lookup ${name}`), wrap(target.lookup(name)));
            if (key === 'readdir') return (...args: Parameters<DirNode['readdir']>) => (calls.push('readdir'), target.readdir(...args));
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      };
      const wrap = (node: Node | undefined) => (node === undefined ? undefined : counted(node));
      const overlay = new Overlay({ lower: counted(lower.root) as DirNode, dev: 5n });
      expect(calls).toEqual([]);
      const ns = new Namespace(overlay.root);
      expect(readFile(ns, 'usr/lib/deep/c')).toBe('CCC');
      expect(calls).toEqual(['lookup usr', 'lookup lib', 'lookup deep', 'lookup c']);
    });

    it('is shared by overlays that never see each other', async () => {
      const lower = await makeLower(kind);
      const before = fullDump(lower.root);
      const a = new Namespace(new Overlay({ lower: lower.root, dev: 5n }).root);
      const b = new Namespace(new Overlay({ lower: lower.root, dev: 6n }).root);
      writeFile(a, 'etc/motd', 'from a');
      b.unlink(b.root, 'etc/motd');
      a.rename(a.root, 'usr/lib', a.root, 'lib');
      expect(readFile(a, 'etc/motd')).toBe('from a');
      expect(outcome(() => readFile(b, 'etc/motd'))).toBe('ENOENT');
      expect(readFile(b, 'usr/lib/a')).toBe('A');
      expect(fullDump(lower.root)).toEqual(before);
    });
  });
});

describe('the bound on a directory rename', () => {
  it('answers EXDEV before changing anything past maxRenameCopyUp entries', async () => {
    const spec = ['big/', ...Array.from({ length: maxRenameCopyUp + 1 }, (_, i) => `big/f${i}`), 'small/', 'small/x=x'];
    const w = await overlayWorld('tmpfs', spec);
    expect(outcome(() => w.ns.rename(w.root, 'big', w.root, 'moved'))).toBe('EXDEV');
    expect(upperLines(w.overlay.upperRoot)).toEqual([]);
    expect(w.upper.usage.inodes).toBe(1);
    w.ns.rename(w.root, 'small', w.root, 'moved');
    expect(readFile(w.ns, 'moved/x')).toBe('x');
  });
});
