import { describe, expect, it } from 'vitest';
import {
  DevFs,
  devNames,
  LayerView,
  mountDev,
  Namespace,
  type DeviceNode,
  type DirEntry,
  type Node,
} from '../../src/vfs/index.js';
import { build, dirAt, expectErrno, names, outcome, world } from './tree.js';

function device(ns: Namespace, path: string): DeviceNode {
  const node: Node = ns.resolve(ns.root, path, true, 'open');
  if (node.type !== 'character-device') throw new Error(`${path} is a ${node.type}`);
  return node;
}

function listing(ns: Namespace, path: string, cookie = 0): DirEntry[] {
  const out: DirEntry[] = [];
  ns.readdir(dirAt(ns, path), cookie, (e) => (out.push(e), true));
  return out;
}

describe('DevFs', () => {
  it('holds exactly the eight devices of a container /dev, as character devices', () => {
    const fs = new DevFs({ dev: 5n });
    const entries: DirEntry[] = [];
    fs.root.readdir(2, (e) => (entries.push(e), true));
    expect(entries.map((e) => e.name)).toEqual(['null', 'zero', 'full', 'random', 'urandom', 'stdin', 'stdout', 'stderr']);
    expect(entries.map((e) => e.name)).toEqual(devNames);
    expect(new Set(entries.map((e) => e.type))).toEqual(new Set(['character-device']));
    for (const e of entries) {
      const node = fs.root.lookup(e.name);
      expect(node?.type).toBe('character-device');
      const st = node!.stat();
      expect(st).toMatchObject({ dev: 5n, ino: e.ino, type: 'character-device', mode: 0o666, nlink: 1, size: 0 });
    }
    expect(new Set(entries.map((e) => e.ino)).size).toBe(8);
    expect(fs.root.stat()).toMatchObject({ type: 'directory', mode: 0o755, ino: 1n });
  });

  it('resumes readdir at every cookie', () => {
    const fs = new DevFs({ dev: 5n });
    const all: DirEntry[] = [];
    fs.root.readdir(2, (e) => (all.push(e), true));
    for (const [i, e] of all.entries()) {
      const rest: string[] = [];
      fs.root.readdir(e.next, (x) => (rest.push(x.name), true));
      expect(rest).toEqual(all.slice(i + 1).map((x) => x.name));
    }
  });

  // Linux drivers/char/mem.c: null reads EOF, zero and full read zeros,
  // full refuses writes with ENOSPC, the others swallow them.
  const table: readonly { device: string; read: 'eof' | 'zeros' | 'random' | 'ENXIO'; write: 'ok' | 'ENOSPC' | 'ENXIO' }[] = [
    { device: 'null', read: 'eof', write: 'ok' },
    { device: 'zero', read: 'zeros', write: 'ok' },
    { device: 'full', read: 'zeros', write: 'ENOSPC' },
    { device: 'random', read: 'random', write: 'ok' },
    { device: 'urandom', read: 'random', write: 'ok' },
    { device: 'stdin', read: 'ENXIO', write: 'ENXIO' },
    { device: 'stdout', read: 'ENXIO', write: 'ENXIO' },
    { device: 'stderr', read: 'ENXIO', write: 'ENXIO' },
  ];
  for (const c of table) {
    it(`/dev/${c.device}: read ${c.read}, write ${c.write}`, () => {
      const { ns } = world();
      mountDev(ns, 7n);
      const dev = device(ns, `/dev/${c.device}`);
      const buf = new Uint8Array(4096).fill(0xaa);
      if (c.read === 'ENXIO') {
        expectErrno(() => dev.read(buf, 0, 16), 'ENXIO');
      } else {
        const n = dev.read(buf, 8, 4000);
        expect(buf[7]).toBe(0xaa); // nothing before the offset is touched
        expect(buf[4008]).toBe(0xaa); // nor after the length
        if (c.read === 'eof') expect(n).toBe(0);
        else expect(n).toBe(4000);
        if (c.read === 'zeros') expect(buf.subarray(8, 4008).every((b) => b === 0)).toBe(true);
        if (c.read === 'random') {
          const again = new Uint8Array(4000);
          dev.read(again, 0, 4000);
          expect(Buffer.compare(buf.subarray(8, 4008), again)).not.toBe(0);
          expect(new Set(buf.subarray(8, 4008)).size).toBeGreaterThan(200);
        }
      }
      const write = outcome(() => expect(dev.write(buf, 0, 100)).toBe(100));
      expect(write).toBe(c.write);
    });
  }

  it('refuses every structural change with EROFS, and changing times', () => {
    const { ns } = world();
    mountDev(ns, 7n);
    expectErrno(() => ns.mkdir(ns.root, '/dev/shm'), 'EROFS');
    expectErrno(() => ns.open(ns.root, '/dev/new', { follow: true, create: true }), 'EROFS');
    expectErrno(() => ns.symlink('/proc/self/fd', ns.root, '/dev/fd'), 'EROFS');
    expectErrno(() => ns.unlink(ns.root, '/dev/null'), 'EROFS');
    expectErrno(() => ns.rename(ns.root, '/dev/null', ns.root, '/dev/nothing'), 'EROFS');
    expectErrno(() => ns.link(ns.root, '/dev/zero', true, ns.root, '/dev/zero2'), 'EROFS');
    expectErrno(() => ns.setTimes(ns.root, '/dev/null', true, 'now', 'now'), 'EROFS');
    expectErrno(() => ns.setTimes(ns.root, '/dev', true, 'now', 'now'), 'EROFS');
    // A file cannot replace a device: open with create finds the device.
    expect(ns.open(ns.root, '/dev/null', { follow: true, create: true }).node.type).toBe('character-device');
    expectErrno(() => ns.open(ns.root, '/dev/null', { follow: true, directory: true }), 'ENOTDIR');
  });

  it('keeps no state between instances', () => {
    const a = new DevFs({ dev: 1n });
    const b = new DevFs({ dev: 2n });
    expect(a.root.lookup('null')).not.toBe(b.root.lookup('null'));
    expect(a.root.lookup('null')!.stat().dev).toBe(1n);
    expect(b.root.lookup('null')!.stat().dev).toBe(2n);
  });
});

describe('mountDev', () => {
  it('gives a tmpfs root a /dev without creating it in the root filesystem', () => {
    const { fs, ns } = world();
    build(ns, ['etc/', 'tmp/']);
    const before = fs.usage;
    mountDev(ns, 7n);
    expect(fs.usage).toEqual(before);
    expect(fs.root.lookup('dev')).toBeUndefined();
    expect(names(ns, ns.root)).toEqual(['etc', 'tmp', 'dev']);
    expect(names(ns, dirAt(ns, '/dev'))).toEqual([...devNames]);
    expect(ns.stat(ns.root, '/dev/null', true).type).toBe('character-device');
    expect(ns.stat(ns.root, '/dev', true).dev).toBe(7n);
  });

  it('works over a read-only root that has no /dev', () => {
    const view = new LayerView([], { dev: 9n });
    const ns = new Namespace(view.root);
    mountDev(ns, 7n);
    expect(device(ns, '/dev/zero').device).toBe('zero');
    expect(names(ns, ns.root)).toEqual(['dev']);
  });

  it('covers an existing /dev of the image, hiding what it held', () => {
    const { ns } = world();
    build(ns, ['dev/', 'dev/leftover=from the image', 'etc/']);
    mountDev(ns, 7n);
    expect(names(ns, ns.root)).toEqual(['dev', 'etc']);
    expect(names(ns, dirAt(ns, '/dev'))).toEqual([...devNames]);
    expectErrno(() => ns.resolve(ns.root, '/dev/leftover', true, 'open'), 'ENOENT');
    expectErrno(() => ns.rmdir(ns.root, '/dev'), 'EBUSY');
  });

  it('follows a /dev symlink inside the root, and refuses a /dev that is a file', () => {
    const a = world();
    build(a.ns, ['real-dev/', 'dev -> real-dev']);
    mountDev(a.ns, 7n);
    expect(names(a.ns, dirAt(a.ns, '/real-dev'))).toEqual([...devNames]);
    const b = world();
    build(b.ns, ['dev=not a directory']);
    expectErrno(() => mountDev(b.ns, 7n), 'ENOTDIR');
  });

  it('makes /dev a mount point: `..` leads back to the root; rmdir, rename, mkdir and create over it fail', () => {
    const { ns } = world();
    build(ns, ['a/']);
    mountDev(ns, 7n);
    expect(ns.resolve(ns.root, '/dev/..', true, 'open')).toBe(ns.root);
    expect(ns.resolve(dirAt(ns, '/dev'), '../a', true, 'open')).toBe(dirAt(ns, '/a'));
    expectErrno(() => ns.rmdir(ns.root, '/dev'), 'EBUSY');
    expectErrno(() => ns.rename(ns.root, '/a', ns.root, '/dev'), 'EBUSY');
    expectErrno(() => ns.rename(ns.root, '/dev', ns.root, '/b'), 'EBUSY');
    expectErrno(() => ns.mkdir(ns.root, '/dev'), 'EEXIST');
    expectErrno(() => ns.open(ns.root, '/dev', { follow: true, create: true }), 'EISDIR');
    expectErrno(() => ns.unlink(ns.root, '/dev'), 'EISDIR');
    expectErrno(() => ns.symlink('x', ns.root, '/dev'), 'EEXIST');
    expectErrno(() => mountDev(ns, 8n), 'EBUSY');
  });

  it('Namespace.mountAt refuses an existing name (EEXIST), a non-directory parent (ENOTDIR) and a name that is not one component (EINVAL)', () => {
    const { ns } = world();
    build(ns, ['a/', 'f=x']);
    const other = new DevFs({ dev: 3n });
    expectErrno(() => ns.mountAt('/', 'a', other.root), 'EEXIST');
    expectErrno(() => ns.mountAt('/f', 'x', other.root), 'ENOTDIR');
    expectErrno(() => ns.mountAt('/missing', 'x', other.root), 'ENOENT');
    for (const bad of ['', '.', '..', 'x/y']) expectErrno(() => ns.mountAt('/', bad, other.root), 'EINVAL');
    expectErrno(() => ns.mountAt('/', 'n'.repeat(256), other.root), 'ENAMETOOLONG');
    ns.mountAt('/a', 'inner', other.root);
    expect(ns.resolve(ns.root, '/a/inner/zero', true, 'open').type).toBe('character-device');
    expect(ns.resolve(ns.root, '/a/inner/..', true, 'open')).toBe(dirAt(ns, '/a'));
    expectErrno(() => ns.mountAt('/a', 'inner', new DevFs({ dev: 4n }).root), 'EEXIST');
  });

  it('lists /dev after the root\'s own entries with cookies that survive changes to the root', () => {
    const { ns } = world();
    build(ns, ['a/', 'b=1']);
    mountDev(ns, 7n);
    const all = listing(ns, '/');
    expect(all.map((e) => e.name)).toEqual(['.', '..', 'a', 'b', 'dev']);
    const dev = all.find((e) => e.name === 'dev')!;
    expect(dev).toMatchObject({ type: 'directory', ino: 1n });
    // Resume after each entry, adding a file in between: nothing is repeated.
    const afterB = all.find((e) => e.name === 'b')!.next;
    build(ns, ['c=2']);
    expect(listing(ns, '/', afterB).map((e) => e.name)).toEqual(['c', 'dev']);
    expect(listing(ns, '/', dev.next)).toEqual([]);
    // A listing stopped just before `dev` resumes with it.
    const firstThree: string[] = [];
    ns.readdir(ns.root, 0, (e) => (firstThree.length < 5 ? (firstThree.push(e.name), true) : false));
    expect(firstThree).toEqual(['.', '..', 'a', 'b', 'c']);
  });
});
