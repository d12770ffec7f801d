import { describe, expect, it } from 'vitest';
import { Namespace, Overlay, Tmpfs, type DirNode, type Errno, type FileNode, type Node, type Stat } from '../../src/vfs/index.js';
import { lowerKinds, overlayWorld, standardLower, upperLines, type OverlayWorld } from './overlay-world.js';
import { contents, names, outcome, readFile, writeFile } from './tree.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const at = (w: OverlayWorld, path: string): Node => w.ns.resolve(w.root, path, false, 'stat');
const dir = (w: OverlayWorld, path: string): DirNode => at(w, path) as DirNode;
const file = (w: OverlayWorld, path: string): FileNode => at(w, path) as FileNode;
const lstat = (w: OverlayWorld, path: string): Stat => w.ns.stat(w.root, path, false);
const sec = (s: number) => BigInt(s) * 1_000_000_000n;

/**
 * The states a name can be in, each reached from the standard lower by a
 * setup, so every operation can be tried in each.
 */
const fileStates: Array<[state: string, path: string, setup: (w: OverlayWorld) => void]> = [
  ['lower', 'etc/motd', () => {}],
  ['upper (copied up)', 'etc/motd', (w) => file(w, 'etc/motd').write(bytes('J'), 0, 1, 0)],
  ['upper (new)', 'etc/new', (w) => writeFile(w.ns, 'etc/new', 'Jello')],
  ['upper (over a whiteout)', 'etc/motd', (w) => (w.ns.unlink(w.root, 'etc/motd'), writeFile(w.ns, 'etc/motd', 'Jello'))],
];
const dirStates: Array<[state: string, path: string, setup: (w: OverlayWorld) => void]> = [
  ['lower', 'usr/lib', () => {}],
  ['merged (copied up)', 'usr/lib', (w) => writeFile(w.ns, 'usr/lib/new', 'n')],
  ['upper (new)', 'srv', (w) => (w.ns.mkdir(w.root, 'srv'), writeFile(w.ns, 'srv/x', 'x'))],
  ['opaque', 'usr/lib', (w) => {
    for (const p of ['usr/lib/a', 'usr/lib/b', 'usr/lib/deep/c']) w.ns.unlink(w.root, p);
    w.ns.rmdir(w.root, 'usr/lib/deep');
    w.ns.rmdir(w.root, 'usr/lib');
    w.ns.mkdir(w.root, 'usr/lib');
    writeFile(w.ns, 'usr/lib/x', 'x');
  }],
];

describe.each(lowerKinds)('overlay over a %s', (kind) => {
  describe('lookup states', () => {
    it('shows lower entries, hides whiteouts and reserved names', async () => {
      const w = await overlayWorld(kind);
      expect(names(w.ns, w.root).sort()).toEqual(['bin', 'empty', 'etc', 'link', 'usr']);
      expect(readFile(w.ns, 'link')).toBe('hello');
      w.ns.unlink(w.root, 'etc/motd');
      expect(outcome(() => at(w, 'etc/motd'))).toBe('ENOENT');
      expect(names(w.ns, dir(w, 'etc'))).toEqual(['passwd']);
      // A reserved name put in the upper behind the overlay's back stays invisible.
      w.overlay.upperRoot.createFile('.wh.zzz', 0o644);
      expect(w.root.lookup('.wh.zzz')).toBeUndefined();
      expect(w.root.lookup('.wh.motd')).toBeUndefined();
      expect(names(w.ns, dir(w, 'etc'))).toEqual(['passwd']);
    });

    it('returns one node per inode, whatever the state', async () => {
      const w = await overlayWorld(kind);
      const before = at(w, 'etc/motd');
      expect(at(w, 'etc/motd')).toBe(before);
      file(w, 'etc/motd').write(bytes('J'), 0, 1, 0);
      expect(at(w, 'etc/motd')).toBe(before);
      expect(at(w, 'bin/bash')).toBe(at(w, 'bin/sh'));
      expect(dir(w, 'usr/lib').parent).toBe(dir(w, 'usr'));
    });
  });

  describe.each(fileStates)('a file in state %s', (_state, path, setup) => {
    const rows: Array<[op: string, run: (w: OverlayWorld, f: FileNode, parent: DirNode, name: string) => unknown, want: Errno | 'ok']> = [
      ['read', (_w, f) => f.read(new Uint8Array(5), 0, 5, 0), 'ok'],
      ['write', (_w, f) => f.write(bytes('xy'), 0, 2, 1), 'ok'],
      ['truncate', (_w, f) => f.truncate(2), 'ok'],
      ['truncate past 4 GiB', (_w, f) => f.truncate(2 ** 33), 'EFBIG'],
      ['setTimes', (_w, f) => f.setTimes(sec(5), 'now'), 'ok'],
      ['retain/release', (_w, f) => (f.retain(), f.release()), 'ok'],
      ['unlink', (_w, _f, p, n) => p.unlink(n), 'ok'],
      ['unlink twice', (_w, _f, p, n) => (p.unlink(n), p.unlink(n)), 'ENOENT'],
      ['rmdir', (_w, _f, p, n) => p.rmdir(n), 'ENOTDIR'],
      ['createFile over it', (_w, _f, p, n) => p.createFile(n, 0o644), 'EEXIST'],
      ['mkdir over it', (_w, _f, p, n) => p.mkdir(n, 0o755), 'EEXIST'],
      ['symlink over it', (_w, _f, p, n) => p.symlink(n, 'x'), 'EEXIST'],
      ['link it', (w, f) => dir(w, 'usr').link('again', f), 'ok'],
      ['link a name over it', (w, _f, p, n) => p.link(n, file(w, 'bin/sh')), 'EEXIST'],
      ['rename it', (w, _f, p, n) => p.rename(n, dir(w, 'usr'), 'moved'), 'ok'],
      ['rename over a directory', (w, _f, p, n) => p.rename(n, w.root, 'empty'), 'EISDIR'],
      ['rename it onto itself', (_w, _f, p, n) => p.rename(n, p, n), 'ok'],
      ['rename a file over it', (w, _f, p, n) => dir(w, 'bin').rename('sh', p, n), 'ok'],
    ];
    it.each(rows)('%s', async (_op, run, want) => {
      const w = await overlayWorld(kind);
      setup(w);
      const slash = path.lastIndexOf('/');
      expect(outcome(() => run(w, file(w, path), dir(w, path.slice(0, slash)), path.slice(slash + 1)))).toBe(want);
    });
  });

  describe.each(dirStates)('a directory in state %s', (_state, path, setup) => {
    const rows: Array<[op: string, run: (w: OverlayWorld, d: DirNode) => unknown, want: Errno | 'ok']> = [
      ['lookup a missing name', (_w, d) => d.lookup('nope') ?? 'none', 'ok'],
      ['mkdir', (_w, d) => d.mkdir('m', 0o700), 'ok'],
      ['createFile', (_w, d) => d.createFile('f', 0o600), 'ok'],
      ['symlink', (_w, d) => d.symlink('s', '../x'), 'ok'],
      ['link', (w, d) => d.link('h', file(w, 'etc/motd')), 'ok'],
      ['link a directory', (w, d) => d.link('h', dir(w, 'empty')), 'EPERM'],
      ['link from another filesystem', (_w, d) => d.link('h', new Tmpfs({ dev: 3n }).root.createFile('x', 0o644)), 'EXDEV'],
      ['mkdir .wh.x', (_w, d) => d.mkdir('.wh.x', 0o755), 'EINVAL'],
      ['createFile .wh..wh..opq', (_w, d) => d.createFile('.wh..wh..opq', 0o644), 'EINVAL'],
      ['symlink .wh.x', (_w, d) => d.symlink('.wh.x', 'y'), 'EINVAL'],
      ['link to .wh.x', (w, d) => d.link('.wh.x', file(w, 'etc/motd')), 'EINVAL'],
      ['unlink .wh.x', (_w, d) => d.unlink('.wh.x'), 'ENOENT'],
      ['unlink a missing name', (_w, d) => d.unlink('nope'), 'ENOENT'],
      ['rmdir a missing name', (_w, d) => d.rmdir('nope'), 'ENOENT'],
      ['setTimes', (_w, d) => d.setTimes(sec(9), sec(9)), 'ok'],
      ['rmdir it while not empty', (w, d) => (d.parent as DirNode).rmdir(d === w.root ? '' : nameOf(path)), 'ENOTEMPTY'],
      ['unlink it', (_w, d) => (d.parent as DirNode).unlink(nameOf(path)), 'EISDIR'],
      ['rename it into itself', (_w, d) => (d.parent as DirNode).rename(nameOf(path), d, 'inside'), 'EINVAL'],
      ['rename it over a file', (w, d) => (d.parent as DirNode).rename(nameOf(path), dir(w, 'etc'), 'motd'), 'ENOTDIR'],
      ['rename it over a non-empty directory', (w, d) => (d.parent as DirNode).rename(nameOf(path), w.root, 'etc'), 'ENOTEMPTY'],
      ['rename it over an empty directory', (w, d) => (d.parent as DirNode).rename(nameOf(path), w.root, 'empty'), 'ok'],
      ['rename it to .wh.x', (w, d) => (d.parent as DirNode).rename(nameOf(path), w.root, '.wh.x'), 'EINVAL'],
      ['rename it to another filesystem', (_w, d) => (d.parent as DirNode).rename(nameOf(path), new Tmpfs({ dev: 3n }).root, 'x'), 'EXDEV'],
    ];
    it.each(rows)('%s', async (_op, run, want) => {
      const w = await overlayWorld(kind);
      setup(w);
      expect(outcome(() => run(w, dir(w, path)))).toBe(want);
    });
  });

  /** Names that show nothing: ones never there, deleted ones (whiteout), and deleted directories. */
  const goneStates: Array<[state: string, lower: string[], setup: (w: OverlayWorld) => void]> = [
    ['none', standardLower, () => {}],
    ['whiteout of a file', [...standardLower, 'etc/gone=x'], (w) => w.ns.unlink(w.root, 'etc/gone')],
    ['whiteout of a directory', [...standardLower, 'etc/gone/', 'etc/gone/x'], (w) => (w.ns.unlink(w.root, 'etc/gone/x'), w.ns.rmdir(w.root, 'etc/gone'))],
  ];
  describe.each(goneStates)('a name in state %s', (_state, lower, setup) => {
    const rows: Array<[op: string, run: (w: OverlayWorld, d: DirNode) => unknown, want: Errno | 'ok']> = [
      ['lookup', (_w, d) => (d.lookup('gone') === undefined ? 'none' : outcome(() => { throw new Error('found'); })), 'ok'],
      ['unlink', (_w, d) => d.unlink('gone'), 'ENOENT'],
      ['rmdir', (_w, d) => d.rmdir('gone'), 'ENOENT'],
      ['rename from it', (w, d) => d.rename('gone', w.root, 'x'), 'ENOENT'],
      ['rename a file to it', (_w, d) => d.rename('passwd', d, 'gone'), 'ok'],
      ['createFile', (_w, d) => d.createFile('gone', 0o600), 'ok'],
      ['mkdir', (_w, d) => d.mkdir('gone', 0o700), 'ok'],
      ['symlink', (_w, d) => d.symlink('gone', 'passwd'), 'ok'],
      ['link', (w, d) => d.link('gone', file(w, 'bin/sh')), 'ok'],
    ];
    it.each(rows)('%s', async (_op, run, want) => {
      const w = await overlayWorld(kind, lower);
      setup(w);
      const d = dir(w, 'etc');
      expect(outcome(() => run(w, d))).toBe(want);
      if (want === 'ok' && _op !== 'lookup') expect(d.lookup('gone')).toBeDefined();
      expect(d.lookup('.wh.gone')).toBeUndefined();
    });
  });

  describe.each(['lower', 'copied up'])('a symlink in state %s', (state) => {
    const rows: Array<[op: string, run: (w: OverlayWorld) => unknown, want: Errno | 'ok' | string]> = [
      ['readlink', (w) => w.ns.readlink(w.root, 'link'), 'etc/motd'],
      ['follow', (w) => readFile(w.ns, 'link'), 'hello'],
      ['setTimes', (w) => (at(w, 'link').setTimes(sec(3), sec(4)), lstat(w, 'link').mtimeNs === sec(4) ? 'ok' : 'wrong'), 'ok'],
      ['unlink', (w) => (w.ns.unlink(w.root, 'link'), outcome(() => at(w, 'link'))), 'ENOENT'],
      ['rename', (w) => (w.ns.rename(w.root, 'link', w.root, 'usr/link'), w.ns.readlink(w.root, 'usr/link')), 'etc/motd'],
      ['hard link', (w) => (w.ns.link(w.root, 'link', false, w.root, 'link2'), lstat(w, 'link2').ino === lstat(w, 'link').ino ? 'ok' : 'wrong'), 'ok'],
      ['open with create through it', (w) => (writeFile(w.ns, 'link', 'via'), readFile(w.ns, 'etc/motd')), 'via'],
    ];
    it.each(rows)('%s', async (_op, run, want) => {
      const w = await overlayWorld(kind);
      if (state === 'copied up') at(w, 'link').setTimes(sec(1), sec(2));
      const ino = lstat(w, 'link').ino;
      let got: unknown;
      const result = outcome(() => (got = run(w)));
      expect(result === 'ok' ? got : result).toBe(want);
      if (_op !== 'unlink' && _op !== 'rename') expect(lstat(w, 'link').ino).toBe(ino);
    });
  });

  describe('copy-up', () => {
    it('keeps content, mode, times, owner and inode number', async () => {
      const w = await overlayWorld(kind);
      const before = lstat(w, 'etc/passwd');
      const dirBefore = [lstat(w, 'etc'), lstat(w, '/')];
      const f = file(w, 'etc/passwd');
      f.write(bytes('R'), 0, 1, 0);
      const after = lstat(w, 'etc/passwd');
      expect(contents(f)).toBe('Root:x:0:0');
      expect(after).toMatchObject({ ino: before.ino, mode: 0o600, uid: before.uid, gid: before.gid, size: before.size, nlink: 1, dev: 5n });
      expect(after.mtimeNs).toBeGreaterThan(before.mtimeNs);
      // The parent chain was copied up with its times; the write does not change a directory.
      expect([lstat(w, 'etc'), lstat(w, '/')].map((s) => [s.ino, s.mode, s.mtimeNs])).toEqual(dirBefore.map((s) => [s.ino, s.mode, s.mtimeNs]));
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/etc/', '/etc/passwd=Root:x:0:0']);
    });

    it('of a truncate copies only what it keeps', async () => {
      const w = await overlayWorld(kind, ['big=' + 'x'.repeat(1000)], { limits: { maxBytes: 10 } });
      file(w, 'big').truncate(4);
      expect(readFile(w.ns, 'big')).toBe('xxxx');
      expect(w.upper.usage.bytes).toBe(4);
    });

    it('of a symlink or a directory by setTimes keeps its target and mode', async () => {
      const w = await overlayWorld(kind);
      at(w, 'link').setTimes(sec(7), sec(8));
      dir(w, 'usr/lib').setTimes(sec(7), sec(8));
      expect(lstat(w, 'link')).toMatchObject({ atimeNs: sec(7), mtimeNs: sec(8), type: 'symlink' });
      expect(w.ns.readlink(w.root, 'link')).toBe('etc/motd');
      expect(lstat(w, 'usr/lib')).toMatchObject({ mode: 0o700, mtimeNs: sec(8), size: 3 });
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/link -> etc/motd', '/usr/', '/usr/lib/']);
    });

    it('is metadata-only for setTimes on a file, until materialized', async () => {
      const w = await overlayWorld(kind);
      const f = file(w, 'etc/motd');
      f.setTimes(sec(42), sec(43));
      expect(lstat(w, 'etc/motd')).toMatchObject({ atimeNs: sec(42), mtimeNs: sec(43), size: 5 });
      expect(contents(f)).toBe('hello');
      expect(upperLines(w.overlay.upperRoot)).toEqual([]);
      expect(w.upper.usage).toEqual({ bytes: 0, inodes: 1 });
      expect(w.overlay.changes().map((c) => `${c.kind} ${c.path}`)).toEqual(['changed /etc', 'changed /etc/motd']);
      w.overlay.materialize();
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/etc/', '/etc/motd=hello']);
      expect(w.overlay.upperRoot.lookup('etc')!.type === 'directory' && (w.overlay.upperRoot.lookup('etc') as DirNode).lookup('motd')!.stat().mtimeNs).toBe(sec(43));
      expect(lstat(w, 'etc/motd')).toMatchObject({ atimeNs: sec(42), mtimeNs: sec(43) });
    });

    it('keeps metadata-only times when the data is copied later', async () => {
      const w = await overlayWorld(kind);
      const f = file(w, 'etc/motd');
      f.setTimes(sec(42), undefined);
      f.truncate(5);
      expect(lstat(w, 'etc/motd').atimeNs).toBe(sec(42));
      expect(contents(f)).toBe('hello');
    });
  });

  describe('whiteouts and opaque directories', () => {
    it('a delete leaves an empty .wh. file, a re-create removes it', async () => {
      const w = await overlayWorld(kind);
      w.ns.unlink(w.root, 'etc/motd');
      w.ns.rmdir(w.root, 'empty');
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/.wh.empty=', '/etc/', '/etc/.wh.motd=']);
      const wh = (w.overlay.upperRoot.lookup('etc') as DirNode).lookup('.wh.motd')!;
      expect(wh.stat()).toMatchObject({ type: 'file', size: 0 });
      writeFile(w.ns, 'etc/motd', 'new');
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/.wh.empty=', '/etc/', '/etc/motd=new']);
      expect(readFile(w.ns, 'etc/motd')).toBe('new');
      expect(lstat(w, 'etc/motd').ino).not.toBe(lstat(w, 'etc/passwd').ino);
    });

    it('rmdir then mkdir makes an opaque directory', async () => {
      const w = await overlayWorld(kind);
      for (const p of ['usr/lib/a', 'usr/lib/b', 'usr/lib/deep/c']) w.ns.unlink(w.root, p);
      w.ns.rmdir(w.root, 'usr/lib/deep');
      w.ns.rmdir(w.root, 'usr/lib');
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/usr/', '/usr/.wh.lib=']);
      w.ns.mkdir(w.root, 'usr/lib', 0o750);
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/usr/', '/usr/lib/', '/usr/lib/.wh..wh..opq=']);
      expect(names(w.ns, dir(w, 'usr/lib'))).toEqual([]);
      expect(lstat(w, 'usr/lib')).toMatchObject({ size: 0, nlink: 2, mode: 0o750 });
      expect(outcome(() => at(w, 'usr/lib/a'))).toBe('ENOENT');
    });

    it('a removed directory held by the caller keeps its own stat and takes nothing', async () => {
      const w = await overlayWorld(kind);
      for (const path of ['srv', 'empty']) {
        if (path === 'srv') w.ns.mkdir(w.root, path);
        const d = dir(w, path);
        w.ns.rmdir(w.root, path);
        w.ns.mkdir(w.root, path);
        writeFile(w.ns, `${path}/new`, 'n');
        d.setTimes(sec(3), sec(4));
        expect(d.stat()).toMatchObject({ nlink: 0, size: 0, mtimeNs: sec(4), ino: d.ino });
        expect(lstat(w, path)).toMatchObject({ nlink: 2, size: 1 });
        expect(lstat(w, path).mtimeNs).not.toBe(sec(4));
        expect([d.lookup('new'), d.size, outcome(() => d.createFile('x', 0o644)), outcome(() => d.mkdir('x', 0o755))]).toEqual([undefined, 0, 'ENOENT', 'ENOENT']);
        let listed = 0;
        d.readdir(0, () => (listed++, true));
        expect(listed).toBe(0);
      }
    });

    it('a file made where a lower directory was deleted does not merge it', async () => {
      const w = await overlayWorld(kind);
      w.ns.rmdir(w.root, 'empty');
      writeFile(w.ns, 'empty', 'now a file');
      expect(readFile(w.ns, 'empty')).toBe('now a file');
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/empty=now a file']);
    });
  });

  describe('rename', () => {
    it('of a lower file copies it up and whites out the source', async () => {
      const w = await overlayWorld(kind);
      const ino = lstat(w, 'etc/motd').ino;
      w.ns.rename(w.root, 'etc/motd', w.root, 'usr/motd');
      expect(readFile(w.ns, 'usr/motd')).toBe('hello');
      expect(lstat(w, 'usr/motd').ino).toBe(ino);
      expect(outcome(() => at(w, 'etc/motd'))).toBe('ENOENT');
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/etc/', '/etc/.wh.motd=', '/usr/', '/usr/motd=hello']);
    });

    it('of a lower directory copies up its subtree; over a lower directory it is opaque', async () => {
      const w = await overlayWorld(kind);
      const inos = ['usr/lib', 'usr/lib/a', 'usr/lib/deep/c'].map((p) => lstat(w, p).ino);
      w.ns.rename(w.root, 'usr/lib', w.root, 'empty');
      expect(['empty', 'empty/a', 'empty/deep/c'].map((p) => lstat(w, p).ino)).toEqual(inos);
      expect(readFile(w.ns, 'empty/deep/c')).toBe('CCC');
      expect(outcome(() => at(w, 'usr/lib'))).toBe('ENOENT');
      expect(upperLines(w.overlay.upperRoot)).toEqual([
        '/empty/', '/empty/.wh..wh..opq=', '/empty/a=A', '/empty/b=BB', '/empty/deep/', '/empty/deep/c=CCC', '/usr/', '/usr/.wh.lib=',
      ]);
      // Changes in the moved directory stay there.
      writeFile(w.ns, 'empty/a', 'A2');
      w.ns.unlink(w.root, 'empty/b');
      expect(names(w.ns, dir(w, 'empty')).sort()).toEqual(['a', 'deep']);
    });

    it('over a lower file hides it without a whiteout', async () => {
      const w = await overlayWorld(kind);
      writeFile(w.ns, 'etc/new', 'N');
      w.ns.rename(w.root, 'etc/new', w.root, 'etc/motd');
      expect(readFile(w.ns, 'etc/motd')).toBe('N');
      expect(upperLines(w.overlay.upperRoot)).toEqual(['/etc/', '/etc/motd=N']);
    });
  });

  describe('a namespace over the overlay', () => {
    it('resolves paths across lower and upper, with symlinks', async () => {
      const w = await overlayWorld(kind);
      w.ns.mkdir(w.root, 'usr/lib/deep/more');
      w.ns.symlink('/usr/lib/deep', w.root, 'usr/shortcut');
      writeFile(w.ns, 'usr/shortcut/more/f', 'via link');
      expect(readFile(w.ns, 'usr/lib/deep/more/f')).toBe('via link');
      const opened = w.ns.open(w.root, 'link', { follow: true, create: true });
      expect(opened.created).toBe(false);
      expect(contents(Namespace.asFile(opened.node, 'open'))).toBe('hello');
      w.ns.link(w.root, 'link', true, w.root, 'hard');
      expect(lstat(w, 'hard')).toMatchObject({ ino: lstat(w, 'etc/motd').ino, nlink: 2 });
      w.ns.rename(w.root, 'usr/lib/deep', w.root, 'deep');
      expect(readFile(w.ns, 'deep/more/f')).toBe('via link');
      expect(outcome(() => readFile(w.ns, 'usr/shortcut/c'))).toBe('ENOENT');
      expect(outcome(() => w.ns.mkdir(w.root, 'etc/.wh.x'))).toBe('EINVAL');
      expect(outcome(() => w.ns.rmdir(w.root, 'usr'))).toBe('ENOTEMPTY');
    });

    it('a second overlay over the same upper sees the same tree (the upper is self-contained)', async () => {
      const w = await overlayWorld(kind);
      w.ns.unlink(w.root, 'etc/motd');
      for (const p of ['usr/lib/a', 'usr/lib/b', 'usr/lib/deep/c']) w.ns.unlink(w.root, p);
      w.ns.rmdir(w.root, 'usr/lib/deep');
      w.ns.rmdir(w.root, 'usr/lib');
      w.ns.mkdir(w.root, 'usr/lib');
      writeFile(w.ns, 'usr/lib/z', 'z');
      writeFile(w.ns, 'bin/sh', 'new shell');
      w.ns.rename(w.root, 'usr', w.root, 'opt');
      const again = new Overlay({ lower: w.lower.root, upper: w.overlay.upperRoot, dev: 6n });
      const ns2 = new Namespace(again.root);
      const tree = (ns: Namespace, root: DirNode): string[] => {
        const out: string[] = [];
        const walk = (d: DirNode, p: string) => d.readdir(0, (e) => {
          const n = d.lookup(e.name)!;
          out.push(`${p}/${e.name} ${n.type}${n.type === 'file' ? '=' + contents(n) : ''}`);
          if (n.type === 'directory') walk(n, `${p}/${e.name}`);
          return true;
        });
        walk(root, '');
        void ns;
        return out.sort();
      };
      expect(tree(ns2, again.root)).toEqual(tree(w.ns, w.root));
    });
  });
});

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
