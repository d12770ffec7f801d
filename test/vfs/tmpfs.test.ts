import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Namespace, Tmpfs, defaultTmpfsLimits, maxFileSize, type Errno, type Stat } from '../../src/vfs/index.js';
import { build, contents, dirAt, expectErrno, names, outcome, readFile, world, writeFile } from './tree.js';

type World = ReturnType<typeof world>;

/** A table row: a tree, one operation on it, and the errno (or 'ok') it must give. */
type Row = [name: string, tree: string[], op: (w: World) => unknown, want: Errno | 'ok'];

function runTable(rows: Row[]): void {
  it.each(rows)('%s', (_name, tree, op, want) => {
    const w = world();
    build(w.ns, tree);
    expect(outcome(() => op(w))).toBe(want);
  });
}

const bytes = (s: string) => new TextEncoder().encode(s);
const lstat = ({ ns, root }: World, path: string): Stat => ns.stat(root, path, false);

describe('hardlinks', () => {
  it('share the inode and count links', () => {
    const w = world();
    build(w.ns, ['f=data', 'd/']);
    w.ns.link(w.root, 'f', true, w.root, 'd/g');
    w.ns.link(w.root, 'f', true, w.root, 'h');
    expect(lstat(w, 'f').nlink).toBe(3);
    expect(lstat(w, 'd/g').ino).toBe(lstat(w, 'f').ino);
    w.ns.unlink(w.root, 'f');
    expect(lstat(w, 'h').nlink).toBe(2);
    writeFile(w.ns, 'h', 'changed');
    expect(readFile(w.ns, 'd/g')).toBe('changed');
  });

  it('of a symlink without following link the symlink itself', () => {
    const w = world();
    build(w.ns, ['f', 's -> f']);
    w.ns.link(w.root, 's', false, w.root, 's2');
    expect(lstat(w, 's2')).toMatchObject({ type: 'symlink', ino: lstat(w, 's').ino, nlink: 2 });
    w.ns.link(w.root, 's', true, w.root, 'f2');
    expect(lstat(w, 'f2')).toMatchObject({ type: 'file', ino: lstat(w, 'f').ino, nlink: 2 });
  });

  runTable([
    ['of a directory', ['d/'], ({ ns, root }) => ns.link(root, 'd', true, root, 'e'), 'EPERM'],
    ['over an existing name', ['f', 'g'], ({ ns, root }) => ns.link(root, 'f', true, root, 'g'), 'EEXIST'],
    ['over a dangling symlink', ['f', 'g -> nowhere'], ({ ns, root }) => ns.link(root, 'f', true, root, 'g'), 'EEXIST'],
    ['of a missing file', [], ({ ns, root }) => ns.link(root, 'f', true, root, 'g'), 'ENOENT'],
    ['into a missing directory', ['f'], ({ ns, root }) => ns.link(root, 'f', true, root, 'no/g'), 'ENOENT'],
  ]);
});

describe('file data', () => {
  it('a write past the end leaves a hole of zeros', () => {
    const w = world();
    const file = writeFile(w.ns, 'f', 'ab');
    file.write(bytes('z'), 0, 1, 5);
    expect(contents(file)).toBe('ab\0\0\0z');
    expect(w.fs.usage.bytes).toBe(6);
  });

  it('shrinking then growing reads zeros, not the old bytes', () => {
    const w = world();
    const file = writeFile(w.ns, 'f', 'secret');
    file.truncate(1);
    file.truncate(6);
    expect(contents(file)).toBe('s\0\0\0\0\0');
  });

  it('a read past the end returns 0, a read across it is short', () => {
    const w = world();
    const file = writeFile(w.ns, 'f', 'x'.repeat(100));
    const buf = new Uint8Array(64);
    expect([file.read(buf, 0, 64, 100), file.read(buf, 0, 64, 500), file.read(buf, 0, 64, 70), file.read(buf, 10, 40, 0)]).toEqual([0, 0, 30, 40]);
  });

  it('an empty write past the end changes nothing', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const w = world({ maxBytes: 4 });
      const file = writeFile(w.ns, 'f', 'ab');
      const before = file.stat();
      vi.setSystemTime(Date.now() + 10);
      expect(file.write(new Uint8Array(0), 0, 0, 1000)).toBe(0);
      expect(file.stat()).toEqual(before);
      expect(w.fs.usage.bytes).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('unlinked but open', () => {
  it('keeps the data readable and writable until release', () => {
    const w = world();
    const start = w.fs.usage;
    const file = writeFile(w.ns, 'f', 'hello');
    file.retain();
    w.ns.unlink(w.root, 'f');
    expect(file.stat().nlink).toBe(0);
    expectErrno(() => lstat(w, 'f'), 'ENOENT');
    expect(contents(file)).toBe('hello');
    file.write(bytes(', world'), 0, 7, 5);
    expect(contents(file)).toBe('hello, world');
    // Still charged: the bytes are in use.
    expect(w.fs.usage).toEqual({ bytes: 12, inodes: start.inodes + 1 });
    file.release();
    expect(w.fs.usage).toEqual(start);
  });

  it('is freed when the last of several opens is released', () => {
    const w = world();
    const file = writeFile(w.ns, 'f', 'abc');
    file.retain();
    file.retain();
    w.ns.unlink(w.root, 'f');
    file.release();
    expect(w.fs.usage.bytes).toBe(3);
    expect(contents(file)).toBe('abc');
    file.release();
    expect(w.fs.usage).toEqual({ bytes: 0, inodes: 1 });
  });

  it('survives being renamed over', () => {
    const w = world();
    build(w.ns, ['new=new']);
    const old = writeFile(w.ns, 'f', 'old');
    old.retain();
    w.ns.rename(w.root, 'new', w.root, 'f');
    expect(contents(old)).toBe('old');
    expect(readFile(w.ns, 'f')).toBe('new');
    expect(w.fs.usage.bytes).toBe(6);
    old.release();
    expect(w.fs.usage).toEqual({ bytes: 3, inodes: 2 });
  });

  it('an open file with links left is not freed by release', () => {
    const w = world();
    const file = writeFile(w.ns, 'f', 'abc');
    file.retain();
    file.release();
    expect(readFile(w.ns, 'f')).toBe('abc');
    expect(w.fs.usage.bytes).toBe(3);
  });
});

describe('rename', () => {
  it('replaces a file atomically: the old target loses its link', () => {
    const w = world();
    build(w.ns, ['a=A', 'b=B']);
    const oldB = w.ns.resolve(w.root, 'b', false, 'stat');
    const aIno = lstat(w, 'a').ino;
    w.ns.rename(w.root, 'a', w.root, 'b');
    expect(oldB.stat().nlink).toBe(0);
    expect(lstat(w, 'b').ino).toBe(aIno);
    expect(readFile(w.ns, 'b')).toBe('A');
    expectErrno(() => lstat(w, 'a'), 'ENOENT');
    expect(names(w.ns, w.root)).toEqual(['b']);
    expect(w.fs.usage).toEqual({ bytes: 1, inodes: 2 });
  });

  it('replaces an empty directory and fixes both parents link counts', () => {
    const w = world();
    build(w.ns, ['p/', 'p/a/', 'p/a/x', 'q/', 'q/b/']);
    w.ns.rename(w.root, 'p/a', w.root, 'q/b');
    expect(readFile(w.ns, 'q/b/x')).toBe('');
    expect(lstat(w, 'p').nlink).toBe(2);
    expect(lstat(w, 'q').nlink).toBe(3);
    expect(w.ns.resolve(w.root, 'q/b/..', true, 'stat')).toBe(dirAt(w.ns, 'q'));
    expect(w.fs.usage.inodes).toBe(5);
  });

  it('between two hardlinks of one inode does nothing', () => {
    const w = world();
    build(w.ns, ['f=x']);
    w.ns.link(w.root, 'f', true, w.root, 'h');
    w.ns.rename(w.root, 'f', w.root, 'h');
    expect(names(w.ns, w.root)).toEqual(['f', 'h']);
    expect(lstat(w, 'f').nlink).toBe(2);
  });

  it('onto itself does nothing', () => {
    const w = world();
    build(w.ns, ['d/', 'd/x']);
    w.ns.rename(w.root, 'd', w.root, 'd');
    expect(names(w.ns, w.root)).toEqual(['d']);
  });

  runTable([
    ['a file over a file', ['a', 'b'], ({ ns, root }) => ns.rename(root, 'a', root, 'b'), 'ok'],
    ['a directory over an empty directory', ['a/', 'b/'], ({ ns, root }) => ns.rename(root, 'a', root, 'b'), 'ok'],
    ['a directory to a new name with a trailing slash', ['a/'], ({ ns, root }) => ns.rename(root, 'a/', root, 'b/'), 'ok'],
    ['a directory over a non-empty directory', ['a/', 'b/', 'b/x'], ({ ns, root }) => ns.rename(root, 'a', root, 'b'), 'ENOTEMPTY'],
    ['a directory over a file', ['a/', 'b'], ({ ns, root }) => ns.rename(root, 'a', root, 'b'), 'ENOTDIR'],
    ['a file over a directory', ['a', 'b/'], ({ ns, root }) => ns.rename(root, 'a', root, 'b'), 'EISDIR'],
    ['a directory into its own subdirectory', ['a/', 'a/b/'], ({ ns, root }) => ns.rename(root, 'a', root, 'a/b/c'), 'EINVAL'],
    ['a directory into itself', ['a/'], ({ ns, root }) => ns.rename(root, 'a', root, 'a/c'), 'EINVAL'],
    ['a directory over its own parent', ['a/', 'a/b/'], ({ ns, root }) => ns.rename(root, 'a/b', root, 'a'), 'ENOTEMPTY'],
    ['a missing name', [], ({ ns, root }) => ns.rename(root, 'a', root, 'b'), 'ENOENT'],
    ['into a missing directory', ['a'], ({ ns, root }) => ns.rename(root, 'a', root, 'no/b'), 'ENOENT'],
    ['a file with a trailing slash', ['a'], ({ ns, root }) => ns.rename(root, 'a/', root, 'b'), 'ENOTDIR'],
    ['a file to a name with a trailing slash', ['a'], ({ ns, root }) => ns.rename(root, 'a', root, 'b/'), 'ENOTDIR'],
    // POSIX says EINVAL for a last component of . or ..; Linux says EBUSY for both.
    ['from .', ['a/'], ({ ns, root }) => ns.rename(root, 'a/.', root, 'b'), 'EINVAL'],
    ['to .', ['a/', 'f'], ({ ns, root }) => ns.rename(root, 'f', root, 'a/.'), 'EINVAL'],
    ['from ..', ['a/', 'a/b/'], ({ ns, root }) => ns.rename(root, 'a/b/..', root, 'c'), 'EBUSY'],
    ['to ..', ['a/', 'f'], ({ ns, root }) => ns.rename(root, 'f', root, 'a/..'), 'EBUSY'],
    ['the root', [], ({ ns, root }) => ns.rename(root, '/', root, 'b'), 'EINVAL'],
  ]);

  it('into a directory removed while held gives ENOENT', () => {
    const w = world();
    build(w.ns, ['f', 'gone/']);
    const gone = dirAt(w.ns, 'gone');
    w.ns.rmdir(w.root, 'gone');
    expectErrno(() => w.ns.rename(w.root, 'f', gone, 'f'), 'ENOENT');
    expect(names(w.ns, w.root)).toEqual(['f']);
  });
});

describe('remove and create', () => {
  runTable([
    ['rmdir of a non-empty directory', ['d/', 'd/f'], ({ ns, root }) => ns.rmdir(root, 'd'), 'ENOTEMPTY'],
    ['rmdir of a file', ['f'], ({ ns, root }) => ns.rmdir(root, 'f'), 'ENOTDIR'],
    ['rmdir of a file with a trailing slash', ['f'], ({ ns, root }) => ns.rmdir(root, 'f/'), 'ENOTDIR'],
    ['rmdir of a symlink to a directory', ['d/', 's -> d'], ({ ns, root }) => ns.rmdir(root, 's'), 'ENOTDIR'],
    ['rmdir of a missing name', [], ({ ns, root }) => ns.rmdir(root, 'd'), 'ENOENT'],
    ['rmdir of the root', [], ({ ns, root }) => ns.rmdir(root, '/'), 'EBUSY'],
    ['rmdir of .', ['d/'], ({ ns, root }) => ns.rmdir(root, 'd/.'), 'EINVAL'],
    ['rmdir of ..', ['d/', 'd/e/'], ({ ns, root }) => ns.rmdir(root, 'd/e/..'), 'ENOTEMPTY'],
    ['rmdir of an empty directory', ['d/'], ({ ns, root }) => ns.rmdir(root, 'd/'), 'ok'],
    ['unlink of a directory', ['d/'], ({ ns, root }) => ns.unlink(root, 'd'), 'EISDIR'],
    ['unlink of .', ['d/'], ({ ns, root }) => ns.unlink(root, 'd/.'), 'EISDIR'],
    ['unlink of a file with a trailing slash', ['f'], ({ ns, root }) => ns.unlink(root, 'f/'), 'ENOTDIR'],
    ['unlink of a missing name', [], ({ ns, root }) => ns.unlink(root, 'f'), 'ENOENT'],
    ['unlink of a symlink to a directory', ['d/', 's -> d'], ({ ns, root }) => ns.unlink(root, 's'), 'ok'],
    ['unlink of a dangling symlink', ['s -> nowhere'], ({ ns, root }) => ns.unlink(root, 's'), 'ok'],
    ['mkdir over a directory', ['d/'], ({ ns, root }) => ns.mkdir(root, 'd'), 'EEXIST'],
    ['mkdir over a file', ['f'], ({ ns, root }) => ns.mkdir(root, 'f'), 'EEXIST'],
    ['mkdir over a dangling symlink', ['s -> nowhere'], ({ ns, root }) => ns.mkdir(root, 's'), 'EEXIST'],
    ['mkdir of the root', [], ({ ns, root }) => ns.mkdir(root, '/'), 'EEXIST'],
    ['mkdir with a trailing slash', [], ({ ns, root }) => ns.mkdir(root, 'd/'), 'ok'],
    ['mkdir in a missing directory', [], ({ ns, root }) => ns.mkdir(root, 'no/d'), 'ENOENT'],
    ['mkdir under a file', ['f'], ({ ns, root }) => ns.mkdir(root, 'f/d'), 'ENOTDIR'],
    ['symlink over a name', ['f'], ({ ns, root }) => ns.symlink('x', root, 'f'), 'EEXIST'],
    ['symlink with an empty target', [], ({ ns, root }) => ns.symlink('', root, 's'), 'ENOENT'],
    ['readlink of a file', ['f'], ({ ns, root }) => ns.readlink(root, 'f'), 'EINVAL'],
    ['open(create, exclusive) of a file', ['f'], ({ ns, root }) => ns.open(root, 'f', { follow: true, create: true, exclusive: true }), 'EEXIST'],
    ['open(create, exclusive) of a dangling symlink', ['s -> nowhere'], ({ ns, root }) => ns.open(root, 's', { follow: true, create: true, exclusive: true }), 'EEXIST'],
    ['open(create) of a directory', ['d/'], ({ ns, root }) => ns.open(root, 'd', { follow: true, create: true }), 'EISDIR'],
    ['open(create) of a new name with a trailing slash', [], ({ ns, root }) => ns.open(root, 'f/', { follow: true, create: true }), 'EISDIR'],
    ['open(create) of a file with a trailing slash', ['f'], ({ ns, root }) => ns.open(root, 'f/', { follow: true, create: true }), 'EISDIR'],
    ['open(create, nofollow) of a symlink', ['f', 's -> f'], ({ ns, root }) => ns.open(root, 's', { follow: false, create: true }), 'ELOOP'],
    ['open(nofollow) of a symlink', ['f', 's -> f'], ({ ns, root }) => ns.open(root, 's', { follow: false }), 'ELOOP'],
    ['open(directory) of a file', ['f'], ({ ns, root }) => ns.open(root, 'f', { follow: true, directory: true }), 'ENOTDIR'],
    ['open of a file with a trailing slash', ['f'], ({ ns, root }) => ns.open(root, 'f/', { follow: true }), 'ENOTDIR'],
    ['open of a missing name', [], ({ ns, root }) => ns.open(root, 'f', { follow: true }), 'ENOENT'],
    ['open(create) in a missing directory', [], ({ ns, root }) => ns.open(root, 'no/f', { follow: true, create: true }), 'ENOENT'],
  ]);

  it('open(create) through a dangling symlink creates its target', () => {
    const w = world();
    build(w.ns, ['d/', 'rel -> d/new', 'abs -> /d/abs']);
    expect(w.ns.open(w.root, 'rel', { follow: true, create: true }).created).toBe(true);
    expect(w.ns.open(w.root, 'abs', { follow: true, create: true }).created).toBe(true);
    expect(names(w.ns, dirAt(w.ns, 'd'))).toEqual(['new', 'abs']);
    // And a second open finds it instead of creating it again.
    expect(w.ns.open(w.root, 'rel', { follow: true, create: true }).created).toBe(false);
  });

  const createOps: [string, (ns: Namespace, at: ReturnType<typeof dirAt>) => unknown][] = [
    ['open(create)', (ns, at) => ns.open(at, 'x', { follow: true, create: true })],
    ['mkdir', (ns, at) => ns.mkdir(at, 'x')],
    ['symlink', (ns, at) => ns.symlink('t', at, 'x')],
    ['link', (ns, at) => ns.link(ns.root, '/f', true, at, 'x')],
    ['open(create) by ./', (ns, at) => ns.open(at, './x', { follow: true, create: true })],
  ];
  it.each(createOps)('%s inside a removed directory gives ENOENT', (_name, op) => {
    const w = world();
    build(w.ns, ['f', 'gone/']);
    const gone = dirAt(w.ns, 'gone');
    w.ns.rmdir(w.root, 'gone');
    const before = w.fs.usage;
    expectErrno(() => op(w.ns, gone), 'ENOENT');
    expect(w.fs.usage).toEqual(before);
    expect(gone.stat().nlink).toBe(0);
  });
});

describe('inode numbers', () => {
  it('start at 1 for the root and are never reused after a delete', () => {
    const w = world();
    expect(w.root.ino).toBe(1n);
    build(w.ns, ['a', 'b/', 'c -> a']);
    expect(['a', 'b', 'c'].map((p) => lstat(w, p).ino)).toEqual([2n, 3n, 4n]);
    w.ns.unlink(w.root, 'a');
    w.ns.rmdir(w.root, 'b');
    w.ns.unlink(w.root, 'c');
    build(w.ns, ['a', 'b/']);
    expect(['a', 'b'].map((p) => lstat(w, p).ino)).toEqual([5n, 6n]);
  });

  it('are stable across rename and hardlinks', () => {
    const w = world();
    build(w.ns, ['d/', 'd/f']);
    const ino = lstat(w, 'd/f').ino;
    w.ns.rename(w.root, 'd/f', w.root, 'g');
    w.ns.link(w.root, 'g', true, w.root, 'd/h');
    expect([lstat(w, 'g').ino, lstat(w, 'd/h').ino]).toEqual([ino, ino]);
  });

  it('of two instances are independent', () => {
    const one = world();
    build(one.ns, ['a', 'b', 'c']);
    const two = new Tmpfs({ dev: 2n });
    expect(two.root.ino).toBe(1n);
    expect(two.root.createFile('x', 0o644).ino).toBe(2n);
    build(one.ns, ['d']);
    expect(lstat(one, 'd').ino).toBe(5n);
    expect(two.root.stat().dev).toBe(2n);
  });
});

describe('directory link counts', () => {
  it('are 2 + subdirectories', () => {
    const w = world();
    expect(w.root.stat().nlink).toBe(2);
    build(w.ns, ['a/', 'b/', 'f', 's -> a', 'a/c/']);
    expect(lstat(w, '/').nlink).toBe(4);
    expect(lstat(w, 'a').nlink).toBe(3);
    w.ns.rename(w.root, 'a/c', w.root, 'b/c');
    expect([lstat(w, 'a').nlink, lstat(w, 'b').nlink]).toEqual([2, 3]);
    w.ns.rmdir(w.root, 'b/c');
    expect(lstat(w, 'b').nlink).toBe(2);
    w.ns.rmdir(w.root, 'b');
    expect(lstat(w, '/').nlink).toBe(3);
  });
});

describe('times', () => {
  const t0 = Date.UTC(2024, 0, 1);
  const ns = (ms: number) => BigInt(ms) * 1_000_000n;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('are stamped at creation', () => {
    const w = world();
    build(w.ns, ['f']);
    expect(lstat(w, 'f')).toMatchObject({ atimeNs: ns(t0), mtimeNs: ns(t0), ctimeNs: ns(t0) });
  });

  it('write and truncate update mtime and ctime, not atime', () => {
    const w = world();
    const file = writeFile(w.ns, 'f', 'x');
    vi.setSystemTime(t0 + 5);
    file.write(bytes('y'), 0, 1, 1);
    expect(file.stat()).toMatchObject({ atimeNs: ns(t0), mtimeNs: ns(t0 + 5), ctimeNs: ns(t0 + 5) });
    vi.setSystemTime(t0 + 9);
    file.truncate(0);
    expect(file.stat()).toMatchObject({ atimeNs: ns(t0), mtimeNs: ns(t0 + 9), ctimeNs: ns(t0 + 9) });
  });

  it('setTimes stores exact nanoseconds and sets ctime to now', () => {
    const w = world();
    build(w.ns, ['f']);
    vi.setSystemTime(t0 + 7);
    const atime = 1_700_000_000_123_456_789n;
    const mtime = 1_600_000_000_987_654_321n;
    w.ns.setTimes(w.root, 'f', true, atime, mtime);
    expect(lstat(w, 'f')).toMatchObject({ atimeNs: atime, mtimeNs: mtime, ctimeNs: ns(t0 + 7) });
    vi.setSystemTime(t0 + 8);
    w.ns.setTimes(w.root, 'f', true, undefined, 'now');
    expect(lstat(w, 'f')).toMatchObject({ atimeNs: atime, mtimeNs: ns(t0 + 8), ctimeNs: ns(t0 + 8) });
    w.ns.setTimes(w.root, 'f', true, 'now', undefined);
    expect(lstat(w, 'f')).toMatchObject({ atimeNs: ns(t0 + 8), mtimeNs: ns(t0 + 8) });
  });

  it('setTimes without following changes the symlink', () => {
    const w = world();
    build(w.ns, ['f', 's -> f']);
    w.ns.setTimes(w.root, 's', false, 5n, 6n);
    expect(lstat(w, 's')).toMatchObject({ atimeNs: 5n, mtimeNs: 6n });
    expect(lstat(w, 'f')).toMatchObject({ atimeNs: ns(t0), mtimeNs: ns(t0) });
  });

  it('rename updates the ctime of the node and the mtime of both directories', () => {
    const w = world();
    build(w.ns, ['a/', 'b/', 'a/f']);
    vi.setSystemTime(t0 + 3);
    w.ns.rename(w.root, 'a/f', w.root, 'b/g');
    expect(lstat(w, 'b/g')).toMatchObject({ mtimeNs: ns(t0), ctimeNs: ns(t0 + 3) });
    expect(lstat(w, 'a')).toMatchObject({ mtimeNs: ns(t0 + 3), ctimeNs: ns(t0 + 3) });
    expect(lstat(w, 'b')).toMatchObject({ mtimeNs: ns(t0 + 3), ctimeNs: ns(t0 + 3) });
  });

  it('link and unlink update the ctime of the node and the mtime of the directory', () => {
    const w = world();
    build(w.ns, ['f', 'd/']);
    vi.setSystemTime(t0 + 4);
    w.ns.link(w.root, 'f', true, w.root, 'd/h');
    expect(lstat(w, 'f').ctimeNs).toBe(ns(t0 + 4));
    expect(lstat(w, 'd').mtimeNs).toBe(ns(t0 + 4));
    vi.setSystemTime(t0 + 6);
    w.ns.unlink(w.root, 'f');
    expect(lstat(w, 'd/h').ctimeNs).toBe(ns(t0 + 6));
    expect(lstat(w, '/').mtimeNs).toBe(ns(t0 + 6));
  });
});

describe('quotas', () => {
  it('the defaults apply where no limit is given, and cannot be changed (every tmpfs without limits shares them)', () => {
    expect(new Tmpfs({ dev: 1n }).limits).toEqual({ maxBytes: 1 << 30, maxInodes: 1 << 20, maxMetadataBytes: 256 << 20 });
    expect(new Tmpfs({ dev: 1n, limits: { maxBytes: 5 } }).limits).toEqual({ maxBytes: 5, maxInodes: 1 << 20, maxMetadataBytes: 256 << 20 });
    expect(Object.isFrozen(defaultTmpfsLimits)).toBe(true);
    expect(() => {
      (defaultTmpfsLimits as { maxBytes: number }).maxBytes = 1;
    }).toThrow(TypeError);
    expect(new Tmpfs({ dev: 1n }).limits.maxBytes).toBe(1 << 30);
  });

  it('maxBytes: a write past the limit gives ENOSPC and changes nothing', () => {
    const w = world({ maxBytes: 100 });
    const file = writeFile(w.ns, 'f', 'x'.repeat(60));
    const before = { stat: file.stat(), usage: w.fs.usage };
    expectErrno(() => file.write(new Uint8Array(41), 0, 41, 60), 'ENOSPC');
    expectErrno(() => file.write(new Uint8Array(1), 0, 1, 100), 'ENOSPC');
    expectErrno(() => file.truncate(101), 'ENOSPC');
    expect(file.stat()).toEqual(before.stat);
    expect(w.fs.usage).toEqual(before.usage);
    expect(contents(file)).toBe('x'.repeat(60));
    // Up to the limit is fine, and overwriting in place needs no new bytes.
    expect(outcome(() => file.write(new Uint8Array(40), 0, 40, 60))).toBe('ok');
    expect(outcome(() => file.write(bytes('y'), 0, 1, 0))).toBe('ok');
    expect(w.fs.usage.bytes).toBe(100);
    file.truncate(10);
    expect(w.fs.usage.bytes).toBe(10);
  });

  it('maxBytes: the bytes of other files count too', () => {
    const w = world({ maxBytes: 10 });
    writeFile(w.ns, 'a', 'x'.repeat(6));
    const b = writeFile(w.ns, 'b', 'x'.repeat(4));
    expectErrno(() => b.write(bytes('!'), 0, 1, 4), 'ENOSPC');
    w.ns.unlink(w.root, 'a');
    expect(outcome(() => b.write(bytes('!'), 0, 1, 4))).toBe('ok');
  });

  it('maxBytes: a symlink target is charged', () => {
    const w = world({ maxBytes: 10 });
    expectErrno(() => w.ns.symlink('x'.repeat(11), w.root, 's'), 'ENOSPC');
    expect(w.fs.usage).toEqual({ bytes: 0, inodes: 1 });
    expect(names(w.ns, w.root)).toEqual([]);
    w.ns.symlink('é'.repeat(5), w.root, 's');
    expect(w.fs.usage).toEqual({ bytes: 10, inodes: 2 });
  });

  const creates: [string, (w: World) => unknown][] = [
    ['open(create)', ({ ns, root }) => ns.open(root, 'x', { follow: true, create: true })],
    ['mkdir', ({ ns, root }) => ns.mkdir(root, 'x')],
    ['symlink', ({ ns, root }) => ns.symlink('t', root, 'x')],
    ['open(create) through a dangling symlink', ({ ns, root }) => ns.open(root, 'dangling', { follow: true, create: true })],
  ];
  it.each(creates)('maxInodes: %s gives ENOSPC and changes nothing', (_name, op) => {
    const w = world({ maxInodes: 4 });
    build(w.ns, ['f', 'd/', 'dangling -> new']);
    const before = { usage: w.fs.usage, names: names(w.ns, w.root), dir: w.root.stat() };
    expect(before.usage.inodes).toBe(4);
    expectErrno(() => op(w), 'ENOSPC');
    expect(w.fs.usage).toEqual(before.usage);
    expect(names(w.ns, w.root)).toEqual(before.names);
    expect(w.root.stat()).toEqual(before.dir);
    // A hard link takes an inode too, as on Linux tmpfs (issue 8).
    expect(outcome(() => w.ns.link(w.root, 'f', true, w.root, 'h'))).toBe('ENOSPC');
    // A freed inode can be used again (its number is new).
    w.ns.unlink(w.root, 'dangling');
    expect(outcome(() => op(w))).toBe('ok');
  });

  it('usage returns to the start after deleting everything', () => {
    const w = world();
    const start = w.fs.usage;
    expect(start).toEqual({ bytes: 0, inodes: 1 });
    build(w.ns, ['a/', 'a/b/', 'a/b/f=hello', 'g=world!', 's -> a/b/f', 'a/t -> /g', 'e/', 'e2/', 'x=1', 'y=22']);
    w.ns.link(w.root, 'g', true, w.root, 'a/b/g2');
    w.ns.rename(w.root, 'x', w.root, 'y'); // y's two bytes are freed here
    w.ns.rename(w.root, 'e', w.root, 'e2'); // and e2's inode here
    writeFile(w.ns, 'g', 'grown '.repeat(100)).truncate(3);
    expect(w.fs.usage.inodes).toBeGreaterThan(1);
    for (const p of ['a/b/f', 'a/b/g2', 'a/t', 'g', 's', 'y']) w.ns.unlink(w.root, p);
    for (const p of ['a/b', 'a', 'e2']) w.ns.rmdir(w.root, p);
    expect(names(w.ns, w.root)).toEqual([]);
    expect(w.fs.usage).toEqual(start);
  });

  it(`EFBIG past maxFileSize (${maxFileSize}), before ENOSPC`, () => {
    const w = world({ maxBytes: 10 });
    const file = writeFile(w.ns, 'f', 'abc');
    expectErrno(() => file.write(bytes('x'), 0, 1, maxFileSize), 'EFBIG');
    expectErrno(() => file.truncate(maxFileSize + 1), 'EFBIG');
    expect(file.size).toBe(3);
    expect(w.fs.usage.bytes).toBe(3);
    // At exactly maxFileSize the limit is the quota, not the file size.
    expectErrno(() => file.truncate(maxFileSize), 'ENOSPC');
  });
});
