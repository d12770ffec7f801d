/**
 * Issue 8, item 2: a path argument of 2^29 bytes made the host throw a
 * plain Error ("Cannot create a string longer than…"): the CLI died with a
 * stack trace and the API rejected with an untyped error. A path just under
 * that size cost seconds and half a gigabyte before ENAMETOOLONG. A path's
 * length is now checked before any byte of it is decoded.
 */
import { describe, expect, it } from 'vitest';
import { WasiErrno } from '../../src/wasi/index.js';
import { directHost } from './direct-host.js';

const huge = 2 ** 29;
// 512 MiB + 64 KiB of memory, never touched: the path bytes are zeros.
const pages = huge / 65536 + 1;
const dirRights = 0x7ffffffn;

type Call = (w: Record<string, (...a: (number | bigint)[]) => number>, p: number, n: number, ok: [number, number]) => number;

const calls: [string, Call][] = [
  ['path_create_directory', (w, p, n) => w['path_create_directory']!(3, p, n)],
  ['path_filestat_get', (w, p, n) => w['path_filestat_get']!(3, 1, p, n, 0)],
  ['path_filestat_set_times', (w, p, n) => w['path_filestat_set_times']!(3, 1, p, n, 0n, 0n, 0)],
  ['path_link (source)', (w, p, n, ok) => w['path_link']!(3, 0, p, n, 3, ...ok)],
  ['path_link (new name)', (w, p, n, ok) => w['path_link']!(3, 0, ...ok, 3, p, n)],
  ['path_open', (w, p, n) => w['path_open']!(3, 1, p, n, 0, dirRights, dirRights, 0, 0)],
  ['path_open O_CREAT', (w, p, n) => w['path_open']!(3, 1, p, n, 1, dirRights, dirRights, 0, 0)],
  ['path_readlink', (w, p, n) => w['path_readlink']!(3, p, n, 0, 16, 32)],
  ['path_remove_directory', (w, p, n) => w['path_remove_directory']!(3, p, n)],
  ['path_rename (source)', (w, p, n, ok) => w['path_rename']!(3, p, n, 3, ...ok)],
  ['path_rename (new name)', (w, p, n, ok) => w['path_rename']!(3, ...ok, 3, p, n)],
  ['path_symlink (target)', (w, p, n, ok) => w['path_symlink']!(p, n, 3, ...ok)],
  ['path_symlink (new name)', (w, p, n, ok) => w['path_symlink']!(...ok, 3, p, n)],
  ['path_unlink_file', (w, p, n) => w['path_unlink_file']!(3, p, n)],
];

describe('a huge path argument', () => {
  const h = directHost({ pages });
  const ok = h.put(64, 'ok');
  // 'a' repeated: a valid, decodable path of the given length.
  const filled = (n: number) => {
    h.u8().fill(0x61, 65536, 65536 + n);
    return [65536, n] as const;
  };

  it.each(calls)('%s: 2^29 bytes is ENAMETOOLONG from the length alone, at once', (_name, call) => {
    const started = performance.now();
    expect(call(h.w, 65536, huge, ok)).toBe(WasiErrno.ENAMETOOLONG);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it.each(calls)('%s: PATH_MAX (4096) bytes of valid text is ENAMETOOLONG, and nothing is made', (_name, call) => {
    const [p] = filled(4096);
    expect(call(h.w, p, 4096, ok)).toBe(WasiErrno.ENAMETOOLONG);
    expect(h.fs.usage).toEqual({ bytes: 0, inodes: 1 });
  });

  it('a length past the end of memory stays EFAULT', () => {
    expect(h.w['path_open']!(3, 1, 65536, -16, 0, dirRights, dirRights, 0, 0)).toBe(WasiErrno.EFAULT);
  });
});
