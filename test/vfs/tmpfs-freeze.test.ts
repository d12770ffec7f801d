import { describe, expect, it } from 'vitest';
import { Namespace, Tmpfs, type FileNode } from '../../src/vfs/index.js';
import { build, outcome, readFile } from './tree.js';

describe('Tmpfs.freeze', () => {
  it('refuses every mutation with EROFS, through nodes handed out before, and keeps every read', () => {
    const fs = new Tmpfs({ dev: 1n });
    const ns = new Namespace(fs.root);
    build(ns, ['d/', 'd/f=hello', 'd/l -> f', 'e/']);
    const file = ns.resolve(fs.root, 'd/f', false, 'open') as FileNode;
    file.retain();
    const before = { usage: fs.usage, metadata: fs.metadataBytes };
    expect(fs.readonly).toBe(false);
    fs.freeze();
    expect(fs.readonly).toBe(true);
    const d = ns.resolve(fs.root, 'd', false, 'open');
    if (d.type !== 'directory') throw new Error('d');
    const cases: Array<[string, () => unknown]> = [
      ['mkdir', () => d.mkdir('x', 0o755)],
      ['createFile', () => d.createFile('x', 0o644)],
      ['symlink', () => d.symlink('x', 'f')],
      ['link', () => d.link('x', file)],
      ['unlink', () => d.unlink('f')],
      ['rmdir', () => fs.root.rmdir('e')],
      ['rename', () => d.rename('f', fs.root, 'g')],
      ['setTimes', () => file.setTimes(0n, 0n)],
      ['dir setTimes', () => d.setTimes('now', 'now')],
      ['write', () => file.write(new Uint8Array(1), 0, 1, 0)],
      ['truncate', () => file.truncate(0)],
    ];
    for (const [name, op] of cases) expect([name, outcome(op)]).toEqual([name, 'EROFS']);
    file.release();
    expect(readFile(ns, 'd/l')).toBe('hello');
    expect({ usage: fs.usage, metadata: fs.metadataBytes }).toEqual(before);
  });
});
