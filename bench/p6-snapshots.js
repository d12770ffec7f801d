// Snapshots (issue 11): commit and restore, strata only.
//   commit / restore vs image size  a 1 MiB delta over images of ~1, ~10
//        and ~100 MB: `sandbox.commit()` to its promise resolving (the delta
//        layer and the manifest stored), and `Sandbox.create({ from })` to a
//        ready sandbox in a fresh process (bench/snapshot-probe.js restore),
//        then again in that process. node:wasi as a reference: its root is a
//        host directory, so the nearest thing to a commit is `cp -a` of the
//        whole root, and to a restore `cp -a` of that copy.
//   pause vs delta size  a guest (bench-bulk) writes a 1 MiB, 100 MiB or
//        1 GiB file, then `commit()`: the seal it reports (`pauseMs`), the
//        time until `commit()` returns and the sandbox can run again (its
//        root switched to a fresh upper), and the time until the delta layer
//        is written.
//   delta size per root mode  the same writes in an overlay, a tmpfs and a
//        readonly root; the size of the delta layers gzipped (the blobs) and
//        as tar.
//   golden snapshot  an init step, one commit, then N restores one after
//        another and N at once, in a fresh process (snapshot-probe golden).
// No peer has snapshots: their cells are n/a with that reason.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createGunzip, gzipSync } from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GuestFailure, Skip, quantile, summary } from './measure.js';
import { writeLayout, writeTree } from './image-fixture.js';
import { distEntry, hostTmpBase } from './peers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const STRATA = 'strata';
const NODE_WASI = 'node:wasi';
const MiB = 1 << 20;
const GiB = 1 << 30;
const NO_SNAPSHOTS = 'no equivalent: no snapshots';

/**
 * @typedef {import('./cases.js').Ctx} Ctx
 * @typedef {import('./cases.js').Row} Row
 * @typedef {import('./cases.js').Cell} Cell
 * @typedef {import('./cases.js').Unit} Unit
 * @typedef {import('./cases.js').Target} Target
 * @typedef {import('./peers.js').Peer & { initError?: string }} Host
 * @typedef {{ median: number, min?: number, max?: number, n?: number }} Stat
 * @typedef {{ key: string, label: string, unit: Unit, target?: Target, na?: string }} Metric
 *   `na`: the reason a peer has no figure (default: no snapshots). node:wasi
 *   is measured only for the metrics its `fill` returns.
 */

/** What a run measures. */
const plan = (/** @type {boolean} */ quick) => ({
  imagesMB: quick ? [1, 10] : [1, 10, 100],
  deltasMiB: quick ? [1, 16] : [1, 100, 1024],
  commitReps: quick ? 2 : 5,
  commitWarmup: quick ? 0 : 1,
  modesImageMB: quick ? 1 : 10,
  goldenImageMB: quick ? 1 : 10,
  goldenN: quick ? 50 : 1000,
  goldenProcesses: quick ? 1 : 3,
});

/** Free memory the 1 GiB delta needs: the upper (1 GiB), the guest's reads, the layer's streams. */
const GIB_DELTA_NEEDS = 6 * GiB;

// ---------------------------------------------------------------- fixtures

/** @type {any} */
let strataMod;
async function strataModule() {
  strataMod ??= await import(pathToFileURL(distEntry).href);
  return strataMod;
}

/** @type {string[]} */
const toRemove = [];
process.on('exit', () => {
  for (const d of toRemove) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * @typedef {{ mb: number, bytes: number, layerBytes: number, storeDir: string, store: any, image: any, hostTemplate?: string, entries?: import('./image-fixture.js').TreeEntry[] }} ImageFixture
 */
/** @type {Map<number, Promise<ImageFixture>>} */
const images = new Map();

/**
 * An image of ~`mb` MB: 100 files of random bytes (mb MB / 100 each) under
 * /data and bin/hello.wasm, as an OCI layout (two gzip layers) imported into
 * a store of its own (its layer indexes cached there). Built once per run.
 * @param {Ctx} ctx @param {number} mb
 */
function image(ctx, mb) {
  let f = images.get(mb);
  if (!f) {
    f = (async () => {
      const strata = await strataModule();
      const t0 = performance.now();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-snap-'));
      toRemove.push(dir);
      const each = Math.round((mb * 1e6) / 100);
      /** @type {import('./image-fixture.js').TreeEntry[]} */
      const entries = [{ path: 'data', type: 'dir' }];
      for (let i = 0; i < 100; i++) entries.push({ path: `data/f-${String(i).padStart(3, '0')}.bin`, type: 'file', bytes: crypto.randomBytes(each) });
      entries.push({ path: 'bin', type: 'dir' }, { path: 'bin/hello.wasm', type: 'file', bytes: ctx.guests.hello.bytes });
      const { reference, bytes } = await writeLayout(path.join(dir, 'layout'), entries);
      const storeDir = path.join(dir, 'store');
      const store = await strata.ImageStore.open(storeDir);
      const img = await strata.openImage(reference, { store });
      fs.rmSync(path.join(dir, 'layout'), { recursive: true, force: true });
      ctx.log(`P6 image of ${mb} MB (${bytes} B of gzip layers) imported in ${Math.round(performance.now() - t0)} ms`);
      return { mb, bytes: each * 100 + ctx.guests.hello.bytes.length, layerBytes: bytes, storeDir, store, image: img, entries };
    })();
    images.set(mb, f);
  }
  return f;
}

/** node:wasi's template: the image's tree on disk under the host-directory base. @param {ImageFixture} fx */
function hostTemplate(fx) {
  if (fx.hostTemplate === undefined) {
    const base = fs.mkdtempSync(path.join(hostTmpBase, 'strata-bench-snap-tree-'));
    toRemove.push(base);
    fx.hostTemplate = path.join(base, 'root');
    writeTree(fx.hostTemplate, /** @type {any} */ (fx.entries));
  }
  return fx.hostTemplate;
}

/** @param {string} from @param {string} to */
function cpA(from, to) {
  const r = spawnSync('cp', ['-a', from, to]);
  if (r.status !== 0) throw new Error(`cp -a failed: ${r.stderr}`);
}

/** Size of a gzip blob once decompressed, streamed. @param {string} file */
async function gunzippedSize(file) {
  let n = 0;
  const gunzip = createGunzip();
  gunzip.on('data', (/** @type {Buffer} */ c) => (n += c.length));
  const done = new Promise((resolve, reject) => {
    gunzip.on('end', resolve);
    gunzip.on('error', reject);
  });
  fs.createReadStream(file).pipe(gunzip);
  await done;
  return n;
}

/** The delta layers of a committed snapshot: count, gzip bytes, tar bytes. @param {any} store @param {any} manifest */
async function deltaSizes(store, manifest) {
  let gz = 0;
  let tar = 0;
  for (const l of manifest.delta) {
    gz += l.size;
    tar += await gunzippedSize(store.blobs.path(l.digest));
  }
  return { layers: manifest.delta.length, gz, tar };
}

/**
 * Run bench/snapshot-probe.js in a fresh process; returns its JSON line.
 * @param {string} mode @param {object} spec
 */
function probe(mode, spec) {
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(here, 'snapshot-probe.js'), mode, JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    const why = (r.stderr || r.stdout).trim().split('\n').filter(Boolean).pop() ?? `exit ${r.status}`;
    throw new Error(`snapshot-probe ${mode}: ${why}`);
  }
  return JSON.parse(line);
}

/** @param {any} sandbox @param {any} mod @param {string} argv0 @param {string[]} args */
async function runGuest(sandbox, mod, argv0, args) {
  const r = await sandbox.run(mod, { args, argv0, env: {}, stdin: '' });
  const text = (/** @type {any} */ b) => (typeof b === 'string' ? b : Buffer.from(b ?? []).toString());
  return { exitCode: r.exitCode, stdout: text(r.stdout), stderr: text(r.stderr) };
}

// ---------------------------------------------------------------- rows

/**
 * Rows of one group. `fill(host)` runs for strata and, when `withNodeWasi`,
 * for node:wasi; it returns per metric key the samples or a stat. A metric
 * a peer's fill does not return is n/a for it with the metric's `na`.
 * A throw becomes the host's cells: an error for strata (n/a for a Skip),
 * n/a for node:wasi.
 * @param {Ctx} ctx @param {Metric[]} metrics
 * @param {(host: Host) => Promise<Record<string, number[] | Stat>>} fill
 * @param {boolean} withNodeWasi
 */
async function group(ctx, metrics, fill, withNodeWasi) {
  /** @type {Row[]} */
  const rows = metrics.map((m) => ({ key: `P6.${m.key}`, caseId: 'P6', label: m.label, unit: m.unit, cells: {}, ...(m.target ? { target: m.target } : {}) }));
  for (const host of ctx.peers) {
    /** @param {Cell} cell */
    const setAll = (cell) => rows.forEach((r) => (r.cells[host.id] = cell));
    if (host.initError !== undefined) {
      setAll(host.id === STRATA ? { status: 'missing', reason: host.initError } : { status: 'na', reason: `unavailable: ${host.initError}`, kind: 'init' });
      continue;
    }
    if (host.id !== STRATA && !(withNodeWasi && host.id === NODE_WASI)) {
      metrics.forEach((m, i) => (/** @type {Row} */ (rows[i]).cells[host.id] = { status: 'na', reason: m.na ?? NO_SNAPSHOTS, kind: 'skip' }));
      continue;
    }
    globalThis.gc?.();
    try {
      const values = await fill(host);
      metrics.forEach((m, i) => {
        const row = /** @type {Row} */ (rows[i]);
        const v = values[m.key];
        if (v === undefined) {
          if (host.id === STRATA) throw new Error(`bench bug: P6 produced no ${m.key} for strata`);
          row.cells[host.id] = { status: 'na', reason: m.na ?? NO_SNAPSHOTS, kind: 'skip' };
          return;
        }
        row.cells[host.id] = Array.isArray(v) ? { status: 'ok', ...summary(v), samples: v } : { status: 'ok', ...v };
      });
      ctx.log(`P6 ${host.id}: ${metrics[0]?.label.trim()}: ok`);
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e);
      /** @type {Cell} */
      const cell =
        e instanceof Skip
          ? { status: 'na', reason: msg, kind: 'skip' }
          : host.id === STRATA
            ? { status: 'error', reason: msg, kind: 'threw' }
            : { status: 'na', reason: e instanceof GuestFailure ? msg : `threw: ${msg}`, kind: 'threw' };
      setAll(cell);
      ctx.log(`P6 ${host.id}: ${cell.status}: ${'reason' in cell ? cell.reason : ''}`);
    }
  }
  return rows;
}

/** @param {string} text @param {(v: number) => boolean} ok @returns {Target} */
const strataTarget = (text, ok) => (row) => {
  const c = row.cells[STRATA];
  if (!c || c.status !== 'ok') return { text, verdict: 'unknown' };
  return { text, verdict: ok(c.median) ? 'meets' : 'misses' };
};
const le20ms = strataTarget('≤ 20 ms', (v) => v <= 20e6);
const fmtMs = (/** @type {number} */ ns) => `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
const fmtMiB = (/** @type {number} */ b) => (b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : b >= MiB ? `${(b / MiB).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const mbLabel = (/** @type {number} */ mb) => `${mb} MB`;

// ---------------------------------------------------------------- commit / restore vs image size

/** @param {Ctx} ctx */
async function scaleRows(ctx) {
  const p = plan(ctx.quick);
  const strata = await strataModule();
  /** @type {Row[]} */
  const rows = [];
  /** @type {Record<number, { commit?: number, restore?: number }>} */
  const bySize = {};
  /** @type {string[]} */
  const phaseNotes = [];
  for (const mb of p.imagesMB) {
    const fx = await image(ctx, mb);
    const goal = mb === 100 ? { target: le20ms } : {};
    const sizeRows = await group(
      ctx,
      [
        { key: `commit.${mb}`, label: `1 MiB delta over ${mbLabel(mb)} image: commit`, unit: 'ns', ...goal },
        { key: `plain.${mb}`, label: `  ${mbLabel(mb)}: commit, compression 'none'`, unit: 'ns', na: 'no equivalent: no snapshots (the cp -a above is uncompressed)' },
        { key: `restore.${mb}`, label: `  ${mbLabel(mb)}: restore, fresh process`, unit: 'ns', ...goal },
        { key: `again.${mb}`, label: `  ${mbLabel(mb)}: restore again, same process`, unit: 'ns', na: 'no equivalent: no snapshots (every restore of a copy is another cp -a: the row above)' },
        { key: `other.${mb}`, label: `  ${mbLabel(mb)}: restore another, warm process`, unit: 'ns', na: 'no equivalent: no snapshots (every restore of a copy is another cp -a: the row above)' },
      ],
      async (host) => {
        /** @type {Record<string, number[]>} */
        const v = { commit: [], plain: [], restore: [], again: [], other: [] };
        /** @type {Array<{ gz: number, tar: number }>} */
        const sizes = [];
        /** @type {Array<{ validator: number, open: number, layers: number, merge: number }>} */
        const phases = [];
        for (let r = 0; r < p.commitWarmup + p.commitReps; r++) {
          const delta = crypto.randomBytes(MiB);
          let commitNs;
          let restoreNs;
          let againNs;
          let otherNs;
          let plainNs;
          if (host.id === STRATA) {
            // The same commit with the delta as a plain tar (no gzip).
            const sb3 = await strata.Sandbox.create({ image: fx.image, root: 'overlay', store: fx.store });
            await sb3.fs.writeFile('/delta.bin', crypto.randomBytes(MiB));
            const t3 = performance.now();
            await sb3.commit({ labels: { bench: 'P6 plain' }, compression: 'none' });
            plainNs = (performance.now() - t3) * 1e6;
            sb3.close();
            // Another snapshot over the same image, for the restore in a warm process.
            const sb2 = await strata.Sandbox.create({ image: fx.image, root: 'overlay', store: fx.store });
            await sb2.fs.writeFile('/delta.bin', crypto.randomBytes(MiB));
            const other = await sb2.commit({ labels: { bench: 'P6 other' } });
            sb2.close();
            const sb = await strata.Sandbox.create({ image: fx.image, root: 'overlay', store: fx.store });
            await sb.fs.writeFile('/delta.bin', delta);
            const t0 = performance.now();
            const snap = await sb.commit({ labels: { bench: 'P6' } });
            commitNs = (performance.now() - t0) * 1e6;
            sb.close();
            if (r >= p.commitWarmup) sizes.push(await deltaSizes(fx.store, snap.manifest));
            const spec = { storeDir: fx.storeDir, digest: snap.digest, check: '/delta.bin' };
            const out = probe('restore', { ...spec, other: other.digest });
            restoreNs = out.first;
            againNs = out.second;
            otherNs = out.other;
            if (r >= p.commitWarmup) phases.push(probe('phases', spec));
          } else {
            // node:wasi: the root is a host directory; copy it whole.
            const base = fs.mkdtempSync(path.join(hostTmpBase, 'strata-bench-snap-'));
            try {
              const rootDir = path.join(base, 'root');
              cpA(hostTemplate(fx), rootDir);
              fs.writeFileSync(path.join(rootDir, 'delta.bin'), delta);
              const t0 = performance.now();
              cpA(rootDir, path.join(base, 'saved'));
              const t1 = performance.now();
              cpA(path.join(base, 'saved'), path.join(base, 'restored'));
              const t2 = performance.now();
              if (fs.statSync(path.join(base, 'restored', 'delta.bin')).size !== MiB) throw new Error('the copy lost delta.bin');
              commitNs = (t1 - t0) * 1e6;
              restoreNs = (t2 - t1) * 1e6;
            } finally {
              fs.rmSync(base, { recursive: true, force: true });
            }
          }
          if (r < p.commitWarmup) continue;
          v.commit?.push(commitNs);
          v.restore?.push(restoreNs);
          if (againNs !== undefined) v.again?.push(againNs);
          if (otherNs !== undefined) v.other?.push(otherNs);
          if (plainNs !== undefined) v.plain?.push(plainNs);
        }
        if (host.id === STRATA) {
          ctx.extra[`p6DeltaBytes.${mb}`] = sizes;
          ctx.extra[`p6RestorePhases.${mb}`] = phases;
          const m = (/** @type {'validator' | 'open' | 'layers' | 'merge'} */ k) => fmtMs(quantile(phases.map((x) => x[k]).sort((a, b) => a - b), 0.5));
          phaseNotes.push(`${mbLabel(mb)}: manifest validator ${m('validator')}, store open ${m('open')}, restoreLayers ${m('layers')}, merge ${m('merge')}`);
        }
        return Object.fromEntries(Object.entries(v).filter(([, xs]) => xs.length > 0).map(([k, xs]) => [`${k}.${mb}`, xs]));
      },
      true,
    );
    const c = sizeRows.find((r) => r.key === `P6.commit.${mb}`)?.cells[STRATA];
    const rs = sizeRows.find((r) => r.key === `P6.restore.${mb}`)?.cells[STRATA];
    bySize[mb] = { ...(c?.status === 'ok' && { commit: c.median }), ...(rs?.status === 'ok' && { restore: rs.median }) };
    rows.push(...sizeRows);
  }
  const sizes = p.imagesMB.filter((mb) => bySize[mb]?.commit !== undefined && bySize[mb]?.restore !== undefined);
  if (sizes.length > 1) {
    const lo = /** @type {number} */ (sizes[0]);
    const hi = /** @type {number} */ (sizes[sizes.length - 1]);
    const a = /** @type {{ commit: number, restore: number }} */ (bySize[lo]);
    const b = /** @type {{ commit: number, restore: number }} */ (bySize[hi]);
    ctx.notes.push(
      `P6 1 MiB delta (random bytes) over images of ${sizes.map(mbLabel).join(', ')} (100 files of random bytes + hello.wasm, 2 gzip layers): strata's commit ${fmtMs(a.commit)} → ${fmtMs(b.commit)} (×${(b.commit / a.commit).toFixed(2)}), restore in a fresh process ${fmtMs(a.restore)} → ${fmtMs(b.restore)} (×${(b.restore / a.restore).toFixed(2)}) for ×${hi / lo} image. Commit = sandbox.commit() until it resolves (delta tar+gzip+hashes, its index, manifest, record); restore = ImageStore.open + Sandbox.create({ from }) in a process that loaded strata and nothing else; "again" = the same snapshot once more in that process (its view is shared, nothing is read); "another" = then a second snapshot of the same image, committed just before (its delta verified, its layers' indexes loaded and merged) in that warm process. node:wasi (reference, not a snapshot): cp -a of the whole root directory, then cp -a of that copy, under ${hostTmpBase} (each includes spawning cp).`,
    );
  }
  if (phaseNotes.length > 0) {
    ctx.notes.push(`P6 first restore's steps, in another fresh process per commit (medians): ${phaseNotes.join('; ')}. The validator is the first manifest validation in the process (ajv's standalone code, generated from the schema at build time: nothing is compiled at run time); restoreLayers then reads the manifest chain, re-reads each delta layer (digest and diffID checked) and loads every layer's cached index; Sandbox.create over the merged view is the rest.`);
  }
  // What gzip alone costs on a 1 MiB delta of random bytes.
  const rnd = crypto.randomBytes(MiB);
  const gzipMs = (/** @type {number} */ level) => {
    /** @type {number[]} */
    const gz = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      gzipSync(rnd, { level });
      gz.push((performance.now() - t0) * 1e6);
    }
    return fmtMs(quantile(gz.sort((a, b) => a - b), 0.5));
  };
  ctx.notes.push(`P6 for scale: zlib gzipSync of 1 MiB of random bytes, alone in this process (median of 5): level 1 ${gzipMs(1)}, level 6 ${gzipMs(6)}. The commit rows use commit()'s default compression (gzip); the "compression 'none'" rows commit the same kind of delta as a plain tar.`);
  return rows;
}

// ---------------------------------------------------------------- pause vs delta size

/** @param {Ctx} ctx */
async function pauseRows(ctx) {
  const p = plan(ctx.quick);
  const strata = await strataModule();
  const fx = await image(ctx, 1);
  const bulk = await strata.compileGuest(ctx.guests.bulk.bytes);
  /** @type {Row[]} */
  const rows = [];
  /** @type {string[]} */
  const notes = [];
  for (const mib of p.deltasMiB) {
    const label = mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`;
    const reps = mib >= 1024 ? 1 : mib >= 100 ? 3 : p.commitReps;
    const pauseNa = 'no equivalent: no snapshots (a consistent cp -a of a host root holds the guest for the whole copy: see the commit rows)';
    const r = await group(
      ctx,
      [
        { key: `pause.${mib}`, label: `${label} delta: pause (seal, pauseMs)`, unit: 'ns', na: pauseNa },
        { key: `resume.${mib}`, label: `  ${label}: commit() returns, runnable`, unit: 'ns', na: pauseNa },
        { key: `written.${mib}`, label: `  ${label}: delta layer written`, unit: 'ns', na: NO_SNAPSHOTS },
      ],
      async () => {
        if (mib * MiB >= GiB && os.freemem() < GIB_DELTA_NEEDS) {
          throw new Skip(`skipped: ${fmtMiB(os.freemem())} free, a 1 GiB delta needs ~${fmtMiB(GIB_DELTA_NEEDS)} (the upper, the guest's memory, the layer's streams)`);
        }
        /** @type {Record<string, number[]>} */
        const v = { pause: [], resume: [], written: [] };
        /** @type {Array<{ layers: number, gz: number, tar: number }>} */
        const sizes = [];
        for (let i = 0; i < reps; i++) {
          const sb = await strata.Sandbox.create({ image: fx.image, root: 'overlay', store: fx.store, tmpfs: { maxBytes: 4 * GiB } });
          // The guest writes the delta: /bulk.bin, `mib` MiB in 64 KiB writes (each chunk a counter and a fixed pattern), read back.
          const g = await runGuest(sb, bulk, 'bench-bulk', [String(mib), '64']);
          if (g.exitCode !== 0) throw new Error(`bench-bulk ${mib} 64: ${g.stderr.trim().split('\n')[0] ?? `exit ${g.exitCode}`}`);
          globalThis.gc?.();
          const t0 = performance.now();
          const pending = sb.commit({ labels: { bench: 'P6' } });
          const t1 = performance.now();
          // The root is already a fresh upper over the sealed one: writes go on at once.
          await sb.fs.writeFile('/after-commit.txt', 'runnable');
          const snap = await pending;
          const t2 = performance.now();
          v.pause?.push(snap.pauseMs * 1e6);
          v.resume?.push((t1 - t0) * 1e6);
          v.written?.push((t2 - t0) * 1e6);
          sizes.push(await deltaSizes(fx.store, snap.manifest));
          sb.close();
          // The store keeps every delta: drop the big ones once measured.
          if (mib >= 100) for (const l of snap.manifest.delta) fs.rmSync(fx.store.blobs.path(l.digest), { force: true });
        }
        const s = sizes[0];
        if (s) notes.push(`${label}: ${fmtMiB(s.tar)} tar → ${fmtMiB(s.gz)} gzip`);
        ctx.extra[`p6PauseDeltaBytes.${mib}`] = sizes;
        return { [`pause.${mib}`]: v.pause ?? [], [`resume.${mib}`]: v.resume ?? [], [`written.${mib}`]: v.written ?? [] };
      },
      false,
    );
    rows.push(...r);
  }
  ctx.notes.push(
    `P6 pause: a guest (bench-bulk MIB 64) writes the delta in an overlay sandbox over the 1 MB image, then commit(): pauseMs is the seal commit reports (freezeRoot); "commit() returns" is the synchronous part of the call (seal + collecting the sealed layers + the manifest's fields), after which the sandbox runs over a fresh upper (a write is made before the layer is written, checked); "delta layer written" is until commit() resolves. The guest's data is a 64 KiB pattern with a counter, so it compresses well: ${notes.join('; ')}.`,
  );
  return rows;
}

// ---------------------------------------------------------------- delta size per root mode

/** @param {Ctx} ctx */
async function modeRows(ctx) {
  const p = plan(ctx.quick);
  const strata = await strataModule();
  const fx = await image(ctx, p.modesImageMB);
  const bulk = await strata.compileGuest(ctx.guests.bulk.bytes);
  const random = crypto.randomBytes(MiB);
  const modes = ['overlay', 'tmpfs', 'readonly'];
  /** @type {string[]} */
  const notes = [];
  /** @type {Metric[]} */
  const metrics = [];
  for (const m of modes) {
    metrics.push({ key: `mode.${m}.gz`, label: `delta, ${m} root: gzip (blobs)`, unit: 'bytes' }, { key: `mode.${m}.tar`, label: `  ${m} root: tar (uncompressed)`, unit: 'bytes' });
  }
  const rows = await group(
    ctx,
    metrics,
    async () => {
      /** @type {Record<string, Stat>} */
      const out = {};
      for (const mode of modes) {
        const sb = await strata.Sandbox.create({ image: fx.image, root: mode, store: fx.store });
        // The same writes in every mode; a readonly root refuses each (EROFS).
        let refused = 0;
        let writes = 1;
        const attempt = async (/** @type {() => Promise<unknown>} */ f) => {
          writes++;
          try {
            await f();
          } catch (e) {
            // A readonly root refuses the write (EROFS), or finds no /work, whose mkdir it refused (ENOENT).
            const code = /** @type {any} */ (e)?.code;
            if (mode !== 'readonly' || (code !== 'EROFS' && code !== 'ENOENT')) throw e;
            refused++;
          }
        };
        const g = await runGuest(sb, bulk, 'bench-bulk', ['1', '64']);
        if (g.exitCode !== 0) {
          if (mode !== 'readonly') throw new Error(`bench-bulk 1 64 in a ${mode} root: ${g.stderr.trim().split('\n')[0]}`);
          refused++;
        }
        await attempt(() => sb.fs.writeFile('/random.bin', random));
        await attempt(() => sb.fs.mkdir('/work'));
        for (let i = 0; i < 100; i++) await attempt(() => sb.fs.writeFile(`/work/note-${i}.txt`, `note ${i}\n`.padEnd(1024, '.')));
        await attempt(() => sb.fs.rm('/data/f-000.bin'));
        await attempt(() => sb.fs.writeFile('/data/f-001.bin', Buffer.alloc(4096, 1)));
        const snap = await sb.commit({ labels: { bench: 'P6' } });
        sb.close();
        const s = await deltaSizes(fx.store, snap.manifest);
        out[`mode.${mode}.gz`] = { median: s.gz, n: 1 };
        out[`mode.${mode}.tar`] = { median: s.tar, n: 1 };
        notes.push(`${mode} ${s.layers} layer${s.layers === 1 ? '' : 's'}${refused ? `, ${refused} of ${writes} writes refused (EROFS, or ENOENT under the refused /work)` : ''}${snap.manifest.image ? '' : ', no image in the manifest (the layer is the whole tree)'}`);
      }
      return out;
    },
    false,
  );
  ctx.notes.push(
    `P6 delta per root mode, over the ${mbLabel(fx.mb)} image (${fmtMiB(fx.bytes)} of files), one commit each: the same writes in each root (bench-bulk 1 64 writes a 1 MiB patterned file; then through sandbox.fs a 1 MiB random file, /work with 100 files of 1 KiB, one image file removed and one rewritten with 4 KiB): ${notes.join('; ')}. A tmpfs root holds a copy of the image, so its delta is the whole tree.`,
  );
  return rows;
}

// ---------------------------------------------------------------- golden snapshot

/** @param {Ctx} ctx */
async function goldenRows(ctx) {
  const p = plan(ctx.quick);
  const strata = await strataModule();
  const fx = await image(ctx, p.goldenImageMB);
  const bulk = await strata.compileGuest(ctx.guests.bulk.bytes);
  const n = p.goldenN;
  /** @type {string[]} */
  const notes = [];
  const rows = await group(
    ctx,
    [
      { key: 'golden.first', label: 'golden: 1st restore, fresh process', unit: 'ns' },
      { key: 'golden.p50', label: `golden: restore, ${n} one by one: p50`, unit: 'ns' },
      { key: 'golden.p99', label: `golden: restore, ${n} one by one: p99`, unit: 'ns' },
      { key: 'golden.batch', label: `golden: ${n} restores at once: all`, unit: 'ns' },
      { key: 'golden.each', label: `  ${n} at once: per sandbox`, unit: 'ns' },
    ],
    async () => {
      // The init step: a guest writes 1 MiB, and 100 config files are written.
      const sb = await strata.Sandbox.create({ image: fx.image, root: 'overlay', store: fx.store });
      const g = await runGuest(sb, bulk, 'bench-bulk', ['1', '64']);
      if (g.exitCode !== 0) throw new Error(`init: bench-bulk 1 64: ${g.stderr.trim().split('\n')[0]}`);
      await sb.fs.mkdir('/etc/app', { recursive: true });
      for (let i = 0; i < 100; i++) await sb.fs.writeFile(`/etc/app/conf-${i}.ini`, `key${i} = value\n`.padEnd(1024, '#'));
      const t0 = performance.now();
      const snap = await sb.commit({ labels: { bench: 'P6 golden' } });
      const commitNs = (performance.now() - t0) * 1e6;
      sb.close();
      /** @type {number[]} */
      const first = [];
      /** @type {number[]} */
      const sequential = [];
      /** @type {number[]} */
      const batch = [];
      /** @type {number[]} */
      const parallel = [];
      for (let i = 0; i < p.goldenProcesses; i++) {
        const out = probe('golden', { storeDir: fx.storeDir, digest: snap.digest, check: '/etc/app/conf-99.ini', n });
        first.push(out.first);
        sequential.push(...out.sequential);
        batch.push(out.batch);
        parallel.push(...out.parallel);
      }
      const sorted = [...sequential].sort((a, b) => a - b);
      const par = [...parallel].sort((a, b) => a - b);
      notes.push(
        `init = bench-bulk 1 64 + 100 files of 1 KiB in /etc/app, in an overlay sandbox over the ${mbLabel(fx.mb)} image; its commit took ${fmtMs(commitNs)}. ${p.goldenProcesses} fresh process${p.goldenProcesses > 1 ? 'es' : ''}, each: the 1st restore (ImageStore.open + Sandbox.create({ from })), ${n} more one after another (p50/p99 over all ${sorted.length}), then ${n} Sandbox.create({ from }) at once (Promise.all; each one's time from the batch's start: p50 ${fmtMs(quantile(par, 0.5))}, p99 ${fmtMs(quantile(par, 0.99))}). Every restored sandbox checked sees the init's files; a write in one is not seen by the others`,
      );
      return {
        'golden.first': first,
        'golden.p50': { ...summary(sequential), median: quantile(sorted, 0.5) },
        'golden.p99': { median: quantile(sorted, 0.99), n: sorted.length },
        'golden.batch': batch,
        'golden.each': batch.map((b) => b / n),
      };
    },
    false,
  );
  if (notes.length > 0) ctx.notes.push(`P6 golden: ${notes.join('; ')}.`);
  return rows;
}

// ---------------------------------------------------------------- the case

/** @type {import('./cases.js').Case} */
export const p6 = {
  id: 'P6',
  title: 'snapshots: commit and restore',
  async run(ctx) {
    const strata = ctx.peers.find((h) => h.id === STRATA);
    if (!strata || strata.initError !== undefined) {
      return [{ key: 'P6', caseId: 'P6', label: 'snapshot commit / restore', unit: 'ns', cells: {}, merged: `strata not built: ${strata?.initError ?? 'missing'}` }];
    }
    return [...(await scaleRows(ctx)), ...(await pauseRows(ctx)), ...(await modeRows(ctx)), ...(await goldenRows(ctx))];
  },
};

