import { describe, expect, it } from 'vitest';
import { Namespace, Tmpfs, maxNameBytes, maxPathBytes, maxSymlinks, type DirEntry, type Errno } from '../../src/vfs/index.js';
import { build, dirAt, expectErrno, outcome, readFile, world } from './tree.js';

// One tree for the resolution table. Paths in `want` name the expected node
// without symlinks (or name the symlink itself), compared by inode.
const tree = [
  'a/',
  'a/b/',
  'a/b/f=f',
  'etc/',
  'etc/passwd=namespace',
  'file=x',
  'abs -> /a/b',
  'rel -> a/b',
  'up -> ../../../../a',
  'a/b/dotdot -> ../..',
  'a/b/tofile -> ../../file',
  'chain1 -> chain2',
  'chain2 -> rel',
  'pw -> /etc/passwd',
  'self -> self',
  'ping -> pong',
  'pong -> ping',
  'dangling -> nowhere',
  'empty/',
];

interface Case {
  readonly name: string;
  readonly path: string;
  /** Start directory (default the root). */
  readonly from?: string;
  /** Follow a symlink in the last component (default true). */
  readonly follow?: boolean;
  /** An errno, or the canonical path of the node expected. */
  readonly want: Errno | `/${string}`;
}

const n255 = 'n'.repeat(maxNameBytes);
const n256 = 'n'.repeat(maxNameBytes + 1);
// 127 × 'é' (2 bytes each) + 'x' = 255 bytes; 128 × 'é' = 256 bytes in only 128 UTF-16 units.
const e255 = 'é'.repeat(127) + 'x';
const e256 = 'é'.repeat(128);
// 63 × U+1F600 (4 bytes, 2 UTF-16 units) + 'abc' = 255 bytes; one more emoji = 259 bytes.
const emoji255 = '\u{1F600}'.repeat(63) + 'abc';
const emoji259 = '\u{1F600}'.repeat(64) + 'abc';

const resolution: Case[] = [
  { name: 'the root', path: '/', want: '/' },
  { name: '.. at the root stays at the root', path: '/..', want: '/' },
  { name: 'many .. at the root', path: '/../../..', want: '/' },
  { name: 'relative .. past the root', path: 'a/../../..', want: '/' },
  { name: '.. past the root then down again', path: '../../a/b', want: '/a/b' },
  { name: '.. from a subdirectory past the root', from: '/a/b', path: '../../../..', want: '/' },
  { name: '.. from a subdirectory, one level', from: '/a/b', path: '..', want: '/a' },
  { name: 'an absolute path ignores the start', from: '/a/b', path: '/etc/passwd', want: '/etc/passwd' },
  { name: 'repeated slashes and dots', path: '//a/./b//.', want: '/a/b' },
  { name: 'an absolute symlink resolves against the namespace root', path: 'abs/f', want: '/a/b/f' },
  { name: 'an absolute symlink to a file', path: 'pw', want: '/etc/passwd' },
  { name: 'a relative symlink', path: 'rel/f', want: '/a/b/f' },
  { name: 'a relative symlink is relative to its own directory', path: 'a/b/tofile', want: '/file' },
  { name: 'a relative symlink climbing past the root is clamped', path: 'up', want: '/a' },
  { name: 'a symlink of ..', path: 'a/b/dotdot/etc/passwd', want: '/etc/passwd' },
  { name: 'a symlink chain', path: 'chain1/f', want: '/a/b/f' },
  { name: 'a trailing symlink not followed', path: 'abs', follow: false, want: '/abs' },
  { name: 'a dangling symlink not followed', path: 'dangling', follow: false, want: '/dangling' },
  { name: 'a trailing slash forces following', path: 'abs/', follow: false, want: '/a/b' },
  { name: 'a directory with a trailing slash', path: 'a/b/', want: '/a/b' },
  { name: `a ${maxNameBytes}-byte name is accepted`, path: n255, want: 'ENOENT' },
  { name: `a ${maxNameBytes}-byte name of 2-byte characters`, path: e255, want: 'ENOENT' },
  { name: `a ${maxNameBytes}-byte name of 4-byte characters`, path: emoji255, want: 'ENOENT' },
  { name: `a ${maxPathBytes - 1}-byte path is accepted`, path: './'.repeat(maxPathBytes / 2 - 1) + '.', want: '/' },
  { name: `a ${maxPathBytes - 2}-byte path of multi-byte names`, path: './'.repeat(maxPathBytes / 2 - 3) + 'éé', want: 'ENOENT' },

  { name: 'an empty path', path: '', want: 'ENOENT' },
  { name: 'a NUL byte', path: 'a/\0b', want: 'EINVAL' },
  { name: 'a missing name', path: 'nope', want: 'ENOENT' },
  { name: 'a missing directory in the middle', path: 'nope/f', want: 'ENOENT' },
  { name: 'a file with a trailing slash', path: 'file/', want: 'ENOTDIR' },
  { name: 'a file with a trailing /.', path: 'file/.', want: 'ENOTDIR' },
  { name: 'a file used as a directory', path: 'file/x', want: 'ENOTDIR' },
  { name: 'a symlink to a file with a trailing slash', path: 'a/b/tofile/', want: 'ENOTDIR' },
  { name: 'a dangling symlink followed', path: 'dangling', want: 'ENOENT' },
  { name: 'a self-loop', path: 'self', want: 'ELOOP' },
  { name: 'a self-loop not followed', path: 'self', follow: false, want: '/self' },
  { name: 'a self-loop in the middle', path: 'self/x', follow: false, want: 'ELOOP' },
  { name: 'a two-link loop', path: 'ping', want: 'ELOOP' },
  { name: `a ${maxNameBytes + 1}-byte name`, path: n256, want: 'ENAMETOOLONG' },
  { name: `a ${maxNameBytes + 1}-byte name in the middle`, path: `a/${n256}/f`, want: 'ENAMETOOLONG' },
  { name: 'a 256-byte name of 2-byte characters (128 UTF-16 units)', path: e256, want: 'ENAMETOOLONG' },
  { name: 'a 259-byte name of 4-byte characters', path: emoji259, want: 'ENAMETOOLONG' },
  { name: `a ${maxPathBytes}-byte path (PATH_MAX counts the NUL)`, path: './'.repeat(maxPathBytes / 2), want: 'ENAMETOOLONG' },
  { name: `a ${maxPathBytes + 1}-byte path`, path: './'.repeat(maxPathBytes / 2) + '.', want: 'ENAMETOOLONG' },
  // 4098 bytes in 4096 UTF-16 units: the limit is measured in bytes.
  { name: `a ${maxPathBytes + 2}-byte path in ${maxPathBytes} UTF-16 units`, path: './'.repeat(maxPathBytes / 2 - 1) + 'éé', want: 'ENAMETOOLONG' },
];

describe('Namespace.resolve', () => {
  const { ns, root } = world();
  build(ns, tree);

  it.each(resolution)('$name', ({ path, from, follow, want }) => {
    const start = from === undefined ? root : dirAt(ns, from);
    let got: bigint | undefined;
    const result = outcome(() => (got = ns.resolve(start, path, follow ?? true, 'stat').ino));
    if (want.startsWith('/')) {
      expect(result).toBe('ok');
      expect(got).toBe(ns.stat(root, want, false).ino);
    } else {
      expect(result).toBe(want);
    }
  });

  it('reports the syscall and the errno name on the error', () => {
    try {
      ns.resolve(root, 'nope', true, 'stat');
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: 'FsError', errno: 'ENOENT', code: 'ENOENT', syscall: 'stat', path: 'nope' });
    }
  });
});

describe('symlink limit', () => {
  /** l1 -> l2 -> … -> l{n} -> target: resolving l1 follows n symlinks. */
  function chain(n: number, target: string) {
    const w = world();
    build(w.ns, ['a/', 'a/f=end']);
    for (let i = 1; i <= n; i++) w.ns.symlink(i === n ? target : `l${i + 1}`, w.root, `l${i}`);
    return w;
  }

  it(`follows exactly ${maxSymlinks} symlinks`, () => {
    const { ns } = chain(maxSymlinks, '/a/f');
    expect(readFile(ns, 'l1')).toBe('end');
  });

  it(`gives ELOOP at ${maxSymlinks + 1}`, () => {
    const { ns, root } = chain(maxSymlinks + 1, '/a/f');
    expectErrno(() => ns.resolve(root, 'l1', true, 'stat'), 'ELOOP');
    // Not following the last one is fine: only 40 are needed to reach l41.
    expect(ns.resolve(root, 'l2', true, 'stat').type).toBe('file');
  });

  it('counts every symlink of one resolution, across components', () => {
    // l1 follows 20 links to /a; each `l1/..` costs 20.
    const { ns, root } = chain(maxSymlinks / 2, '/a');
    expect(readFile(ns, 'l1/../l1/f')).toBe('end');
    expectErrno(() => ns.resolve(root, 'l1/../l1/../l20/f', true, 'stat'), 'ELOOP');
  });

  it(`gives ELOOP when open(create) follows more than ${maxSymlinks}`, () => {
    const { ns, root } = chain(maxSymlinks + 1, 'new');
    expectErrno(() => ns.open(root, 'l1', { follow: true, create: true }), 'ELOOP');
    const ok = chain(maxSymlinks, 'new');
    expect(ok.ns.open(ok.root, 'l1', { follow: true, create: true }).created).toBe(true);
  });
});

describe('a namespace rooted inside a larger tree', () => {
  // The outer tree plays the host: the jail must never reach its /etc.
  function jail() {
    const { ns: outer } = world();
    build(outer, ['etc/', 'etc/passwd=HOST', 'jail/', 'jail/etc/', 'jail/etc/passwd=JAIL']);
    const ns = new Namespace(dirAt(outer, '/jail'));
    build(ns, ['abs -> /etc/passwd', 'up -> ../../../etc/passwd', 'sub/', 'sub/deep -> ../../../..', 'new -> /etc/created']);
    return { outer, ns };
  }

  const cases: [string, string, string][] = [
    ['an absolute path', '/etc/passwd', 'JAIL'],
    ['.. from the root', '/../etc/passwd', 'JAIL'],
    ['an absolute symlink', 'abs', 'JAIL'],
    ['a relative symlink climbing out', 'up', 'JAIL'],
    ['a symlink of .. climbing out', 'sub/deep/etc/passwd', 'JAIL'],
  ];
  it.each(cases)('%s stays inside', (_name, path, want) => {
    expect(readFile(jail().ns, path)).toBe(want);
  });

  it('creates through a dangling absolute symlink inside the root', () => {
    const { outer, ns } = jail();
    expect(ns.open(ns.root, 'new', { follow: true, create: true }).created).toBe(true);
    expect(ns.stat(ns.root, '/etc/created', true).type).toBe('file');
    expect(outer.stat(outer.root, '/jail/etc/created', true).type).toBe('file');
    expectErrno(() => outer.stat(outer.root, '/etc/created', true), 'ENOENT');
  });
});

describe('mounts', () => {
  function mounted() {
    const w = world();
    build(w.ns, ['mnt/', 'mnt/hidden=covered', 'etc/', 'etc/passwd=root fs', 'f=file']);
    const covered = dirAt(w.ns, '/mnt');
    const fs2 = new Tmpfs({ dev: 2n });
    w.ns.mount('/mnt', fs2.root);
    build(w.ns, ['mnt/inner=inner', 'mnt/sub/', 'mnt/abs -> /etc/passwd', 'mnt/up -> ../etc/passwd']);
    return { ...w, fs2, covered };
  }

  it("one namespace's mount is not seen by another namespace over the same tree (none shares a mount table)", () => {
    const { ns, fs2 } = mounted();
    const other = new Namespace(ns.root);
    expect(other.stat(other.root, '/mnt', true).dev).not.toBe(2n);
    expect(readFile(other, '/mnt/hidden')).toBe('covered');
    const third = new Namespace(ns.root);
    const fs3 = new Tmpfs({ dev: 3n });
    third.mount('/etc', fs3.root);
    expect(third.stat(third.root, '/mnt', true).dev).not.toBe(2n);
    expect(ns.stat(ns.root, '/etc/passwd', true).dev).not.toBe(3n);
    expect(ns.stat(ns.root, '/mnt', true).ino).toBe(fs2.root.ino);
  });

  it('crosses into the mounted filesystem', () => {
    const { ns, root, fs2 } = mounted();
    expect(ns.stat(root, '/mnt', true)).toMatchObject({ dev: 2n, ino: fs2.root.ino });
    expect(ns.stat(root, '/mnt/inner', true).dev).toBe(2n);
    expect(readFile(ns, '/mnt/inner')).toBe('inner');
    expectErrno(() => ns.stat(root, '/mnt/hidden', true), 'ENOENT');
  });

  const dotdot: [string, string, string][] = [
    ['.. from the mount root', '/mnt/..', '/'],
    ['.. from a directory in the mount', '/mnt/sub/../..', '/'],
    ['.. then back into the mount', '/mnt/../mnt/sub', '/mnt/sub'],
    ['an absolute symlink in the mount uses the namespace root', '/mnt/abs', '/etc/passwd'],
    ['a relative symlink climbing out of the mount', '/mnt/up', '/etc/passwd'],
  ];
  it.each(dotdot)('%s', (_name, path, want) => {
    const { ns, root } = mounted();
    const got = ns.stat(root, path, true);
    const expected = ns.stat(root, want, true);
    expect([got.dev, got.ino]).toEqual([expected.dev, expected.ino]);
  });

  it('.. from the mount root held as a start directory is the parent of the mount point', () => {
    const { ns, root, fs2 } = mounted();
    expect(ns.parentOf(fs2.root)).toBe(root);
    expect(ns.resolve(fs2.root, '..', true, 'stat')).toBe(root);
  });

  const errors: [string, (w: ReturnType<typeof mounted>) => unknown, Errno][] = [
    ['rename into the mount', ({ ns, root }) => ns.rename(root, '/f', root, '/mnt/f'), 'EXDEV'],
    ['rename out of the mount', ({ ns, root }) => ns.rename(root, '/mnt/inner', root, '/inner'), 'EXDEV'],
    ['link into the mount', ({ ns, root }) => ns.link(root, '/f', true, root, '/mnt/f'), 'EXDEV'],
    ['link out of the mount', ({ ns, root }) => ns.link(root, '/mnt/inner', true, root, '/inner'), 'EXDEV'],
    ['rmdir of the mount point', ({ ns, root }) => ns.rmdir(root, '/mnt'), 'EBUSY'],
    ['rmdir of the mount point with a trailing slash', ({ ns, root }) => ns.rmdir(root, '/mnt/'), 'EBUSY'],
    ['rename of the mount point', ({ ns, root }) => ns.rename(root, '/mnt', root, '/elsewhere'), 'EBUSY'],
    ['rename over the mount point', ({ ns, root }) => ns.rename(root, '/etc', root, '/mnt'), 'EBUSY'],
    ['unlink of the mount point', ({ ns, root }) => ns.unlink(root, '/mnt'), 'EISDIR'],
    ['mount over a mount point', ({ ns }) => ns.mount('/mnt', new Tmpfs({ dev: 3n }).root), 'EBUSY'],
    ['mount over the root', ({ ns }) => ns.mount('/', new Tmpfs({ dev: 3n }).root), 'EBUSY'],
    ['mount over a file', ({ ns }) => ns.mount('/f', new Tmpfs({ dev: 3n }).root), 'ENOTDIR'],
    ['rename inside the mount is fine', ({ ns, root }) => ns.rename(root, '/mnt/inner', root, '/mnt/sub/inner'), 'ok' as Errno],
  ];
  it.each(errors)('%s', (_name, op, want) => {
    expect(outcome(() => op(mounted()))).toBe(want);
  });

  it("lists the mount's root inode for the mount point in its parent", () => {
    const { ns, root, fs2, covered } = mounted();
    const entries: DirEntry[] = [];
    ns.readdir(root, 0, (e) => (entries.push(e), true));
    const mnt = entries.find((e) => e.name === 'mnt');
    expect(mnt).toMatchObject({ ino: fs2.root.ino, type: 'directory' });
    expect(mnt?.ino).not.toBe(covered.ino);
  });

  it('lists .. of the mount root as the parent of the mount point', () => {
    const { ns, root, fs2 } = mounted();
    const entries: DirEntry[] = [];
    ns.readdir(fs2.root, 0, (e) => (entries.push(e), true));
    expect(entries.slice(0, 2)).toEqual([
      { name: '.', ino: fs2.root.ino, type: 'directory', next: 1 },
      { name: '..', ino: root.ino, type: 'directory', next: 2 },
    ]);
    expect(entries.slice(2).map((e) => e.name)).toEqual(['inner', 'sub', 'abs', 'up']);
  });
});

describe('confined mounts (RESOLVE_IN_ROOT)', () => {
  /** A tmpfs whose symlinks resolve within its mount root, as a host bind's do. */
  class ConfinedTmpfs extends Tmpfs {
    readonly confined = true;
  }

  // The root fs plays the host: nothing under /mnt may reach its /etc or /secret.
  function confined() {
    const w = world();
    build(w.ns, ['etc/', 'etc/passwd=HOST', 'secret=HOST', 'mnt/', 'tomnt -> /mnt/abs', 'plain/']);
    const bind = new ConfinedTmpfs({ dev: 2n });
    w.ns.mount('/mnt', bind.root);
    build(w.ns, [
      'mnt/etc/',
      'mnt/etc/passwd=BIND',
      'mnt/abs -> /etc/passwd',
      'mnt/up -> ../../etc/passwd',
      'mnt/sub/',
      'mnt/sub/deep -> ../../../../etc',
      'mnt/sub/rel -> ../etc/passwd',
      'mnt/chain1 -> chain2',
      'mnt/chain2 -> /sub/chain3',
      'mnt/sub/chain3 -> ../../../etc/passwd',
      'mnt/root -> /',
      'mnt/dotdot -> ..',
      'mnt/tosecret -> /secret',
      'mnt/etcdir -> /etc',
      'mnt/new -> /created',
      'mnt/nested/',
    ]);
    const inner = new ConfinedTmpfs({ dev: 3n });
    w.ns.mount('/mnt/nested', inner.root);
    build(w.ns, ['mnt/nested/etc/', 'mnt/nested/etc/passwd=NESTED', 'mnt/nested/abs -> /etc/passwd', 'mnt/tonested -> /nested/abs']);
    w.ns.mount('/plain', new Tmpfs({ dev: 4n }).root);
    build(w.ns, ['plain/abs -> /etc/passwd']);
    return { ...w, bind, inner };
  }

  const reads: [string, string, string][] = [
    ['an absolute link restarts at the mount root', '/mnt/abs', 'BIND'],
    ['a relative link climbing out stops at the mount root', '/mnt/up', 'BIND'],
    ['a link of .. climbing out, then down', '/mnt/sub/deep/passwd', 'BIND'],
    ['a relative link inside the mount', '/mnt/sub/rel', 'BIND'],
    ['a chain of relative and absolute links', '/mnt/chain1', 'BIND'],
    ['a link to / names the mount root', '/mnt/root/etc/passwd', 'BIND'],
    ['a link of .. at the mount root', '/mnt/dotdot/etc/passwd', 'BIND'],
    ['.. in the rest of the path after a link stays inside', '/mnt/etcdir/../../../etc/passwd', 'BIND'],
    ['a root link into the mount, then a mount link', '/tomnt', 'BIND'],
    ['a nested confined mount narrows to its own root', '/mnt/nested/abs', 'NESTED'],
    ['a link of the outer mount reaching a nested one', '/mnt/tonested', 'NESTED'],
    ['an absolute path argument is still the process root', '/etc/passwd', 'HOST'],
    ['.. from the mount without a link is still the parent', '/mnt/../etc/passwd', 'HOST'],
    ['a plain (unconfined) mount resolves against the process root', '/plain/abs', 'HOST'],
  ];
  it.each(reads)('%s', (_name, path, want) => {
    expect(readFile(confined().ns, path)).toBe(want);
  });

  it('never reaches a name that exists only outside the mount', () => {
    const { ns, root } = confined();
    expectErrno(() => ns.stat(root, '/mnt/tosecret', true), 'ENOENT');
    expectErrno(() => ns.stat(root, '/mnt/root/secret', true), 'ENOENT');
    expectErrno(() => ns.stat(root, '/mnt/dotdot/../../secret', true), 'ENOENT');
  });

  it('keeps .. inside when resolution starts inside the mount', () => {
    const { ns, bind } = confined();
    expect(readFile(ns, 'up', bind.root)).toBe('BIND');
    expect(readFile(ns, 'sub/deep/../../../../etc/passwd', bind.root)).toBe('BIND');
  });

  it('creates through a dangling absolute link inside the mount root', () => {
    const { ns, root } = confined();
    expect(ns.open(root, '/mnt/new', { follow: true, create: true }).created).toBe(true);
    expect(ns.stat(root, '/mnt/created', true).dev).toBe(2n);
    expectErrno(() => ns.stat(root, '/created', true), 'ENOENT');
  });

  it('creates through a link chain that climbs, inside the mount root', () => {
    const { ns, root } = confined();
    build(ns, ['mnt/mk1 -> sub/mk2', 'mnt/sub/mk2 -> ../../../made']);
    expect(ns.open(root, '/mnt/mk1', { follow: true, create: true }).created).toBe(true);
    expect(readFile(ns, '/mnt/made')).toBe('');
    expectErrno(() => ns.stat(root, '/made', true), 'ENOENT');
  });

  it('holds links of a filesystem attached by mountAt inside its root', () => {
    const { ns, root } = confined();
    const attached = new ConfinedTmpfs({ dev: 5n });
    ns.mountAt('/', 'attached', attached.root);
    build(ns, ['attached/etc/', 'attached/etc/passwd=ATTACHED', 'attached/abs -> /etc/passwd', 'attached/up -> ../../etc/passwd', 'attached/etcdir -> /etc']);
    expect(readFile(ns, '/attached/abs')).toBe('ATTACHED');
    expect(readFile(ns, '/attached/up')).toBe('ATTACHED');
    expect(readFile(ns, '/attached/../etc/passwd')).toBe('HOST');
    expect(ns.resolve(root, '/attached/etcdir/../../..', true, 'stat')).toBe(attached.root);
  });

  it('holds links inside the directory that was mounted, when it is not the filesystem root', () => {
    const { ns, bind } = confined();
    const sub = bind.root.lookup('sub');
    if (sub?.type !== 'directory') throw new Error('no /mnt/sub');
    ns.mkdir(ns.root, '/sub2');
    ns.mount('/sub2', sub);
    build(ns, ['sub2/etc/', 'sub2/etc/passwd=SUB', 'sub2/abs -> /etc/passwd']);
    expect(readFile(ns, '/sub2/abs')).toBe('SUB');
    expect(readFile(ns, '/sub2/rel')).toBe('SUB');
  });

  it('resolves parents of other operations inside the mount root', () => {
    const { ns, root } = confined();
    ns.mkdir(root, '/mnt/etcdir/made');
    expect(ns.stat(root, '/mnt/etc/made', true).dev).toBe(2n);
    expectErrno(() => ns.stat(root, '/etc/made', true), 'ENOENT');
  });
});
