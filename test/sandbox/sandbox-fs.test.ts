import { describe, expect, it } from 'vitest';
import { SandboxFs } from '../../src/sandbox/sandbox-fs.js';
import { DevFs } from '../../src/vfs/dev.js';
import { FsError, LayerView, Namespace, Overlay, type LayerEntry, type LayerSource } from '../../src/vfs/index.js';
import { freshSandboxFs as fresh } from './sandbox-fs-support.js';
import { fsCodeOf as code } from '../support/error-code.js';

async function error(p: Promise<unknown>): Promise<FsError> {
  const e: unknown = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof FsError)) throw new Error(`expected an FsError, got ${String(e)}`);
  return e;
}

/** A read-only layer view holding /etc/motd, /bin/ and /bin/sh -> busybox. */
function readOnly(): SandboxFs {
  return new SandboxFs(new Namespace(layerView().root));
}

function layerView(): LayerView {
  const text = new TextEncoder().encode('hello');
  const base = { uid: 0, gid: 0, mtimeNs: 5_000_000_000n, size: 0, offset: 0, linkTarget: '' };
  const entries: LayerEntry[] = [
    { ...base, path: 'etc', kind: 'directory', mode: 0o755 },
    { ...base, path: 'etc/motd', kind: 'file', mode: 0o644, size: text.length },
    { ...base, path: 'bin', kind: 'directory', mode: 0o755 },
    { ...base, path: 'bin/sh', kind: 'symlink', mode: 0o777, linkTarget: 'busybox' },
  ];
  const layer: LayerSource = {
    entryCount: entries.length,
    entry: (i) => entries[i]!,
    read: (dst, dstOffset, length, position) => {
      const n = Math.max(0, Math.min(length, text.length - position));
      dst.set(text.subarray(position, position + n), dstOffset);
      return n;
    },
  };
  return new LayerView([layer], { dev: 2n });
}

describe('SandboxFs: reading and writing files', () => {
  it('writes and reads bytes and strings; relative paths start at /', async () => {
    const { fs } = fresh();
    await fs.writeFile('/a.txt', 'héllo');
    await fs.writeFile('b.bin', Uint8Array.of(1, 2, 3));
    expect(await fs.readFile('a.txt', 'utf8')).toBe('héllo');
    expect(await fs.readFile('/a.txt', { encoding: 'hex' })).toBe('68c3a96c6c6f');
    expect(await fs.readFile('/b.bin')).toEqual(Uint8Array.of(1, 2, 3));
    expect(await fs.readFile('/b.bin', { encoding: null })).toBeInstanceOf(Uint8Array);
  });

  it('w replaces, wx creates only, a appends; mode applies to a created file', async () => {
    const { fs } = fresh();
    await fs.writeFile('/f', 'long contents', { mode: 0o600 });
    await fs.writeFile('/f', 'short');
    expect(await fs.readFile('/f', 'utf8')).toBe('short');
    await fs.writeFile('/f', '+more', { flag: 'a' });
    expect(await fs.readFile('/f', 'utf8')).toBe('short+more');
    expect(await code(fs.writeFile('/f', 'x', { flag: 'wx' }))).toBe('EEXIST');
    await fs.writeFile('/g', 'new', { flag: 'wx' });
    expect((await fs.stat('/f')).mode).toBe(0o100600);
    expect((await fs.stat('/g')).mode).toBe(0o100644);
  });

  it('writes through a symlink into its target, inside the sandbox', async () => {
    const { fs } = fresh();
    await fs.mkdir('/etc');
    await fs.symlink('/etc/real', '/link');
    await fs.writeFile('/link', 'via link');
    expect(await fs.readFile('/etc/real', 'utf8')).toBe('via link');
  });

  it('ENOSPC on w leaves the old contents whole', async () => {
    const { fs, tmpfs } = fresh({ maxBytes: 100 });
    await fs.writeFile('/f', 'x'.repeat(60));
    expect(await code(fs.writeFile('/f', 'y'.repeat(120)))).toBe('ENOSPC');
    expect(await fs.readFile('/f', 'utf8')).toBe('x'.repeat(60));
    expect(await code(fs.writeFile('/f', 'z'.repeat(50), { flag: 'a' }))).toBe('ENOSPC');
    expect(tmpfs.usage.bytes).toBe(60);
  });

  it('reads /dev/null empty, refuses the endless /dev/zero with EFBIG, writes to /dev/null', async () => {
    const { fs, ns } = fresh();
    await fs.mkdir('/dev');
    ns.mount('/dev', new DevFs({ dev: 3n }).root);
    expect((await fs.readFile('/dev/null')).length).toBe(0);
    expect(await code(fs.readFile('/dev/zero'))).toBe('EFBIG');
    await fs.writeFile('/dev/null', 'gone');
    expect((await fs.stat('/dev/null')).isCharacterDevice()).toBe(true);
    const entries = await fs.readdir('/dev', { withFileTypes: true });
    expect(entries.find((e) => e.name === 'zero')?.isCharacterDevice()).toBe(true);
  });
});

describe('SandboxFs: directories', () => {
  it('readdir lists names, recursive relative paths, and dirents with their own types', async () => {
    const { fs } = fresh();
    await fs.mkdir('/d/sub', { recursive: true });
    await fs.writeFile('/d/file', '');
    await fs.symlink('sub', '/d/link');
    await fs.writeFile('/d/sub/deep', '');
    expect(await fs.readdir('/d')).toEqual(['sub', 'file', 'link']);
    expect(await fs.readdir('/d', { recursive: true })).toEqual(['sub', 'sub/deep', 'file', 'link']);
    const dirents = await fs.readdir('d', { withFileTypes: true, recursive: true });
    expect(dirents.map((e) => [e.parentPath, e.name, e.isFile(), e.isDirectory(), e.isSymbolicLink(), e.isCharacterDevice()])).toEqual([
      ['/d', 'sub', false, true, false, false],
      ['/d/sub', 'deep', true, false, false, false],
      ['/d', 'file', true, false, false, false],
      ['/d', 'link', false, false, true, false],
    ]);
    expect(await fs.readdir('/d/link')).toEqual(['deep']);
  });

  it('mkdir: recursive returns the first directory made; errors as Linux', async () => {
    const { fs } = fresh();
    expect(await fs.mkdir('/a')).toBeUndefined();
    expect(await fs.mkdir('/a/b/c', { recursive: true, mode: 0o700 })).toBe('/a/b');
    expect(await fs.mkdir('/a/b/c', { recursive: true })).toBeUndefined();
    expect((await fs.stat('/a/b/c')).mode).toBe(0o40700);
    expect(await code(fs.mkdir('/a'))).toBe('EEXIST');
    expect(await code(fs.mkdir('/x/y'))).toBe('ENOENT');
    await fs.writeFile('/a/f', '');
    expect(await code(fs.mkdir('/a/f', { recursive: true }))).toBe('EEXIST');
    expect(await code(fs.mkdir('/a/f/g', { recursive: true }))).toBe('ENOTDIR');
    expect(await code(fs.mkdir('/a/f/g'))).toBe('ENOTDIR');
  });

  it('rm, rmdir, unlink', async () => {
    const { fs } = fresh();
    await fs.mkdir('/t/a/b', { recursive: true });
    await fs.writeFile('/t/a/b/f', 'x');
    await fs.symlink('/t/a', '/t/link');
    expect(await code(fs.rmdir('/t/a'))).toBe('ENOTEMPTY');
    expect(await code(fs.rm('/t/a'))).toBe('EISDIR');
    expect(await code(fs.unlink('/t/a'))).toBe('EISDIR');
    expect(await code(fs.rmdir('/t/a/b/f'))).toBe('ENOTDIR');
    await fs.rm('/t/link');
    expect(await fs.exists('/t/a/b/f')).toBe(true);
    await fs.rm('/t/a', { recursive: true });
    expect(await fs.readdir('/t')).toEqual([]);
    expect(await code(fs.rm('/t/none'))).toBe('ENOENT');
    expect(await code(fs.rm('/t/none', { force: true }))).toBe('ok');
    await fs.writeFile('/t/f', '');
    await fs.unlink('/t/f');
    expect(await code(fs.unlink('/t/f'))).toBe('ENOENT');
    await fs.rmdir('/t');
    expect(await fs.exists('/t')).toBe(false);
  });
});

describe('SandboxFs: trees deeper than the stack', () => {
  it('readdir -r and rm -r walk 12000 levels without recursion', async () => {
    const { fs, tmpfs } = fresh();
    let d = tmpfs.root;
    for (let i = 0; i < 12_000; i++) d = d.mkdir('d', 0o755);
    d.createFile('leaf', 0o644);
    const all = await fs.readdir('/', { recursive: true });
    expect(all.length).toBe(12_001);
    expect(all.at(-1)).toBe(`${'d/'.repeat(12_000)}leaf`);
    await fs.rm('/d', { recursive: true });
    expect(await fs.readdir('/')).toEqual([]);
    expect(tmpfs.usage.inodes).toBe(1);
  });

  it('rm -r enters a mount and stops at its first error, naming that entry', async () => {
    const { fs, ns } = fresh();
    await fs.mkdir('/t');
    await fs.writeFile('/t/a', '');
    await fs.mkdir('/t/dev');
    ns.mount('/t/dev', new DevFs({ dev: 3n }).root);
    const e = await error(fs.rm('/t', { recursive: true }));
    expect([e.code, e.syscall, e.path]).toEqual(['EROFS', 'rm', '/t/dev/null']);
    expect(await fs.readdir('/t')).toEqual(['dev']);
  });
});

describe('SandboxFs: names, links and metadata', () => {
  it('rename replaces atomically; symlink, readlink, link', async () => {
    const { fs } = fresh();
    await fs.writeFile('/a', 'A');
    await fs.writeFile('/b', 'B');
    await fs.rename('/a', '/b');
    expect(await fs.readFile('/b', 'utf8')).toBe('A');
    expect(await fs.exists('/a')).toBe(false);
    await fs.symlink('../../etc/passwd', '/l');
    expect(await fs.readlink('/l')).toBe('../../etc/passwd');
    expect(await code(fs.readlink('/b'))).toBe('EINVAL');
    await fs.link('/b', '/c');
    expect((await fs.stat('/b')).nlink).toBe(2);
    expect((await fs.stat('/c')).ino).toBe((await fs.stat('/b')).ino);
    expect(await code(fs.link('/b', '/c'))).toBe('EEXIST');
    await fs.mkdir('/d');
    expect(await code(fs.link('/d', '/e'))).toBe('EPERM');
    expect(await code(fs.rename('/d', '/d/inside'))).toBe('EINVAL');
    await fs.mkdir('/d2');
    await fs.writeFile('/d2/x', '');
    expect(await code(fs.rename('/d', '/d2'))).toBe('ENOTEMPTY');
    expect(await code(fs.rename('/b', '/d'))).toBe('EISDIR');
  });

  it('stat and lstat look like fs.Stats, with exact nanosecond times', async () => {
    const { fs } = fresh();
    await fs.writeFile('/f', 'four');
    await fs.symlink('f', '/l');
    await fs.utimes('/l', 1_700_000_000.5, new Date(1_600_000_000_123));
    const s = await fs.stat('/l');
    const l = await fs.lstat('/l');
    expect([s.isFile(), s.isDirectory(), s.isSymbolicLink(), s.size, s.nlink, s.uid, s.gid, s.dev]).toEqual([true, false, false, 4, 1, 0, 0, 1n]);
    expect([l.isSymbolicLink(), l.isFile(), l.mode, l.size]).toEqual([true, false, 0o120777, 1]);
    expect(s.mode & 0o170000).toBe(0o100000);
    expect([s.atimeMs, s.atimeNs, s.mtimeMs, s.mtimeNs]).toEqual([1_700_000_000_500, 1_700_000_000_500_000_000n, 1_600_000_000_123, 1_600_000_000_123_000_000n]);
    expect(s.mtime.getTime()).toBe(1_600_000_000_123);
    await fs.utimes('/f', 1n, 2n);
    expect([(await fs.stat('/f')).atimeNs, (await fs.stat('/f')).mtimeNs]).toEqual([1n, 2n]);
    expect((await fs.stat('/')).isDirectory()).toBe(true);
    expect(await code(fs.utimes('/f', Number.NaN, 0))).toBe('EINVAL');
  });

  it('truncate, access, exists', async () => {
    const { fs } = fresh();
    await fs.writeFile('/f', 'abcdef');
    await fs.truncate('/f', 2);
    expect(await fs.readFile('/f', 'utf8')).toBe('ab');
    await fs.truncate('/f', 4);
    expect(await fs.readFile('/f')).toEqual(Uint8Array.of(97, 98, 0, 0));
    await fs.truncate('/f');
    expect((await fs.stat('/f')).size).toBe(0);
    await fs.mkdir('/d');
    expect(await code(fs.truncate('/d'))).toBe('EISDIR');
    expect(await code(fs.truncate('/f', -1))).toBe('EINVAL');
    expect(await code(fs.access('/f', 2))).toBe('ok');
    expect(await code(fs.access('/none'))).toBe('ENOENT');
    await fs.symlink('/none', '/dangling');
    expect(await fs.exists('/dangling')).toBe(false);
    expect(await fs.exists('/d')).toBe(true);
  });
});

describe('SandboxFs: errors are FsErrors naming the syscall and the path', () => {
  it.each([
    ['readFile of a missing file', (fs: SandboxFs) => fs.readFile('/missing/x'), 'ENOENT', 'open', '/missing/x'],
    ['readFile of a directory', (fs: SandboxFs) => fs.readFile('/d'), 'EISDIR', 'open', '/d'],
    ['readFile through a file', (fs: SandboxFs) => fs.readFile('/f/x'), 'ENOTDIR', 'open', '/f/x'],
    ['writeFile onto a directory', (fs: SandboxFs) => fs.writeFile('/d', 'x'), 'EISDIR', 'open', '/d'],
    ['readdir of a file', (fs: SandboxFs) => fs.readdir('/f'), 'ENOTDIR', 'scandir', '/f'],
    ['stat of a missing path', (fs: SandboxFs) => fs.stat('nope'), 'ENOENT', 'stat', 'nope'],
    ['lstat through a file', (fs: SandboxFs) => fs.lstat('/f/x'), 'ENOTDIR', 'lstat', '/f/x'],
    ['mkdir of an existing name', (fs: SandboxFs) => fs.mkdir('/f'), 'EEXIST', 'mkdir', '/f'],
    ['rmdir of a non-empty directory', (fs: SandboxFs) => fs.rmdir('/d'), 'ENOTEMPTY', 'rmdir', '/d'],
    ['rename of a missing file', (fs: SandboxFs) => fs.rename('/gone', '/x'), 'ENOENT', 'rename', '/gone'],
    ['rename onto a missing directory', (fs: SandboxFs) => fs.rename('/f', '/gone/x'), 'ENOENT', 'rename', '/gone/x'],
    ['a symlink loop', (fs: SandboxFs) => fs.stat('/loop'), 'ELOOP', 'stat', '/loop'],
    ['a name over 255 bytes', (fs: SandboxFs) => fs.writeFile(`/${'n'.repeat(256)}`, ''), 'ENAMETOOLONG', 'open', `/${'n'.repeat(256)}`],
    ['a NUL in a path', (fs: SandboxFs) => fs.stat('/a\0b'), 'EINVAL', 'stat', '/a\0b'],
  ])('%s', async (_name, call, errno, syscall, path) => {
    const { fs } = fresh();
    await fs.writeFile('/f', 'x');
    await fs.mkdir('/d');
    await fs.writeFile('/d/in', '');
    await fs.symlink('/loop', '/loop');
    const e = await error(call(fs));
    expect([e.code, e.syscall, e.path]).toEqual([errno, syscall, path]);
  });

  it('EROFS for every mutation over a read-only layer view, reads still work', async () => {
    const fs = readOnly();
    expect(await fs.readFile('/etc/motd', 'utf8')).toBe('hello');
    expect(await fs.readdir('/')).toEqual(['etc', 'bin']);
    expect(await fs.readlink('/bin/sh')).toBe('busybox');
    const mutations: [string, Promise<unknown>][] = [
      ['writeFile new', fs.writeFile('/etc/new', 'x')],
      ['writeFile existing', fs.writeFile('/etc/motd', 'x')],
      ['append', fs.writeFile('/etc/motd', 'x', { flag: 'a' })],
      ['mkdir', fs.mkdir('/tmp')],
      ['mkdir -p', fs.mkdir('/etc/a/b', { recursive: true })],
      ['rm', fs.rm('/etc/motd')],
      ['rm -r', fs.rm('/etc', { recursive: true })],
      ['unlink', fs.unlink('/bin/sh')],
      ['rmdir', fs.rmdir('/bin')],
      ['rename', fs.rename('/etc/motd', '/etc/m')],
      ['symlink', fs.symlink('x', '/etc/l')],
      ['link', fs.link('/etc/motd', '/etc/h')],
      ['utimes', fs.utimes('/etc/motd', 1, 1)],
      ['truncate', fs.truncate('/etc/motd', 1)],
      ['access W_OK', fs.access('/etc/motd', 2)],
      ['open r+', fs.open('/etc/motd', 'r+')],
      ['open w', fs.open('/etc/motd', 'w')],
    ];
    for (const [name, p] of mutations) expect([name, await code(p)]).toEqual([name, 'EROFS']);
    expect(await code(fs.access('/etc/motd'))).toBe('ok');
    expect(await fs.readFile('/etc/motd', 'utf8')).toBe('hello');
  });

  it('over an overlay root: writes copy up, deletes hide lower files, the lower is untouched', async () => {
    const view = layerView();
    const overlay = new Overlay({ lower: view.root, dev: 3n, limits: { maxBytes: 1 << 20 } });
    const fs = new SandboxFs(new Namespace(overlay.root));
    await fs.writeFile('/etc/motd', 'changed', { flag: 'a' });
    expect(await fs.readFile('/etc/motd', 'utf8')).toBe('hellochanged');
    await fs.rm('/bin', { recursive: true });
    await fs.cp('/etc/motd', '/etc/copy');
    await fs.link('/etc/copy', '/etc/hard');
    expect(await fs.readdir('/')).toEqual(['etc']);
    expect(await fs.readdir('/etc')).toEqual(['motd', 'copy', 'hard']);
    expect((await fs.stat('/etc/hard')).nlink).toBe(2);
    expect(overlay.changes().map((c) => `${c.kind} ${c.path}`)).toEqual(['deleted /bin', 'changed /etc', 'added /etc/copy', 'added /etc/hard', 'changed /etc/motd']);
    expect(await new SandboxFs(new Namespace(view.root)).readFile('/etc/motd', 'utf8')).toBe('hello');
  });

  it('ENOSPC from the inode quota names the path', async () => {
    const { fs } = fresh({ maxInodes: 2 });
    await fs.writeFile('/one', '');
    const e = await error(fs.mkdir('/two'));
    expect([e.code, e.syscall, e.path]).toEqual(['ENOSPC', 'mkdir', '/two']);
  });
});
