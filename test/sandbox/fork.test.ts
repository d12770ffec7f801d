import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/oci/image-store.js';
import { openImage, Sandbox, type Image } from '../../src/sandbox/index.js';
import { FsError, Overlay } from '../../src/vfs/index.js';
import { freezeRoot } from '../../src/sandbox/fork.js';
import { buildRoot } from '../../src/sandbox/root.js';
import { codeOf } from '../support/error-code.js';
import { guestPath, text } from '../support/guests.js';
import { Layout } from '../support/image-layout.js';
import { tempDir } from '../support/layer-trees.js';

/**
 * sandbox.fork(): an O(1) copy-on-write fork of a sandbox's current state,
 * in every root mode, with its mounts, quotas and diff.
 */
const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));
let store: ImageStore;
let image: Image;

beforeAll(async () => {
  store = await ImageStore.open(tempDir('strata-fork-images-'));
  image = await openImage(`oci:${example}`, { store });
});

async function fsbox(sandbox: Sandbox, ...args: string[]) {
  const r = await sandbox.exec(['fsbox', ...args]);
  return { code: r.exitCode, out: text(r.stdout), err: text(r.stderr) };
}

/** The file's text, or the FsError code. */
async function read(sandbox: Sandbox, path: string): Promise<string> {
  try {
    return await sandbox.fs.readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof FsError) return error.code;
    throw error;
  }
}

/** Overlays in the sandbox's root stack (0 when the root is not an overlay). */
function depth(sandbox: Sandbox): number {
  const fs = sandbox.namespace.root.fs;
  return fs instanceof Overlay ? fs.depth : 0;
}

/** The median of `n` runs of `fn`, in µs. */
async function medianUs(n: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn();
    times.push((performance.now() - start) * 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)]!;
}

describe('fork of an overlay root', () => {
  it('costs O(1): the same order for images of 100 and 10,000 files, and for uppers of 10 and 10,000 files', async () => {
    const imageOf = async (files: number) => {
      const dir = tempDir('strata-fork-size-');
      const layout = new Layout(dir);
      const entries: Record<string, string> = {};
      for (let i = 0; i < files; i++) entries[`data/d${i % 100}/f${i}`] = `file ${i}`;
      layout.tag(await layout.image([entries]), 'latest');
      return openImage(`oci:${dir}`, { store });
    };
    const forkCost = async (img: Image, written: number) => {
      const sandbox = await Sandbox.create({ image: img });
      for (let i = 0; i < written; i++) sandbox.writeFile(`/w${i}`, 'x');
      // Each fork dirties the parent again, so every one seals a layer.
      return medianUs(21, async () => {
        sandbox.writeFile('/dirty', 'x');
        await sandbox.fork();
      });
    };
    const small = await imageOf(100);
    const big = await imageOf(10_000);
    const figures = {
      image100: await forkCost(small, 0),
      image10000: await forkCost(big, 0),
      upper10: await forkCost(small, 10),
      upper10000: await forkCost(small, 10_000),
    };
    console.log(`fork µs (median of 21): ${JSON.stringify(figures)}`);
    // Loose: a walk or copy of 10,000 files would take tens of milliseconds.
    expect(figures.image10000).toBeLessThan(Math.max(2_000, figures.image100 * 20));
    expect(figures.upper10000).toBeLessThan(Math.max(2_000, figures.upper10 * 20));
    const child = await (await Sandbox.create({ image: big })).fork();
    expect(await read(child, '/data/d99/f9999')).toBe('file 9999');
  });

  it('keeps parent and child apart both ways, file by file: write, delete, rename, hard link, symlink, mkdir, rmdir', async () => {
    const parent = await Sandbox.create({ image, store });
    await parent.fs.mkdir('/work/sub', { recursive: true });
    for (const name of ['a', 'b', 'c', 'd']) await parent.fs.writeFile(`/work/${name}`, `init ${name}`);
    const child = await parent.fork();
    const sides: Array<[Sandbox, Sandbox, string]> = [[parent, child, 'parent'], [child, parent, 'child']];
    for (const [self, other, who] of sides) {
      await self.fs.writeFile(`/work/a`, `${who} a`);
      await self.fs.rm(`/work/b`);
      await self.fs.rename(`/work/c`, `/work/c-${who}`);
      await self.fs.link(`/work/d`, `/work/d-${who}`);
      await self.fs.symlink('a', `/work/l-${who}`);
      await self.fs.mkdir(`/work/dir-${who}`);
      await self.fs.rmdir(`/work/sub`);
      await self.fs.writeFile(`/etc/motd`, `${who} motd`);
      expect(await read(other, '/work/b')).toBe(who === 'parent' ? 'init b' : 'ENOENT');
    }
    for (const [self, other, who] of sides) {
      const them = who === 'parent' ? 'child' : 'parent';
      expect(await read(self, '/work/a')).toBe(`${who} a`);
      expect(await read(self, '/etc/motd')).toBe(`${who} motd`);
      expect(await read(self, '/work/b')).toBe('ENOENT');
      expect(await read(self, `/work/c-${who}`)).toBe('init c');
      expect(await read(self, `/work/c-${them}`)).toBe('ENOENT');
      expect((await self.fs.stat(`/work/d-${who}`)).nlink).toBe(2);
      expect(await read(self, `/work/l-${who}`)).toBe(`${who} a`);
      expect(await read(self, `/work/l-${them}`)).toBe('ENOENT');
      expect((await self.fs.readdir('/work')).sort()).toEqual(['a', 'd', `c-${who}`, `d-${who}`, `dir-${who}`, `l-${who}`].sort());
      expect(other).not.toBe(self);
    }
    // The parent's own writes after the fork stay out of the child, and back.
    await parent.fs.writeFile('/after', 'parent');
    expect(await read(child, '/after')).toBe('ENOENT');
    await child.fs.writeFile('/after', 'child');
    expect(await read(parent, '/after')).toBe('parent');
  });

  it('a golden sandbox forked 1,000 times: each child sees the init\'s files, keeps its writes private, and stays 2 deep', async () => {
    const golden = await Sandbox.create({ image, store });
    expect((await fsbox(golden, 'mkdir', '/init')).code).toBe(0);
    for (let i = 0; i < 10; i++) expect((await fsbox(golden, 'write', `/init/f${i}`, `golden ${i}`)).code).toBe(0);
    const children: Sandbox[] = [];
    for (let i = 0; i < 1000; i++) {
      const child = await golden.fork();
      child.writeFile('/init/f0', `child ${i}`);
      child.writeFile(`/own-${i}`, `${i}`);
      children.push(child);
    }
    expect(depth(golden)).toBe(2);
    for (const [i, child] of children.entries()) {
      expect(depth(child)).toBe(2);
      expect(await read(child, '/init/f0')).toBe(`child ${i}`);
      expect(await read(child, '/init/f9')).toBe('golden 9');
      expect(await read(child, `/own-${i}`)).toBe(`${i}`);
      expect(await read(child, `/own-${(i + 1) % 1000}`)).toBe('ENOENT');
    }
    expect(await read(golden, '/init/f0')).toBe('golden 0');
    expect((await golden.fs.readdir('/')).filter((n) => n.startsWith('own-'))).toEqual([]);
  });

  it('seals nothing when nothing changed: a fresh sandbox\'s fork stacks on the image, a clean parent keeps its overlay', async () => {
    const fresh = await Sandbox.create({ image, store });
    const root = fresh.namespace.root;
    const child = await fresh.fork();
    expect([depth(fresh), depth(child)]).toEqual([1, 1]);
    expect(fresh.namespace.root).toBe(root);
    fresh.writeFile('/x', 'x');
    await fresh.fork();
    expect(fresh.namespace.root).not.toBe(root);
    expect(await read(fresh, '/x')).toBe('x');
  });

  it('gives each fork the root\'s quotas, counted from the fork', async () => {
    const parent = await Sandbox.create({ image, store, tmpfs: { maxBytes: 4096 } });
    parent.writeFile('/big', new Uint8Array(3000));
    const child = await parent.fork();
    expect(child.usage.bytes).toBe(0);
    child.writeFile('/c1', new Uint8Array(3000));
    expect(() => child.writeFile('/c2', new Uint8Array(2000))).toThrowError(expect.objectContaining({ errno: 'ENOSPC' }) as Error);
    parent.writeFile('/p1', new Uint8Array(3000));
    expect(parent.usage.bytes).toBe(3000);
    expect(child.usage.bytes).toBe(3000);
  });

  it('forks a fork, and each keeps its own state', async () => {
    const a = await Sandbox.create({ image, store });
    a.writeFile('/gen', 'a');
    const b = await a.fork();
    b.writeFile('/gen', 'b');
    b.writeFile('/only-b', 'b');
    const c = await b.fork();
    c.writeFile('/gen', 'c');
    await c.fs.rm('/only-b');
    expect([await read(a, '/gen'), await read(b, '/gen'), await read(c, '/gen')]).toEqual(['a', 'b', 'c']);
    expect([await read(a, '/only-b'), await read(b, '/only-b'), await read(c, '/only-b')]).toEqual(['ENOENT', 'b', 'ENOENT']);
    expect(depth(c)).toBe(3);
  });

  it('diff(): changes since the image, the parent\'s included; since: \'fork\' only its own', async () => {
    const parent = await Sandbox.create({ image, store });
    parent.writeFile('/etc/motd', 'init');
    parent.writeFile('/init', 'init');
    await parent.fs.rm('/etc/hostname').catch(() => undefined);
    const before = parent.diff();
    const child = await parent.fork();
    child.writeFile('/mine', 'child');
    await child.fs.rm('/init');
    const lines = (s: Sandbox, since?: 'fork') => s.diff(since === undefined ? {} : { since }).map((c) => `${c.kind[0]!.toUpperCase()} ${c.path}`);
    expect(lines(child)).toEqual(['C /etc', 'C /etc/motd', 'A /mine', ...before.filter((c) => c.path.startsWith('/etc/host')).map((c) => `D ${c.path}`)].sort(byPath));
    expect(lines(child, 'fork')).toEqual(['D /init', 'A /mine']);
    expect(parent.diff()).toEqual(before);
    expect(lines(parent, 'fork')).toEqual([]);
    expect(child.diff({ contents: true }).find((c) => c.path === '/etc/motd')?.contents).toEqual(new TextEncoder().encode('init'));
  });

  it('runs guests in forks', async () => {
    const parent = await Sandbox.create({ image, store });
    expect((await fsbox(parent, 'write', '/note', 'parent')).code).toBe(0);
    const child = await parent.fork();
    expect(await fsbox(child, 'cat', '/note')).toMatchObject({ code: 0, out: 'parent' });
    expect((await fsbox(child, 'write', '/note', 'child')).code).toBe(0);
    expect((await fsbox(child, 'mv', '/note', '/moved')).code).toBe(0);
    expect(await fsbox(parent, 'cat', '/note')).toMatchObject({ code: 0, out: 'parent' });
    expect(await fsbox(child, 'cat', '/moved')).toMatchObject({ code: 0, out: 'child' });
    expect((await fsbox(parent, 'cat', '/moved')).code).toBe(1);
    expect(text((await child.exec()).stdout)).toBe('hello, world\n');
  });

  it('hands a guest readdir cookies it can seekdir back to, through a stack of forks (all below 2^31)', async () => {
    const a = await Sandbox.create({ image, store, mounts: [{ type: 'tmpfs', target: '/scratch' }] });
    for (let i = 0; i < 10; i++) a.writeFile(`/a-${i}`, 'x');
    const b = await a.fork();
    await b.fs.rm('/a-3');
    for (let i = 0; i < 10; i++) b.writeFile(`/b-${i}`, 'x');
    const c = await b.fork();
    await c.fs.rm('/b-3');
    c.writeFile('/c-0', 'x');
    const r = await c.run(guestPath('dir-seek'), { args: ['/'] });
    // bin, etc, usr; 9 + 9 + 1 written; dev and scratch as mount names; . and ..
    expect([r.exitCode, text(r.stdout)]).toEqual([0, 'ok 26\n']);
  });

  it('a handle opened before the fork reads the state at the fork, and its writes fail with EROFS', async () => {
    const parent = await Sandbox.create({ image, store });
    await parent.fs.writeFile('/h', 'before');
    const handle = await parent.fs.open('/h', 'r+');
    await parent.fork();
    await expect(handle.write(new TextEncoder().encode('X'), 0, 1, 0)).rejects.toMatchObject({ code: 'EROFS' });
    await parent.fs.writeFile('/h', 'after');
    const buf = new Uint8Array(6);
    await handle.read(buf, 0, 6, 0);
    expect(text(buf)).toBe('before');
    await handle.close();
  });

  it('refuses, changing nothing, a fork past 1,024 stacked overlays (ERR_FORK_TOO_DEEP); clean forks never deepen a stack', async () => {
    let sandbox = await Sandbox.create({ image, store });
    for (let i = 0; i < 1023; i++) {
      sandbox.writeFile('/level', `${i}`);
      sandbox = await sandbox.fork();
    }
    expect(depth(sandbox)).toBe(1024);
    expect(await read(sandbox, '/level')).toBe('1022');
    await sandbox.fork(); // clean: the child stacks beside it
    sandbox.writeFile('/level', 'last');
    expect(await codeOf(sandbox.fork())).toBe('ERR_FORK_TOO_DEEP');
    sandbox.writeFile('/level', 'still writable');
    expect(await read(sandbox, '/level')).toBe('still writable');
  });

  it('refuses a root that is a host directory (upper: { dir }, a bind at /) with ERR_INVALID_OPTION', async () => {
    const kept = await Sandbox.create({ image, store, upper: { dir: tempDir('strata-fork-upper-') } });
    expect(await codeOf(kept.fork())).toBe('ERR_INVALID_OPTION');
    const host = await Sandbox.create({ mounts: [{ type: 'bind', source: tempDir('strata-fork-root-'), target: '/' }] });
    expect(await codeOf(host.fork())).toBe('ERR_INVALID_OPTION');
  });
});

describe('fork and mounts', () => {
  it('parent keeps its mounts\' contents; the child gets bind and volume shared, identity anew, tmpfs empty, overlay fresh', async () => {
    const bind = tempDir('strata-fork-bind-');
    const lowerDir = tempDir('strata-fork-ovl-');
    writeFileSync(join(lowerDir, 'src.c'), 'int main;');
    const parent = await Sandbox.create({
      image,
      store,
      mounts: [
        { type: 'bind', source: bind, target: '/out' },
        { type: 'tmpfs', target: '/scratch' },
        { type: 'overlay', source: lowerDir, target: '/src' },
        { type: 'identity', target: '/run/strata', files: { token: 'secret' } },
      ],
    });
    parent.writeFile('/scratch/s', 'scratch');
    parent.writeFile('/src/src.c', 'edited');
    parent.writeFile('/out/from-parent', 'p');
    const child = await parent.fork();
    // The parent keeps every mount as it was.
    expect(await read(parent, '/scratch/s')).toBe('scratch');
    expect(await read(parent, '/src/src.c')).toBe('edited');
    expect(parent.mountChanges('/src').map((c) => c.path)).toEqual(['/src.c']);
    expect(await read(parent, '/run/strata/token')).toBe('secret');
    // The child: bind shared, tmpfs empty, overlay fresh over the host dir, identity injected anew.
    expect(await read(child, '/out/from-parent')).toBe('p');
    child.writeFile('/out/from-child', 'c');
    expect(readFileSync(join(bind, 'from-child'), 'utf8')).toBe('c');
    expect(await read(parent, '/out/from-child')).toBe('c');
    expect(await read(child, '/scratch/s')).toBe('ENOENT');
    expect(await read(child, '/src/src.c')).toBe('int main;');
    expect(child.mountChanges('/src')).toEqual([]);
    expect(await read(child, '/run/strata/token')).toBe('secret');
    expect(child.namespace.resolve(child.namespace.root, '/run/strata', true, 'stat')).not.toBe(parent.namespace.resolve(parent.namespace.root, '/run/strata', true, 'stat'));
    expect(child.diff().map((c) => c.path).filter((p) => /^\/(run|out|scratch|src)\b/.test(p))).toEqual([]);
    expect(readFileSync(join(lowerDir, 'src.c'), 'utf8')).toBe('int main;');
    mkdirSync(join(bind, 'later'));
    expect((await parent.fs.readdir('/out')).sort()).toEqual((await child.fs.readdir('/out')).sort());
  });
});

describe('fork of other roots', () => {
  it('tmpfs root: frozen once and shared as the lower of both sides, in O(1)', async () => {
    const parent = await Sandbox.create({ tmpfs: { maxBytes: 1 << 20 } });
    parent.mkdir('/data');
    for (let i = 0; i < 100; i++) parent.writeFile(`/data/f${i}`, `${i}`);
    const child = await parent.fork();
    expect(child.rootMode).toBe('tmpfs');
    expect(await read(child, '/data/f99')).toBe('99');
    child.writeFile('/data/f0', 'child');
    parent.writeFile('/data/f1', 'parent');
    expect([await read(parent, '/data/f0'), await read(parent, '/data/f1')]).toEqual(['0', 'parent']);
    expect([await read(child, '/data/f0'), await read(child, '/data/f1')]).toEqual(['child', '1']);
    expect(child.usage.bytes).toBe(5);
    const grandchild = await child.fork();
    expect(await read(grandchild, '/data/f0')).toBe('child');
    expect(await codeOf(async () => child.diff())).toBe('ERR_INVALID_OPTION');
    const r = await child.run(fileURLToPath(new URL('../../guests/bin/fsbox.wasm', import.meta.url)), { args: ['cat', '/data/f0'] });
    expect(text(r.stdout)).toBe('child');
  });

  it('readonly root: the child shares the same view, with fresh scratch tmpfs', async () => {
    const parent = await Sandbox.create({ image, store, root: 'readonly' });
    parent.writeFile('/tmp/p', 'p');
    const child = await parent.fork();
    expect(child.namespace.root).toBe(parent.namespace.root);
    expect(await read(child, '/tmp/p')).toBe('ENOENT');
    expect(await read(parent, '/tmp/p')).toBe('p');
    expect((await fsbox(child, 'write', '/etc/motd', 'x')).err).toContain('Read-only file system');
  });
});

function byPath(a: string, b: string): number {
  const x = a.slice(2).split('/');
  const y = b.slice(2).split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return x.length - y.length;
}

describe('freezeRoot (what a snapshot commit starts with)', () => {
  it('seals a dirty overlay and goes on over it; leaves a clean one as it is', () => {
    const root = buildRoot({ mode: 'overlay', image, mounts: [{ type: 'tmpfs', target: '/scratch' }], dev: true, cwd: process.cwd(), storeRoot: store.root });
    root.namespace.mkdir(root.namespace.root, '/made');
    const frozen = freezeRoot(root);
    expect(frozen.sealed).toBe(root.overlay);
    expect(frozen.sealed!.sealed).toBe(true);
    expect(frozen.base).toBe(root.overlay!.root);
    expect(frozen.root.overlay!.lowerRoot).toBe(frozen.base);
    expect(frozen.sealed!.changes().map((c) => c.path)).toEqual(['/made']);
    expect(frozen.root.mounts.get('/scratch')).toBe(root.mounts.get('/scratch'));
    const again = freezeRoot(frozen.root);
    expect([again.root, again.base, again.sealed]).toEqual([frozen.root, frozen.base, undefined]);
  });
});

