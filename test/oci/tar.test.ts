import { describe, expect, it } from 'vitest';
import { StrataError } from '../../src/errors.js';
import { readTarEntries, TarReader, type TarEntry } from '../../src/oci/tar.js';
import { concat, endOfArchive, padded, rawHeader, rawPax, t, tar } from '../support/tar-dsl.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof StrataError) return error.code;
    throw error;
  }
  return 'ok';
}

describe('TarReader', () => {
  it('reports each member with the offset of its data', async () => {
    const bytes = await tar(
      t.dir('etc/', { mode: 0o750, uid: 5, gid: 6 }),
      t.file('etc/hosts', '127.0.0.1 localhost\n', { mode: 0o4755, mtime: 1234 }),
      t.symlink('hosts', 'etc/hosts.link'),
      t.link('etc/hosts', 'etc/hosts.hard'),
      t.file('empty', ''),
    );
    const entries = readTarEntries(bytes);
    expect(entries.map((e) => [e.name, e.type])).toEqual([
      ['etc/', '5'],
      ['etc/hosts', '0'],
      ['etc/hosts.link', '2'],
      ['etc/hosts.hard', '1'],
      ['empty', '0'],
    ]);
    const hosts = entries[1]!;
    expect(text(bytes.subarray(hosts.offset, hosts.offset + hosts.size))).toBe('127.0.0.1 localhost\n');
    expect(hosts).toMatchObject({ mode: 0o4755, mtimeNs: 1234_000_000_000n, headerOffset: 512, offset: 1024 });
    expect(entries[0]).toMatchObject({ mode: 0o750, uid: 5, gid: 6, size: 0 });
    expect(entries[2]!.linkName).toBe('hosts');
    expect(entries[3]!.linkName).toBe('etc/hosts');
  });

  it('gives the same entries whatever the chunk size', async () => {
    const bytes = await tar(t.file('a', 'x'.repeat(1000)), t.file('b'.repeat(150), 'y'), t.dir('c'));
    const whole = readTarEntries(bytes);
    for (const size of [1, 7, 511, 513, 4096]) {
      const got: TarEntry[] = [];
      const reader = new TarReader((e) => got.push(e));
      for (let i = 0; i < bytes.length; i += size) reader.push(bytes.subarray(i, i + size));
      reader.end();
      expect(got).toEqual(whole);
    }
  });

  it('reads pax records: path, linkpath, size, uid, gid, fractional mtime, xattrs', () => {
    const long = 'd/'.repeat(80) + 'file';
    const bytes = concat(
      rawPax({ path: long, uid: '4000000000', gid: '70000', mtime: '1700000000.123456789123', 'SCHILY.xattr.user.k': 'v=1', size: '3' }),
      rawHeader({ name: 'short', size: 0 }),
      padded(new TextEncoder().encode('abc')),
      rawPax({ linkpath: 'l'.repeat(300) }),
      rawHeader({ name: 'sym', type: '2', linkname: 'short' }),
      endOfArchive,
    );
    const [file, sym] = readTarEntries(bytes);
    expect(file).toMatchObject({ name: long, uid: 4000000000, gid: 70000, mtimeNs: 1700000000_123456789n, size: 3 });
    expect(text(bytes.subarray(file!.offset, file!.offset + 3))).toBe('abc');
    expect(text(file!.xattrs!.get('user.k')!)).toBe('v=1');
    expect(file!.headerOffset).toBe(0);
    expect(sym!.linkName).toBe('l'.repeat(300));
  });

  it('reads GNU long names and long link targets (L, K)', () => {
    const name = 'n'.repeat(200);
    const target = 't'.repeat(180);
    const nameBytes = new TextEncoder().encode(`${name}\0`);
    const targetBytes = new TextEncoder().encode(`${target}\0`);
    const bytes = concat(
      rawHeader({ name: '././@LongLink', type: 'L', size: nameBytes.length }),
      padded(nameBytes),
      rawHeader({ name: '././@LongLink', type: 'K', size: targetBytes.length }),
      padded(targetBytes),
      rawHeader({ name: 'truncated-name', type: '2', linkname: 'truncated' }),
      endOfArchive,
    );
    const [entry] = readTarEntries(bytes);
    expect(entry).toMatchObject({ name, linkName: target, type: '2' });
  });

  it('reads GNU base-256 numbers', () => {
    const h = rawHeader({ name: 'big-uid' });
    h.fill(0, 108, 116);
    h[108] = 0x80;
    h[114] = 0x01;
    h[115] = 0x00; // uid 256
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    expect(readTarEntries(concat(h, endOfArchive))[0]!.uid).toBe(256);
  });

  it('ignores pax global headers, as Go archive/tar does', () => {
    const bytes = concat(rawPax({ comment: 'git archive', path: 'global-path' }, 'g'), rawHeader({ name: 'a' }), endOfArchive);
    expect(readTarEntries(bytes).map((e) => e.name)).toEqual(['a']);
  });

  it('accepts a stream ending right after a member, and ignores bytes after the end', () => {
    expect(readTarEntries(rawHeader({ name: 'a' })).map((e) => e.name)).toEqual(['a']);
    expect(readTarEntries(concat(rawHeader({ name: 'a' }), endOfArchive, new Uint8Array([1, 2, 3]))).map((e) => e.name)).toEqual(['a']);
    expect(readTarEntries(new Uint8Array(0))).toEqual([]);
  });

  it('treats the size field of links and directories as no data (as Go does)', () => {
    const bytes = concat(rawHeader({ name: 'd/', type: '5', size: 100 }), rawHeader({ name: 'f' }), endOfArchive);
    expect(readTarEntries(bytes).map((e) => [e.name, e.size])).toEqual([
      ['d/', 0],
      ['f', 0],
    ]);
  });

  // Errors, table style: every malformed input gives a typed error.
  const errors: Array<[string, () => Uint8Array, string]> = [
    ['bad checksum', () => concat(rawHeader({ name: 'a', checksum: 'bad' }), endOfArchive), 'ERR_TAR_HEADER'],
    ['not a tar', () => new TextEncoder().encode('hello world, this is not a tar file'.repeat(20)), 'ERR_TAR_HEADER'],
    ['bad octal size', () => concat(rawHeader({ name: 'a', size: '00000000x00\0' }), endOfArchive), 'ERR_TAR_HEADER'],
    ['header cut short', () => rawHeader({ name: 'a' }).subarray(0, 300), 'ERR_TAR_TRUNCATED'],
    ['data cut short', () => concat(rawHeader({ name: 'a', size: 1000 }), new Uint8Array(600)), 'ERR_TAR_TRUNCATED'],
    ['padding cut short', () => concat(rawHeader({ name: 'a', size: 10 }), new Uint8Array(100)), 'ERR_TAR_TRUNCATED'],
    ['pax header then end', () => rawPax({ path: 'x' }), 'ERR_TAR_TRUNCATED'],
    ['pax header then zero block', () => concat(rawPax({ path: 'x' }), endOfArchive), 'ERR_TAR_TRUNCATED'],
    ['pax over the cap', () => concat(rawHeader({ name: 'p', type: 'x', size: 2 << 20 }), endOfArchive), 'ERR_TAR_PAX_TOO_LARGE'],
    ['GNU long name over the cap', () => concat(rawHeader({ name: 'p', type: 'L', size: 2 << 20 }), endOfArchive), 'ERR_TAR_PAX_TOO_LARGE'],
    ['pax record with a bad length', () => concat(rawHeader({ name: 'p', type: 'x', size: 12 }), padded(new TextEncoder().encode('99 path=abc\n')), rawHeader({ name: 'a' })), 'ERR_TAR_HEADER'],
    ['pax record without newline', () => concat(rawHeader({ name: 'p', type: 'x', size: 11 }), padded(new TextEncoder().encode('11 path=abc')), rawHeader({ name: 'a' })), 'ERR_TAR_HEADER'],
    ['pax bad size', () => concat(rawPax({ size: '-5' }), rawHeader({ name: 'a' })), 'ERR_TAR_HEADER'],
    ['pax bad mtime', () => concat(rawPax({ mtime: 'yesterday' }), rawHeader({ name: 'a' })), 'ERR_TAR_HEADER'],
    ['NUL in a pax path', () => concat(rawPax({ path: 'a\0b' }), rawHeader({ name: 'a' })), 'ERR_TAR_HEADER'],
    ['GNU sparse member', () => concat(rawHeader({ name: 's', type: 'S' }), endOfArchive), 'ERR_TAR_UNSUPPORTED'],
    ['pax GNU sparse member', () => concat(rawPax({ 'GNU.sparse.major': '1' }), rawHeader({ name: 's' })), 'ERR_TAR_UNSUPPORTED'],
  ];
  for (const [name, input, code] of errors) {
    it(`fails with ${code}: ${name}`, () => {
      expect(codeOf(() => readTarEntries(input()))).toBe(code);
    });
  }

  it('caps pax headers at a configurable size', () => {
    const bytes = concat(rawPax({ path: 'p'.repeat(2000) }), rawHeader({ name: 'a' }), endOfArchive);
    expect(codeOf(() => readTarEntries(bytes, { maxMetaBytes: 1024 }))).toBe('ERR_TAR_PAX_TOO_LARGE');
    expect(readTarEntries(bytes)[0]!.name).toBe('p'.repeat(2000));
  });

  it('never crashes or hangs on mutated tars (fuzz)', async () => {
    const base = await tar(t.dir('a'), t.file('a/b', 'hello'), t.symlink('b', 'a/c'), t.file('x'.repeat(120), 'long'), t.file('f', 'z', { pax: { 'SCHILY.xattr.user.a': 'b' } }));
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 2000; round++) {
      const bytes = base.slice(0, Math.floor(rand() * base.length) + 1);
      for (let k = 0; k < 4; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      try {
        readTarEntries(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(StrataError);
        expect((error as StrataError).code).toMatch(/^ERR_TAR_/);
      }
    }
  });
});
