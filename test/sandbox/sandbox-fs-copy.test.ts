import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SandboxFs } from '../../src/sandbox/sandbox-fs.js';
import { DevFs } from '../../src/vfs/dev.js';
import { FsError, LayerView, Namespace, type DirNode, type FileNode } from '../../src/vfs/index.js';
import { freshSandboxFs as fresh } from './sandbox-fs-support.js';

const work = mkdtempSync(join(tmpdir(), 'strata-sandbox-fs-'));
afterAll(() => execFileSync('rm', ['-rf', work]));
let dirs = 0;
/** A fresh empty host directory. */
function hostDir(): string {
  const dir = join(work, `d${++dirs}`);
  mkdirSync(dir);
  return dir;
}

async function error(p: Promise<unknown>): Promise<FsError> {
  const e: unknown = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof FsError)) throw new Error(`expected an FsError, got ${String(e)}`);
  return e;
}

const t1 = 1_500_000_000;
const t2 = 1_600_000_000;

/**
 * A host tree: nested dirs, modes, fixed mtimes, symlinks pointing out of
 * any root, a hard-linked pair and an empty directory.
 */
function hostTree(): string {
  const root = join(hostDir(), 'tree');
  mkdirSync(join(root, 'a', 'b', 'c'), { recursive: true });
  mkdirSync(join(root, 'empty'));
  writeFileSync(join(root, 'top.txt'), 'top');
  writeFileSync(join(root, 'a', 'run.sh'), '#!/bin/sh\n');
  chmodSync(join(root, 'a', 'run.sh'), 0o755);
  writeFileSync(join(root, 'a', 'b', 'secret'), 'shh');
  chmodSync(join(root, 'a', 'b', 'secret'), 0o600);
  writeFileSync(join(root, 'a', 'b', 'c', 'deep.bin'), Uint8Array.of(0, 1, 2, 255));
  linkSync(join(root, 'a', 'b', 'c', 'deep.bin'), join(root, 'hard'));
  symlinkSync('/etc/passwd', join(root, 'passwd'));
  symlinkSync('../../x', join(root, 'a', 'up'));
  symlinkSync('b/c', join(root, 'a', 'inside'));
  for (const p of ['top.txt', 'a/run.sh', 'a/b/secret', 'a/b/c/deep.bin', 'a/b/c', 'a/b', 'a', 'empty', '.']) utimesSync(join(root, p), t1, t2);
  return root;
}

describe('copyIn and copyOut', () => {
  it('round-trips a tree: contents, modes, mtimes, symlinks as symlinks, hard links', async () => {
    const { fs } = fresh();
    const src = hostTree();
    await fs.mkdir('/work');
    await fs.copyIn(src, '/work/tree', { recursive: true });

    expect((await fs.readdir('/work/tree', { recursive: true })).sort()).toEqual(
      ['a', 'a/b', 'a/b/c', 'a/b/c/deep.bin', 'a/b/secret', 'a/inside', 'a/run.sh', 'a/up', 'empty', 'hard', 'passwd', 'top.txt'],
    );
    expect(await fs.readFile('/work/tree/a/b/secret', 'utf8')).toBe('shh');
    expect(await fs.readFile('/work/tree/a/inside/deep.bin')).toEqual(Uint8Array.of(0, 1, 2, 255));
    expect((await fs.stat('/work/tree/a/run.sh')).mode).toBe(0o100755);
    expect((await fs.stat('/work/tree/a/b/secret')).mode).toBe(0o100600);
    expect(await fs.readlink('/work/tree/passwd')).toBe('/etc/passwd');
    expect(await fs.readlink('/work/tree/a/up')).toBe('../../x');
    expect((await fs.stat('/work/tree/hard')).ino).toBe((await fs.stat('/work/tree/a/b/c/deep.bin')).ino);
    expect((await fs.stat('/work/tree/hard')).nlink).toBe(2);
    for (const p of ['', '/a', '/a/b', '/top.txt', '/empty']) expect([p, (await fs.stat(`/work/tree${p}`)).mtimeMs]).toEqual([p, t2 * 1000]);
    // No temporary names are left behind.
    expect((await fs.readdir('/work', { recursive: true })).filter((n) => n.includes('.strata-copy-'))).toEqual([]);

    const out = join(hostDir(), 'out');
    await fs.copyOut('/work/tree', out, { recursive: true });
    const list = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String).sort();
    expect(list(out)).toEqual(list(src));
    expect(readFileSync(join(out, 'a', 'b', 'secret'), 'utf8')).toBe('shh');
    expect(statSync(join(out, 'a', 'run.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(join(out, 'a', 'b', 'secret')).mode & 0o777).toBe(0o600);
    expect(lstatSync(join(out, 'passwd')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(out, 'passwd'))).toBe('/etc/passwd');
    expect(readlinkSync(join(out, 'a', 'up'))).toBe('../../x');
    expect(lstatSync(join(out, 'hard')).ino).toBe(lstatSync(join(out, 'a', 'b', 'c', 'deep.bin')).ino);
    for (const p of ['', 'a', 'a/b', 'top.txt', 'empty']) expect([p, lstatSync(join(out, p)).mtimeMs]).toEqual([p, t2 * 1000]);
    expect(readdirSync(work, { recursive: true }).map(String).filter((n) => n.includes('.strata-copy-'))).toEqual([]);
  });

  it('copies one file without recursive, refuses a directory with EISDIR', async () => {
    const { fs } = fresh();
    const src = hostTree();
    await fs.copyIn(join(src, 'top.txt'), '/top');
    expect(await fs.readFile('/top', 'utf8')).toBe('top');
    const e = await error(fs.copyIn(src, '/tree'));
    expect([e.code, e.syscall, e.path]).toEqual(['EISDIR', 'copyIn', src]);
    await fs.copyIn(join(src, 'passwd'), '/p');
    expect(await fs.readlink('/p')).toBe('/etc/passwd');
    await fs.mkdir('/d');
    const out = hostDir();
    expect((await error(fs.copyOut('/d', join(out, 'd')))).code).toBe('EISDIR');
    expect(existsSync(join(out, 'd'))).toBe(false);
  });

  it('names the host path for host errors and the sandbox path for sandbox errors', async () => {
    const { fs } = fresh();
    const src = hostTree();
    const missing = join(src, 'missing');
    let e = await error(fs.copyIn(missing, '/x'));
    expect([e.code, e.syscall, e.path]).toEqual(['ENOENT', 'copyIn', missing]);
    e = await error(fs.copyIn(join(src, 'top.txt'), '/no/such/dir/x'));
    expect([e.code, e.syscall, e.path]).toEqual(['ENOENT', 'copyIn', '/no/such/dir/x']);
    e = await error(fs.copyIn(join(src, 'top.txt'), 'no//dir/x'));
    expect([e.code, e.syscall, e.path]).toEqual(['ENOENT', 'copyIn', '/no/dir/x']);
    e = await error(fs.copyOut('/none', join(hostDir(), 'x')));
    expect([e.code, e.syscall, e.path]).toEqual(['ENOENT', 'copyOut', '/none']);
    await fs.writeFile('/f', 'x');
    const nowhere = join(hostDir(), 'no', 'x');
    e = await error(fs.copyOut('/f', nowhere));
    expect([e.code, e.syscall]).toEqual(['ENOENT', 'copyOut']);
  });

  it('merges into existing directories and replaces files; a directory is never replaced by a file', async () => {
    const { fs } = fresh();
    const src = hostTree();
    await fs.mkdir('/tree/a', { recursive: true });
    await fs.writeFile('/tree/keep', 'kept');
    await fs.writeFile('/tree/top.txt', 'old');
    await fs.copyIn(src, '/tree', { recursive: true });
    expect(await fs.readFile('/tree/keep', 'utf8')).toBe('kept');
    expect(await fs.readFile('/tree/top.txt', 'utf8')).toBe('top');
    await fs.mkdir('/dir');
    const e = await error(fs.copyIn(join(src, 'top.txt'), '/dir'));
    expect([e.code, e.path]).toEqual(['EISDIR', '/dir']);
    await fs.writeFile('/file', '');
    expect((await error(fs.copyIn(src, '/file', { recursive: true }))).code).toBe('EEXIST');
  });

  it('ENOSPC: files that fit are whole, the one that does not is absent, no temporary file stays', async () => {
    const { fs, tmpfs } = fresh({ maxBytes: 1000 });
    const src = join(hostDir(), 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a'.repeat(400));
    writeFileSync(join(src, 'b'), 'b'.repeat(800));
    const e = await error(fs.copyIn(src, '/src', { recursive: true }));
    expect([e.code, e.syscall, e.path]).toEqual(['ENOSPC', 'copyIn', '/src/b']);
    expect(await fs.readdir('/src')).toEqual(['a']);
    expect(await fs.readFile('/src/a', 'utf8')).toBe('a'.repeat(400));
    expect(tmpfs.usage.bytes).toBe(400);

    // Replacing a file: the old contents stay when the new ones do not fit.
    await fs.writeFile('/old', 'o'.repeat(300));
    expect((await error(fs.copyIn(join(src, 'b'), '/old'))).code).toBe('ENOSPC');
    expect(await fs.readFile('/old', 'utf8')).toBe('o'.repeat(300));
    expect(await fs.readdir('/')).toEqual(['src', 'old']);
  });

  it('EROFS into a read-only root', async () => {
    const view = new LayerView([], { dev: 2n });
    const fs = new SandboxFs(new Namespace(view.root));
    const src = hostTree();
    const e = await error(fs.copyIn(join(src, 'top.txt'), '/top'));
    expect([e.code, e.syscall, e.path]).toEqual(['EROFS', 'copyIn', '/top']);
    expect((await error(fs.copyIn(src, '/tree', { recursive: true }))).code).toBe('EROFS');
  });

  it('refuses FIFOs and devices, and filter leaves them out', async () => {
    const { fs, ns } = fresh();
    const src = join(hostDir(), 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'file'), 'f');
    execFileSync('mkfifo', [join(src, 'fifo')]);
    const e = await error(fs.copyIn(src, '/src', { recursive: true }));
    expect([e.code, e.path]).toEqual(['ENOTSUP', join(src, 'fifo')]);
    await fs.copyIn(src, '/src2', { recursive: true, filter: (s) => !s.endsWith('fifo') });
    expect(await fs.readdir('/src2')).toEqual(['file']);

    await fs.mkdir('/dev');
    ns.mount('/dev', new DevFs({ dev: 3n }).root);
    const out = hostDir();
    expect((await error(fs.copyOut('/', join(out, 'all'), { recursive: true }))).code).toBe('ENOTSUP');
    const seen: string[] = [];
    await fs.copyOut('/', join(out, 'root'), {
      recursive: true,
      filter: (s, d) => {
        seen.push(`${s} ${d.slice(out.length)}`);
        return s !== '/dev';
      },
    });
    expect(readdirSync(join(out, 'root')).sort()).toEqual(['src', 'src2']);
    expect(seen).toContain('/src2/file /root/src2/file');
  });
});

describe('copyOut never writes outside the destination', () => {
  it('refuses a symlink where a directory goes, and writes nothing through it', async () => {
    const { fs } = fresh();
    await fs.mkdir('/tree/sub', { recursive: true });
    await fs.writeFile('/tree/sub/f', 'payload');
    const outside = hostDir();
    const out = join(hostDir(), 'tree');
    mkdirSync(out);
    symlinkSync(outside, join(out, 'sub'));
    const e = await error(fs.copyOut('/tree', out, { recursive: true }));
    expect([e.code, e.syscall, e.path]).toEqual(['EEXIST', 'copyOut', join(out, 'sub')]);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('replaces a host symlink where a file or link goes, never writing to its target', async () => {
    const { fs } = fresh();
    await fs.writeFile('/f', 'new');
    await fs.symlink('/etc/shadow', '/l');
    const victim = join(hostDir(), 'victim');
    writeFileSync(victim, 'untouched');
    const out = hostDir();
    symlinkSync(victim, join(out, 'f'));
    symlinkSync(victim, join(out, 'l'));
    await fs.copyOut('/f', join(out, 'f'));
    await fs.copyOut('/l', join(out, 'l'));
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(lstatSync(join(out, 'f')).isFile()).toBe(true);
    expect(readFileSync(join(out, 'f'), 'utf8')).toBe('new');
    expect(readlinkSync(join(out, 'l'))).toBe('/etc/shadow');
  });

  it('a sandbox symlink to a directory comes out as a symlink, and entries under the real directory stay inside', async () => {
    const { fs } = fresh();
    await fs.mkdir('/t/real', { recursive: true });
    await fs.writeFile('/t/real/x', 'x');
    await fs.symlink('/', '/t/root');
    await fs.symlink('../../../../..', '/t/up');
    const out = join(hostDir(), 't');
    await fs.copyOut('/t', out, { recursive: true });
    expect(readlinkSync(join(out, 'root'))).toBe('/');
    expect(readlinkSync(join(out, 'up'))).toBe('../../../../..');
    expect(readdirSync(out).sort()).toEqual(['real', 'root', 'up']);
  });

  it('drops setuid and setgid bits on the host', async () => {
    const { fs } = fresh();
    await fs.writeFile('/suid', '#!', { mode: 0o4755 });
    expect((await fs.stat('/suid')).mode).toBe(0o104755);
    const out = join(hostDir(), 'suid');
    await fs.copyOut('/suid', out);
    expect(statSync(out).mode & 0o7777).toBe(0o755);
  });
});

describe('cp inside the sandbox', () => {
  it('copies files and trees with symlinks, hard links, modes and times; EINVAL into itself', async () => {
    const { fs } = fresh();
    await fs.mkdir('/src/d', { recursive: true, mode: 0o750 });
    await fs.writeFile('/src/d/f', 'data', { mode: 0o640 });
    await fs.link('/src/d/f', '/src/h');
    await fs.symlink('/etc/passwd', '/src/l');
    await fs.utimes('/src/d/f', t1, t2);
    await fs.cp('/src/d/f', '/one');
    expect(await fs.readFile('/one', 'utf8')).toBe('data');
    expect((await fs.stat('/one')).ino).not.toBe((await fs.stat('/src/d/f')).ino);
    expect((await error(fs.cp('/src', '/dst'))).code).toBe('EISDIR');
    await fs.cp('/src', '/dst', { recursive: true });
    expect(await fs.readdir('/dst', { recursive: true })).toEqual(['d', 'd/f', 'h', 'l']);
    expect((await fs.stat('/dst/h')).ino).toBe((await fs.stat('/dst/d/f')).ino);
    expect((await fs.stat('/dst/h')).ino).not.toBe((await fs.stat('/src/h')).ino);
    expect(await fs.readlink('/dst/l')).toBe('/etc/passwd');
    expect([(await fs.stat('/dst/d')).mode, (await fs.stat('/dst/d/f')).mode, (await fs.stat('/dst/d/f')).mtimeMs]).toEqual([0o40750, 0o100640, t2 * 1000]);
    const e = await error(fs.cp('/src', '/src/d/inner', { recursive: true }));
    expect([e.code, e.syscall, e.path]).toEqual(['EINVAL', 'cp', '/src/d/inner']);
    expect((await error(fs.cp('/src', '/src', { recursive: true }))).code).toBe('EINVAL');
  });
});

describe('big files are copied in chunks', () => {
  const size = 20 << 20;
  const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

  it('copyIn and copyOut of 20 MiB hold one 1 MiB buffer, never the whole file', async () => {
    const { fs, tmpfs, ns } = fresh({ maxBytes: 64 << 20 });
    const data = randomFillSync(new Uint8Array(size));
    const src = join(hostDir(), 'big');
    writeFileSync(src, data);
    const digest = sha(data);

    // Watch the writes into the sandbox: chunk sizes and the memory held.
    const root = tmpfs.root as DirNode & { createFile: DirNode['createFile'] };
    const createFile = root.createFile.bind(root);
    let biggest = 0;
    let writes = 0;
    let peak = 0;
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    };
    root.createFile = (name, mode) => {
      const file = createFile(name, mode);
      const write = file.write.bind(file);
      (file as { write: FileNode['write'] }).write = (src2, srcOffset, length, position) => {
        biggest = Math.max(biggest, length);
        writes++;
        sample();
        return write(src2, srcOffset, length, position);
      };
      return file;
    };
    const before = process.memoryUsage().arrayBuffers;
    await fs.copyIn(src, '/big');
    expect(biggest).toBeLessThanOrEqual(1 << 20);
    expect(writes).toBeGreaterThanOrEqual(20);
    // The sandbox holds the 20 MiB itself; a whole-file buffer would double it.
    expect(peak - before).toBeLessThan(size + (8 << 20));
    expect(sha(await fs.readFile('/big'))).toBe(digest);

    const file = ns.resolve(ns.root, '/big', true, 'open') as FileNode;
    const read = file.read.bind(file);
    let reads = 0;
    let biggestRead = 0;
    (file as { read: FileNode['read'] }).read = (dst, dstOffset, length, position) => {
      reads++;
      biggestRead = Math.max(biggestRead, length);
      sample();
      return read(dst, dstOffset, length, position);
    };
    peak = 0;
    const before2 = process.memoryUsage().arrayBuffers;
    const out = join(hostDir(), 'big.out');
    await fs.copyOut('/big', out);
    expect(biggestRead).toBeLessThanOrEqual(1 << 20);
    expect(reads).toBeGreaterThanOrEqual(20);
    expect(peak - before2).toBeLessThan(8 << 20);
    expect(sha(readFileSync(out))).toBe(digest);
  });
});
