import { createHash, randomFillSync } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DevFs } from '../../src/vfs/dev.js';
import { FsError } from '../../src/vfs/index.js';
import { freshSandboxFs as fresh } from './sandbox-fs-support.js';
import { fsCodeOf as code } from '../support/error-code.js';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('SandboxFileHandle', () => {
  it('reads and writes at the handle position or an explicit one; stat and truncate', async () => {
    const { fs } = fresh();
    const h = await fs.open('/f', 'w');
    expect((await h.write('hello ')).bytesWritten).toBe(6);
    await h.write(new TextEncoder().encode('world!'), 0, 5);
    await h.write('J', 0);
    await h.write('4c4c', 2, 'hex');
    expect((await h.stat()).size).toBe(11);
    await h.truncate(5);
    await h.close();
    expect(await fs.readFile('/f', 'utf8')).toBe('JeLLo');

    const r = await fs.open('/f');
    const buf = new Uint8Array(3);
    expect((await r.read(buf)).bytesRead).toBe(3);
    expect(text(buf)).toBe('JeL');
    expect((await r.read(buf, 0, 3)).bytesRead).toBe(2);
    expect((await r.read(buf, 0, 3)).bytesRead).toBe(0);
    expect((await r.read(buf, 1, 2, 0)).bytesRead).toBe(2);
    expect(text(buf)).toBe('LJe');
    await r.close();
  });

  it('flags: r needs the file, r+ keeps it, w truncates, wx is exclusive, a appends', async () => {
    const { fs } = fresh();
    expect(await code(fs.open('/none'))).toBe('ENOENT');
    expect(await code(fs.open('/none', 'r+'))).toBe('ENOENT');
    await fs.writeFile('/f', 'abc');
    const rw = await fs.open('/f', 'r+');
    await rw.write('X', 1);
    await rw.close();
    expect(await fs.readFile('/f', 'utf8')).toBe('aXc');
    expect(await code(fs.open('/f', 'wx'))).toBe('EEXIST');
    const a = await fs.open('/f', 'a');
    await a.write('1', 0);
    await a.write('2');
    await a.close();
    expect(await fs.readFile('/f', 'utf8')).toBe('aXc12');
    await (await fs.open('/f', 'w')).close();
    expect(await fs.readFile('/f', 'utf8')).toBe('');
    const made = await fs.open('/new', 'wx', 0o600);
    expect((await made.stat()).mode).toBe(0o100600);
    await made.close();
    await fs.mkdir('/d');
    expect(await code(fs.open('/d'))).toBe('EISDIR');
    expect(await code(fs.open('/f', 'x' as 'r'))).toBe('EINVAL');
    expect(await code(fs.writeFile('/f', '', { flag: 'r' as 'w' }))).toBe('EINVAL');
  });

  it('EBADF for the wrong direction and after close; close twice is harmless', async () => {
    const { fs } = fresh();
    await fs.writeFile('/f', 'abc');
    const r = await fs.open('/f');
    expect(await code(r.write('x'))).toBe('EBADF');
    expect(await code(r.truncate(0))).toBe('EINVAL');
    const w = await fs.open('/f', 'a');
    expect(await code(w.read(new Uint8Array(1)))).toBe('EBADF');
    await w.close();
    await w.close();
    expect(await code(w.write('x'))).toBe('EBADF');
    expect(await code(w.stat())).toBe('EBADF');
    expect(await code(r.read(new Uint8Array(1), 0, 2))).toBe('EINVAL');
    await r.close();
  });

  it('keeps an unlinked file readable until closed, then frees its bytes', async () => {
    const { fs, tmpfs } = fresh();
    await fs.writeFile('/f', 'still here');
    const h = await fs.open('/f');
    await fs.unlink('/f');
    const buf = new Uint8Array(10);
    await h.read(buf, 0, 10, 0);
    expect(text(buf)).toBe('still here');
    expect(tmpfs.usage.bytes).toBe(10);
    await h.close();
    expect(tmpfs.usage.bytes).toBe(0);
  });

  it('ENOSPC from a write names the path', async () => {
    const { fs } = fresh({ maxBytes: 10 });
    const h = await fs.open('/f', 'w');
    const e = await h.write('x'.repeat(11)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(FsError);
    expect([(e as FsError).code, (e as FsError).syscall, (e as FsError).path]).toEqual(['ENOSPC', 'write', '/f']);
    await h.close();
  });

  it('opens character devices: /dev/zero reads zeros, /dev/full refuses writes', async () => {
    const { fs, ns } = fresh();
    await fs.mkdir('/dev');
    ns.mount('/dev', new DevFs({ dev: 3n }).root);
    const zero = await fs.open('/dev/zero');
    const buf = new Uint8Array(4).fill(9);
    expect((await zero.read(buf)).bytesRead).toBe(4);
    expect([...buf]).toEqual([0, 0, 0, 0]);
    await zero.close();
    const full = await fs.open('/dev/full', 'w');
    expect(await code(full.write('x'))).toBe('ENOSPC');
    await full.close();
  });
});

describe('streams', () => {
  const size = 20 << 20;

  it('pipes 20 MiB through a read stream into a write stream, chunk by chunk', async () => {
    const { fs } = fresh({ maxBytes: 64 << 20 });
    const data = randomFillSync(new Uint8Array(size));
    const w = await fs.open('/big', 'w');
    let chunks = 0;
    await pipeline(
      Readable.from(
        (function* () {
          for (let at = 0; at < size; at += 1 << 20) yield data.subarray(at, at + (1 << 20));
        })(),
      ),
      w.createWriteStream(),
    );
    expect(await code(w.stat())).toBe('EBADF'); // autoClose
    expect((await fs.stat('/big')).size).toBe(size);

    const r = await fs.open('/big');
    const hash = createHash('sha256');
    let biggest = 0;
    let buffered = 0;
    const stream = r.createReadStream({ highWaterMark: 256 * 1024 });
    await pipeline(
      stream,
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks++;
          biggest = Math.max(biggest, chunk.length);
          buffered = Math.max(buffered, stream.readableLength);
          hash.update(chunk);
          setImmediate(callback);
        },
      }),
    );
    expect(hash.digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    expect(chunks).toBe(size / (256 * 1024));
    expect(biggest).toBe(256 * 1024);
    // A slow consumer never makes the stream read ahead more than its high-water mark.
    expect(buffered).toBeLessThanOrEqual(256 * 1024);
  });

  it('read stream ranges, write stream start, autoClose false', async () => {
    const { fs } = fresh();
    await fs.writeFile('/f', '0123456789');
    const r = await fs.open('/f');
    const parts: string[] = [];
    for await (const chunk of r.createReadStream({ start: 2, end: 5, autoClose: false })) parts.push(String(chunk));
    expect(parts.join('')).toBe('2345');
    expect((await r.stat()).size).toBe(10);
    await r.close();
    const w = await fs.open('/f', 'r+');
    await pipeline(Readable.from(['ab', 'cd']), w.createWriteStream({ start: 8 }));
    expect(await fs.readFile('/f', 'utf8')).toBe('01234567abcd');
  });

  it('a read stream of a closed handle fails with EBADF', async () => {
    const { fs } = fresh();
    await fs.writeFile('/f', 'x');
    const r = await fs.open('/f');
    await r.close();
    await expect(pipeline(r.createReadStream(), new Writable({ write: (_c, _e, cb) => cb() }))).rejects.toMatchObject({ code: 'EBADF', path: '/f' });
  });

  it('a write stream that runs out of space fails with ENOSPC', async () => {
    const { fs } = fresh({ maxBytes: 5 });
    const w = await fs.open('/f', 'w');
    await expect(pipeline(Readable.from(['abc', 'def']), w.createWriteStream())).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(await fs.readFile('/f', 'utf8')).toBe('abc');
  });

  it('readableWebStream gives the whole file in chunks', async () => {
    const { fs } = fresh();
    const data = randomFillSync(new Uint8Array(200_000));
    await fs.writeFile('/f', data);
    const h = await fs.open('/f');
    const got: Uint8Array[] = [];
    for await (const chunk of h.readableWebStream()) got.push(chunk);
    expect(got.length).toBe(4);
    expect(Buffer.concat(got).equals(data)).toBe(true);
    await h.close();
  });
});
