/**
 * Issue 8, item 7: an interrupted call left a quota wrong. A guest recursed
 * until almost no JS stack was left, then shrank a file: the byte quota
 * was refunded, then the stack overflowed before the data was cut.
 * Repeated, usage.bytes went to -113 GB and a later guest wrote 3 GiB into
 * a 64 MiB sandbox. Every tmpfs mutation now does what can fail first and
 * changes state last, so a throw at any point leaves the counters equal
 * to a recount of the tree. Two ways in: a throw injected at each step
 * (the test-only fault hook), and a real stack overflow at every depth
 * near the limit.
 */
import { describe, expect, it } from 'vitest';
import { Namespace, type FileNode, type Node } from '../../src/vfs/index.js';
import { DirEntries } from '../../src/vfs/dir-entries.js';
import { FileData } from '../../src/vfs/file-data.js';
import { nearTheStackLimit } from '../support/stack-limit.js';
import { Tmpfs } from '../../src/vfs/tmpfs.js';
import { directHost } from './direct-host.js';
import { expectExactUsage } from './recount.js';

interface World {
  readonly fs: Tmpfs;
  readonly ns: Namespace;
  /** Nodes kept alive by open descriptions. */
  readonly held: Node[];
  /** Files resolved beforehand, so an operation near the stack limit is only the operation. */
  readonly a: FileNode;
  readonly b: FileNode;
  readonly o: FileNode;
}

function world(): World {
  const fs = new Tmpfs({ dev: 1n });
  const ns = new Namespace(fs.root);
  const file = (path: string, size: number) => {
    const node = ns.open(ns.root, path, { follow: false, create: true }).node;
    if (node.type !== 'file') throw new Error('not a file');
    node.write(new Uint8Array(size).fill(7), 0, size, 0);
    return node;
  };
  const a = file('a', 100);
  ns.mkdir(ns.root, 'd');
  const b = file('d/b', 3000);
  ns.mkdir(ns.root, 'e');
  ns.link(ns.root, 'a', false, ns.root, 'h');
  ns.symlink('a', ns.root, 's');
  const o = file('o', 50);
  o.retain();
  return { fs, ns, held: [o], a, b, o };
}

const ops: [string, (w: World) => void][] = [
  ['create a file', (w) => w.ns.open(w.ns.root, 'new', { follow: false, create: true })],
  ['mkdir', (w) => w.ns.mkdir(w.ns.root, 'newdir')],
  ['symlink', (w) => w.ns.symlink('some/target', w.ns.root, 'sl')],
  ['link', (w) => w.ns.link(w.ns.root, 'a', false, w.ns.root, 'a2')],
  ['unlink one of two names', (w) => w.ns.unlink(w.ns.root, 'h')],
  ['unlink the last name', (w) => w.ns.unlink(w.ns.root, 'd/b')],
  ['unlink an open file', (w) => w.ns.unlink(w.ns.root, 'o')],
  ['unlink a symlink', (w) => w.ns.unlink(w.ns.root, 's')],
  ['rmdir', (w) => w.ns.rmdir(w.ns.root, 'e')],
  ['rename a file', (w) => w.ns.rename(w.ns.root, 'a', w.ns.root, 'a-renamed-to-a-longer-name')],
  ['rename a file across directories', (w) => w.ns.rename(w.ns.root, 'd/b', w.ns.root, 'b')],
  ['rename over a file', (w) => w.ns.rename(w.ns.root, 'd/b', w.ns.root, 'o')],
  ['rename over a file with another name', (w) => w.ns.rename(w.ns.root, 'd/b', w.ns.root, 'a')],
  ['rename a directory over an empty one', (w) => w.ns.rename(w.ns.root, 'd', w.ns.root, 'e')],
  ['write past the end', (w) => void w.a.write(data5000, 0, 5000, 100)],
  ['write with a hole past 1 MiB', (w) => void w.a.write(data5000, 0, 10, 3 << 20)],
  ['write inside', (w) => void w.b.write(data5000, 0, 10, 5)],
  ['truncate smaller', (w) => w.b.truncate(10)],
  ['truncate larger', (w) => w.a.truncate(2 << 20)],
  ['release an unlinked open file', (w) => {
    w.o.release();
    w.held.length = 0;
  }],
];

class Injected extends Error {}

/** Worlds for 'release an unlinked open file' start with `o` unlinked. */
function worldFor(name: string): World {
  const w = world();
  if (name.startsWith('release')) w.ns.unlink(w.ns.root, 'o');
  return w;
}

describe('a throw injected at each step of a mutation', () => {
  it.each(ops)('%s: the counters equal a recount after a throw at any step', (name, op) => {
    const steps: string[] = [];
    const probe = worldFor(name);
    probe.fs.faultHook = (step) => void steps.push(step);
    op(probe);
    expectExactUsage(probe.fs, probe.held, 'after the whole call');
    // Only release, which changes nothing before its single final step, has no step to interrupt.
    if (!name.startsWith('release')) expect(steps.length).toBeGreaterThan(0);
    for (let k = 0; k < steps.length; k++) {
      const w = worldFor(name);
      let seen = 0;
      w.fs.faultHook = (step) => {
        if (seen++ === k) throw new Injected(step);
      };
      expect(() => op(w)).toThrow(Injected);
      w.fs.faultHook = undefined;
      expectExactUsage(w.fs, w.held, `after a throw at ${steps[k]}`);
    }
  });
});

/**
 * Make the `k`-th call to a method of the VFS's building blocks (file
 * data, directory entries, the filesystem's own methods) throw, as an
 * interruption landing at that call would; -1 throws none. Returns the
 * number of calls made and a function that restores the methods.
 */
function throwAtCall(k: number): { calls: () => number; restore: () => void } {
  let n = 0;
  const restore: (() => void)[] = [];
  for (const proto of [FileData.prototype, DirEntries.prototype, Tmpfs.prototype] as unknown as Record<string, unknown>[]) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
      if (name === 'constructor' || typeof descriptor.value !== 'function') continue;
      const original = descriptor.value as (...args: unknown[]) => unknown;
      proto[name] = function (this: unknown, ...args: unknown[]) {
        if (n++ === k) throw new Injected(name);
        return original.apply(this, args);
      };
      restore.push(() => void (proto[name] = original));
    }
  }
  return { calls: () => n, restore: () => restore.forEach((r) => r()) };
}

describe('a throw at each call the mutation makes into file data, entries and the filesystem', () => {
  it.each(ops)('%s: the counters equal a recount after a throw at any call', (name, op) => {
    if (name.startsWith('release')) return; // release calls nothing it could be interrupted in (see the step test)
    const probe = worldFor(name);
    const counting = throwAtCall(-1);
    try {
      op(probe);
    } finally {
      counting.restore();
    }
    expect(counting.calls()).toBeGreaterThan(0);
    for (let k = 0; k < counting.calls(); k++) {
      const w = worldFor(name);
      const injected = throwAtCall(k);
      try {
        expect(() => op(w)).toThrow(Injected);
      } finally {
        injected.restore();
      }
      expectExactUsage(w.fs, w.held, `after a throw at call ${k}`);
    }
  });
});

const data5000 = new Uint8Array(5000).fill(1);

describe('a real stack overflow at every depth near the limit', () => {
  it.each(ops)('%s: the counters stay exact whatever depth the call starts at', (name, op) => {
    op(worldFor(name)); // Compile every path first: lazy compilation needs stack too.
    // The first few hundred levels run out of stack before the call starts.
    const worlds = Array.from({ length: 700 }, () => worldFor(name));
    const thrown = nearTheStackLimit(worlds.length, (i) => op(worlds[i]!));
    expect(thrown).toBeGreaterThan(0);
    expect(thrown).toBeLessThan(worlds.length);
    worlds.forEach((w, i) => expectExactUsage(w.fs, w.held, `at level ${i}`));
  });

  it("the issue's repro: fd_filestat_set_size shrinking a file, at every depth, keeps usage.bytes exact", () => {
    const hosts = Array.from({ length: 600 }, () => {
      const h = directHost({ limits: { maxBytes: 4 << 20 } });
      const file = Namespace.asFile(h.ns.open(h.ns.root, 'f', { follow: false, create: true }).node, 'test');
      file.truncate(1 << 20);
      expect(h.w['path_open']!(3, 0, ...h.put(16, 'f'), 0, 0x7ffffffn, 0n, 0, 0)).toBe(0);
      return { h, file, fd: h.dv().getUint32(0, true), shrink: h.w['fd_filestat_set_size']! };
    });
    const thrown = nearTheStackLimit(hosts.length, (i) => void hosts[i]!.shrink(hosts[i]!.fd, 0n));
    expect(thrown).toBeGreaterThan(0);
    for (const [i, { h, file }] of hosts.entries()) {
      expect(h.fs.usage.bytes, `at level ${i}`).toBe(file.size);
      expectExactUsage(h.fs, [file], `at level ${i}`);
    }
  });
});
