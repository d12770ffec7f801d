import { describe, expect, it } from 'vitest';
import { FsError, firstEntryCookie, type DirEntry, type DirNode } from '../../src/vfs/index.js';
import { lowerKinds, overlayWorld, type OverlayWorld } from './overlay-world.js';
import { names, writeFile } from './tree.js';

const lowerDir = ['d/', ...Array.from({ length: 12 }, (_, i) => `d/l${i}=${i}`), 'd/sub/'];
const dirAt = (w: OverlayWorld, path: string) => w.ns.resolve(w.root, path, false, 'open') as DirNode;

/** One entry after `cookie`, or undefined at the end. */
function next(dir: DirNode, cookie: number): DirEntry | undefined {
  let got: DirEntry | undefined;
  dir.readdir(cookie, (e) => ((got = e), false));
  return got;
}

describe.each(lowerKinds)('merged readdir over a %s', (kind) => {
  it('lists lower entries first in lower order, then upper-only ones; hides whiteouts', async () => {
    const w = await overlayWorld(kind, lowerDir);
    const d = dirAt(w, 'd');
    const lowerOrder = names(w.ns, d);
    writeFile(w.ns, 'd/new1', 'x');
    writeFile(w.ns, 'd/l3', 'copied');
    w.ns.unlink(w.root, 'd/l5');
    w.ns.mkdir(w.root, 'd/new2');
    w.ns.unlink(w.root, 'd/l7');
    writeFile(w.ns, 'd/l7', 'recreated');
    expect(names(w.ns, d)).toEqual([...lowerOrder.filter((n) => n !== 'l5'), 'new1', 'new2']);
    // Each entry's inode and type are the node's.
    d.readdir(firstEntryCookie, (e) => {
      const node = d.lookup(e.name)!;
      expect([e.ino, e.type]).toEqual([node.ino, node.type]);
      return true;
    });
    expect(w.ns.stat(w.root, 'd', false)).toMatchObject({ size: 14, nlink: 4 });
  });

  it('a cookie resumes right after its entry when that entry was copied up or others changed', async () => {
    const w = await overlayWorld(kind, lowerDir);
    const d = dirAt(w, 'd');
    const all = names(w.ns, d);
    const third = (() => {
      let cookie = firstEntryCookie;
      for (let i = 0; i < 3; i++) cookie = next(d, cookie)!.next;
      return cookie;
    })();
    writeFile(w.ns, `d/${all[2]!}`, 'copied');
    w.ns.unlink(w.root, `d/${all[0]!}`);
    writeFile(w.ns, 'd/zz', 'z');
    expect(next(d, third)!.name).toBe(all[3]);
  });

  it('cookies stay valid while the directory changes: no entry twice, every untouched one once', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const w = await overlayWorld(kind, lowerDir);
      const d = dirAt(w, 'd');
      writeFile(w.ns, 'd/u0', '0');
      writeFile(w.ns, 'd/u1', '1');
      let state = seed;
      const random = (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31), state % n);
      const initial = new Set(names(w.ns, d));
      const touched = new Set<string>();
      const seen = new Set<string>();
      // Names removed since they were last listed: listing one again is a new entry, not a repeat.
      const removedSince = new Set<string>();
      let cookie = firstEntryCookie;
      let made = 0;
      for (let reads = 0; ; reads++) {
        const entry = next(d, cookie);
        if (entry === undefined) break;
        expect(reads, `seed ${seed}: the listing does not end`).toBeLessThan(100);
        expect(seen.has(entry.name) && !removedSince.has(entry.name), `seed ${seed}: ${entry.name} listed twice`).toBe(false);
        seen.add(entry.name);
        removedSince.delete(entry.name);
        cookie = entry.next;
        // Change the directory between two reads.
        const victim = [...initial][random(initial.size)]!;
        const op = random(4);
        try {
          if (op === 0) w.ns.unlink(w.root, `d/${victim}`);
          else if (op === 1) writeFile(w.ns, `d/${victim}`, 'w');
          else if (op === 2) writeFile(w.ns, `d/m${made++}`, 'm');
          else w.ns.rename(w.root, `d/${victim}`, w.root, `d/r${made++}`);
          if (op === 0 || op === 3) (touched.add(victim), removedSince.add(victim));
        } catch (error) {
          if (!(error instanceof FsError)) throw error;
        }
      }
      for (const name of initial) if (!touched.has(name)) expect(seen, `seed ${seed}`).toContain(name);
    }
  });

  it('a directory in each state reports size as its entry count and nlink as 2 + subdirectories', async () => {
    const w = await overlayWorld(kind);
    const check = (path: string) => {
      const st = w.ns.stat(w.root, path, false);
      const list = names(w.ns, dirAt(w, path));
      const subdirs = list.filter((n) => w.ns.stat(w.root, `${path}/${n}`, false).type === 'directory').length;
      expect([st.size, st.nlink], path).toEqual([list.length, 2 + subdirs]);
    };
    check('usr/lib');
    writeFile(w.ns, 'usr/lib/x', 'x');
    w.ns.mkdir(w.root, 'usr/lib/y');
    w.ns.unlink(w.root, 'usr/lib/a');
    check('usr/lib');
    check('usr');
    w.ns.mkdir(w.root, 'srv');
    check('srv');
    check('/');
  });
});
