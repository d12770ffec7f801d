import { describe, expect, it } from 'vitest';
import { counterpart, Namespace, Overlay, pathInTree, Tmpfs, type DirNode, type FileNode, type Node } from '../../src/vfs/index.js';
import { makeLower } from './overlay-world.js';

const bytes = (s: string) => new TextEncoder().encode(s);

function open(ns: Namespace, path: string, create = false): Node {
  return ns.open(ns.root, path, { follow: true, create }).node;
}

/** A tree with a file at /a/b/f (written), a directory /a/d, and one more name of /a/b/f at /h. */
function populate(ns: Namespace): void {
  ns.mkdir(ns.root, '/a');
  ns.mkdir(ns.root, '/a/b');
  ns.mkdir(ns.root, '/a/d');
  const f = open(ns, '/a/b/f', true) as FileNode;
  f.write(bytes('hello'), 0, 5, 0);
}

describe('finding a node again by its names (pathInTree, counterpart)', () => {
  for (const kind of ['tmpfs', 'overlay'] as const) {
    describe(`in a ${kind} tree sealed under a fresh overlay`, () => {
      function world(): { ns: Namespace; seal: () => DirNode } {
        if (kind === 'tmpfs') {
          const fs = new Tmpfs({ dev: 2n });
          return { ns: new Namespace(fs.root), seal: () => (fs.freeze(), new Overlay({ lower: fs.root, dev: 1n }).root) };
        }
        const lower = new Tmpfs({ dev: 3n });
        lower.root.mkdir('image', 0o755).createFile('kept', 0o644);
        lower.freeze();
        const overlay = new Overlay({ lower: lower.root, dev: 1n });
        return { ns: new Namespace(overlay.root), seal: () => (overlay.seal(), new Overlay({ lower: overlay.root, dev: 1n }).root) };
      }

      it('finds files and directories at their names, after renames, and writes to the counterpart land above the seal', () => {
        const { ns, seal } = world();
        populate(ns);
        ns.rename(ns.root, '/a/b', ns.root, '/a/c'); // a directory moved
        ns.rename(ns.root, '/a/c/f', ns.root, '/a/g'); // a file moved
        const file = open(ns, '/a/g') as FileNode;
        const dir = open(ns, '/a/c');
        const from = ns.root;
        expect(pathInTree(from, file)).toEqual(['a', 'g']);
        expect(pathInTree(from, dir)).toEqual(['a', 'c']);
        expect(pathInTree(from, from)).toEqual([]);
        const to = seal();
        const above = counterpart(from, to, file) as FileNode;
        expect(above).toBeDefined();
        expect(above.ino).toBe(file.ino);
        expect(() => file.write(bytes('x'), 0, 1, 0)).toThrow(/EROFS/);
        above.write(bytes('HE'), 0, 2, 0);
        const out = new Uint8Array(5);
        above.read(out, 0, 5, 0);
        expect(new TextDecoder().decode(out)).toBe('HEllo');
        file.read(out, 0, 5, 0);
        expect(new TextDecoder().decode(out)).toBe('hello'); // the sealed state is unchanged
        expect(counterpart(from, to, dir)?.ino).toBe(dir.ino);
        expect(counterpart(from, to, from)).toBe(to);
      });

      it('gives none for an unlinked file or a removed directory; a hard link is found by the name it was last given', () => {
        const { ns, seal } = world();
        populate(ns);
        const gone = open(ns, '/a/d');
        ns.rmdir(ns.root, '/a/d');
        ns.mkdir(ns.root, '/x');
        const lone = open(ns, '/x/lone', true);
        ns.unlink(ns.root, '/x/lone');
        const file = open(ns, '/a/b/f');
        ns.link(ns.root, '/a/b/f', false, ns.root, '/h');
        const from = ns.root;
        const to = seal();
        expect(counterpart(from, to, gone)).toBeUndefined();
        expect(counterpart(from, to, lone)).toBeUndefined();
        expect(counterpart(from, to, file)?.ino).toBe(file.ino);
      });

      it('gives none for a hard link whose remembered name was removed (its other name is not searched for)', () => {
        const { ns, seal } = world();
        populate(ns);
        const file = open(ns, '/a/b/f');
        ns.link(ns.root, '/a/b/f', false, ns.root, '/h');
        const remembered = pathInTree(ns.root, file)!;
        ns.unlink(ns.root, `/${remembered.join('/')}`);
        const from = ns.root;
        expect(counterpart(from, seal(), file)).toBeUndefined();
      });
    });
  }

  it('an image file never written keeps its names through the seal', async () => {
    const lower = await makeLower('tmpfs');
    const overlay = new Overlay({ lower: lower.root, dev: 1n });
    const ns = new Namespace(overlay.root);
    const names: string[] = [];
    lower.root.readdir(0, (e) => (names.push(e.name), true));
    const first = names.find((n) => lower.root.lookup(n)?.type === 'file');
    if (first === undefined) return;
    const node = open(ns, `/${first}`);
    overlay.seal();
    const fresh = new Overlay({ lower: overlay.root, dev: 1n });
    expect(counterpart(overlay.root, fresh.root, node)?.ino).toBe(node.ino);
  });
});
