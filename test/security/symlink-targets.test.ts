/**
 * Issue 8, item 3: symlink targets had no length limit. Targets of 100 MiB
 * were accepted; seven links whose targets start with the previous link's
 * name made one lookup build a string past V8's limit (a trap after ~20 s
 * of host CPU); a target containing NUL was stored. Now, as Linux does, a
 * target of PATH_MAX (4096) bytes or more is ENAMETOOLONG, a NUL is
 * EINVAL, and resolution never builds a path of PATH_MAX or more.
 */
import { describe, expect, it } from 'vitest';
import { FsError, Namespace } from '../../src/vfs/index.js';
import { Tmpfs } from '../../src/vfs/tmpfs.js';
import { WasiErrno } from '../../src/wasi/index.js';
import { directHost } from './direct-host.js';
import { expectExactUsage } from './recount.js';

function errnoOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof FsError) return error.errno;
    throw error;
  }
}

function world() {
  const fs = new Tmpfs({ dev: 1n });
  return { fs, ns: new Namespace(fs.root) };
}

describe('symlink targets', () => {
  it('a 100 MiB target is ENAMETOOLONG at once, through the namespace and the filesystem', () => {
    const { fs, ns } = world();
    const huge = 'x'.repeat(100 << 20);
    const started = performance.now();
    expect(errnoOf(() => ns.symlink(huge, ns.root, 'l'))).toBe('ENAMETOOLONG');
    expect(errnoOf(() => fs.root.symlink('l', huge))).toBe('ENAMETOOLONG');
    expect(performance.now() - started).toBeLessThan(200);
    expect(fs.usage).toEqual({ bytes: 0, inodes: 1 });
  });

  it('PATH_MAX counts bytes: 4095 are kept, 4096 are refused, in UTF-8 too', () => {
    const { fs, ns } = world();
    expect(errnoOf(() => ns.symlink('a'.repeat(4095), ns.root, 'ok'))).toBe('ok');
    expect(errnoOf(() => ns.symlink('a'.repeat(4096), ns.root, 'no'))).toBe('ENAMETOOLONG');
    expect(errnoOf(() => ns.symlink('é'.repeat(2047) + 'a', ns.root, 'ok2'))).toBe('ok'); // 4095 bytes
    expect(errnoOf(() => ns.symlink('é'.repeat(2048), ns.root, 'no2'))).toBe('ENAMETOOLONG'); // 4096 bytes
    expect(fs.usage).toEqual({ bytes: 4095 * 2, inodes: 3 });
    expectExactUsage(fs);
  });

  it('a target with a NUL is EINVAL and stores nothing', () => {
    const { fs, ns } = world();
    expect(errnoOf(() => ns.symlink('a\0b', ns.root, 'l'))).toBe('EINVAL');
    expect(errnoOf(() => fs.root.symlink('l', 'a\0b'))).toBe('EINVAL');
    expect(fs.root.lookup('l')).toBeUndefined();
    const h = directHost();
    expect(h.w['path_symlink']!(...h.put(0, 'a\0b'), 3, ...h.put(64, 'l'))).toBe(WasiErrno.EINVAL);
    expect(h.ns.root.lookup('l')).toBeUndefined();
  });

  it('seven links, each target starting with the previous link: ENAMETOOLONG at once, no huge string', () => {
    const { fs, ns } = world();
    // Short components, so no single name is too long: only the expansion is.
    ns.symlink('a/'.repeat(2000), ns.root, 'l0');
    for (let i = 1; i < 7; i++) ns.symlink(`l${i - 1}/${'b/'.repeat(1998)}`, ns.root, `l${i}`);
    const started = performance.now();
    expect(errnoOf(() => ns.resolve(ns.root, 'l6/c', true, 'stat'))).toBe('ENAMETOOLONG');
    expect(errnoOf(() => ns.open(ns.root, 'l6', { follow: true }))).toBe('ENAMETOOLONG');
    expect(performance.now() - started).toBeLessThan(200);
    expectExactUsage(fs);
  });

  it('a short chain still resolves, and the limit is on the whole expanded path', () => {
    const { ns } = world();
    ns.mkdir(ns.root, 'd');
    ns.symlink('d', ns.root, 'to-d');
    ns.symlink(`to-d/${'.'.repeat(1)}`, ns.root, 'to-d2');
    expect(ns.resolve(ns.root, 'to-d2', true, 'stat').type).toBe('directory');
    ns.symlink(`${'./'.repeat(2040)}d`, ns.root, 'long'); // 4081 bytes
    expect(ns.resolve(ns.root, 'long', true, 'stat').type).toBe('directory');
    expect(errnoOf(() => ns.resolve(ns.root, `long/${'x'.repeat(20)}`, true, 'stat'))).toBe('ENAMETOOLONG');
  });
});

describe('O_CREAT|O_DIRECTORY on a missing name', () => {
  it('is EINVAL, as on Linux, and creates nothing (namespace)', () => {
    const { fs, ns } = world();
    expect(errnoOf(() => ns.open(ns.root, 'missing', { follow: true, create: true, directory: true }))).toBe('EINVAL');
    expect(ns.root.lookup('missing')).toBeUndefined();
    expect(fs.usage).toEqual({ bytes: 0, inodes: 1 });
  });

  it('is EINVAL through path_open, and creates nothing', () => {
    const h = directHost();
    const creatDirectory = 1 | 2;
    expect(h.w['path_open']!(3, 1, ...h.put(0, 'missing'), creatDirectory, 0x7ffffffn, 0n, 0, 64)).toBe(WasiErrno.EINVAL);
    expect(h.ns.root.lookup('missing')).toBeUndefined();
    expect(h.fs.usage).toEqual({ bytes: 0, inodes: 1 });
  });

  it('on an existing directory stays EISDIR, as with O_CREAT alone', () => {
    const h = directHost();
    h.ns.mkdir(h.ns.root, 'd');
    expect(h.w['path_open']!(3, 1, ...h.put(0, 'd'), 1 | 2, 0x7ffffffn, 0n, 0, 64)).toBe(WasiErrno.EISDIR);
  });
});
