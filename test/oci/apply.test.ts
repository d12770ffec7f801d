import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../support/error-code.js';
import { applyLayers, viewLayers } from '../../src/oci/apply.js';
import { hostTree, indexBlobs, project, tempDir, tempStore, viewTree } from '../support/layer-trees.js';
import { t, tar } from '../support/tar-dsl.js';

async function layers(...tars: Array<Promise<Uint8Array>>) {
  return indexBlobs(await tempStore(), await Promise.all(tars));
}


const isRoot = process.getuid?.() === 0;

describe('applyLayers', () => {
  it('writes the same tree the layer view shows, metadata included', async () => {
    const ls = await layers(
      tar(t.dir('etc', { mode: 0o755, mtime: 1000 }), t.file('etc/a', 'A', { mode: 0o600, mtime: 1001 }), t.dir('ro', { mode: 0o555, mtime: 1002 }), t.file('ro/f', 'F', { mode: 0o444 }), t.dir('gone'), t.file('gone/x', 'x'), t.dir('opq'), t.file('opq/old', 'o')),
      tar(t.whiteout('gone'), t.opaque('opq'), t.file('opq/new', 'n'), t.link('etc/a', 'hard'), t.symlink('etc/a', 'sym', { mtime: 1003 }), t.file('etc/b', 'B'), t.file('./', '', {}), t.dir('./', { mode: 0o711, mtime: 1004 })),
    );
    const dir = tempDir();
    const result = await applyLayers(ls, dir);
    expect(result.entries).toBeGreaterThan(10);
    const applied = hostTree(dir);
    expect(project(applied, ['uid', 'gid'])).toEqual(project(viewTree(viewLayers(ls, { dev: 1n }).root), ['uid', 'gid']));
    expect(Object.keys(applied)).toEqual(['etc', 'etc/a', 'etc/b', 'hard', 'opq', 'opq/new', 'ro', 'ro/f', 'sym']);
    expect(applied['ro']).toMatchObject({ mode: 0o555, mtime: 1002 });
    expect(applied['etc']!.mtime).toBe(1000);
    expect(applied['sym']).toMatchObject({ target: 'etc/a', mtime: 1003 });
    expect(applied['hard']!.links).toEqual(['etc/a']);
    expect(lstatSync(dir).mode & 0o7777).toBe(0o711);
    expect(result.warnings).toEqual(['/: a file cannot replace the root directory']);
  });

  it('applies onto existing content: replaces, whites out, and never follows a symlink there', async () => {
    const base = tempDir();
    const dir = join(base, 'root');
    const outside = join(base, 'outside');
    mkdirSync(dir);
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'keep');
    symlinkSync(outside, join(dir, 'escape'));
    symlinkSync(join(outside, 'secret'), join(dir, 'file-link'));
    writeFileSync(join(dir, 'old'), 'old');
    const ls = await layers(tar(t.file('escape/pwned', 'x'), t.file('file-link', 'replaced'), t.whiteout('old')));
    await applyLayers(ls, dir);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('keep');
    expect(readFileSync(join(dir, outside.slice(1), 'pwned'), 'utf8')).toBe('x');
    expect(lstatSync(join(dir, 'file-link')).isFile()).toBe(true);
    expect(() => lstatSync(join(dir, 'old'))).toThrow();
  });

  it.runIf(isRoot)('chowns only when asked (as root), and then keeps setuid bits', async () => {
    const ls = await layers(tar(t.dir('d', { uid: 1234, gid: 5678 }), t.file('d/su', '#!', { mode: 0o4755, uid: 1234, gid: 5678 }), t.symlink('su', 'd/l', { uid: 42, gid: 43 })));
    const plain = tempDir();
    await applyLayers(ls, plain);
    expect(lstatSync(join(plain, 'd/su'))).toMatchObject({ uid: 0, gid: 0 });
    // Root-owned without chown: setuid would mean setuid root, so it is dropped.
    expect(lstatSync(join(plain, 'd/su')).mode & 0o7777).toBe(0o755);
    const owned = tempDir();
    await applyLayers(ls, owned, { chown: true });
    expect(lstatSync(join(owned, 'd'))).toMatchObject({ uid: 1234, gid: 5678 });
    expect(lstatSync(join(owned, 'd/su'))).toMatchObject({ uid: 1234, gid: 5678 });
    expect(lstatSync(join(owned, 'd/su')).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(join(owned, 'd/l'))).toMatchObject({ uid: 42, gid: 43 });
    const kept = tempDir();
    await applyLayers(ls, kept, { dropSetuid: false });
    expect(lstatSync(join(kept, 'd/su')).mode & 0o7777).toBe(0o4755);
  });

  it('refuses a target that is not a directory (ERR_BAD_PATH)', async () => {
    const ls = await layers(tar(t.file('a')));
    expect(await codeOf(applyLayers(ls, join(tempDir(), 'missing')))).toBe('ERR_BAD_PATH');
  });

  const conflicts: Array<[string, Array<Promise<Uint8Array>>, string]> = [
    ['a parent that is a file', [tar(t.file('f', 'x'), t.file('f/g', 'y'))], 'ERR_LAYER_NOT_DIR'],
    ['a symlink loop in a parent', [tar(t.symlink('b', 'a'), t.symlink('a', 'b'), t.file('a/x'))], 'ERR_LAYER_SYMLINK_LOOP'],
    ['a hardlink to nothing', [tar(t.link('missing', 'h'))], 'ERR_LAYER_HARDLINK'],
    ['a hardlink to a directory', [tar(t.dir('d'), t.link('d', 'h'))], 'ERR_LAYER_HARDLINK'],
  ];
  for (const [name, tars, code] of conflicts) {
    it(`fails with ${code}, as the view does: ${name}`, async () => {
      const ls = await layers(...tars);
      expect(await codeOf(applyLayers(ls, tempDir()))).toBe(code);
      expect(await codeOf(() => viewLayers(ls, { dev: 1n }))).toBe(code);
    });
  }
});
