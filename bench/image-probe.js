// Fresh-process figures of the image-root cases (bench/p1-images.js):
//   node --expose-gc bench/image-probe.js rss   PEER COUNT SPEC
//   node --expose-gc bench/image-probe.js ready PEER total|phases SPEC
// SPEC is JSON: { files, storeDir, reference, hostTemplate, hostTmpBase }.
// Prints one JSON line.
//
// rss: hold COUNT idle sandboxes over the image (strata: overlay roots over
// one opened image; an in-memory peer: its own copy of the tree each) and
// report the growth of RSS and of heap + external per sandbox, after full
// GCs. A fresh process per measurement, as in bench/rss-probe.js, because
// RSS never shrinks back.
//
// ready: in a process that has loaded strata (or a peer's library) and
// nothing else, the time to a first ready sandbox over the cached image,
// then to a second one. strata `total`: openImage from the store (cached
// layer indexes) + Sandbox.create; `phases`: the same steps one by one
// (store record and config, layer indexes, merging the view,
// Sandbox.create). A peer: a fresh copy of the tree from its host copy on
// disk (node:wasi: cp -a; in-memory: read the files, then build its fs),
// then a second copy.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { copyTree, idleOver, loadPeerLibs, readTree, treeEntries } from './image-fixture.js';
import { distDir, distEntry } from './peers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const [mode, peerId, arg, specJson] = process.argv.slice(2);
if ((mode !== 'rss' && mode !== 'ready') || !peerId || !arg || !specJson) {
  console.error('usage: node --expose-gc bench/image-probe.js rss|ready PEER COUNT|total|phases SPEC');
  process.exit(2);
}
/** @type {{ files: number, storeDir: string, reference: string, hostTemplate: string, hostTmpBase: string }} */
const spec = JSON.parse(specJson);
const now = () => performance.now();
const ns = (/** @type {number} */ ms) => ms * 1e6;
const print = (/** @type {object} */ o) => console.log(JSON.stringify(o));

const strata = peerId === 'strata' ? await import(pathToFileURL(distEntry).href) : undefined;
const libs = peerId === 'strata' ? undefined : await loadPeerLibs();

if (mode === 'rss') {
  const count = Number(arg);
  const gc = globalThis.gc;
  if (!gc) throw new Error('image-probe rss needs --expose-gc');
  const settle = () => {
    for (let i = 0; i < 4; i++) gc();
    return process.memoryUsage();
  };
  const heap = (/** @type {NodeJS.MemoryUsage} */ m) => m.heapUsed + m.external;
  /** @type {() => Promise<unknown>} */
  let make;
  const m0 = settle();
  if (strata) {
    const store = await strata.ImageStore.open(spec.storeDir);
    const image = await strata.openImage(spec.reference, { store, pull: 'never' });
    make = () => strata.Sandbox.create({ image, root: 'overlay', store });
  } else {
    // The template the copies are made from is held before `before`.
    const hello = new Uint8Array(fs.readFileSync(path.join(here, '..', 'guests', 'bin', 'hello.wasm')));
    const entries = treeEntries(spec.files, hello);
    make = async () => idleOver(peerId, copyTree(peerId, { entries, hostTmpBase: spec.hostTmpBase }, libs), libs);
  }
  // One first, so code loaded on first use (and strata's shared image) is
  // not charged to the COUNT below.
  const warm = await make();
  const before = settle();
  const held = [];
  for (let i = 0; i < count; i++) held.push(await make());
  const after = settle();
  print({
    peer: peerId,
    count: held.length,
    rssPerSandbox: (after.rss - before.rss) / count,
    heapPerSandbox: (heap(after) - heap(before)) / count,
    // What the image (or the template) and the first sandbox cost, once.
    sharedRss: before.rss - m0.rss,
    keep: warm ? 1 : 0,
  });
} else if (strata && arg === 'total') {
  const t0 = now();
  const store = await strata.ImageStore.open(spec.storeDir);
  const image = await strata.openImage(spec.reference, { store, pull: 'never' });
  const first = await strata.Sandbox.create({ image, root: 'overlay', store });
  const t1 = now();
  const second = await strata.Sandbox.create({ image, root: 'overlay', store });
  const t2 = now();
  if (!first || !second) throw new Error('no sandbox');
  print({ first: ns(t1 - t0), second: ns(t2 - t1) });
} else if (strata && arg === 'phases') {
  const { parseConfig } = await import(pathToFileURL(path.join(distDir, 'oci', 'index.js')).href);
  const { imageProcess } = await import(pathToFileURL(path.join(distDir, 'sandbox', 'image.js')).href);
  // The steps of openImage's loadImage (src/sandbox/image.ts), timed one by one.
  const t0 = now();
  const store = await strata.ImageStore.open(spec.storeDir);
  const [record] = await store.find(spec.reference);
  const config = parseConfig(await store.blobs.readVerified(record.config.digest), 'config');
  const t1 = now();
  const indexes = [];
  for (const l of record.layers) indexes.push(await strata.indexLayer(store.blobs, { digest: l.digest, mediaType: l.mediaType, ...(l.diffID && { diffID: l.diffID }) }));
  const t2 = now();
  const view = strata.viewLayers(indexes, { dev: 2n });
  const t3 = now();
  const image = { record, config, view, process: imageProcess(config, record.reference), wasmFiles: [] };
  await strata.Sandbox.create({ image, root: 'overlay', store });
  const t4 = now();
  if (indexes.some((i) => !i.cached)) throw new Error('a layer index was not a cache hit');
  print({ lookup: ns(t1 - t0), indexes: ns(t2 - t1), merge: ns(t3 - t2), create: ns(t4 - t3), inodes: view.inodes });
} else {
  const t0 = now();
  const src = { entries: peerId === 'node:wasi' ? [] : readTree(spec.hostTemplate), hostTemplate: spec.hostTemplate, hostTmpBase: spec.hostTmpBase };
  const first = copyTree(peerId, src, libs);
  const t1 = now();
  const second = copyTree(peerId, src, libs);
  const t2 = now();
  for (const root of [first, second]) {
    if (root.base) fs.rmSync(root.base, { recursive: true, force: true });
    else root.fs?.free?.();
  }
  print({ first: ns(t1 - t0), second: ns(t2 - t1) });
}
