import { describe, expect, it } from 'vitest';
import { Namespace, Overlay, Tmpfs, firstEntryCookie, type DirNode, type FileNode, type Node } from '../../src/vfs/index.js';
import { maxStackDepth } from '../../src/vfs/overlay/index.js';
import { fullDump, lowerKinds, makeLower, seeded, type LowerKind } from './overlay-world.js';
import { contents, names, outcome, readFile, writeFile } from './tree.js';

const bytes = (s: string) => new TextEncoder().encode(s);

/** One overlay of a stack, with a namespace rooted at it. */
interface Layer {
  readonly overlay: Overlay;
  readonly ns: Namespace;
  readonly root: DirNode;
}

function stackOn(lower: DirNode, options: { maxBytes?: number } = {}): Layer {
  const overlay = new Overlay({ lower, dev: 5n, ...(options.maxBytes !== undefined && { limits: { maxBytes: options.maxBytes } }) });
  return { overlay, ns: new Namespace(overlay.root), root: overlay.root };
}

async function base(kind: LowerKind): Promise<Layer> {
  return stackOn((await makeLower(kind)).root);
}

/** Seal `layer` and put a fresh overlay over it. */
function sealAndStack(layer: Layer): Layer {
  layer.overlay.seal();
  return stackOn(layer.root);
}

const at = (l: Layer, path: string): Node => l.ns.resolve(l.root, path, false, 'stat');

/** Every path under `root` with type, mode, size, nlink, and contents or target: the tree without inode numbers and times. */
function shape(root: DirNode): string[] {
  const out: string[] = [];
  const walk = (dir: DirNode, path: string) =>
    dir.readdir(firstEntryCookie, (e) => {
      const node = dir.lookup(e.name)!;
      const st = node.stat();
      const p = `${path}/${e.name}`;
      const extra = node.type === 'file' ? contents(node) : node.type === 'symlink' ? node.target : '';
      out.push(`${p} ${st.type} ${st.mode.toString(8)} ${st.size} ${st.nlink} ${extra}`);
      if (node.type === 'directory') walk(node, p);
      return true;
    });
  walk(root, '');
  return out.sort();
}

describe.each(lowerKinds)('sealing an overlay over a %s', (kind) => {
  it('refuses every mutation with EROFS afterwards, through nodes and open descriptions from before, and keeps every read', async () => {
    const l = await base(kind);
    writeFile(l.ns, 'etc/new', 'new');
    const motd = at(l, 'etc/motd') as FileNode;
    motd.retain(); // an open description from before the seal
    const lib = at(l, 'usr/lib') as DirNode;
    const link = at(l, 'link');
    expect(l.overlay.dirty).toBe(true);
    const before = shape(l.root);
    l.overlay.seal();
    expect(l.overlay.sealed).toBe(true);
    expect(l.overlay.readonly).toBe(true);
    const cases: Array<[string, () => unknown]> = [
      ['write', () => motd.write(bytes('x'), 0, 1, 0)],
      ['truncate', () => motd.truncate(0)],
      ['file setTimes', () => motd.setTimes(0n, 0n)],
      ['symlink setTimes', () => link.setTimes(0n, 0n)],
      ['dir setTimes', () => lib.setTimes('now', 'now')],
      ['mkdir', () => lib.mkdir('x', 0o755)],
      ['createFile', () => lib.createFile('x', 0o644)],
      ['symlink', () => lib.symlink('x', 'a')],
      ['link', () => lib.link('x', motd)],
      ['unlink', () => lib.unlink('a')],
      ['rmdir', () => lib.rmdir('deep')],
      ['rename', () => lib.rename('a', lib, 'z')],
      ['namespace write', () => writeFile(l.ns, 'etc/new', 'again')],
    ];
    for (const [name, op] of cases) expect([name, outcome(op)]).toEqual([name, 'EROFS']);
    motd.release();
    expect(readFile(l.ns, 'etc/new')).toBe('new');
    expect(readFile(l.ns, 'link')).toBe('hello');
    // Cookies become positions in the (now fixed) listing; nothing else moves.
    expect(shape(l.root)).toEqual(before);
  });

  it('is O(1): sealing an upper of 10,000 files costs what sealing one of 10 does', async () => {
    const cost = async (files: number) => {
      const l = await base(kind);
      for (let i = 0; i < files; i++) writeFile(l.ns, `usr/share/f${i}`, 'x');
      const start = performance.now();
      l.overlay.seal();
      const next = stackOn(l.root);
      return { ms: performance.now() - start, next };
    };
    const small = await cost(10);
    // The least of three, so one GC pause cannot fail it.
    const bigs = [await cost(10_000), await cost(10_000), await cost(10_000)];
    const big = bigs.reduce((a, b) => (b.ms < a.ms ? b : a));
    // Loose: a walk of 10,000 files would take milliseconds.
    expect(big.ms).toBeLessThan(Math.max(5, small.ms * 50));
    expect(readFile(big.next.ns, 'usr/share/f9999')).toBe('x');
  });

  it('shows the sealed state through a new overlay: whiteouts, opaque directories, renames, links, metadata-only changes', async () => {
    const l0 = await base(kind);
    l0.ns.unlink(l0.root, 'etc/motd'); // whiteout over the image
    for (const p of ['usr/lib/a', 'usr/lib/b', 'usr/lib/deep/c']) l0.ns.unlink(l0.root, p);
    l0.ns.rmdir(l0.root, 'usr/lib/deep');
    l0.ns.rmdir(l0.root, 'usr/lib');
    l0.ns.mkdir(l0.root, 'usr/lib'); // opaque
    writeFile(l0.ns, 'usr/lib/only', 'only');
    l0.ns.rename(l0.root, 'etc/passwd', l0.root, 'passwd.moved');
    writeFile(l0.ns, 'top', 'top');
    l0.ns.link(l0.root, 'top', false, l0.root, 'top2'); // a hard link made in the upper
    l0.ns.setTimes(l0.root, 'bin/sh', false, 5_000_000_000n, 6_000_000_000n); // metadata only
    const l1 = sealAndStack(l0);
    expect(outcome(() => at(l1, 'etc/motd'))).toBe('ENOENT');
    expect(names(l1.ns, at(l1, 'etc') as DirNode)).toEqual([]);
    expect(names(l1.ns, at(l1, 'usr/lib') as DirNode)).toEqual(['only']);
    expect(readFile(l1.ns, 'passwd.moved')).toBe('root:x:0:0');
    expect(at(l1, 'top').stat().nlink).toBe(2);
    expect(at(l1, 'top').ino).toBe(at(l1, 'top2').ino);
    expect(at(l1, 'bin/sh').stat().mtimeNs).toBe(6_000_000_000n);
    expect(readFile(l1.ns, 'bin/sh')).toBe('#!shell');
    expect(at(l1, 'bin/sh').stat().nlink).toBe(2); // the image's hard link bin/bash
    // The new overlay changes them without touching the sealed one.
    const sealed = fullDump(l0.root);
    (at(l1, 'top') as FileNode).write(bytes('TOP'), 0, 3, 0);
    expect(readFile(l1.ns, 'top2')).toBe('TOP');
    expect(at(l1, 'top2').stat().nlink).toBe(2);
    (at(l1, 'bin/bash') as FileNode).write(bytes('#!bash!'), 0, 7, 0);
    expect(readFile(l1.ns, 'bin/sh')).toBe('#!bash!');
    expect(at(l1, 'bin/sh').stat().mtimeNs).not.toBe(6_000_000_000n);
    l1.ns.mkdir(l1.root, 'etc/motd');
    l1.ns.unlink(l1.root, 'usr/lib/only');
    writeFile(l1.ns, 'usr/lib/a', 'new a');
    expect(names(l1.ns, at(l1, 'usr/lib') as DirNode)).toEqual(['a']);
    expect(fullDump(l0.root)).toEqual(sealed);
    expect(readFile(l0.ns, 'top2')).toBe('top');
  });

  it('keeps inode numbers stable and distinct through the stack', async () => {
    const l0 = await base(kind);
    writeFile(l0.ns, 'made0', '0');
    const image = at(l0, 'etc/motd').ino;
    const made0 = at(l0, 'made0').ino;
    const l1 = sealAndStack(l0);
    writeFile(l1.ns, 'made1', '1');
    const l2 = sealAndStack(l1);
    writeFile(l2.ns, 'made2', '2');
    expect(at(l2, 'etc/motd').ino).toBe(image);
    expect(at(l2, 'made0').ino).toBe(made0);
    (at(l2, 'etc/motd') as FileNode).write(bytes('J'), 0, 1, 0); // copy-up keeps the number
    (at(l2, 'made0') as FileNode).write(bytes('J'), 0, 1, 0);
    expect(at(l2, 'etc/motd').ino).toBe(image);
    expect(at(l2, 'made0').ino).toBe(made0);
    const all = ['made0', 'made1', 'made2', 'etc/motd', 'etc', 'usr/lib/a'].map((p) => at(l2, p).ino);
    expect(new Set(all).size).toBe(all.length);
  });

  it('lists with cookies that resume anywhere and survive changes, every one below 2^31', async () => {
    const l0 = await base(kind);
    for (let i = 0; i < 5; i++) writeFile(l0.ns, `usr/lib/s${i}`, 's');
    l0.ns.unlink(l0.root, 'usr/lib/a');
    const l1 = sealAndStack(l0);
    for (let i = 0; i < 3; i++) writeFile(l1.ns, `usr/lib/t${i}`, 't');
    l1.ns.unlink(l1.root, 'usr/lib/s2');
    const dir = at(l1, 'usr/lib') as DirNode;
    const all: Array<[string, number]> = [];
    dir.readdir(firstEntryCookie, (e) => (all.push([e.name, e.next]), true));
    expect(all.map(([n]) => n).sort()).toEqual(['b', 'deep', 's0', 's1', 's3', 's4', 't0', 't1', 't2']);
    for (const [, next] of all) expect(next).toBeLessThan(2 ** 31);
    for (const [i, [, cookie]] of all.entries()) {
      const rest: string[] = [];
      dir.readdir(cookie, (e) => (rest.push(e.name), true));
      expect(rest).toEqual(all.slice(i + 1).map(([n]) => n));
    }
    // A cookie stays valid while entries come and go.
    const [, cookie] = all[3]!;
    l1.ns.unlink(l1.root, 'usr/lib/t2');
    writeFile(l1.ns, 'usr/lib/t9', 't');
    const rest: string[] = [];
    dir.readdir(cookie, (e) => (rest.push(e.name), true));
    expect(rest).toEqual([...all.slice(4).map(([n]) => n).filter((n) => n !== 't2'), 't9']);
  });

  it('backs any number of overlays, each private', async () => {
    const l0 = await base(kind);
    writeFile(l0.ns, 'shared', 'golden');
    l0.overlay.seal();
    const sealed = fullDump(l0.root);
    const children = Array.from({ length: 20 }, () => stackOn(l0.root));
    children.forEach((c, i) => {
      writeFile(c.ns, 'shared', `child ${i}`);
      writeFile(c.ns, `own${i}`, `${i}`);
      c.ns.unlink(c.root, 'etc/motd');
    });
    children.forEach((c, i) => {
      expect(readFile(c.ns, 'shared')).toBe(`child ${i}`);
      expect(names(c.ns, c.root).filter((n) => n.startsWith('own'))).toEqual([`own${i}`]);
    });
    expect(fullDump(l0.root)).toEqual(sealed);
  });

  it('is dirty from the first mutation asked of it, never from reads', async () => {
    const l0 = await base(kind);
    expect([l0.overlay.dirty, l0.overlay.depth]).toEqual([false, 1]);
    readFile(l0.ns, 'link');
    names(l0.ns, at(l0, 'usr/lib') as DirNode);
    at(l0, 'etc/motd').stat();
    expect(l0.overlay.dirty).toBe(false);
    l0.ns.setTimes(l0.root, 'etc/motd', false, 1n, 1n);
    expect(l0.overlay.dirty).toBe(true);
    const l1 = sealAndStack(l0);
    expect([l1.overlay.dirty, l1.overlay.depth, l1.overlay.lowerOverlay]).toEqual([false, 2, l0.overlay]);
    expect(at(l1, 'etc/motd').stat().mtimeNs).toBe(1n);
    expect(l1.overlay.stackChanges().map((c) => `${c.kind} ${c.path}`)).toEqual(['changed /etc', 'changed /etc/motd']);
    expect(l1.overlay.changes()).toEqual([]);
  });

  it('refuses an overlay that is not sealed as a lower (EINVAL)', async () => {
    const l0 = await base(kind);
    expect(outcome(() => new Overlay({ lower: l0.root, dev: 6n }))).toBe('EINVAL');
  });

  it('random changes, sealed at random points: the stack holds what one overlay holds after the same changes, and its stackChanges what that overlay\'s changes() does', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
      const random = seeded(seed);
      const single = await base(kind);
      let top = await base(kind);
      for (let step = 0; step < 80; step++) {
        if (random(6) === 0) top = sealAndStack(top);
        const op = randomChange(random);
        const expected = outcome(() => op(single));
        expect([seed, step, String(op), outcome(() => op(top))]).toEqual([seed, step, String(op), expected]);
        expect(shape(top.root)).toEqual(shape(single.root));
      }
      const summary = (cs: ReturnType<Overlay['changes']>) => cs.map((c) => `${c.kind} ${c.path} ${c.type}`);
      expect([seed, top.overlay.depth > 1, summary(top.overlay.stackChanges())]).toEqual([seed, true, summary(single.overlay.changes())]);
    }
  });
});

/** A random change by path, the same for any two layers that hold the same tree. */
function randomChange(random: (n: number) => number): (l: Layer) => unknown {
  const pick = <T>(xs: readonly T[]): T => xs[random(xs.length)]!;
  const path = () => pick(['', 'etc/', 'usr/lib/', 'usr/lib/deep/', 'bin/', 'd/']) + pick(['motd', 'a', 'b', 'sh', 'bash', 'n', 'd', 'deep', 'lib', 'c']);
  const p = path();
  const q = path();
  const text = '0123456789'.slice(0, random(10));
  const ops: Array<(l: Layer) => unknown> = [
    (l) => writeFile(l.ns, p, text),
    (l) => {
      const f = at(l, p);
      if (f.type === 'file') f.write(bytes(text), 0, text.length, text.length % 4);
    },
    (l) => l.ns.unlink(l.root, p),
    (l) => l.ns.rmdir(l.root, p),
    (l) => l.ns.mkdir(l.root, p),
    (l) => l.ns.rename(l.root, p, l.root, q),
    (l) => l.ns.link(l.root, p, false, l.root, q),
    (l) => l.ns.symlink('../t', l.root, p),
    (l) => l.ns.setTimes(l.root, p, false, 7_000_000_000n, 7_000_000_000n),
  ];
  const op = pick(ops);
  return Object.assign((l: Layer) => op(l), { toString: () => `${ops.indexOf(op)} ${p} ${q}` });
}

describe('a stack of sealed overlays', () => {
  it('keeps lookups right 1,024 deep (the most), and measures their cost against depth 2', async () => {
    const lower = (await makeLower('layer-view')).root;
    const depth2 = (() => {
      const first = stackOn(lower);
      writeFile(first.ns, 'level0', '0');
      return sealAndStack(first);
    })();
    let top = stackOn(lower);
    for (let i = 0; i < maxStackDepth - 1; i++) {
      writeFile(top.ns, `level${i}`, `${i}`);
      if (i % 100 === 50) top.ns.unlink(top.root, `level${i - 1}`);
      top = sealAndStack(top);
    }
    expect(top.overlay.depth).toBe(maxStackDepth);
    expect(depth2.overlay.depth).toBe(2);
    expect(readFile(top.ns, 'level1022')).toBe('1022');
    expect(readFile(top.ns, 'level0')).toBe('0');
    expect(outcome(() => at(top, 'level49'))).toBe('ENOENT');
    expect(readFile(top.ns, 'usr/lib/deep/c')).toBe('CCC');
    const cost = (l: Layer, path: string) => {
      for (let i = 0; i < 50; i++) l.ns.resolve(l.root, path, true, 'stat');
      const n = 2000;
      const start = performance.now();
      for (let i = 0; i < n; i++) l.ns.resolve(l.root, path, true, 'stat');
      return ((performance.now() - start) * 1000) / n;
    };
    const figures = {
      imageFileDepth2: cost(depth2, 'usr/lib/deep/c'),
      imageFileDepth1000: cost(top, 'usr/lib/deep/c'),
      missDepth2: (() => { const s = performance.now(); for (let i = 0; i < 200; i++) outcome(() => at(depth2, 'usr/lib/nothing')); return ((performance.now() - s) * 1000) / 200; })(),
      missDepth1000: (() => { const s = performance.now(); for (let i = 0; i < 200; i++) outcome(() => at(top, 'usr/lib/nothing')); return ((performance.now() - s) * 1000) / 200; })(),
    };
    console.log(`lookup µs by depth: ${JSON.stringify(figures)}`);
    expect(figures.imageFileDepth1000).toBeGreaterThan(0);
    // The first listing of a directory every layer changed walks each layer's listing once.
    const listed = performance.now();
    expect(names(top.ns, top.root).filter((n) => n.startsWith('level'))).toHaveLength(maxStackDepth - 1 - 10);
    console.log(`first listing of / at depth ${maxStackDepth} (1,013 entries): ${(performance.now() - listed).toFixed(0)} ms`);
    expect(top.root.stat().size).toBe(names(top.ns, top.root).length);
    // Changes at the top of the deepest stack: copy-up, a hard-linked image file, a merged directory's rename.
    writeFile(top.ns, 'usr/lib/a', 'top');
    (at(top, 'bin/bash') as FileNode).write(bytes('#!top!!'), 0, 7, 0);
    expect(readFile(top.ns, 'bin/sh')).toBe('#!top!!');
    top.ns.rename(top.root, 'usr/lib', top.root, 'lib');
    expect(readFile(top.ns, 'lib/deep/c')).toBe('CCC');
    top.ns.unlink(top.root, 'level1000');
    expect(outcome(() => at(top, 'level1000'))).toBe('ENOENT');
    // One more is refused.
    top.overlay.seal();
    expect(outcome(() => stackOn(top.root))).toBe('EINVAL');
  });
});

describe('Tmpfs.freeze as the lower of overlays', () => {
  it('stacks overlays on a frozen tmpfs, each private', () => {
    const fs = new Tmpfs({ dev: 1n });
    const ns = new Namespace(fs.root);
    writeFile(ns, 'a', 'A');
    fs.freeze();
    const x = stackOn(fs.root);
    const y = stackOn(fs.root);
    writeFile(x.ns, 'a', 'X');
    expect(readFile(y.ns, 'a')).toBe('A');
    expect(readFile(ns, 'a')).toBe('A');
  });
});
