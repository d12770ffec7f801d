/**
 * Images keep working under WASI's path rules: a C guest (guests/src/
 * image-links.c) reads through the absolute and climbing symlinks of a
 * Debian-like tree, built as an image layer is (a tar, indexed, viewed
 * read-only), and nothing it asks or any link holds reaches outside its
 * root (docs/decisions.md, "Guest paths follow WASI's rules; links in the
 * tree resolve as in a container").
 */
import { describe, expect, it } from 'vitest';
import { viewLayers } from '../../src/oci/index.js';
import { Namespace, Tmpfs, type DirNode } from '../../src/vfs/index.js';
import { WasiHost } from '../../src/wasi/index.js';
import { guestBytes } from '../support/guests.js';
import { indexBlobs, tempStore } from '../support/layer-trees.js';
import { t, tar } from '../support/tar-dsl.js';

/** The tree image-links.c expects, as one layer in tar order. */
async function debianLikeLayer(): Promise<Uint8Array> {
  return tar(
    t.dir('usr/'),
    t.dir('usr/bin/'),
    t.file('usr/bin/vim.basic', 'vim'),
    t.symlink('/etc/alternatives/editor', 'usr/bin/editor'),
    t.dir('usr/lib/'),
    t.file('usr/lib/os-release', 'ID=debian'),
    t.symlink('../../lib/libz.so.1', 'usr/lib/libz.so.1'),
    t.dir('usr/local/'),
    t.symlink('/usr/lib', 'usr/local/lib'),
    t.dir('usr/share/'),
    t.symlink('../../../../../etc/os-release', 'usr/share/climb'),
    t.symlink('usr/bin', 'bin'),
    t.dir('etc/'),
    t.dir('etc/alternatives/'),
    t.symlink('/usr/bin/vim.basic', 'etc/alternatives/editor'),
    t.symlink('../usr/lib/os-release', 'etc/os-release'),
    t.file('etc/passwd', 'root:x:0:0'),
    t.dir('lib/'),
    t.dir('lib/x86_64-linux-gnu/'),
    t.file('lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'ld.so'),
    t.file('lib/libz.so.1', 'zlib'),
    t.dir('lib64/'),
    t.symlink('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'lib64/ld-linux-x86-64.so.2'),
    t.symlink('/../../../etc/passwd', 'escape'),
    t.symlink('/../../secret', 'gone'),
    t.symlink('/loop2', 'loop1'),
    t.symlink('/loop1', 'loop2'),
  );
}

/** What the guest must print, whatever the root is made of. */
const expected = [
  'alternatives-chain: "vim"',
  'usrmerge-then-absolute: "vim"',
  'loader: "ld.so"',
  'loader-lstat: link',
  'loader-stat: file',
  'loader-same-inode: yes',
  'os-release: "ID=debian"',
  'usr-lib-climbs-to-lib: "zlib"',
  'climb-past-the-root: "ID=debian"',
  'list-absolute-dir-link: libz.so.1 os-release',
  'through-absolute-dir-link: "ID=debian"',
  'list-usrmerge: editor vim.basic',
  'dotdot-after-dir-link: "vim"',
  'relative-from-linked-cwd: "vim"',
  'absolute-link-with-dotdots: "root:x:0:0"',
  'link-to-outside-name: ENOENT',
  'loop: ELOOP',
  'path-dotdot-above-preopen: EPERM',
  'raw-absolute-path: EPERM',
  'raw-dotdot-above-fd: EPERM',
  'raw-dotdot-inside-fd: ok',
  'raw-link-then-dotdot: ok',
  'raw-symlink-absolute-target: EPERM',
  '',
];

/** Run image-links with `root` preopened as `/`; its exit code and stdout lines. */
function runGuest(namespace: Namespace): { exitCode: number; lines: string[] } {
  let out = '';
  const decoder = new TextDecoder();
  const host = new WasiHost({
    namespace,
    args: ['image-links'],
    env: [],
    preopens: [{ path: '/', dir: namespace.root }],
    stdout: { write: (src, offset, length) => void (out += decoder.decode(src.subarray(offset, offset + length), { stream: true })) },
  });
  const exitCode = host.start(new WebAssembly.Instance(new WebAssembly.Module(guestBytes('image-links')), host.imports));
  return { exitCode, lines: out.split('\n') };
}

/** Copy a tree (directories, files, symlinks) into `to`, as a seeded tmpfs root would hold it. */
function copyTree(from: DirNode, to: DirNode): void {
  from.readdir(2, (entry) => {
    const node = from.lookup(entry.name);
    if (node?.type === 'directory') copyTree(node, to.mkdir(entry.name, 0o755));
    else if (node?.type === 'symlink') to.symlink(entry.name, node.target);
    else if (node?.type === 'file') {
      const bytes = new Uint8Array(node.size);
      node.read(bytes, 0, bytes.length, 0);
      to.createFile(entry.name, 0o644).write(bytes, 0, bytes.length, 0);
    }
    return true;
  });
}

describe('a C guest reads through an image’s links', () => {
  it('over the read-only layer view as its root', async () => {
    const layers = await indexBlobs(await tempStore(), [await debianLikeLayer()]);
    const view = viewLayers(layers, { dev: 1n });
    const { exitCode, lines } = runGuest(new Namespace(view.root));
    expect(lines).toEqual(expected);
    expect(exitCode).toBe(0);
  });

  it('over a copy inside a larger tree, never reaching what lies outside its root', async () => {
    const layers = await indexBlobs(await tempStore(), [await debianLikeLayer()]);
    const view = viewLayers(layers, { dev: 1n });
    // The outer tree plays the host: its /etc/passwd and /secret must stay unseen.
    const outer = new Tmpfs({ dev: 2n });
    const etc = outer.root.mkdir('etc', 0o755);
    const write = (dir: DirNode, name: string, text: string) => {
      const bytes = new TextEncoder().encode(text);
      dir.createFile(name, 0o644).write(bytes, 0, bytes.length, 0);
    };
    write(etc, 'passwd', 'HOST');
    write(outer.root, 'secret', 'HOST');
    const jail = outer.root.mkdir('jail', 0o755);
    copyTree(view.root, jail);
    const { exitCode, lines } = runGuest(new Namespace(jail));
    expect(lines).toEqual(expected);
    expect(lines.join('\n')).not.toContain('HOST');
    expect(exitCode).toBe(0);
  });
});
