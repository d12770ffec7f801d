import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as realFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FsError, HostDir, Namespace, Overlay, Tmpfs, type DirNode, type Errno } from '../../src/vfs/index.js';

// A hook run just before the host mkdir/lstat calls HostDir makes, so a
// test can swap a directory for a symlink at the worst moment, exactly
// once, instead of hoping a racing process hits it.
const hooks: { beforeMkdir?: (() => void) | undefined } = {};
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const mkdirSync = ((...args: Parameters<typeof fs.mkdirSync>) => {
    const hook = hooks.beforeMkdir;
    hooks.beforeMkdir = undefined;
    hook?.();
    return fs.mkdirSync(...args);
  }) as typeof fs.mkdirSync;
  return { ...fs, default: { ...fs, mkdirSync }, mkdirSync };
});

const secret = 'SECRET-outside-the-bind';
let base: string;
let bind: string;
let sentinel: string;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'strata-bind-escape-'));
  bind = join(base, 'bind');
  sentinel = join(base, 'sentinel');
  mkdirSync(bind);
  // The sentinel holds the same names the bind's directories hold, so a
  // resolution that slipped out would find something and show it.
  mkdirSync(join(sentinel, 'sub'), { recursive: true });
  writeFileSync(join(sentinel, 'secret'), secret);
  writeFileSync(join(sentinel, 'inner'), secret);
  writeFileSync(join(sentinel, 'sentinel-only'), secret);
});
afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

const sentinelEntries = ['', 'sub', 'secret', 'inner', 'sentinel-only'];

/**
 * The sentinel's entries as lstat sees them, to the nanosecond, without
 * reading or listing anything: the sentinel is fresh (atime not after
 * mtime), so under relatime (or strictatime) any read of a file or listing
 * of a directory moves its atime, and any write its mtime or ctime.
 */
function stamp(): string {
  return sentinelEntries
    .map((p) => {
      const st = lstatSync(join(sentinel, p), { bigint: true });
      return `${p} ${st.ino} ${st.mode} ${st.size} ${st.nlink} ${st.atimeNs} ${st.mtimeNs} ${st.ctimeNs}`;
    })
    .join('\n');
}

/** The sentinel was neither read nor changed since `before` was stamped. */
function untouched(before: string): void {
  expect(stamp()).toBe(before);
  expect(readdirSync(sentinel).sort()).toEqual(['inner', 'secret', 'sentinel-only', 'sub']);
  expect(readdirSync(join(sentinel, 'sub'))).toEqual([]);
  for (const f of ['inner', 'secret', 'sentinel-only']) expect(readFileSync(join(sentinel, f), 'utf8')).toBe(secret);
}

/** A namespace over a tmpfs with the bind at /mnt: read-write, or as the lower of an overlay bind. */
function world(resolution: 'auto' | 'path' = 'auto', kind: 'bind' | 'overlay' = 'bind'): { ns: Namespace; fs: HostDir } {
  const tmp = new Tmpfs({ dev: 1n });
  const ns = new Namespace(tmp.root);
  ns.mkdir(tmp.root, '/mnt');
  const fs = new HostDir({ path: bind, readonly: kind === 'overlay', dev: 2n, resolution });
  ns.mount('/mnt', kind === 'bind' ? fs.root : new Overlay({ lower: fs.root, dev: 3n, confined: true }).root);
  return { ns, fs };
}

/** The bind's own tree: names, types, sizes, mtimes and ctimes (an overlay bind must leave it as it was). */
function bindTree(): string {
  const out: string[] = [];
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const st = lstatSync(join(abs, name), { bigint: true });
      out.push(`${rel}/${name} ${st.ino} ${st.mode} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`);
      if (st.isDirectory()) walk(join(abs, name), `${rel}/${name}`);
    }
  };
  walk(bind, '');
  return out.join('\n');
}

function outcome(fn: () => unknown): Errno | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof FsError) return error.errno;
    throw error;
  }
}

function read(ns: Namespace, path: string): string {
  const f = Namespace.asFile(ns.resolve(ns.root, path, true, 'open'), 'open');
  const buf = new Uint8Array(f.size);
  const n = f.read(buf, 0, buf.length, 0);
  return new TextDecoder().decode(buf.subarray(0, n));
}

describe.each(['bind', 'overlay'] as const)('symlinks and .. inside a %s mount never leave it', (kind) => {
  beforeEach(() => {
    mkdirSync(join(bind, 'sub', 'deeper'), { recursive: true });
    symlinkSync(join(sentinel, 'secret'), join(bind, 'abs'));
    symlinkSync(sentinel, join(bind, 'absdir'));
    symlinkSync('../sentinel/secret', join(bind, 'rel'));
    symlinkSync('../../../../../../../../sentinel', join(bind, 'reldir'));
    symlinkSync('../../../sentinel', join(bind, 'sub', 'deeper', 'up'));
    symlinkSync('/', join(bind, 'slash'));
    symlinkSync('..', join(bind, 'dotdot'));
  });

  const escapes = ['/mnt/abs', '/mnt/absdir/secret', '/mnt/rel', '/mnt/reldir/secret', '/mnt/sub/deeper/up/secret', '/mnt/slash/secret', '/mnt/dotdot/sentinel/secret', '/mnt/dotdot/dotdot/sentinel/secret', '/mnt/../sentinel/secret', '/mnt/sub/../../../sentinel/secret'];

  it.each(escapes)('%s never reads the file outside', (path) => {
    const before = stamp();
    const host = bindTree();
    const { ns } = world('auto', kind);
    expect(outcome(() => read(ns, path))).toBe('ENOENT');
    untouched(before);
    expect(bindTree()).toBe(host);
  });

  it('an absolute link resolves against the bind, where a mirror of the path can live', () => {
    const mirror = join(bind, relative('/', sentinel));
    mkdirSync(mirror, { recursive: true });
    writeFileSync(join(mirror, 'secret'), 'MIRROR');
    const { ns } = world('auto', kind);
    expect(read(ns, '/mnt/abs')).toBe('MIRROR');
    expect(read(ns, '/mnt/absdir/secret')).toBe('MIRROR');
    expect(read(ns, '/mnt/slash/' + relative('/', sentinel) + '/secret')).toBe('MIRROR');
  });

  it('no operation through a link that points out touches the outside', () => {
    const before = stamp();
    const host = bindTree();
    const { ns } = world('auto', kind);
    const r = ns.root;
    for (const dir of ['/mnt/absdir', '/mnt/reldir', '/mnt/sub/deeper/up', '/mnt/dotdot/sentinel']) {
      const results = [
        outcome(() => ns.mkdir(r, `${dir}/made`)),
        outcome(() => ns.open(r, `${dir}/created`, { follow: true, create: true })),
        outcome(() => ns.symlink('x', r, `${dir}/link`)),
        outcome(() => ns.link(r, '/mnt/sub', false, r, `${dir}/hard`)),
        outcome(() => ns.unlink(r, `${dir}/secret`)),
        outcome(() => ns.rmdir(r, `${dir}/sub`)),
        outcome(() => ns.rename(r, `${dir}/secret`, r, '/mnt/stolen')),
        outcome(() => ns.rename(r, '/mnt/sub', r, `${dir}/planted`)),
        outcome(() => ns.setTimes(r, `${dir}/secret`, true, 1n, 1n)),
        outcome(() => ns.readdir(ns.resolve(r, dir, true, 'open') as DirNode, 0, () => true)),
        outcome(() => ns.stat(r, `${dir}/secret`, true)),
      ];
      expect(results.every((e) => e === 'ENOENT')).toBe(true);
    }
    // Creating through a dangling link to outside lands inside the bind, if anywhere.
    expect(outcome(() => ns.open(r, '/mnt/abs', { follow: true, create: true }))).toBe('ENOENT');
    untouched(before);
    if (kind === 'overlay') expect(bindTree()).toBe(host);
  });
});

/**
 * The flipper: a host process that swaps `bind/flip` between a real
 * directory (holding `inner`) and a symlink to the sentinel, as fast as it
 * can, until killed (or orphaned, or after two minutes).
 */
function startFlipper(): ChildProcess {
  mkdirSync(join(bind, 'flip.dir'));
  writeFileSync(join(bind, 'flip.dir', 'inner'), 'INSIDE');
  symlinkSync('../sentinel', join(bind, 'flip.link'));
  const script = `
    const { renameSync, writeFileSync } = require('node:fs');
    const [dir, link, flip, counter] = process.argv.slice(1);
    // Bounded, so it stops by itself even if the test runner dies first.
    const end = Date.now() + 120000;
    for (let flips = 1; ; flips++) {
      try { renameSync(dir, flip); renameSync(flip, dir); renameSync(link, flip); renameSync(flip, link); } catch {}
      if (flips % 256 === 0) {
        writeFileSync(counter + '.tmp', String(flips)); renameSync(counter + '.tmp', counter);
        if (Date.now() > end || process.ppid === 1) process.exit(0);
      }
    }`;
  const args = [join(bind, 'flip.dir'), join(bind, 'flip.link'), join(bind, 'flip'), join(base, 'flips')];
  return spawn(process.execPath, ['-e', script, ...args], { stdio: 'ignore' });
}

/** Kill the flipper (its loop never yields to a signal handler), wait for it, and return how many rounds of swaps it made. */
async function stopFlipper(child: ChildProcess): Promise<number> {
  const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.kill('SIGKILL');
  await done;
  return Number(readFileSync(join(base, 'flips'), 'utf8'));
}

describe('a host process racing the guest', () => {
  it.runIf(process.platform === 'linux')('swapping a directory for a symlink never lets an operation reach outside (proc-fd)', async () => {
    const before = stamp();
    const { ns, fs } = world('auto');
    expect(fs.resolution).toBe('proc-fd');
    const child = startFlipper();
    const r = ns.root;
    const seen = { inside: 0, refused: 0, iterations: 0 };
    const started = Date.now();
    try {
      while (seen.iterations < 2000 || ((seen.inside === 0 || seen.refused === 0) && Date.now() - started < 20_000)) {
        const i = seen.iterations++;
        const got = outcome(() => {
          const text = read(ns, '/mnt/flip/inner');
          expect(text).toBe('INSIDE');
        });
        if (got === 'ok') seen.inside++;
        else seen.refused++;
        const listing: string[] = [];
        outcome(() => ns.readdir(ns.resolve(r, '/mnt/flip', true, 'open') as DirNode, 0, (e) => (listing.push(e.name), true)));
        expect(listing).not.toContain('sentinel-only');
        outcome(() => ns.mkdir(r, `/mnt/flip/d${i}`));
        outcome(() => ns.rmdir(r, `/mnt/flip/d${i}`));
        outcome(() => ns.open(r, `/mnt/flip/f${i}`, { follow: true, create: true }));
        outcome(() => ns.unlink(r, `/mnt/flip/f${i}`));
        outcome(() => ns.symlink('x', r, `/mnt/flip/l${i}`));
        outcome(() => ns.unlink(r, `/mnt/flip/l${i}`));
        outcome(() => ns.link(r, '/mnt/flip.dir/inner', false, r, `/mnt/flip/h${i}`));
        outcome(() => ns.setTimes(r, '/mnt/flip/inner', false, 1n, 1n));
        outcome(() => ns.rename(r, '/mnt/flip/inner', r, '/mnt/flip/inner'));
        outcome(() => ns.stat(r, '/mnt/flip/secret', false));
        expect(outcome(() => read(ns, '/mnt/flip/secret'))).not.toBe('ok');
      }
    } finally {
      expect(await stopFlipper(child)).toBeGreaterThan(0);
    }
    // Both states were met: the race really ran.
    expect(seen.inside).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
    untouched(before);
  });

  it.runIf(process.platform === 'linux')('through an overlay bind: reads and copy-ups never reach outside, the host is never written', async () => {
    const before = stamp();
    const { ns } = world('auto', 'overlay');
    const child = startFlipper();
    const r = ns.root;
    const seen = { inside: 0, iterations: 0 };
    const started = Date.now();
    try {
      // Wait until the flipper has really started.
      while (!existsSync(join(base, 'flips')) && Date.now() - started < 20_000) outcome(() => ns.stat(r, '/mnt/flip', true));
      while (seen.iterations < 1000 || (seen.inside === 0 && Date.now() - started < 20_000)) {
        const i = seen.iterations++;
        if (outcome(() => expect(read(ns, '/mnt/flip/inner')).toMatch(/^INSIDE/)) === 'ok') seen.inside++;
        outcome(() => ns.open(r, '/mnt/flip/new', { follow: true, create: true }));
        outcome(() => ns.unlink(r, '/mnt/flip/new'));
        outcome(() => {
          const f = Namespace.asFile(ns.open(r, '/mnt/flip/inner', { follow: true }).node, 'open');
          f.write(new TextEncoder().encode(`INSIDE${i}`), 0, 6 + String(i).length, 0);
        });
        outcome(() => ns.setTimes(r, '/mnt/flip/inner', false, 1n, 1n));
        outcome(() => ns.unlink(r, '/mnt/flip/sentinel-only'));
        expect(outcome(() => read(ns, '/mnt/flip/secret'))).not.toBe('ok');
        const listing: string[] = [];
        outcome(() => ns.readdir(ns.resolve(r, '/mnt/flip', true, 'open') as DirNode, 0, (e) => (listing.push(e.name), true)));
        expect(listing).not.toContain('sentinel-only');
      }
    } finally {
      expect(await stopFlipper(child)).toBeGreaterThan(0);
    }
    expect(seen.inside).toBeGreaterThan(0);
    untouched(before);
    expect(readFileSync(join(bind, existsSync(join(bind, 'flip.dir')) ? 'flip.dir' : 'flip', 'inner'), 'utf8')).toBe('INSIDE');
  });
});

describe('the limit: a swap between the last check and the call', () => {
  /** Swap `bind/flip` (a directory the guest has looked up) for a symlink to the sentinel. */
  function swapToSymlink(): void {
    realFs.renameSync(join(bind, 'flip'), join(bind, 'flip.moved'));
    realFs.symlinkSync(sentinel, join(bind, 'flip'));
  }

  it.runIf(process.platform === 'linux')('proc-fd: the call still lands in the directory that was looked up', () => {
    mkdirSync(join(bind, 'flip'));
    const before = stamp();
    const { ns } = world('auto');
    const flip = ns.resolve(ns.root, '/mnt/flip', true, 'open') as DirNode;
    flip.lookup('x'); // opens flip's fd, as any earlier operation would have
    hooks.beforeMkdir = swapToSymlink;
    flip.mkdir('made', 0o755);
    expect(readdirSync(join(bind, 'flip.moved'))).toEqual(['made']);
    untouched(before);
  });

  it('path: the ancestors are re-checked before the call, so a swap before the check is refused', () => {
    mkdirSync(join(bind, 'flip'));
    const before = stamp();
    const { ns } = world('path');
    const flip = ns.resolve(ns.root, '/mnt/flip', true, 'open') as DirNode;
    swapToSymlink();
    expect(outcome(() => flip.mkdir('made', 0o755))).toBe('ENOENT');
    untouched(before);
  });

  it('path: a swap after the check and before the call is NOT closed (documented in docs/decisions.md)', () => {
    mkdirSync(join(bind, 'flip'));
    const { ns } = world('path');
    const flip = ns.resolve(ns.root, '/mnt/flip', true, 'open') as DirNode;
    hooks.beforeMkdir = swapToSymlink;
    // The lstat after the call sees the swap and reports ENOENT, but too late:
    outcome(() => flip.mkdir('made', 0o755));
    // the directory was made through the swapped-in symlink, outside the bind.
    expect(readdirSync(sentinel)).toContain('made');
  });
});
