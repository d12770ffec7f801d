// The image the image-root cases (bench/p1-images.js) run over: an OCI
// image layout written here, with no host tool, of two gzip layers:
//   1. `files` small files (100 B each) in nested directories,
//      usr/share/dA/dB/file-N.txt, 100 files per leaf directory;
//   2. bin/hello.wasm (guests/bin/hello.wasm).
// The same tree is also available as a list of entries (for the in-memory
// peers' copies) and as a host directory (for node:wasi's copies).

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

/** Bytes of every small file. */
export const FILE_BYTES = 100;

/**
 * @typedef {{ path: string, type: 'dir' } | { path: string, type: 'file', bytes: Uint8Array }} TreeEntry
 */

/**
 * The image's tree, parents before children, paths relative to the root.
 * @param {number} files  a multiple of 100
 * @param {Uint8Array} hello  the bytes of hello.wasm
 * @returns {TreeEntry[]}
 */
export function treeEntries(files, hello) {
  /** @type {TreeEntry[]} */
  const out = [{ path: 'usr', type: 'dir' }, { path: 'usr/share', type: 'dir' }];
  const leaves = Math.ceil(files / 100);
  const body = Buffer.alloc(FILE_BYTES, 'x');
  for (let leaf = 0; leaf < leaves; leaf++) {
    const a = `usr/share/d${String(Math.floor(leaf / 10)).padStart(3, '0')}`;
    if (leaf % 10 === 0) out.push({ path: a, type: 'dir' });
    const b = `${a}/d${leaf % 10}`;
    out.push({ path: b, type: 'dir' });
    for (let i = 0; i < 100 && leaf * 100 + i < files; i++) {
      const n = leaf * 100 + i;
      const bytes = Buffer.from(body);
      bytes.write(`file ${n}\n`);
      out.push({ path: `${b}/file-${String(i).padStart(2, '0')}.txt`, type: 'file', bytes });
    }
  }
  out.push({ path: 'bin', type: 'dir' }, { path: 'bin/hello.wasm', type: 'file', bytes: hello });
  return out;
}

/** @param {TreeEntry[]} entries @returns {Promise<Buffer>} */
async function tarOf(entries) {
  const p = pack();
  /** @type {Buffer[]} */
  const chunks = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c);
  })();
  const mtime = new Date(1_700_000_000_000);
  for (const e of entries) {
    await new Promise((resolve, reject) => {
      const cb = (/** @type {unknown} */ err) => (err ? reject(err) : resolve(undefined));
      if (e.type === 'dir') p.entry({ name: `${e.path}/`, type: 'directory', mode: 0o755, mtime }, cb);
      else p.entry({ name: e.path, type: 'file', mode: e.path.endsWith('.wasm') ? 0o755 : 0o644, mtime, size: e.bytes.length }, Buffer.from(e.bytes), cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha256 = (/** @type {Uint8Array} */ b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Write an OCI image layout at `dir` holding the tree, tagged `img`, with
 * the small files in one layer and bin/hello.wasm in a second one.
 * Returns the reference to open it by.
 * @param {string} dir @param {TreeEntry[]} entries
 */
export async function writeLayout(dir, entries) {
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const blob = (/** @type {Uint8Array} */ bytes, /** @type {string} */ mediaType) => {
    const digest = sha256(bytes);
    fs.writeFileSync(path.join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length };
  };
  const split = entries.findIndex((e) => e.path === 'bin');
  const tars = [await tarOf(entries.slice(0, split)), await tarOf(entries.slice(split))];
  const layers = tars.map((t) => blob(gzipSync(t, { level: 1 }), 'application/vnd.oci.image.layer.v1.tar+gzip'));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        created: '2024-01-02T03:04:05Z',
        architecture: 'wasm',
        os: 'wasip1',
        config: { Entrypoint: ['/bin/hello.wasm'] },
        rootfs: { type: 'layers', diff_ids: tars.map(sha256) },
      }),
    ),
    'application/vnd.oci.image.config.v1+json',
  );
  const manifest = blob(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers })),
    'application/vnd.oci.image.manifest.v1+json',
  );
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'img' } }] }),
  );
  return { reference: `oci:${dir}:img`, bytes: layers.reduce((n, l) => n + l.size, 0) };
}

/**
 * Write the tree as a host directory at `dir` (node:wasi's template).
 * @param {string} dir @param {TreeEntry[]} entries
 */
export function writeTree(dir, entries) {
  fs.mkdirSync(dir, { recursive: true });
  for (const e of entries) {
    const p = path.join(dir, e.path);
    if (e.type === 'dir') fs.mkdirSync(p);
    else fs.writeFileSync(p, e.bytes, { mode: e.path.endsWith('.wasm') ? 0o755 : 0o644 });
  }
}

/**
 * Read a host directory back as tree entries (parents before children).
 * @param {string} dir
 * @returns {TreeEntry[]}
 */
export function readTree(dir) {
  /** @type {TreeEntry[]} */
  const out = [];
  const walk = (/** @type {string} */ rel) => {
    for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        out.push({ path: p, type: 'dir' });
        walk(p);
      } else out.push({ path: p, type: 'file', bytes: fs.readFileSync(path.join(dir, p)) });
    }
  };
  walk('');
  return out;
}

/**
 * A fresh copy of the tree as each peer's root, in the shape its adapter
 * in bench/peers.js runs over:
 *   node:wasi          `cp -a TEMPLATE DIR` (a host copy; `hostTemplate` is the tree on disk)
 *   browser_wasi_shim  a PreopenDirectory of new Directory and File objects (File copies its bytes)
 *   @wasmer/wasi       a new MemFS: createDir, then open + write per file
 *   wasm-util+memfs    a new memfs Volume: mkdirSync, writeFileSync per entry
 * Each is the fastest way the host's own API offers that we found (memfs's
 * Volume.fromJSON is ~4× slower than writing the entries one by one).
 * @param {string} peerId
 * @param {{ entries: TreeEntry[], hostTemplate?: string, hostTmpBase: string }} src
 * @param {any} libs  from {@link loadPeerLibs}
 */
export function copyTree(peerId, src, libs) {
  switch (peerId) {
    case 'node:wasi': {
      if (src.hostTemplate === undefined) throw new Error('node:wasi copies need the tree on disk');
      const base = fs.mkdtempSync(path.join(src.hostTmpBase, 'strata-bench-'));
      const dir = path.join(base, 'root');
      const r = spawnSync('cp', ['-a', src.hostTemplate, dir]);
      if (r.status !== 0) throw new Error(`cp -a failed: ${r.stderr}`);
      return { base, dir };
    }
    case 'browser_wasi_shim': {
      const { Directory, File, PreopenDirectory } = libs.shim;
      /** @type {Map<string, Map<string, any>>} */
      const dirs = new Map([['', new Map()]]);
      for (const e of src.entries) {
        const i = e.path.lastIndexOf('/');
        const parent = /** @type {Map<string, any>} */ (dirs.get(i < 0 ? '' : e.path.slice(0, i)));
        if (e.type === 'dir') {
          const m = new Map();
          dirs.set(e.path, m);
          parent.set(e.path.slice(i + 1), m);
        } else parent.set(e.path.slice(i + 1), new File(e.bytes));
      }
      // A Directory adopts its subdirectories when it is made: build bottom-up.
      const build = (/** @type {Map<string, any>} */ m) => {
        const out = new Map();
        for (const [k, v] of m) out.set(k, v instanceof Map ? new Directory(build(v)) : v);
        return out;
      };
      return new PreopenDirectory('/', build(/** @type {Map<string, any>} */ (dirs.get(''))));
    }
    case '@wasmer/wasi': {
      const fsys = new libs.wasmer.MemFS();
      for (const e of src.entries) {
        if (e.type === 'dir') fsys.createDir(`/${e.path}`);
        else {
          const f = fsys.open(`/${e.path}`, { read: true, write: true, create: true });
          f.write(e.bytes);
          f.free();
        }
      }
      return { fs: fsys };
    }
    case 'wasm-util+memfs': {
      const vfs = libs.memfs.createFsFromVolume(new libs.memfs.Volume());
      for (const e of src.entries) {
        if (e.type === 'dir') vfs.mkdirSync(`/${e.path}`);
        else vfs.writeFileSync(`/${e.path}`, e.bytes);
      }
      return vfs;
    }
    default:
      throw new Error(`no tree copy for ${peerId}`);
  }
}

/** The peers' libraries, for {@link copyTree} and {@link idleOver}. */
export async function loadPeerLibs() {
  const require = createRequire(import.meta.url);
  const wasmer = require('@wasmer/wasi');
  await wasmer.init();
  return { shim: await import('@bjorn3/browser_wasi_shim'), wasmer, memfs: await import('memfs'), wasmUtil: await import('@tybys/wasm-util') };
}

/**
 * An idle process host of an in-memory peer over a root from
 * {@link copyTree}, set up as bench/peers.js's createIdle does.
 * @param {string} peerId @param {any} root @param {any} libs
 */
export function idleOver(peerId, root, libs) {
  switch (peerId) {
    case 'browser_wasi_shim': {
      const { OpenFile, File, ConsoleStdout, WASI } = libs.shim;
      const fds = [new OpenFile(new File(new Uint8Array(0))), new ConsoleStdout(() => {}), new ConsoleStdout(() => {}), root];
      return new WASI(['idle'], [], fds, { debug: false });
    }
    case '@wasmer/wasi':
      return new libs.wasmer.WASI({ args: ['idle'], env: {}, preopens: { '/': '/' }, fs: root.fs });
    case 'wasm-util+memfs':
      return new libs.wasmUtil.WASI({ version: 'preview1', args: ['idle'], env: {}, preopens: { '/': '/' }, fs: root, returnOnExit: true });
    default:
      throw new Error(`no idle host for ${peerId}`);
  }
}
