import { existsSync, lstatSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostDir, Namespace, Overlay, type DirNode, type FileNode } from '../../src/vfs/index.js';
import { fingerprint, hostTree, project, tempDir, viewTree } from '../support/layer-trees.js';
import { lowerKinds, makeLower } from './overlay-world.js';
import { outcome, readFile, writeFile } from './tree.js';

/** Host trees differ in owner (the test's user) and a reopened upper in inode numbers: compare the rest. */
const comparable = (root: DirNode) => project(viewTree(root), ['uid', 'gid']);

describe.each(lowerKinds)('an overlay over a %s with a host-directory upper', (kind) => {
  it('writes an OCI changeset on the host that a later process reopens as it was', async () => {
    const lower = await makeLower(kind);
    const dir = tempDir('strata-upper-');
    const host = new HostDir({ path: dir, readonly: false, dev: 11n });
    const overlay = new Overlay({ lower: lower.root, upper: host.root, dev: 5n });
    const ns = new Namespace(overlay.root);
    writeFile(ns, 'etc/motd', 'changed');
    ns.unlink(ns.root, 'etc/passwd');
    for (const p of ['usr/lib/a', 'usr/lib/b', 'usr/lib/deep/c']) ns.unlink(ns.root, p);
    ns.rmdir(ns.root, 'usr/lib/deep');
    ns.rmdir(ns.root, 'usr/lib');
    ns.mkdir(ns.root, 'usr/lib');
    writeFile(ns, 'bin/bash', 'new shell');
    ns.setTimes(ns.root, 'link', false, 10n ** 18n, 10n ** 18n);
    overlay.materialize();

    expect(readFileSync(join(dir, 'etc/motd'), 'utf8')).toBe('changed');
    expect(lstatSync(join(dir, 'etc/.wh.passwd'))).toMatchObject({ size: 0 });
    expect(lstatSync(join(dir, 'etc/.wh.passwd')).isFile()).toBe(true);
    expect(existsSync(join(dir, 'usr/lib/.wh..wh..opq'))).toBe(true);
    expect(lstatSync(join(dir, 'bin/sh')).ino).toBe(lstatSync(join(dir, 'bin/bash')).ino);
    expect(Object.keys(hostTree(dir)).sort()).toEqual([
      'bin', 'bin/bash', 'bin/sh', 'etc', 'etc/.wh.passwd', 'etc/motd', 'link', 'usr', 'usr/lib', 'usr/lib/.wh..wh..opq',
    ]);

    const later = new Overlay({ lower: lower.root, upper: new HostDir({ path: dir, readonly: false, dev: 12n }).root, dev: 6n });
    expect(comparable(later.root)).toEqual(comparable(overlay.root));
    const ns2 = new Namespace(later.root);
    expect(readFile(ns2, 'bin/sh')).toBe('new shell');
    expect(outcome(() => readFile(ns2, 'usr/lib/a'))).toBe('ENOENT');
    host.close();
  });
});

describe('an overlay over a read-only host directory', () => {
  it('takes every change and leaves the host directory untouched', async () => {
    const dir = tempDir('strata-lower-');
    const seed = new Namespace(new HostDir({ path: dir, readonly: false, dev: 13n }).root);
    seed.mkdir(seed.root, 'src');
    writeFile(seed, 'src/main.c', 'int main(void) { return 0; }');
    writeFile(seed, 'README', 'readme');
    const before = fingerprint(dir);
    const lower = new HostDir({ path: dir, readonly: true, dev: 14n });
    const overlay = new Overlay({ lower: lower.root, dev: 5n, confined: true });
    const ns = new Namespace(overlay.root);
    writeFile(ns, 'src/main.c', 'int main(void) { return 1; }');
    ns.unlink(ns.root, 'README');
    ns.rename(ns.root, 'src', ns.root, 'lib');
    writeFile(ns, 'NEW', 'new');
    (ns.resolve(ns.root, 'lib/main.c', false, 'open') as FileNode).truncate(3);
    expect(overlay.confined).toBe(true);
    expect(overlay.changes().map((c) => `${c.kind} ${c.path}`)).toEqual(['added /NEW', 'deleted /README', 'added /lib', 'added /lib/main.c', 'deleted /src']);
    expect(readFile(ns, 'lib/main.c')).toBe('int');
    expect(fingerprint(dir)).toBe(before);
    lower.close();
  });

  it('reports the lower stat from when a path was copied up or deleted, even if the host changed it since', async () => {
    const dir = tempDir('strata-lower-');
    writeFileSync(join(dir, 'kept'), 'original');
    writeFileSync(join(dir, 'gone'), 'original');
    utimesSync(join(dir, 'kept'), 1000, 1000);
    utimesSync(join(dir, 'gone'), 2000, 2000);
    const lower = new HostDir({ path: dir, readonly: true, dev: 14n });
    const overlay = new Overlay({ lower: lower.root, dev: 5n, confined: true });
    const ns = new Namespace(overlay.root);
    writeFile(ns, 'kept', 'guest');
    ns.unlink(ns.root, 'gone');
    writeFileSync(join(dir, 'kept'), 'host changed it');
    writeFileSync(join(dir, 'gone'), 'host changed it too');
    const byPath = new Map(overlay.changes().map((c) => [c.path, c]));
    expect(byPath.get('/kept')!.lower).toMatchObject({ size: 8, mtimeNs: 1000n * 1_000_000_000n });
    expect(byPath.get('/gone')).toMatchObject({ kind: 'deleted' });
    expect(byPath.get('/gone')!.lower).toMatchObject({ size: 8, mtimeNs: 2000n * 1_000_000_000n });
    expect(readFile(ns, 'kept')).toBe('guest');
    lower.close();
  });
});
