import { ChangesetApplier, Namespace, Overlay, Tmpfs, firstEntryCookie, type ChangesetTree, type DirNode, type LayerEntry, type LayerSource, type Node, type OverlayOptions, type TreeNodeType } from '../../src/vfs/index.js';
import { indexBlobs, tempStore } from '../support/layer-trees.js';
import { t, tar, type TarItem } from '../support/tar-dsl.js';

/**
 * Lowers and overlays for the overlay tests. A lower is described by a
 * small DSL, in order: `'d/'` a directory, `'f=text'` a file, `'l -> target'`
 * a symlink, `'h => target'` a hard link; a trailing `{"mode":…,"mtime":…}`
 * sets mode and mtime (seconds). The same spec builds a LayerView (through
 * a real tar, indexed as a pulled layer is) or a plain Tmpfs.
 */
export type LowerKind = 'layer-view' | 'tmpfs';
export const lowerKinds: readonly LowerKind[] = ['layer-view', 'tmpfs'];

/** The lower most tests start from. */
export const standardLower = [
  'etc/ {"mode":493,"mtime":1000}',
  'etc/passwd=root:x:0:0 {"mode":384,"mtime":1100}',
  'etc/motd=hello {"mode":420,"mtime":1200}',
  'bin/ {"mtime":1300}',
  'bin/sh=#!shell {"mode":493,"mtime":1400}',
  'bin/bash => bin/sh',
  'usr/',
  'usr/lib/ {"mode":448,"mtime":1500}',
  'usr/lib/a=A',
  'usr/lib/b=BB',
  'usr/lib/deep/',
  'usr/lib/deep/c=CCC',
  'usr/share/',
  'link -> etc/motd {"mtime":1600}',
  'empty/ {"mtime":1700}',
];

interface Spec {
  readonly path: string;
  readonly kind: 'dir' | 'file' | 'symlink' | 'link';
  readonly text: string;
  readonly mode: number | undefined;
  readonly mtime: number;
}

function parse(raw: string): Spec {
  const brace = raw.indexOf(' {');
  const spec = brace >= 0 ? raw.slice(0, brace) : raw;
  const meta = brace >= 0 ? (JSON.parse(raw.slice(brace + 1)) as { mode?: number; mtime?: number }) : {};
  const mtime = meta.mtime ?? 900;
  if (spec.includes(' -> ')) return { path: spec.split(' -> ')[0]!, kind: 'symlink', text: spec.split(' -> ')[1]!, mode: undefined, mtime };
  if (spec.includes(' => ')) return { path: spec.split(' => ')[0]!, kind: 'link', text: spec.split(' => ')[1]!, mode: undefined, mtime };
  if (spec.endsWith('/')) return { path: spec.slice(0, -1), kind: 'dir', text: '', mode: meta.mode, mtime };
  const eq = spec.indexOf('=');
  return { path: eq < 0 ? spec : spec.slice(0, eq), kind: 'file', text: eq < 0 ? '' : spec.slice(eq + 1), mode: meta.mode, mtime };
}

/** A lower, and (for a layer view) the layers it was built from. */
export interface Lower {
  readonly root: DirNode;
  readonly layers: readonly LayerSource[];
}

/**
 * The lower `spec` of `kind`, built once per test file: a lower is never
 * written (the tests check it), so overlays share it as sandboxes do.
 */
export function makeLower(kind: LowerKind, spec: readonly string[] = standardLower): Promise<Lower> {
  const key = `${kind}\n${spec.join('\n')}`;
  let lower = lowers.get(key);
  if (lower === undefined) lowers.set(key, (lower = buildLower(kind, spec)));
  return lower;
}

const lowers = new Map<string, Promise<Lower>>();

async function buildLower(kind: LowerKind, spec: readonly string[]): Promise<Lower> {
  const specs = spec.map(parse);
  if (kind === 'layer-view') {
    const items: TarItem[] = specs.map((s) => {
      const o = { mtime: s.mtime, ...(s.mode !== undefined && { mode: s.mode }) };
      if (s.kind === 'dir') return t.dir(s.path, o);
      if (s.kind === 'symlink') return t.symlink(s.text, s.path, o);
      if (s.kind === 'link') return t.link(s.text, s.path, o);
      return t.file(s.path, s.text, o);
    });
    const layers = await indexBlobs(await tempStore(), [await tar(...items)]);
    const { LayerView } = await import('../../src/vfs/index.js');
    return { root: new LayerView(layers, { dev: 9n }).root, layers };
  }
  const fs = new Tmpfs({ dev: 8n });
  const ns = new Namespace(fs.root);
  const times: Array<[Node, number]> = [];
  for (const s of specs) {
    const slash = s.path.lastIndexOf('/');
    const parent = slash < 0 ? fs.root : (ns.resolve(fs.root, s.path.slice(0, slash), false, 'open') as DirNode);
    const name = s.path.slice(slash + 1);
    if (s.kind === 'dir') times.push([parent.mkdir(name, s.mode ?? 0o755), s.mtime]);
    else if (s.kind === 'symlink') times.push([parent.symlink(name, s.text), s.mtime]);
    else if (s.kind === 'link') parent.link(name, ns.resolve(fs.root, s.text, false, 'link'));
    else {
      const f = parent.createFile(name, s.mode ?? 0o644);
      const bytes = new TextEncoder().encode(s.text);
      f.write(bytes, 0, bytes.length, 0);
      times.push([f, s.mtime]);
    }
  }
  // Times last: creating entries moves their directory's mtime.
  for (const [node, mtime] of times.reverse()) node.setTimes(BigInt(mtime) * 1_000_000_000n, BigInt(mtime) * 1_000_000_000n);
  return { root: fs.root, layers: [] };
}

/** An overlay over a fresh lower, with a namespace rooted at it. */
export interface OverlayWorld {
  readonly lower: Lower;
  readonly overlay: Overlay;
  readonly ns: Namespace;
  readonly root: DirNode;
  /** The default in-memory upper. */
  readonly upper: Tmpfs;
}

export async function overlayWorld(kind: LowerKind, spec: readonly string[] = standardLower, options: Partial<OverlayOptions> = {}): Promise<OverlayWorld> {
  const lower = await makeLower(kind, spec);
  const overlay = new Overlay({ lower: lower.root, dev: 5n, ...options });
  const ns = new Namespace(overlay.root);
  return { lower, overlay, ns, root: overlay.root, upper: overlay.upperRoot.fs as Tmpfs };
}

/** Every node reachable from `root` with its full stat, target or content: a lower's exact state. */
export function fullDump(root: DirNode): string[] {
  const out: string[] = [];
  const walk = (dir: DirNode, path: string) => {
    dir.readdir(firstEntryCookie, (e) => {
      const node = dir.lookup(e.name)!;
      const p = `${path}/${e.name}`;
      const st = node.stat();
      let extra = '';
      if (node.type === 'symlink') extra = node.target;
      else if (node.type === 'file') {
        const buf = new Uint8Array(node.size);
        node.read(buf, 0, buf.length, 0);
        extra = Buffer.from(buf).toString('latin1');
      }
      out.push(`${p} ${e.next} ${JSON.stringify(st, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))} ${extra}`);
      if (node.type === 'directory') walk(node, p);
      return true;
    });
  };
  out.push(JSON.stringify(root.stat(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  walk(root, '');
  return out;
}

/** The raw upper as `path kind` lines (whiteouts and markers included), sorted. */
export function upperLines(root: DirNode): string[] {
  const out: string[] = [];
  const walk = (dir: DirNode, path: string) => {
    dir.readdir(firstEntryCookie, (e) => {
      const node = dir.lookup(e.name)!;
      const p = `${path}/${e.name}`;
      out.push(node.type === 'directory' ? `${p}/` : node.type === 'symlink' ? `${p} -> ${node.target}` : `${p}=${read(node)}`);
      if (node.type === 'directory') walk(node, p);
      return true;
    });
  };
  walk(root, '');
  return out.sort();
}

function read(node: Node): string {
  if (node.type !== 'file') return '';
  const buf = new Uint8Array(node.size);
  node.read(buf, 0, buf.length, 0);
  return new TextDecoder().decode(buf);
}

/**
 * The usage a fresh tmpfs holding exactly the tree at `root` (names, links,
 * contents) reports: what the upper's counters must equal if nothing leaked
 * and nothing was refunded twice.
 */
export function freshUsage(root: DirNode): { bytes: number; inodes: number } {
  return cloneIntoTmpfs(root).usage;
}

/**
 * The upper as an OCI layer: a real tar (dirs, files, symlinks, hard links
 * by inode, whiteouts and opaque markers as the empty files they are),
 * metadata taken from the overlay's nodes, indexed as a pulled layer is.
 */
export async function upperAsLayer(overlay: Overlay): Promise<LayerSource> {
  const items: TarItem[] = [];
  const firstName = new Map<bigint, string>();
  const walk = (upper: DirNode, merged: DirNode | undefined, path: string) => {
    upper.readdir(firstEntryCookie, (e) => {
      const node = upper.lookup(e.name)!;
      const p = path === '' ? e.name : `${path}/${e.name}`;
      const shown = merged?.lookup(e.name);
      const st = (shown ?? node).stat();
      const o = { mode: st.mode, uid: st.uid, gid: st.gid, mtime: Number(st.mtimeNs / 1_000_000_000n) };
      if (node.type === 'directory') {
        items.push(t.dir(p, o));
        walk(node, shown?.type === 'directory' ? shown : undefined, p);
      } else if (node.type === 'symlink') {
        items.push(t.symlink(node.target, p, o));
      } else if (node.type === 'file') {
        const first = firstName.get(node.ino);
        if (first !== undefined) items.push(t.link(first, p, o));
        else {
          firstName.set(node.ino, p);
          const buf = new Uint8Array(node.size);
          node.read(buf, 0, buf.length, 0);
          items.push(t.file(p, buf, o));
        }
      }
      return true;
    });
  };
  walk(overlay.upperRoot, overlay.root, '');
  const [layer] = await indexBlobs(await tempStore(), [await tar(...items)]);
  return layer!;
}

/** A lower copied into a fresh tmpfs, for applying a changeset to it. */
export function cloneIntoTmpfs(root: DirNode): Tmpfs {
  const fs = new Tmpfs({ dev: 7n });
  const byIno = new Map<bigint, Node>();
  const times: Array<[Node, bigint, bigint]> = [];
  const walk = (from: DirNode, to: DirNode) => {
    from.readdir(firstEntryCookie, (e) => {
      const node = from.lookup(e.name)!;
      const st = node.stat();
      const twin = byIno.get(node.ino);
      if (twin !== undefined) to.link(e.name, twin);
      else if (node.type === 'directory') {
        const d = to.mkdir(e.name, st.mode);
        walk(node, d);
        times.push([d, st.atimeNs, st.mtimeNs]);
      } else if (node.type === 'symlink') times.push([to.symlink(e.name, node.target), st.atimeNs, st.mtimeNs]);
      else if (node.type === 'file') {
        const f = to.createFile(e.name, st.mode);
        const buf = new Uint8Array(node.size);
        node.read(buf, 0, buf.length, 0);
        f.write(buf, 0, buf.length, 0);
        byIno.set(node.ino, f);
        times.push([f, st.atimeNs, st.mtimeNs]);
      }
      return true;
    });
  };
  walk(root, fs.root);
  for (const [node, a, m] of times) node.setTimes(a, m);
  return fs;
}

/** ChangesetApplier's tree over a tmpfs (no chmod in the VFS: a directory's mode stays as made). */
export function tmpfsChangesetTree(fs: Tmpfs, dirTimes: Array<[DirNode, bigint]> = []): ChangesetTree<Node> {
  const removeTree = (dir: DirNode, name: string, node: Node) => {
    if (node.type === 'directory') {
      const names: string[] = [];
      node.readdir(firstEntryCookie, (e) => (names.push(e.name), true));
      for (const n of names) removeTree(node, n, node.lookup(n)!);
      dir.rmdir(name);
    } else dir.unlink(name);
  };
  const seconds = (e: LayerEntry) => e.mtimeNs;
  return {
    root: fs.root,
    lookup: (dir, name) => (dir as DirNode).lookup(name),
    type: (node): TreeNodeType => (node.type === 'directory' || node.type === 'file' || node.type === 'symlink' ? node.type : 'other'),
    readlink: (node) => (node.type === 'symlink' ? node.target : ''),
    remove: (dir, name, node) => removeTree(dir as DirNode, name, node),
    clear: (dir) => {
      const d = dir as DirNode;
      const names: string[] = [];
      d.readdir(firstEntryCookie, (e) => (names.push(e.name), true));
      for (const n of names) removeTree(d, n, d.lookup(n)!);
    },
    implicitDir: (dir, name) => (dir as DirNode).mkdir(name, 0o755),
    mkdir: (dir, name, e) => {
      const d = (dir as DirNode).mkdir(name, e.mode);
      dirTimes.push([d, seconds(e)]);
      return d;
    },
    updateDir: (dir, e) => {
      const d = dir as DirNode;
      const parent = d.parent;
      if ((d.stat().mode & 0o7777) === (e.mode & 0o7777) || parent === undefined) return void dirTimes.push([d, seconds(e)]);
      // No chmod in the VFS: a directory whose mode changes is replaced by a twin holding its entries.
      let name = '';
      parent.readdir(firstEntryCookie, (entry) => (parent.lookup(entry.name) === d ? ((name = entry.name), false) : true));
      const twin = parent.mkdir(`${name}.twin`, e.mode);
      const names: string[] = [];
      d.readdir(firstEntryCookie, (entry) => (names.push(entry.name), true));
      for (const n of names) d.rename(n, twin, n);
      parent.rmdir(name);
      parent.rename(`${name}.twin`, parent, name);
      dirTimes.push([twin, seconds(e)]);
    },
    createFile: (dir, name, e, source) => {
      const f = (dir as DirNode).createFile(name, e.mode);
      const buf = new Uint8Array(e.size);
      source.read(buf, 0, e.size, e.offset);
      f.write(buf, 0, buf.length, 0);
      f.setTimes(seconds(e), seconds(e));
    },
    symlink: (dir, name, e) => (dir as DirNode).symlink(name, e.linkTarget).setTimes(seconds(e), seconds(e)),
    link: (dir, name, target) => (dir as DirNode).link(name, target),
  };
}

/** Apply `layer` over a tmpfs copy of `lower` with the ChangesetApplier. */
export function applyOver(lower: DirNode, layer: LayerSource): Tmpfs {
  const fs = cloneIntoTmpfs(lower);
  const dirTimes: Array<[DirNode, bigint]> = [];
  new ChangesetApplier(tmpfsChangesetTree(fs, dirTimes)).apply(layer);
  // Directory times last, as tar extractors do: adding entries moves them.
  for (const [dir, time] of dirTimes.reverse()) dir.setTimes(time, time);
  return fs;
}

/** A seeded pseudo-random source: `random(n)` is in [0, n). */
export function seeded(seed: number): (n: number) => number {
  let state = seed;
  return (n) => ((state = (state * 1103515245 + 12345) % 2 ** 31), state % n);
}

/**
 * One random operation that is a single call on an overlay node (so a
 * failure must leave everything as it was), on the overlay's current
 * paths or new names. Returns its description and the call.
 */
export function randomOperation(w: OverlayWorld, random: (n: number) => number): [string, () => unknown] {
  const paths: string[] = [];
  const dirs: string[] = [''];
  const walk = (dir: DirNode, prefix: string) =>
    dir.readdir(firstEntryCookie, (e) => {
      const node = dir.lookup(e.name)!;
      paths.push(prefix + e.name);
      if (node.type === 'directory') (dirs.push(prefix + e.name), walk(node, `${prefix + e.name}/`));
      return true;
    });
  walk(w.root, '');
  const pick = <T>(xs: readonly T[]): T => xs[random(xs.length)]!;
  const at = (p: string) => w.ns.resolve(w.root, p, false, 'open');
  const parent = (p: string): [DirNode, string] => {
    const slash = p.lastIndexOf('/');
    return [(slash < 0 ? w.root : at(p.slice(0, slash))) as DirNode, p.slice(slash + 1)];
  };
  const fresh = () => `${pick(dirs)}/${pick(['n1', 'n2', 'motd', 'a', 'lib'])}`.replace(/^\//, '');
  const some = () => (paths.length === 0 ? fresh() : pick(paths));
  const data = new TextEncoder().encode('0123456789'.repeat(random(4)));
  const ops: Array<() => [string, () => unknown]> = [
    () => { const p = fresh(); return [`create ${p}`, () => { const [d, n] = parent(p); d.createFile(n, 0o640); }]; },
    () => { const p = some(); return [`write ${p}`, () => { const f = at(p); if (f.type === 'file') f.write(data, 0, data.length, random(8)); }]; },
    () => { const p = some(); const size = random(30); return [`truncate ${p} ${size}`, () => { const f = at(p); if (f.type === 'file') f.truncate(size); }]; },
    () => { const p = some(); return [`unlink ${p}`, () => w.ns.unlink(w.root, p)]; },
    () => { const p = some(); return [`rmdir ${p}`, () => w.ns.rmdir(w.root, p)]; },
    () => { const p = fresh(); return [`mkdir ${p}`, () => w.ns.mkdir(w.root, p)]; },
    () => { const a = some(); const b = random(2) === 0 ? some() : fresh(); return [`rename ${a} ${b}`, () => w.ns.rename(w.root, a, w.root, b)]; },
    () => { const a = some(); const b = fresh(); return [`link ${a} ${b}`, () => w.ns.link(w.root, a, false, w.root, b)]; },
    () => { const p = fresh(); return [`symlink ${p}`, () => w.ns.symlink('../target', w.root, p)]; },
    () => { const p = some(); const t = BigInt(1 + random(1000)) * 1_000_000_000n; return [`setTimes ${p}`, () => w.ns.setTimes(w.root, p, false, t, t)]; },
    () => ['materialize', () => w.overlay.materialize()],
  ];
  return pick(ops)();
}
