import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyChanges, formatChanges } from '../../src/sandbox/apply-back.js';
import { HostDir, Namespace, Overlay, type FileNode } from '../../src/vfs/index.js';
import { codeOf } from '../support/error-code.js';

let base: string;
let work: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'strata-apply-'));
  work = join(base, 'work');
  mkdirSync(join(work, 'src', 'lib'), { recursive: true });
  writeFileSync(join(work, 'README'), 'readme v1');
  writeFileSync(join(work, 'src', 'main.c'), 'int main() {}');
  writeFileSync(join(work, 'src', 'lib', 'util.c'), 'util');
  writeFileSync(join(work, 'obsolete'), 'old');
  mkdirSync(join(work, 'build', 'obj'), { recursive: true });
  writeFileSync(join(work, 'build', 'obj', 'a.o'), 'obj');
  symlinkSync('README', join(work, 'link'));
  utimesSync(join(work, 'README'), 1_600_000_000, 1_600_000_000);
});
afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

/** An overlay bind of `work`, as a sandbox makes one, in a namespace rooted at it. */
function overlayBind(): { overlay: Overlay; ns: Namespace } {
  const lower = new HostDir({ path: work, readonly: true, dev: 2n });
  const overlay = new Overlay({ lower: lower.root, dev: 3n, confined: true });
  return { overlay, ns: new Namespace(overlay.root) };
}

function put(ns: Namespace, path: string, text: string): FileNode {
  const f = Namespace.asFile(ns.open(ns.root, path, { follow: true, create: true }).node, 'open');
  const bytes = new TextEncoder().encode(text);
  f.truncate(0);
  f.write(bytes, 0, bytes.length, 0);
  return f;
}

/** Every path, type, mode, size, mtime and content of a host tree. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const p = join(abs, name);
      const st = lstatSync(p, { bigint: true });
      const key = `${rel}/${name}`;
      if (st.isDirectory()) {
        out[key] = `dir ${st.mode & 0o7777n} ${st.ino}`;
        walk(p, key);
      } else if (st.isSymbolicLink()) out[key] = `link ${readlinkSync(p)} ${st.ino}`;
      else out[key] = `file ${st.mode & 0o7777n} ${st.size} ${st.mtimeNs} ${st.ino} ${readFileSync(p, 'utf8')}`;
    }
  };
  walk(dir, '');
  return out;
}

/** A typical session: edit, add nested, delete a file and a tree, add a symlink. */
function edit(ns: Namespace): void {
  put(ns, '/README', 'readme v2, longer');
  ns.mkdir(ns.root, '/src/new');
  ns.mkdir(ns.root, '/src/new/deeper', 0o700);
  put(ns, '/src/new/deeper/gen.c', 'generated');
  ns.symlink('deeper/gen.c', ns.root, '/src/new/alias');
  ns.unlink(ns.root, '/obsolete');
  ns.unlink(ns.root, '/build/obj/a.o');
  ns.rmdir(ns.root, '/build/obj');
  ns.rmdir(ns.root, '/build');
}

describe('applying an overlay bind back to its host directory', () => {
  it('leaves the host untouched until applied, lists the changes docker-diff style, then applies them', () => {
    const before = tree(work);
    const { overlay, ns } = overlayBind();
    edit(ns);
    expect(tree(work)).toEqual(before);
    const changes = overlay.changes();
    expect(formatChanges(changes)).toBe(
      ['C /README', 'D /build', 'D /obsolete', 'C /src', 'A /src/new', 'A /src/new/alias', 'A /src/new/deeper', 'A /src/new/deeper/gen.c'].map((l) => `${l}\n`).join(''),
    );
    const { applied } = applyChanges(changes, work);
    expect(applied).toEqual(changes.map((c) => c.path));
    expect(readFileSync(join(work, 'README'), 'utf8')).toBe('readme v2, longer');
    expect(readFileSync(join(work, 'src', 'new', 'deeper', 'gen.c'), 'utf8')).toBe('generated');
    expect(readlinkSync(join(work, 'src', 'new', 'alias'))).toBe('deeper/gen.c');
    expect(lstatSync(join(work, 'src', 'new', 'deeper')).mode & 0o777).toBe(0o700);
    expect(existsSync(join(work, 'obsolete'))).toBe(false);
    expect(existsSync(join(work, 'build'))).toBe(false);
    expect(readFileSync(join(work, 'src', 'main.c'), 'utf8')).toBe('int main() {}');
    expect(readdirSync(work).filter((n) => n.startsWith('.strata-apply'))).toEqual([]);
  });

  it('keeps modes and mtimes of files and directories', () => {
    const { overlay, ns } = overlayBind();
    const f = put(ns, '/script.sh', '#!/bin/sh');
    ns.mkdir(ns.root, '/dated', 0o751);
    f.setTimes(1_234_567_890_000_000_000n, 1_234_567_891_000_000_000n);
    ns.setTimes(ns.root, '/dated', false, 1_100_000_000_000_000_000n, 1_100_000_000_000_000_000n);
    ns.resolve(ns.root, '/script.sh', false, 'chmod'); // exists in the overlay
    applyChanges(overlay.changes(), work);
    const st = lstatSync(join(work, 'script.sh'), { bigint: true });
    expect(st.mtimeNs).toBe(1_234_567_891_000_000_000n);
    expect(lstatSync(join(work, 'dated'), { bigint: true }).mtimeNs).toBe(1_100_000_000_000_000_000n);
    expect(lstatSync(join(work, 'dated')).mode & 0o777).toBe(0o751);
    expect(Number(st.mode & 0o777n)).toBe(f.stat().mode & 0o777);
  });

  it('replaces a file with a directory and a directory with a file', () => {
    const { overlay, ns } = overlayBind();
    ns.unlink(ns.root, '/obsolete');
    ns.mkdir(ns.root, '/obsolete');
    put(ns, '/obsolete/inside', 'now a dir');
    ns.unlink(ns.root, '/build/obj/a.o');
    ns.rmdir(ns.root, '/build/obj');
    ns.rmdir(ns.root, '/build');
    put(ns, '/build', 'now a file');
    applyChanges(overlay.changes(), work);
    expect(readFileSync(join(work, 'obsolete', 'inside'), 'utf8')).toBe('now a dir');
    expect(readFileSync(join(work, 'build'), 'utf8')).toBe('now a file');
  });

  it('keeps the names of one file one inode (hard links)', () => {
    const { overlay, ns } = overlayBind();
    put(ns, '/one', 'shared');
    ns.link(ns.root, '/one', false, ns.root, '/two');
    applyChanges(overlay.changes(), work);
    expect(lstatSync(join(work, 'one')).ino).toBe(lstatSync(join(work, 'two')).ino);
    expect(lstatSync(join(work, 'one')).nlink).toBe(2);
  });

  it('writes each file atomically: a reader holding the old file keeps the old bytes, the path gets a new inode', () => {
    const oldIno = lstatSync(join(work, 'README')).ino;
    const { overlay, ns } = overlayBind();
    put(ns, '/README', 'new contents');
    linkSync(join(work, 'README'), join(base, 'held-by-a-reader'));
    // The reader's name was made after the mount: README's own stat is unchanged (nlink is not compared).
    applyChanges(overlay.changes(), work);
    expect(lstatSync(join(work, 'README')).ino).not.toBe(oldIno);
    expect(readFileSync(join(base, 'held-by-a-reader'), 'utf8')).toBe('readme v1');
    expect(readFileSync(join(work, 'README'), 'utf8')).toBe('new contents');
  });

  it('applies only the chosen paths, with the added directories above them', async () => {
    const { overlay, ns } = overlayBind();
    edit(ns);
    const { applied } = applyChanges(overlay.changes(), work, { paths: ['/src/new/deeper/gen.c'] });
    expect(applied).toEqual(['/src/new', '/src/new/deeper', '/src/new/deeper/gen.c']);
    expect(readFileSync(join(work, 'src', 'new', 'deeper', 'gen.c'), 'utf8')).toBe('generated');
    expect(readFileSync(join(work, 'README'), 'utf8')).toBe('readme v1');
    expect(existsSync(join(work, 'obsolete'))).toBe(true);
    expect(await codeOf(() => applyChanges(overlay.changes(), work, { paths: ['/not-changed'] }))).toBe('ERR_INVALID_OPTION');
  });
});

describe('conflicts and hostile hosts: refused, naming the path, with NOTHING written', () => {
  function refused(overlay: Overlay, code: string, names: readonly string[], changes = overlay.changes()): void {
    const before = tree(work);
    let message = '';
    try {
      applyChanges(changes, work);
    } catch (error) {
      message = (error as Error).message;
      expect((error as { code?: string }).code, message).toBe(code);
    }
    expect(message).not.toBe('');
    for (const n of names) expect(message).toContain(n);
    expect(tree(work)).toEqual(before);
  }

  it('a file changed on the host since the guest saw it', () => {
    const { overlay, ns } = overlayBind();
    edit(ns);
    writeFileSync(join(work, 'README'), 'edited on the host meanwhile');
    refused(overlay, 'ERR_APPLY_CONFLICT', ['/README']);
  });

  it('a file the host touched without changing its size', () => {
    const { overlay, ns } = overlayBind();
    edit(ns);
    utimesSync(join(work, 'README'), 1_700_000_000, 1_700_000_000);
    refused(overlay, 'ERR_APPLY_CONFLICT', ['/README']);
  });

  it('a path the guest added that the host created after the review, and a deleted file the host replaced', () => {
    const { overlay, ns } = overlayBind();
    edit(ns);
    const reviewed = overlay.changes();
    mkdirSync(join(work, 'src', 'new'));
    unlinkSync(join(work, 'obsolete'));
    writeFileSync(join(work, 'obsolete'), 'old');
    refused(overlay, 'ERR_APPLY_CONFLICT', ['/src/new (it now exists on the host)', '/obsolete ('], reviewed);
  });

  it('a path the guest added that the host created since, with the changes taken afresh: still added, so a conflict', () => {
    const { overlay, ns } = overlayBind();
    edit(ns);
    mkdirSync(join(work, 'src', 'new'));
    const fresh = overlay.changes().find((c) => c.path === '/src/new');
    expect(fresh?.kind).toBe('added');
    refused(overlay, 'ERR_APPLY_CONFLICT', ['/src/new (it now exists on the host)']);
  });

  it('a deleted directory the host added to', () => {
    const { overlay, ns } = overlayBind();
    edit(ns);
    writeFileSync(join(work, 'build', 'keep-me'), 'host work');
    refused(overlay, 'ERR_APPLY_CONFLICT', ['/build']);
  });

  it('a parent swapped for a symlink that points out of the directory', () => {
    const outside = join(base, 'outside');
    mkdirSync(join(outside, 'new'), { recursive: true });
    const { overlay, ns } = overlayBind();
    put(ns, '/src/lib/util.c', 'patched');
    rmSync(join(work, 'src'), { recursive: true });
    symlinkSync(outside, join(work, 'src'));
    refused(overlay, 'ERR_APPLY_CONFLICT', ['/src']);
    // Applying the file alone: its parents are not changes to make, and one is a symlink.
    const before = tree(work);
    expect(() => applyChanges(overlay.changes(), work, { paths: ['/src/lib/util.c'] })).toThrow(/parent \/src is a symlink/);
    expect(tree(work)).toEqual(before);
    expect(readdirSync(outside)).toEqual(['new']);
  });

  it('a host directory that is gone', async () => {
    const { overlay, ns } = overlayBind();
    edit(ns);
    const changes = overlay.changes();
    expect(await codeOf(() => applyChanges(changes, join(base, 'missing')))).toBe('ERR_BAD_PATH');
    expect(await codeOf(() => applyChanges(changes, join(work, 'README')))).toBe('ERR_BAD_PATH');
  });

  it('a name that is not one host component', () => {
    const { overlay } = overlayBind();
    const changes = overlay.changes();
    const bad = [{ path: '/../escape', kind: 'added' as const, type: 'file' as const }];
    expect(changes).toEqual([]);
    const before = tree(work);
    expect(() => applyChanges(bad, work)).toThrow(/absolute, clean path/);
    expect(tree(work)).toEqual(before);
  });

  it('a write that fails part way: ERR_APPLY_FAILED naming the path and what was applied, no temp file left', () => {
    const { overlay, ns } = overlayBind();
    put(ns, '/a-first', 'fine');
    put(ns, '/b-broken', 'unreadable');
    const changes = overlay.changes().map((c) => {
      if (c.path !== '/b-broken') return c;
      const node = c.node as FileNode;
      const failing = new Proxy(node, {
        get: (target, key) => (key === 'read' ? () => { throw Object.assign(new Error('EIO: read'), { code: 'EIO' }); } : Reflect.get(target, key, target)),
      });
      return { ...c, node: failing };
    });
    let message = '';
    try {
      applyChanges(changes, work);
    } catch (error) {
      expect((error as { code?: string }).code).toBe('ERR_APPLY_FAILED');
      message = (error as Error).message;
    }
    expect(message).toContain('/b-broken');
    expect(message).toContain('1 path(s) were applied before it');
    expect(readFileSync(join(work, 'a-first'), 'utf8')).toBe('fine');
    expect(existsSync(join(work, 'b-broken'))).toBe(false);
    expect(readdirSync(work).filter((n) => n.startsWith('.strata-apply'))).toEqual([]);
  });
});
