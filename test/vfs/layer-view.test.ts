import { describe, expect, it } from 'vitest';
import { FsError, LayerView, Namespace, type DirNode, type FileNode, type LayerEntry, type LayerEntryKind, type LayerSource, type Node } from '../../src/vfs/index.js';

/**
 * An in-memory layer from a tiny DSL, in tar order:
 * `'d/'` dir, `'f=text'` file, `'l -> target'` symlink, `'h => target'`
 * hardlink, `'-w path'` whiteout, `'-o dir'` opaque marker. A trailing
 * `{mode,uid,gid,mtime}` JSON sets metadata.
 */
function layer(...specs: string[]): LayerSource & { reads: number } {
  const entries: LayerEntry[] = [];
  const chunks: number[] = [];
  for (const raw of specs) {
    const brace = raw.indexOf(' {');
    const spec = brace >= 0 ? raw.slice(0, brace) : raw;
    const meta = brace >= 0 ? (JSON.parse(raw.slice(brace + 1)) as { mode?: number; uid?: number; gid?: number; mtime?: number }) : {};
    const base = { mode: meta.mode ?? 0o644, uid: meta.uid ?? 0, gid: meta.gid ?? 0, mtimeNs: BigInt(meta.mtime ?? 100) * 1_000_000_000n, size: 0, offset: 0, linkTarget: '' };
    const add = (path: string, kind: LayerEntryKind, extra: Partial<LayerEntry> = {}) => entries.push({ ...base, path, kind, ...extra });
    if (spec.startsWith('-w ')) add(spec.slice(3), 'whiteout');
    else if (spec.startsWith('-o ')) add(spec.slice(3), 'opaque');
    else if (spec.includes(' -> ')) add(spec.split(' -> ')[0]!, 'symlink', { linkTarget: spec.split(' -> ')[1]! });
    else if (spec.includes(' => ')) add(spec.split(' => ')[0]!, 'hardlink', { linkTarget: spec.split(' => ')[1]! });
    else if (spec.endsWith('/')) add(spec.slice(0, -1), 'directory', { mode: meta.mode ?? 0o755 });
    else {
      const [path, text = ''] = spec.split('=');
      const bytes = new TextEncoder().encode(text);
      add(path!, 'file', { size: bytes.length, offset: chunks.length + 7 });
      chunks.push(...bytes);
    }
  }
  // Bytes start at 7 so an offset mix-up shows.
  const data = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, ...chunks]);
  const source = {
    reads: 0,
    entryCount: entries.length,
    entry: (i: number) => entries[i]!,
    read(dst: Uint8Array, dstOffset: number, length: number, position: number) {
      source.reads++;
      const n = Math.max(0, Math.min(length, data.length - position));
      dst.set(data.subarray(position, position + n), dstOffset);
      return n;
    },
  };
  return source;
}

function view(...layers: LayerSource[]): { v: LayerView; ns: Namespace } {
  const v = new LayerView(layers, { dev: 9n });
  return { v, ns: new Namespace(v.root) };
}

const at = (ns: Namespace, path: string, follow = false): Node => ns.resolve(ns.root, path, follow, 'stat');

function read(ns: Namespace, path: string): string {
  const f = Namespace.asFile(at(ns, path, true), 'open');
  const buf = new Uint8Array(f.size);
  f.read(buf, 0, buf.length, 0);
  return new TextDecoder().decode(buf);
}

/** The merged tree as `path kind [detail]` lines, sorted. */
function tree(ns: Namespace, dir: DirNode = ns.root, prefix = ''): string[] {
  const out: string[] = [];
  dir.readdir(2, (e) => {
    const node = dir.lookup(e.name)!;
    const path = prefix + e.name;
    if (node.type === 'directory') out.push(`${path}/`, ...tree(ns, node, `${path}/`));
    else if (node.type === 'symlink') out.push(`${path} -> ${node.target}`);
    else out.push(`${path}=${read(ns, path)}`);
    return true;
  });
  return out.sort();
}

function errno(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof FsError) return `${error.errno}${error.syscall === 'link' && error.errno !== 'EROFS' ? ' (link)' : ''}`;
    throw error;
  }
  return 'ok';
}

describe('LayerView', () => {
  it('presents one layer: files, dirs, symlinks, with tar metadata', () => {
    const { v, ns } = view(layer('etc/ {"mode":448,"uid":3,"gid":4,"mtime":5}', 'etc/hosts=127.0.0.1 {"mode":2541,"mtime":7}', 'etc/link -> hosts', 'bin/sh=#!'));
    expect(v.readonly).toBe(true);
    expect(tree(ns)).toEqual(['bin/', 'bin/sh=#!', 'etc/', 'etc/hosts=127.0.0.1', 'etc/link -> hosts']);
    expect(at(ns, 'etc').stat()).toMatchObject({ mode: 0o700, uid: 3, gid: 4, mtimeNs: 5_000_000_000n, nlink: 2, dev: 9n });
    expect(at(ns, 'etc/hosts').stat()).toMatchObject({ mode: 0o4755, size: 9, atimeNs: 7_000_000_000n, mtimeNs: 7_000_000_000n, ctimeNs: 7_000_000_000n, nlink: 1 });
    expect(at(ns, 'etc/link').stat()).toMatchObject({ type: 'symlink', size: 5, mode: 0o777 });
    expect(read(ns, 'etc/link')).toBe('127.0.0.1');
    // Implicit parent: never named by an entry.
    expect(at(ns, 'bin').stat()).toMatchObject({ mode: 0o755, uid: 0, mtimeNs: 0n });
    expect(at(ns, '/').stat()).toMatchObject({ ino: 1n, nlink: 4 });
  });

  it('reads lazily at the entry offset, and only inside the entry', () => {
    const l = layer('a=hello', 'b=world');
    const { ns } = view(l);
    expect(l.reads).toBe(0);
    const b = at(ns, 'b') as FileNode;
    const buf = new Uint8Array(10);
    expect(b.read(buf, 2, 3, 1)).toBe(3);
    expect(new TextDecoder().decode(buf.subarray(2, 5))).toBe('orl');
    expect(b.read(buf, 0, 10, 3)).toBe(2);
    expect(b.read(buf, 0, 10, 5)).toBe(0);
    expect(l.reads).toBe(2);
  });

  it('fails every mutation with EROFS', () => {
    const { ns } = view(layer('d/', 'd/f=x', 'l -> d'));
    const d = at(ns, 'd') as DirNode;
    const f = at(ns, 'd/f') as FileNode;
    const results = [
      errno(() => d.mkdir('n', 0o755)),
      errno(() => d.createFile('n', 0o644)),
      errno(() => d.symlink('n', 'x')),
      errno(() => d.link('n', f)),
      errno(() => d.unlink('f')),
      errno(() => d.rmdir('f')),
      errno(() => d.rename('f', d, 'g')),
      errno(() => f.write(new Uint8Array(1), 0, 1, 0)),
      errno(() => f.truncate(0)),
      errno(() => f.setTimes('now', 'now')),
      errno(() => ns.mkdir(ns.root, 'new')),
      errno(() => ns.open(ns.root, 'new', { follow: true, create: true })),
      errno(() => ns.unlink(ns.root, 'd/f')),
    ];
    expect(results).toEqual(Array(results.length).fill('EROFS'));
    f.retain();
    f.release();
  });

  it('whiteouts remove lower files and whole directories, never same-layer entries', () => {
    const lower = layer('a=1', 'd/', 'd/x=2', 'd/sub/', 'd/sub/y=3', 'keep=4');
    const upper = layer('a=new', '-w a', '-w d', '-w missing', '-w nodir/x');
    const { ns } = view(lower, upper);
    expect(tree(ns)).toEqual(['a=new', 'keep=4']);
  });

  it('opaque markers hide lower children and keep the layer’s own, whatever the order', () => {
    const lower = layer('d/', 'd/old=1', 'd/sub/', 'd/sub/deep=2', 'e/', 'e/kept=3');
    const upper = layer('d/new=4', '-o d', 'd/ {"mode":448}');
    const { ns } = view(lower, upper);
    expect(tree(ns)).toEqual(['d/', 'd/new=4', 'e/', 'e/kept=3']);
    expect(at(ns, 'd').stat().mode).toBe(0o700);
  });

  it('replaces a directory by a file and a file by a directory', () => {
    const { ns } = view(layer('x/', 'x/in=1', 'y=file', 'z/', 'z/a=1'), layer('x=now a file', 'y/', 'y/in=2', 'z/', 'z/b=2'));
    expect(tree(ns)).toEqual(['x=now a file', 'y/', 'y/in=2', 'z/', 'z/a=1', 'z/b=2']);
  });

  it('keeps the last of duplicate entries, as tar extraction does', () => {
    const { ns } = view(layer('f=one', 'f=two', 'd/', 'd/x=1', 'd=file now', 'l -> a', 'l -> b'));
    expect(tree(ns)).toEqual(['d=file now', 'f=two', 'l -> b']);
  });

  it('makes hardlinks one node, counting names, across layers', () => {
    const { ns } = view(layer('a=data', 'b => a', 'd/', 'd/c => a'), layer('e => b', '-w d'));
    const a = at(ns, 'a');
    expect(at(ns, 'b')).toBe(a);
    expect(at(ns, 'e')).toBe(a);
    expect(a.stat().nlink).toBe(3);
    expect(read(ns, 'e')).toBe('data');
  });

  it('resolves parents through symlinks, clamped to the root', () => {
    const { ns } = view(layer('etc/', 'up -> ../../../etc', 'abs -> /etc', 'up/a=1', 'abs/b=2', 'dangling -> /nowhere/deep', 'dangling/c=3'));
    expect(tree(ns)).toEqual(['abs -> /etc', 'dangling -> /nowhere/deep', 'etc/', 'etc/a=1', 'etc/b=2', 'nowhere/', 'nowhere/deep/', 'nowhere/deep/c=3', 'up -> ../../../etc']);
  });

  it('never writes through a symlink in the last component', () => {
    const { ns } = view(layer('etc/', 'etc/passwd=root', 'p -> etc/passwd'), layer('p=replaced'));
    expect(tree(ns)).toEqual(['etc/', 'etc/passwd=root', 'p=replaced']);
  });

  it('assigns the same inode numbers to the same layers', () => {
    const make = () => view(layer('a/', 'a/b=1', 'c -> a'), layer('a/d=2', '-w c'));
    const one = make().ns;
    const two = make().ns;
    for (const p of ['a', 'a/b', 'a/d']) expect(at(one, p).ino).toBe(at(two, p).ino);
    expect(new Set(['a', 'a/b', 'a/d', '/'].map((p) => at(one, p).ino)).size).toBe(4);
  });

  it('is shared by many namespaces without copying', () => {
    const { v } = view(layer('a/', 'a/b=1'));
    const n1 = new Namespace(v.root);
    const n2 = new Namespace(v.root);
    expect(n1.resolve(n1.root, 'a/b', true, 'open')).toBe(n2.resolve(n2.root, '/a/../a/b', true, 'open'));
    expect(v.inodes).toBe(3);
  });

  it('lists directories with cookies that resume', () => {
    const { ns } = view(layer('d/', 'd/a=1', 'd/b=2', 'd/c=3'));
    const d = at(ns, 'd') as DirNode;
    const names: string[] = [];
    let cookie = 2;
    for (;;) {
      let got = false;
      d.readdir(cookie, (e) => {
        names.push(e.name);
        cookie = e.next;
        got = true;
        return false;
      });
      if (!got) break;
    }
    expect(names).toEqual(['a', 'b', 'c']);
  });

  const errors: Array<[string, LayerSource[], string]> = [
    ['a parent is a file', [layer('f=x', 'f/g=y')], 'ENOTDIR'],
    ['a symlink loop in a parent', [layer('a -> b', 'b -> a', 'a/x=1')], 'ELOOP'],
    ['a hardlink to nothing', [layer('h => missing')], 'ENOENT (link)'],
    ['a hardlink to a directory', [layer('d/', 'h => d')], 'EPERM (link)'],
    ['a hardlink to the path it replaces', [layer('h=x', 'h => h')], 'ENOENT (link)'],
  ];
  for (const [name, layers, code] of errors) {
    it(`fails with ${code}: ${name}`, () => {
      expect(errno(() => new LayerView(layers, { dev: 1n }))).toBe(code);
    });
  }
});
