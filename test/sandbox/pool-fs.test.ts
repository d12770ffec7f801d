/**
 * `sandbox.fs` of a pooled sandbox, while its home worker is idle and
 * while it runs a guest: served at the guest's syscall boundaries, so the
 * wait is bounded by its next syscall.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestPath } from '../support/guests.js';
import { fileURLToPath } from 'node:url';
import { builtStrata, sleep } from './pool-support.js';

const { SandboxPool, FsError, ImageStore } = await builtStrata();
const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));
type Pool = InstanceType<typeof SandboxPool>;

describe('PooledSandbox.fs', () => {
  let pool: Pool;
  let host: string;
  beforeAll(() => {
    pool = new SandboxPool({ size: 1 });
    host = mkdtempSync(join(tmpdir(), 'strata-pool-fs-'));
  });
  afterAll(async () => {
    await pool.close();
    rmSync(host, { recursive: true, force: true });
  });

  it('has the methods, results and errors of sandbox.fs', async () => {
    const sandbox = await pool.create();
    const fs = sandbox.fs;
    expect(await fs.mkdir('/a/b', { recursive: true })).toBe('/a');
    await fs.writeFile('/a/b/f.txt', 'data');
    await fs.writeFile('/a/b/f.txt', '+', { flag: 'a' });
    expect(await fs.readFile('/a/b/f.txt', 'utf8')).toBe('data+');
    expect(await fs.readFile('/a/b/f.txt')).toEqual(new Uint8Array(Buffer.from('data+')));
    await fs.symlink('b/f.txt', '/a/link');
    await fs.link('/a/b/f.txt', '/a/hard');
    expect(await fs.readlink('/a/link')).toBe('b/f.txt');
    const entries = await fs.readdir('/a', { withFileTypes: true });
    expect(entries.map((d) => `${d.name}:${d.isDirectory() ? 'd' : d.isSymbolicLink() ? 'l' : d.isFile() ? 'f' : '?'}`).sort()).toEqual(['b:d', 'hard:f', 'link:l']);
    expect((await fs.readdir('/a', { recursive: true })).sort()).toEqual(['b', 'b/f.txt', 'hard', 'link']);
    const st = await fs.stat('/a/link');
    expect(st.isFile()).toBe(true);
    expect(st.nlink).toBe(2);
    expect(st.size).toBe(5);
    expect(typeof st.ino).toBe('bigint');
    expect(st.mtime).toBeInstanceOf(Date);
    expect((await fs.lstat('/a/link')).isSymbolicLink()).toBe(true);
    await fs.utimes('/a/hard', 1, new Date(2_000_000));
    expect((await fs.stat('/a/hard')).mtimeMs).toBe(2_000_000);
    await fs.truncate('/a/hard', 2);
    expect(await fs.readFile('/a/b/f.txt', 'utf8')).toBe('da');
    await fs.rename('/a/hard', '/a/moved');
    expect(await fs.exists('/a/hard')).toBe(false);
    await fs.access('/a/moved');
    await fs.unlink('/a/moved');
    await fs.rm('/a', { recursive: true });
    expect(await fs.exists('/a')).toBe(false);
    const error = await fs.readFile('/nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FsError);
    expect(error).toMatchObject({ code: 'ENOENT', syscall: 'open', path: '/nope' });
    await expect(fs.mkdir('/x/y')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.open('/x')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    writeFileSync(join(host, 'in.txt'), 'from the host');
    await fs.copyIn(join(host, 'in.txt'), '/in.txt');
    await fs.cp('/in.txt', '/copy.txt');
    await fs.copyOut('/copy.txt', join(host, 'out.txt'));
    expect(readFileSync(join(host, 'out.txt'), 'utf8')).toBe('from the host');
  });

  it('answers while the home worker runs a guest making syscalls, at its next syscall', async () => {
    const sandbox = await pool.create();
    const other = await pool.create();
    for (const argv of [['churn', 'sleep', '1'], ['churn', 'stat']]) {
      const child = sandbox.spawn(argv, { module: guestPath('churn'), stdin: '' });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      const waits: number[] = [];
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        await sandbox.fs.writeFile(`/f${i}`, `v${i}`);
        expect(await other.fs.readFile('/nothing').catch((e: { code: string }) => e.code)).toBe('ENOENT');
        await other.fs.writeFile('/o', String(i));
        expect(await sandbox.fs.readFile(`/f${i}`, 'utf8')).toBe(`v${i}`);
        waits.push(performance.now() - started);
      }
      waits.sort((a, b) => a - b);
      console.log(`4 fs calls while '${argv.join(' ')}' runs: p50 ${waits[10]!.toFixed(2)} ms, max ${waits.at(-1)!.toFixed(2)} ms`);
      expect(waits.at(-1)).toBeLessThan(1_000);
      // usage and diff-like calls are served the same way
      expect((await sandbox.usage()).inodes).toBeGreaterThan(20);
      child.kill();
      await child.exited;
    }
  });

  it('a copy waits until the worker is idle; a guest spinning with no syscalls holds calls until it ends', async () => {
    const sandbox = await pool.create();
    writeFileSync(join(host, 'late.txt'), 'late');
    const child = sandbox.spawn(['churn', 'stat'], { module: guestPath('churn'), stdin: '' });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    let copied = false;
    const copy = sandbox.fs.copyIn(join(host, 'late.txt'), '/late.txt').then(() => (copied = true));
    await sleep(100);
    expect(copied).toBe(false);
    child.kill();
    await copy;
    expect(await sandbox.fs.readFile('/late.txt', 'utf8')).toBe('late');

    const spinner = sandbox.spawn([], { module: guestPath('spin') });
    await sleep(50); // running
    let answered = false;
    const read = sandbox.fs.readFile('/late.txt', 'utf8').then((t) => ((answered = true), t));
    await sleep(100);
    expect(answered).toBe(false);
    spinner.kill();
    expect(await read).toBe('late');
  });

  it('creates a sandbox while the worker runs a guest, once the worker has its store and image open', async () => {
    const store = await ImageStore.open(join(host, 'store'));
    const busy = await pool.create();
    const child = busy.spawn(['churn', 'stat'], { module: guestPath('churn'), stdin: '' });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    // The image is not open on this worker yet: loading it awaits, so it waits for idle.
    let opened = false;
    const first = pool.create({ image: `oci:${example}`, store }).then((s) => ((opened = true), s));
    await sleep(150);
    expect(opened).toBe(false);
    child.kill();
    await first;
    const again = busy.spawn(['churn', 'stat'], { module: guestPath('churn'), stdin: '' });
    await new Promise<void>((resolve) => again.stdout.once('data', () => resolve()));
    const started = performance.now();
    const [plain, overImage] = await Promise.all([pool.create({ store }), pool.create({ image: `oci:${example}`, store })]);
    const took = performance.now() - started;
    console.log(`2 creates while a guest runs on the worker: ${took.toFixed(2)} ms`);
    expect(took).toBeLessThan(1_000);
    expect(await overImage.fs.readFile('/etc/motd', 'utf8')).toContain('strata example image');
    await plain.fs.writeFile('/p', 'p');
    again.kill();
    expect((await again.exited).reason).toBe('killed');
  });

  it('diff, mountChanges, applyMount and sync are served by the worker', async () => {
    const src = join(host, 'src');
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src);
    writeFileSync(join(src, 'main.c'), 'old\n');
    const sandbox = await pool.create({ mounts: [{ type: 'overlay', source: src, target: '/src' }] });
    const edited = await sandbox.run(guestPath('fsbox'), { args: ['write', '/src/main.c', 'new\n'] });
    expect(edited.exitCode).toBe(0);
    expect((await sandbox.mountChanges('/src')).map((c) => `${c.kind} ${c.path}`)).toEqual(['changed /main.c']);
    expect(readFileSync(join(src, 'main.c'), 'utf8')).toBe('old\n');
    expect(await sandbox.applyMount('/src')).toEqual({ applied: ['/main.c'] });
    expect(readFileSync(join(src, 'main.c'), 'utf8')).toBe('new\n');
    await sandbox.sync();
    await expect(sandbox.diff()).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' }); // a tmpfs root has no diff
    await expect(sandbox.mountChanges('/nope')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });
});
