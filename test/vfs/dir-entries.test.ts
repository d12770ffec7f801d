import { describe, expect, it } from 'vitest';
import { DirEntries } from '../../src/vfs/dir-entries.js';
import { firstEntryCookie, type DirEntry, type DirNode, type Namespace } from '../../src/vfs/index.js';
import { build, dirAt, world } from './tree.js';
import { seededRandom as mulberry32 } from '../support/seeded-random.js';

/** Up to `max` entries of `dir` from `cookie` through the namespace, and the cookie to resume at. */
function page(ns: Namespace, dir: DirNode, cookie: number, max: number): { names: string[]; next: number } {
  const names: string[] = [];
  let next = cookie;
  ns.readdir(dir, cookie, (e) => {
    if (names.length === max) return false;
    names.push(e.name);
    next = e.next;
    return true;
  });
  return { names, next };
}

/** A directory `d` holding files e0 … e{n-1}, created in order. */
function dirOf(n: number) {
  const w = world();
  build(w.ns, ['d/', ...Array.from({ length: n }, (_, i) => `d/e${i}`)]);
  return { ...w, d: dirAt(w.ns, 'd') };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `e${from + i}`);

describe('readdir cookies through the namespace', () => {
  it('0 is ., 1 is .., then the entries from cookie 2', () => {
    const { ns, root, d } = dirOf(2);
    const all: DirEntry[] = [];
    ns.readdir(d, 0, (e) => (all.push(e), true));
    expect(all.slice(0, 2)).toEqual([
      { name: '.', ino: d.ino, type: 'directory', next: 1 },
      { name: '..', ino: root.ino, type: 'directory', next: firstEntryCookie },
    ]);
    expect(all.slice(2).map((e) => e.name)).toEqual(['e0', 'e1']);
    expect(page(ns, d, 1, 10).names).toEqual(['..', 'e0', 'e1']);
    expect(page(ns, d, firstEntryCookie, 10).names).toEqual(['e0', 'e1']);
    // Each entry's cookie resumes just after it.
    expect(page(ns, d, all[2]!.next, 10).names).toEqual(['e1']);
    expect(page(ns, d, all[3]!.next, 10).names).toEqual([]);
  });

  it('.. of the root is the root', () => {
    const { ns, root } = world();
    expect(page(ns, root, 0, 2).names).toEqual(['.', '..']);
    const dots: DirEntry[] = [];
    ns.readdir(root, 0, (e) => (dots.push(e), true));
    expect(dots.map((e) => e.ino)).toEqual([root.ino, root.ino]);
  });

  it('stops without consuming the refused entry', () => {
    const { ns, d } = dirOf(3);
    const first = page(ns, d, 0, 3);
    expect(first.names).toEqual(['.', '..', 'e0']);
    expect(page(ns, d, first.next, 10).names).toEqual(['e1', 'e2']);
  });

  it('resume after inserts and deletes: no deleted entry, no duplicate, every survivor once', () => {
    const { ns, root, d } = dirOf(10);
    const first = page(ns, d, firstEntryCookie, 4);
    expect(first.names).toEqual(range(0, 4));
    ns.unlink(root, 'd/e1'); // already listed
    ns.unlink(root, 'd/e3'); // the entry the cookie points after
    ns.unlink(root, 'd/e5'); // not yet listed
    build(ns, ['d/n0', 'd/n1/']);
    ns.unlink(root, 'd/n0'); // inserted and deleted between pages
    const rest = page(ns, d, first.next, 100);
    expect(rest.names).toEqual(['e4', ...range(6, 10), 'n1']);
    const seen = [...first.names, ...rest.names];
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('a name re-created after its cookie was handed out is listed again, as a new entry', () => {
    const { ns, root, d } = dirOf(3);
    const first = page(ns, d, firstEntryCookie, 2);
    ns.unlink(root, 'd/e0');
    build(ns, ['d/e0']);
    expect(page(ns, d, first.next, 10).names).toEqual(['e2', 'e0']);
  });

  it('resumes correctly after compaction, from a cookie whose entry was compacted away', () => {
    const { ns, root, d } = dirOf(100);
    const first = page(ns, d, firstEntryCookie, 10);
    // 51 deletions leave 51 holes and 49 live entries: more than 32 holes and
    // more holes than entries, so the directory compacts. e9, whose cookie we
    // hold, is among them.
    for (let i = 0; i <= 50; i++) ns.unlink(root, `d/e${i}`);
    // Then more holes, and new entries.
    for (const i of [60, 70, 99]) ns.unlink(root, `d/e${i}`);
    build(ns, ['d/late']);
    const rest = page(ns, d, first.next, 1000);
    const want = range(51, 100).filter((n) => !['e60', 'e70', 'e99'].includes(n));
    expect(rest.names).toEqual([...want, 'late']);
    // A cookie from before the compaction still resumes after the same point.
    const e55 = page(ns, d, firstEntryCookie, 5); // e51 … e55
    expect(e55.names).toEqual(range(51, 56));
    for (let i = 56; i < 100; i++) if (i !== 60 && i !== 70 && i !== 99) ns.unlink(root, `d/e${i}`);
    expect(page(ns, d, e55.next, 10).names).toEqual(['late']);
  });
});

describe('DirEntries', () => {
  it('keeps insertion order; replacing a name moves it to the end', () => {
    const e = new DirEntries<number>();
    e.set('a', 1);
    e.set('b', 2);
    e.set('a', 3);
    expect([e.size, e.get('a'), e.has('b'), e.has('c')]).toEqual([2, 3, true, false]);
    const seen: [string, number, number][] = [];
    e.forEachFrom(0, (name, value, next) => (seen.push([name, value, next]), true));
    expect(seen).toEqual([
      ['b', 2, firstEntryCookie + 2],
      ['a', 3, firstEntryCookie + 3],
    ]);
    expect([...e.values()].sort()).toEqual([2, 3]);
    expect(e.delete('zz')).toBe(false);
  });

  // A seeded model check: pages of a listing interleaved with random inserts
  // and deletes, enough deletes to compact many times. Every entry yielded
  // must be live, none twice, and every entry live throughout the listing
  // must be yielded.
  it.each([1, 2, 3, 4, 5])('survives random mutation between pages (seed %i)', (seed) => {
    const random = mulberry32(seed);
    const e = new DirEntries<number>();
    const live = new Map<string, number>();
    let serial = 0;
    const insert = () => {
      const name = `n${serial}`;
      e.set(name, serial);
      live.set(name, serial++);
    };
    for (let i = 0; i < 200; i++) insert();
    for (let listing = 0; listing < 20; listing++) {
      const atStart = new Set(live.values());
      const deleted = new Set<number>();
      const yielded: number[] = [];
      let cookie = listing % 2 === 0 ? 0 : firstEntryCookie;
      for (;;) {
        const size = 1 + Math.floor(random() * 20);
        let got = 0;
        e.forEachFrom(cookie, (name, value, next) => {
          if (got === size) return false;
          expect(live.get(name)).toBe(value);
          yielded.push(value);
          cookie = next;
          got++;
          return true;
        });
        if (got === 0) break;
        for (let k = Math.floor(random() * 30); k > 0; k--) {
          if (random() < 0.6 && live.size > 0) {
            const names = [...live.keys()];
            const name = names[Math.floor(random() * names.length)]!;
            deleted.add(live.get(name)!);
            live.delete(name);
            expect(e.delete(name)).toBe(true);
          } else {
            insert();
          }
        }
      }
      expect(new Set(yielded).size).toBe(yielded.length);
      for (const value of atStart) if (!deleted.has(value)) expect(yielded).toContain(value);
      expect(e.size).toBe(live.size);
    }
  });
});

