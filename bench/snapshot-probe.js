// Fresh-process figures of the snapshot case (bench/p6-snapshots.js):
//   node --expose-gc bench/snapshot-probe.js restore SPEC
//   node --expose-gc bench/snapshot-probe.js golden SPEC
//   node --expose-gc bench/snapshot-probe.js phases SPEC
// SPEC is JSON: { storeDir, digest, check, n?, other? }. Prints one JSON line.
//
// restore: in a process that has loaded strata and nothing else, the time
// from ImageStore.open to a ready sandbox restored from the snapshot
// (`Sandbox.create({ from: digest, store })`), then to a second one in the
// same process (the view is then shared: nothing is read again); then, if
// `other` is given, a restore of that other snapshot in the same, now warm,
// process (its own layers verified and merged). `check` is a file each
// snapshot's delta holds; every sandbox must see it (checked outside the
// timing).
//
// golden: the same first restore, then `n` restores one after another
// (each timed), then `n` at once (each timed from the start of the batch
// to its own sandbox; and the batch in all). Each restored sandbox must
// see `check`, and a write in one must stay out of the others (checked
// outside the timing, on a few of them).
//
// phases: the first restore's steps one by one: the first manifest
// validation (the generated validator's first run); ImageStore.open; the
// snapshot store's restoreLayers (the manifest chain, each delta layer
// re-read and its digest and diffID checked, every layer's index loaded
// or built); merging the layers into one view. Sandbox.create over that
// view is the rest.

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { distDir, distEntry } from './peers.js';

const [mode, specJson] = process.argv.slice(2);
if ((mode !== 'restore' && mode !== 'golden' && mode !== 'phases') || !specJson) {
  console.error('usage: node --expose-gc bench/snapshot-probe.js restore|golden|phases SPEC');
  process.exit(2);
}
/** @type {{ storeDir: string, digest: string, check: string, n?: number, other?: string }} */
const spec = JSON.parse(specJson);
// 'phases' times internal steps, so it loads strata's modules (dist/index.js and
// dist/snapshot/), which share their classes; the other modes load the package
// entry, as users do.
const strata = await import(pathToFileURL(mode === 'phases' ? path.join(distDir, 'index.js') : distEntry).href);
const now = () => performance.now();
const ns = (/** @type {number} */ ms) => ms * 1e6;
const print = (/** @type {object} */ o) => console.log(JSON.stringify(o));

/** @param {any} sandbox @param {string} what */
async function sees(sandbox, what) {
  const bytes = await sandbox.fs.readFile(spec.check);
  if (!bytes || bytes.length === 0) throw new Error(`${what}: ${spec.check} is empty in the restored sandbox`);
}

if (mode === 'phases') {
  // The steps of the first restore (openSnapshot in src/sandbox/snapshot.ts), timed one by one.
  const { restoreLayers, parseSnapshotManifest, snapshotMediaType } = await import(pathToFileURL(path.join(distDir, 'snapshot', 'index.js')).href);
  // The first manifest a process validates (the generated validator's first, unoptimized run).
  const v = now();
  try {
    // Media type and version right, so the schema check itself runs (and fails on the missing fields).
    parseSnapshotManifest(Buffer.from(JSON.stringify({ mediaType: snapshotMediaType, schemaVersion: 1 })), 'warm-up');
  } catch {
    // refused, as it should be: the validator has run
  }
  const a = now();
  const store = await strata.ImageStore.open(spec.storeDir);
  const b = now();
  const restored = await restoreLayers(store, spec.digest);
  const c = now();
  const view = strata.viewLayers([...restored.layers], { dev: 2n });
  const d = now();
  if (!view) throw new Error('no view');
  print({ validator: ns(a - v), open: ns(b - a), layers: ns(c - b), merge: ns(d - c) });
  process.exit(0);
}

const t0 = now();
const store = await strata.ImageStore.open(spec.storeDir);
const first = await strata.Sandbox.create({ from: spec.digest, store });
const t1 = now();
await sees(first, 'first restore');

if (mode === 'restore') {
  const t2 = now();
  const second = await strata.Sandbox.create({ from: spec.digest, store });
  const t3 = now();
  await sees(second, 'second restore');
  /** @type {number | undefined} */
  let other;
  if (spec.other !== undefined) {
    const t4 = now();
    const third = await strata.Sandbox.create({ from: spec.other, store });
    other = ns(now() - t4);
    await sees(third, 'restore of the other snapshot');
  }
  print({ first: ns(t1 - t0), second: ns(t3 - t2), ...(other !== undefined && { other }) });
} else {
  const n = spec.n ?? 100;
  /** @type {number[]} */
  const sequential = [];
  /** @type {any[]} */
  const held = [];
  for (let i = 0; i < n; i++) {
    const a = now();
    const s = await strata.Sandbox.create({ from: spec.digest, store });
    sequential.push(ns(now() - a));
    held.push(s);
  }
  // n at once: every create started before any is awaited.
  /** @type {number[]} */
  const parallel = [];
  const b = now();
  const batch = await Promise.all(
    Array.from({ length: n }, async () => {
      const s = await strata.Sandbox.create({ from: spec.digest, store });
      parallel.push(ns(now() - b));
      return s;
    }),
  );
  const batchNs = ns(now() - b);
  // Each sees the init's files; a write in one stays its own.
  const probes = [held[0], held[held.length - 1], batch[0], batch[batch.length - 1]];
  for (const [i, s] of probes.entries()) await sees(s, `restored sandbox ${i}`);
  await probes[0].fs.writeFile('/private.txt', 'mine');
  for (const s of probes.slice(1)) {
    const leaked = await s.fs.readFile('/private.txt').then(
      () => true,
      () => false,
    );
    if (leaked) throw new Error("a restored sandbox sees another restored sandbox's write");
  }
  print({ first: ns(t1 - t0), sequential, parallel, batch: batchNs, n });
}
