import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkHostName, FsError, HostDir, Namespace, Tmpfs, type DirEntry, type DirNode, type FileNode, type Node } from '../../src/vfs/index.js';
import { contents, expectErrno, names, outcome, readFile, writeFile } from './tree.js';

const utf8 = new TextEncoder();

let host: string;
beforeEach(() => {
  host = mkdtempSync(join(tmpdir(), 'strata-hostdir-'));
});
afterEach(() => {
  rmSync(host, { recursive: true, force: true });
});

/** A namespace over a tmpfs root with `dir` bound at /mnt. */
function bound(options: { readonly?: boolean; resolution?: 'auto' | 'path' } = {}): { bind: HostDir; ns: Namespace; mnt: DirNode } {
  const bind = new HostDir({ path: host, readonly: options.readonly ?? false, dev: 9n, resolution: options.resolution ?? 'auto' });
  const tmp = new Tmpfs({ dev: 1n });
  const ns = new Namespace(tmp.root);
  ns.mkdir(tmp.root, '/mnt');
  ns.mount('/mnt', bind.root);
  return { bind, ns, mnt: bind.root };
}

function file(ns: Namespace, path: string): FileNode {
  return Namespace.asFile(ns.resolve(ns.root, path, true, 'open'), 'open');
}

function listing(ns: Namespace, dir: DirNode, cookie = 2): DirEntry[] {
  const out: DirEntry[] = [];
  ns.readdir(dir, cookie, (e) => (out.push(e), true));
  return out;
}

describe('HostDir construction', () => {
  it('refuses a relative path, a missing path and a file', () => {
    expect(() => new HostDir({ path: 'relative', readonly: true, dev: 1n })).toThrow(FsError);
    expectErrno(() => new HostDir({ path: 'relative', readonly: true, dev: 1n }), 'EINVAL');
    expectErrno(() => new HostDir({ path: join(host, 'missing'), readonly: true, dev: 1n }), 'ENOENT');
    writeFileSync(join(host, 'f'), 'x');
    expectErrno(() => new HostDir({ path: join(host, 'f'), readonly: true, dev: 1n }), 'ENOTDIR');
  });

  it('refuses the host root unless allowHostRoot, also through a symlink to it', () => {
    expectErrno(() => new HostDir({ path: '/', readonly: true, dev: 1n }), 'EPERM');
    symlinkSync('/', join(host, 'toroot'));
    expectErrno(() => new HostDir({ path: join(host, 'toroot'), readonly: false, dev: 1n }), 'EPERM');
    expect(() => new HostDir({ path: '/', readonly: true, dev: 1n })).toThrow(/allowHostRoot/);
    const root = new HostDir({ path: '/', readonly: true, dev: 1n, allowHostRoot: true });
    expect(root.root.lookup('tmp')?.type).toBe('directory');
    root.close();
  });

  it('resolves the given path once and reports how it confines', () => {
    mkdirSync(join(host, 'real'));
    symlinkSync(join(host, 'real'), join(host, 'alias'));
    const bind = new HostDir({ path: join(host, 'alias'), readonly: true, dev: 1n });
    expect(bind.path).toBe(join(host, 'real'));
    expect(bind.confined).toBe(true);
    expect(bind.resolution).toBe(process.platform === 'linux' ? 'proc-fd' : 'path');
    expect(new HostDir({ path: host, readonly: true, dev: 1n, resolution: 'path' }).resolution).toBe('path');
  });

  it('fails every operation with EIO after close', () => {
    writeFileSync(join(host, 'f'), 'x');
    const { bind, mnt } = bound();
    bind.close();
    expectErrno(() => mnt.lookup('f'), 'EIO');
    expectErrno(() => mnt.mkdir('d', 0o755), 'EIO');
  });
});

describe.each(['auto', 'path'] as const)('HostDir nodes (resolution %s)', (resolution) => {
  it('shows host files, directories and symlinks with the host stat', () => {
    mkdirSync(join(host, 'dir'));
    writeFileSync(join(host, 'dir', 'f.txt'), 'hello');
    symlinkSync('dir/f.txt', join(host, 'link'));
    const { ns } = bound({ resolution });
    expect(readFile(ns, '/mnt/dir/f.txt')).toBe('hello');
    expect(readFile(ns, '/mnt/link')).toBe('hello');
    expect(ns.readlink(ns.root, '/mnt/link')).toBe('dir/f.txt');
    const st = ns.stat(ns.root, '/mnt/dir/f.txt', false);
    const hostSt = lstatSync(join(host, 'dir', 'f.txt'), { bigint: true });
    expect(st).toEqual({
      dev: 9n,
      ino: hostSt.ino,
      type: 'file',
      mode: Number(hostSt.mode & 0o7777n),
      nlink: 1,
      uid: Number(hostSt.uid),
      gid: Number(hostSt.gid),
      size: 5,
      atimeNs: hostSt.atimeNs,
      mtimeNs: hostSt.mtimeNs,
      ctimeNs: hostSt.ctimeNs,
    });
    expect(ns.stat(ns.root, '/mnt/link', false).type).toBe('symlink');
    expect(ns.stat(ns.root, '/mnt/dir', false).ino).toBe(lstatSync(join(host, 'dir'), { bigint: true }).ino);
    expect(listing(ns, ns.resolve(ns.root, '/mnt', true, 'open') as DirNode).map((e) => [e.name, e.type]).sort()).toEqual([
      ['dir', 'directory'],
      ['link', 'symlink'],
    ]);
  });

  it('maps mutations to the host', () => {
    const { ns } = bound({ resolution });
    ns.mkdir(ns.root, '/mnt/d', 0o750);
    writeFile(ns, '/mnt/d/a', 'alpha');
    ns.symlink('a', ns.root, '/mnt/d/s');
    ns.link(ns.root, '/mnt/d/a', false, ns.root, '/mnt/d/hard');
    expect(readFileSync(join(host, 'd', 'a'), 'utf8')).toBe('alpha');
    expect(lstatSync(join(host, 'd')).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(host, 'd', 'hard')).ino).toBe(lstatSync(join(host, 'd', 'a')).ino);
    expect(lstatSync(join(host, 'd', 's')).isSymbolicLink()).toBe(true);
    ns.rename(ns.root, '/mnt/d/a', ns.root, '/mnt/moved');
    expect(readFileSync(join(host, 'moved'), 'utf8')).toBe('alpha');
    expect(readFile(ns, '/mnt/moved')).toBe('alpha');
    file(ns, '/mnt/moved').truncate(2);
    expect(readFileSync(join(host, 'moved'), 'utf8')).toBe('al');
    ns.unlink(ns.root, '/mnt/d/hard');
    ns.unlink(ns.root, '/mnt/d/s');
    ns.rmdir(ns.root, '/mnt/d');
    expect(readdirSync(host)).toEqual(['moved']);
    ns.setTimes(ns.root, '/mnt/moved', false, 1_000_000_000_123_456_000n, 2_000_000_000_654_321_000n);
    const st = lstatSync(join(host, 'moved'), { bigint: true });
    // Node's utimes carries microseconds: whole microseconds are exact.
    expect(st.atimeNs).toBe(1_000_000_000_123_456_000n);
    expect(st.mtimeNs).toBe(2_000_000_000_654_321_000n);
    expect(ns.stat(ns.root, '/mnt/moved', false).mtimeNs).toBe(st.mtimeNs);
    ns.setTimes(ns.root, '/mnt/moved', false, undefined, 'now');
    expect(lstatSync(join(host, 'moved'), { bigint: true }).atimeNs).toBe(st.atimeNs);
  });

  it('reports times set to the nanosecond exactly while the host keeps them, then the host\'s own', () => {
    writeFileSync(join(host, 'f'), 'x');
    const { ns } = bound({ resolution });
    ns.setTimes(ns.root, '/mnt/f', false, 1_500_000_000_123_456_789n, 1_600_000_000_987_654_321n);
    expect(lstatSync(join(host, 'f'), { bigint: true }).mtimeNs).toBe(1_600_000_000_987_654_000n);
    const st = ns.stat(ns.root, '/mnt/f', false);
    expect([st.atimeNs, st.mtimeNs]).toEqual([1_500_000_000_123_456_789n, 1_600_000_000_987_654_321n]);
    ns.setTimes(ns.root, '/mnt/f', false, undefined, 1_700_000_000_000_000_001n);
    expect(ns.stat(ns.root, '/mnt/f', false).atimeNs).toBe(1_500_000_000_123_456_789n);
    writeFileSync(join(host, 'f'), 'changed on the host');
    const after = lstatSync(join(host, 'f'), { bigint: true });
    expect(ns.stat(ns.root, '/mnt/f', false).mtimeNs).toBe(after.mtimeNs);
  });

  it('turns host errors into POSIX errnos', () => {
    mkdirSync(join(host, 'full'));
    writeFileSync(join(host, 'full', 'x'), '');
    writeFileSync(join(host, 'f'), '');
    const { ns, mnt } = bound({ resolution });
    expectErrno(() => ns.mkdir(ns.root, '/mnt/f'), 'EEXIST');
    expectErrno(() => mnt.mkdir('f', 0o755), 'EEXIST');
    expectErrno(() => mnt.createFile('f', 0o644), 'EEXIST');
    expectErrno(() => mnt.symlink('f', 'x'), 'EEXIST');
    expectErrno(() => mnt.rmdir('full'), 'ENOTEMPTY');
    expectErrno(() => mnt.rmdir('f'), 'ENOTDIR');
    expectErrno(() => mnt.rmdir('nothing'), 'ENOENT');
    expectErrno(() => mnt.unlink('full'), 'EISDIR');
    expectErrno(() => mnt.unlink('nothing'), 'ENOENT');
    expectErrno(() => mnt.rename('nothing', mnt, 'y'), 'ENOENT');
    expectErrno(() => mnt.rename('full', mnt.lookup('full') as DirNode, 'inner'), 'EINVAL');
    expectErrno(() => mnt.rename('f', mnt, 'full'), 'EISDIR');
    expectErrno(() => mnt.link('h', mnt), 'EPERM');
    expectErrno(() => mnt.symlink('nul', 'a\0b'), 'EINVAL');
    expectErrno(() => mnt.symlink('long', 'x'.repeat(4096)), 'ENAMETOOLONG');
    expect(mnt.symlink('longest', 'x'.repeat(4095)).target).toHaveLength(4095);
    const other = new Tmpfs({ dev: 2n });
    expectErrno(() => mnt.link('h', other.root.createFile('t', 0o644)), 'EXDEV');
    expectErrno(() => mnt.rename('f', other.root, 'f'), 'EXDEV');
  });

  it('answers EROFS for every mutation of a read-only bind, before anything else', () => {
    writeFileSync(join(host, 'f'), 'data');
    mkdirSync(join(host, 'd'));
    const { ns, mnt } = bound({ readonly: true, resolution });
    const f = file(ns, '/mnt/f');
    const ops: Array<[string, () => unknown]> = [
      ['mkdir', () => mnt.mkdir('new', 0o755)],
      ['mkdir of a bad name', () => mnt.mkdir('a/b', 0o755)],
      ['createFile', () => mnt.createFile('new', 0o644)],
      ['symlink', () => mnt.symlink('new', 'f')],
      ['link', () => mnt.link('new', f)],
      ['unlink', () => mnt.unlink('f')],
      ['unlink of a missing name', () => mnt.unlink('missing')],
      ['rmdir', () => mnt.rmdir('d')],
      ['rename', () => mnt.rename('f', mnt, 'g')],
      ['write', () => f.write(utf8.encode('x'), 0, 1, 0)],
      ['truncate', () => f.truncate(0)],
      ['setTimes', () => f.setTimes('now', 'now')],
      ['setTimes on a directory', () => mnt.setTimes(1n, 1n)],
    ];
    for (const [, op] of ops) expect(outcome(op)).toBe('EROFS');
    expect(contents(f)).toBe('data');
    expect(readdirSync(host).sort()).toEqual(['d', 'f']);
  });

  it('keeps one node per host inode: hard links share it, lookups return it again', () => {
    writeFileSync(join(host, 'a'), 'shared');
    linkSync(join(host, 'a'), join(host, 'b'));
    const { mnt } = bound({ resolution });
    const a = mnt.lookup('a');
    expect(mnt.lookup('b')).toBe(a);
    expect(mnt.lookup('a')).toBe(a);
    expect(a?.ino).toBe(lstatSync(join(host, 'a'), { bigint: true }).ino);
    expect(a?.stat().nlink).toBe(2);
    mnt.link('c', a as Node);
    expect(mnt.lookup('c')).toBe(a);
    expect(a?.stat().nlink).toBe(3);
  });

  it('keeps an unlinked file usable while retained', () => {
    writeFileSync(join(host, 'gone'), 'still here');
    const { ns, mnt } = bound({ resolution });
    const f = file(ns, '/mnt/gone');
    f.retain();
    ns.unlink(ns.root, '/mnt/gone');
    expect(existsSync(join(host, 'gone'))).toBe(false);
    expect(mnt.lookup('gone')).toBeUndefined();
    expect(contents(f)).toBe('still here');
    f.write(utf8.encode('STILL'), 0, 5, 0);
    expect(contents(f)).toBe('STILL here');
    expect(f.stat().nlink).toBe(0);
    f.release();
    expectErrno(() => f.stat(), 'ENOENT');
    expectErrno(() => contents(f), 'ENOENT');
  });

  it.runIf(process.platform === 'linux')('holds a host file open for writing only once the guest writes', () => {
    writeFileSync(join(host, 'f'), 'read me');
    const { ns } = bound({ resolution });
    const f = file(ns, '/mnt/f');
    /** The access modes (0 read, 2 read-write) of this process's fds on the host file. */
    const modes = () =>
      readdirSync('/proc/self/fd').flatMap((fd) => {
        try {
          if (realpathSync(`/proc/self/fd/${fd}`) !== realpathSync(join(host, 'f'))) return [];
          const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
          return [Number.parseInt(flags, 8) & 3];
        } catch {
          return [];
        }
      });
    f.retain();
    expect(contents(f)).toBe('read me');
    expect(modes()).toEqual(resolution === 'auto' ? [0] : [2]);
    ns.unlink(ns.root, '/mnt/f');
    f.write(utf8.encode('R'), 0, 1, 0);
    expect(contents(f)).toBe('Read me');
    f.release();
  });

  it('keeps readdir cookies valid while the host and the guest change the directory', () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) writeFileSync(join(host, n), n);
    const { ns, mnt } = bound({ resolution });
    const first: DirEntry[] = [];
    mnt.readdir(2, (e) => (first.push(e), first.length < 2));
    expect(first).toHaveLength(2);
    const seen = new Set(first.map((e) => e.name));
    const rest = [...['a', 'b', 'c', 'd', 'e'].filter((n) => !seen.has(n))];
    // The host removes one unseen entry and adds one; the guest adds one.
    unlinkSync(join(host, rest[0]!));
    writeFileSync(join(host, 'host-new'), '');
    writeFile(ns, '/mnt/guest-new', '');
    const after: string[] = [];
    mnt.readdir(first[1]!.next, (e) => (after.push(e.name), true));
    expect(after).not.toContain(rest[0]);
    for (const n of rest.slice(1)) expect(after).toContain(n);
    expect(after.filter((n) => seen.has(n))).toEqual([]);
    expect(after).toContain('guest-new');
    expect(after).toContain('host-new');
    expect(new Set(after).size).toBe(after.length);
    expect(mnt.size).toBe(6);
    expect(names(ns, mnt).sort()).toEqual(['b', 'c', 'd', 'e', 'a', 'guest-new', 'host-new'].filter((n) => n !== rest[0]).sort());
  });

  it('follows host changes: a replaced file is a new node, the old one is gone', () => {
    writeFileSync(join(host, 'f'), 'old');
    const { mnt } = bound({ resolution });
    const old = mnt.lookup('f') as FileNode;
    writeFileSync(join(host, 'g'), 'new');
    renameSync(join(host, 'g'), join(host, 'f'));
    expectErrno(() => old.stat(), 'ENOENT');
    expectErrno(() => contents(old), 'ENOENT');
    const fresh = mnt.lookup('f') as FileNode;
    expect(fresh).not.toBe(old);
    expect(contents(fresh)).toBe('new');
  });

  it('follows a directory the guest renamed, and its children with it', () => {
    mkdirSync(join(host, 'a', 'b'), { recursive: true });
    writeFileSync(join(host, 'a', 'b', 'f'), 'deep');
    const { ns } = bound({ resolution });
    const b = ns.resolve(ns.root, '/mnt/a/b', true, 'open') as DirNode;
    const f = file(ns, '/mnt/a/b/f');
    ns.rename(ns.root, '/mnt/a', ns.root, '/mnt/z');
    expect(contents(f)).toBe('deep');
    expect(b.lookup('f')).toBe(f);
    expect(ns.parentOf(b)).toBe(ns.resolve(ns.root, '/mnt/z', true, 'open'));
    b.createFile('g', 0o600);
    expect(existsSync(join(host, 'z', 'b', 'g'))).toBe(true);
  });

  it.runIf(process.platform === 'linux')('does not show a host name that is not UTF-8 (it cannot be named back)', () => {
    writeFileSync(Buffer.concat([Buffer.from(host + '/bad'), Buffer.from([0xff])]), 'x');
    writeFileSync(join(host, 'good'), 'y');
    const { ns, mnt } = bound({ resolution });
    expect(names(ns, mnt)).toEqual(['good']);
    expect(mnt.lookup('bad\ufffd')).toBeUndefined();
    expect(mnt.size).toBe(1);
  });

  it.runIf(process.platform !== 'win32')('hides FIFOs, sockets and devices', () => {
    execFileSync('mkfifo', [join(host, 'fifo')]);
    writeFileSync(join(host, 'plain'), '');
    const { ns, mnt } = bound({ resolution });
    expect(mnt.lookup('fifo')).toBeUndefined();
    expect(names(ns, mnt)).toEqual(['plain']);
    expectErrno(() => ns.open(ns.root, '/mnt/fifo', { follow: true, create: true }), 'EEXIST');
  });
});

describe('names: every host path is built from single components', () => {
  const bad = ['', '.', '..', 'a/b', '/abs', '../up', 'nul\0byte'];
  it.each(bad)('%j is refused by every operation', (name) => {
    writeFileSync(join(host, 'f'), '');
    const { mnt } = bound();
    const f = mnt.lookup('f') as FileNode;
    const ops = [
      () => mnt.lookup(name),
      () => mnt.mkdir(name, 0o755),
      () => mnt.createFile(name, 0o644),
      () => mnt.symlink(name, 'target'),
      () => mnt.link(name, f),
      () => mnt.unlink(name),
      () => mnt.rmdir(name),
      () => mnt.rename(name, mnt, 'ok'),
      () => mnt.rename('f', mnt, name),
    ];
    for (const op of ops) expect(outcome(op)).toBe('EINVAL');
    expect(readdirSync(host)).toEqual(['f']);
    expect(readdirSync(join(host, '..')).filter((n) => n === 'ok' || n === 'target')).toEqual([]);
  });

  it.each([
    ['a\\b', 'win32'],
    ['c:', 'win32'],
    ['file:stream', 'win32'],
    ['CON', 'win32'],
    ['nul.txt', 'win32'],
    ['com1', 'win32'],
    ['LPT9.log', 'win32'],
    ['trailing.', 'win32'],
    ['trailing ', 'win32'],
    ['wild*', 'win32'],
  ] as const)('%j is refused on %s', (name, platform) => {
    expect(outcome(() => checkHostName(name, 'lookup', platform))).toBe('EINVAL');
    expect(outcome(() => checkHostName(name, 'lookup', 'linux'))).toBe('ok');
  });

  it('accepts ordinary names everywhere', () => {
    for (const name of ['a', '.hidden', '..x', 'conx', 'console', 'com10', 'é', 'a b'])
      expect(outcome(() => checkHostName(name, 'lookup', 'win32'))).toBe('ok');
  });
});

describe('host errors and fds', () => {
  it('maps host error codes to POSIX names, unknown ones to EIO, and names the guest-side name', async () => {
    const { hostError } = await import('../../src/vfs/host/access.js');
    const table: Array<[string, string]> = [
      ['EACCES', 'EACCES'],
      ['ENOTEMPTY', 'ENOTEMPTY'],
      ['EXDEV', 'EXDEV'],
      ['EDQUOT', 'ENOSPC'],
      ['EOPNOTSUPP', 'ENOTSUP'],
      ['ENFILE', 'EMFILE'],
      ['EBADF', 'EIO'],
      ['ESTALE', 'EIO'],
      ['UNKNOWN', 'EIO'],
      ['EWHATEVER', 'EIO'],
    ];
    for (const [code, errno] of table) {
      const e = hostError(Object.assign(new Error(`${code}: /host/secret/path`), { code }), 'open', 'name');
      expect([e.errno, e.path, e.message.includes('/host/secret')]).toEqual([errno, 'name', false]);
    }
    expect(() => hostError(new TypeError('a bug'), 'open', 'name')).toThrow(TypeError);
    const argError = Object.assign(new TypeError('bad argument'), { code: 'ERR_INVALID_ARG_VALUE' });
    expect(() => hostError(argError, 'open', 'name')).toThrow(argError);
  });

  it('reopens directories whose cached fd was closed, through their parents', () => {
    const { ns, mnt } = bound();
    for (let i = 0; i < 100; i++) ns.mkdir(ns.root, `/mnt/d${i}`);
    const dirs = Array.from({ length: 100 }, (_, i) => mnt.lookup(`d${i}`) as DirNode);
    for (const d of dirs) d.createFile('f', 0o644); // more directories than cached fds
    for (const d of dirs) expect(d.lookup('f')?.type).toBe('file');
    expect(readdirSync(join(host, 'd0'))).toEqual(['f']);
  });

  it.each(['auto', 'path'] as const)('follows a held directory the host moved within the bind (%s)', (resolution) => {
    mkdirSync(join(host, 'a', 'b'), { recursive: true });
    const { ns } = bound({ resolution });
    const b = ns.resolve(ns.root, '/mnt/a/b', true, 'open') as DirNode;
    b.createFile('one', 0o644);
    renameSync(join(host, 'a'), join(host, 'z'));
    if (resolution === 'auto' && process.platform === 'linux') {
      // Its fd still names it, as a held fd does.
      b.createFile('two', 0o644);
    } else {
      // By path it is gone from where it was seen, until looked up again.
      expect(outcome(() => b.createFile('two', 0o644))).toBe('ENOENT');
      expect(ns.resolve(ns.root, '/mnt/z/b', true, 'open')).toBe(b);
      b.createFile('two', 0o644);
    }
    expect(readdirSync(join(host, 'z', 'b')).sort()).toEqual(['one', 'two']);
    expect(ns.resolve(ns.root, '/mnt/z/b', true, 'open')).toBe(b);
  });
});
