import { describe, expect, it, vi } from 'vitest';
import { FsError, LayerView, Overlay, firstEntryCookie, type DirNode, type Node } from '../../src/vfs/index.js';
import { viewTree } from '../support/layer-trees.js';
import { applyOver, fullDump, lowerKinds, overlayWorld, freshUsage, upperAsLayer, type OverlayWorld } from './overlay-world.js';
import { writeFile } from './tree.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const listed = (w: OverlayWorld) => w.overlay.changes().map((c) => `${c.kind} ${c.path}`);

/** Scripted changes and the exact `changes()` each must give, as `docker diff` would. */
const scripts: Array<[name: string, run: (w: OverlayWorld) => void, want: string[]]> = [
  ['nothing', () => {}, []],
  ['a new file', (w) => writeFile(w.ns, 'etc/new', 'n'), ['changed /etc', 'added /etc/new']],
  ['a changed file', (w) => writeFile(w.ns, 'usr/lib/deep/c', 'x'), ['changed /usr', 'changed /usr/lib', 'changed /usr/lib/deep', 'changed /usr/lib/deep/c']],
  ['a deleted file', (w) => w.ns.unlink(w.root, 'etc/motd'), ['changed /etc', 'deleted /etc/motd']],
  ['a deleted tree lists its top only', (w) => {
    for (const p of ['usr/lib/a', 'usr/lib/b', 'usr/lib/deep/c']) w.ns.unlink(w.root, p);
    w.ns.rmdir(w.root, 'usr/lib/deep');
    w.ns.rmdir(w.root, 'usr/lib');
  }, ['changed /usr', 'deleted /usr/lib']],
  ['delete then recreate a file', (w) => (w.ns.unlink(w.root, 'etc/motd'), writeFile(w.ns, 'etc/motd', 'again')), ['changed /etc', 'changed /etc/motd']],
  ['delete then recreate a directory (opaque) lists the lower contents gone', (w) => {
    for (const p of ['usr/lib/a', 'usr/lib/b', 'usr/lib/deep/c']) w.ns.unlink(w.root, p);
    w.ns.rmdir(w.root, 'usr/lib/deep');
    w.ns.rmdir(w.root, 'usr/lib');
    w.ns.mkdir(w.root, 'usr/lib');
    writeFile(w.ns, 'usr/lib/a', 'new a');
  }, ['changed /usr', 'changed /usr/lib', 'changed /usr/lib/a', 'deleted /usr/lib/b', 'deleted /usr/lib/deep']],
  ['a file replacing a directory', (w) => (w.ns.rmdir(w.root, 'empty'), writeFile(w.ns, 'empty', 'f')), ['changed /empty']],
  ['a renamed file', (w) => w.ns.rename(w.root, 'etc/motd', w.root, 'motd'), ['changed /etc', 'deleted /etc/motd', 'added /motd']],
  ['a renamed directory', (w) => w.ns.rename(w.root, 'usr/lib', w.root, 'lib'), [
    'added /lib', 'added /lib/a', 'added /lib/b', 'added /lib/deep', 'added /lib/deep/c', 'changed /usr', 'deleted /usr/lib',
  ]],
  ['a hard link', (w) => w.ns.link(w.root, 'etc/motd', false, w.root, 'usr/motd'), ['changed /etc', 'changed /etc/motd', 'changed /usr', 'added /usr/motd']],
  ['a write through one of two hard links', (w) => writeFile(w.ns, 'bin/bash', 'B'), ['changed /bin', 'changed /bin/bash', 'changed /bin/sh']],
  ['times only', (w) => w.ns.setTimes(w.root, 'usr/lib/a', false, 5n, 6n), ['changed /usr', 'changed /usr/lib', 'changed /usr/lib/a']],
  ['a new directory tree', (w) => (w.ns.mkdir(w.root, 'srv'), w.ns.mkdir(w.root, 'srv/www'), w.ns.symlink('../etc', w.root, 'srv/etc')), [
    'added /srv', 'added /srv/etc', 'added /srv/www',
  ]],
];

describe.each(lowerKinds)('changes() over a %s', (kind) => {
  it.each(scripts)('%s', async (_name, run, want) => {
    const w = await overlayWorld(kind);
    run(w);
    expect(listed(w)).toEqual(want);
    await expectConsistent(w);
  });

  it('reports the lower stat as it was when copied up or hidden, and the node now there', async () => {
    const w = await overlayWorld(kind);
    const motd = w.ns.stat(w.root, 'etc/motd', false);
    const passwd = w.ns.stat(w.root, 'etc/passwd', false);
    writeFile(w.ns, 'etc/motd', 'changed');
    w.ns.unlink(w.root, 'etc/passwd');
    const changes = w.overlay.changes();
    const byPath = new Map(changes.map((c) => [c.path, c]));
    expect(byPath.get('/etc/motd')).toMatchObject({ kind: 'changed', type: 'file', node: w.ns.resolve(w.root, 'etc/motd', false, 'stat') });
    expect(byPath.get('/etc/motd')!.lower).toMatchObject({ size: motd.size, mtimeNs: motd.mtimeNs, mode: motd.mode, ino: motd.ino });
    expect(byPath.get('/etc/passwd')).toMatchObject({ kind: 'deleted', type: 'file' });
    expect(byPath.get('/etc/passwd')!.lower).toMatchObject({ size: passwd.size, mode: 0o600, mtimeNs: passwd.mtimeNs });
    expect(byPath.get('/etc/passwd')!.node).toBeUndefined();
  });

  it('random changes: equal to a plain diff of the lower and merged trees; the upper is a valid OCI layer', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const w = await overlayWorld(kind);
      const lowerBefore = fullDump(w.lower.root);
      // Changed at a time no lower node was made at, so every node the
      // overlay touched has a ctime the lower's does not.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(2_100_000_000_000);
      expect(randomChanges(w, seed, 60)).toBeGreaterThan(15);
      vi.useRealTimers();
      expect(fullDump(w.lower.root)).toEqual(lowerBefore);
      expect(listed(w), `seed ${seed}`).toEqual(diffTrees(w.lower.root, w.root));
      await expectConsistent(w);
    }
  });
});

/** The upper read as an OCI layer over the lower gives the overlay's tree, and its usage is what it holds. */
async function expectConsistent(w: OverlayWorld): Promise<void> {
  w.overlay.materialize();
  const layer = await upperAsLayer(w.overlay);
  const merged = viewTree(w.root);
  if (w.lower.layers.length > 0) expect(viewTree(new LayerView([...w.lower.layers, layer], { dev: 4n }).root)).toEqual(merged);
  expect(viewTree(applyOver(w.lower.root, layer).root)).toEqual(merged);
  const again = new Overlay({ lower: w.lower.root, upper: w.overlay.upperRoot, dev: 6n });
  expect(viewTree(again.root)).toEqual(merged);
  expect(freshUsage(w.overlay.upperRoot)).toEqual(w.upper.usage);
  // Inode numbers are unique among distinct nodes; a directory's size and nlink are its listing's.
  const inos = new Map<bigint, Node>();
  const walk = (dir: DirNode) => {
    let entries = 0;
    let subdirs = 0;
    dir.readdir(firstEntryCookie, (e) => {
      const node = dir.lookup(e.name)!;
      expect(e.ino).toBe(node.ino);
      const seen = inos.get(node.ino);
      expect(seen === undefined || seen === node).toBe(true);
      inos.set(node.ino, node);
      entries++;
      if (node.type === 'directory') (subdirs++, walk(node));
      return true;
    });
    expect([dir.stat().size, dir.stat().nlink, dir.size]).toEqual([entries, 2 + subdirs, entries]);
  };
  walk(w.root);
}

interface Entry {
  readonly type: string;
  readonly text: string;
}

/**
 * path → what a diff looks at: type, mode, size, mtime, ctime, contents or
 * target. Not nlink: a lower file whose other name was deleted counts its
 * nlink down but is not itself changed (nothing of it is in the upper), as
 * `docker diff` sees it.
 */
function describeTree(root: DirNode): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dir: DirNode, prefix: string) =>
    dir.readdir(firstEntryCookie, (e) => {
      const node = dir.lookup(e.name)!;
      const st = node.stat();
      let text = `${st.mode} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`;
      if (node.type === 'file') {
        const buf = new Uint8Array(node.size);
        node.read(buf, 0, buf.length, 0);
        text += ` ${Buffer.from(buf).toString('latin1')}`;
      } else if (node.type === 'symlink') text += ` ${node.target}`;
      out.set(`${prefix}/${e.name}`, { type: node.type, text });
      if (node.type === 'directory') walk(node, `${prefix}/${e.name}`);
      return true;
    });
  walk(root, '');
  return out;
}

/**
 * The oracle: a plain diff of two trees by path. Added: only in the
 * overlay. Deleted: only in the lower, where the overlay has the parent
 * directory. Changed: in both and different (a copy-up sets ctime, as any
 * change does), and every directory above a change that is in both.
 */
function diffTrees(lower: DirNode, merged: DirNode): string[] {
  const a = describeTree(lower);
  const b = describeTree(merged);
  const out = new Map<string, string>();
  const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/'));
  for (const [path, entry] of b) {
    const was = a.get(path);
    if (was === undefined) out.set(path, 'added');
    else if (was.type !== entry.type || was.text !== entry.text) out.set(path, 'changed');
  }
  for (const path of a.keys()) {
    const parent = parentOf(path);
    if (!b.has(path) && (parent === '' || b.get(parent)?.type === 'directory')) out.set(path, 'deleted');
  }
  for (const path of [...out.keys()]) {
    for (let p = parentOf(path); p !== ''; p = parentOf(p)) if (a.has(p) && b.has(p) && !out.has(p)) out.set(p, 'changed');
  }
  const byComponents = (x: string, y: string) => {
    const a = x.split('/');
    const b = y.split('/');
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
    return a.length - b.length;
  };
  return [...out].sort(([x], [y]) => byComponents(x, y)).map(([path, kind]) => `${kind} ${path}`);
}

/** `count` random operations through the namespace; refusals (an FsError) are part of the game. Returns how many succeeded. */
function randomChanges(w: OverlayWorld, seed: number, count: number): number {
  let state = seed;
  const random = (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[random(xs.length)]!;
  const paths = () => [...describeTree(w.root).keys()].map((p) => p.slice(1));
  const dirs = () => ['', ...[...describeTree(w.root)].filter(([, e]) => e.type === 'directory').map(([p]) => p.slice(1))];
  const fresh = () => `${pick(dirs())}/${pick(['n1', 'n2', 'n3', 'motd', 'a', 'lib'])}`.replace(/^\//, '');
  const ops: Array<() => void> = [
    () => writeFile(w.ns, pick([...paths(), fresh()]), `w${random(100)}`),
    () => {
      const f = w.ns.resolve(w.root, pick(paths()), false, 'open');
      if (f.type === 'file') f.write(bytes('+'), 0, 1, f.size);
    },
    () => {
      const f = w.ns.resolve(w.root, pick(paths()), false, 'open');
      if (f.type === 'file') f.truncate(random(3));
    },
    () => w.ns.unlink(w.root, pick(paths())),
    () => w.ns.rmdir(w.root, pick(paths())),
    () => w.ns.mkdir(w.root, fresh()),
    () => w.ns.rename(w.root, pick(paths()), w.root, pick([...paths(), fresh()])),
    () => w.ns.link(w.root, pick(paths()), false, w.root, fresh()),
    () => w.ns.symlink('target', w.root, fresh()),
    () => w.ns.setTimes(w.root, pick(paths()), false, BigInt(random(1000)) * 1_000_000_000n, BigInt(1 + random(1000)) * 1_000_000_000n),
  ];
  let done = 0;
  for (let i = 0; i < count; i++) {
    try {
      pick(ops)();
      done++;
    } catch (error) {
      if (!(error instanceof FsError)) throw error;
    }
  }
  return done;
}

