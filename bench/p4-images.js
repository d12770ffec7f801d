// P4: image pull and index, beside the tools people use today.
//
// One multi-layer image is built with umoci (a layer of 10k small files and
// layers of large, poorly compressible files: ~100 MB in a full run, ~6 MB
// with --quick) and pushed with skopeo to Debian's docker-registry on
// 127.0.0.1. Then, from the same registry:
//   - strata: pull (fetch + verify + store + index every layer) into a fresh store;
//   - skopeo copy docker://… oci:DIR + umoci unpack --rootless (the usual
//     daemonless way to get a root filesystem);
//   - tar -xzf of the same layer blobs into one directory (extraction alone);
//   - strata, cached image → ready layer view (indexes loaded, view merged);
//   - the memory a layer index takes per 10k files (bench/oci.js).
// The WASI peers have no image support, so their cells are n/a.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Skip } from './measure.js';
import { measureLayerIndex } from './oci.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(process.env.STRATA_BENCH_DIST ?? path.join(here, '..', 'dist'));
const tools = ['umoci', 'skopeo', 'docker-registry', 'tar'];

/** @param {string} cmd @param {string[]} args @param {import('node:child_process').SpawnSyncOptions} [opts] */
function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${String(r.stderr).slice(-500)}`);
  return r;
}

/** @param {string[]} argv */
function timed(argv) {
  const t0 = performance.now();
  run(/** @type {string} */ (argv[0]), argv.slice(1));
  return (performance.now() - t0) * 1e6;
}

function missingTools() {
  return tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const port = /** @type {net.AddressInfo} */ (server.address()).port;
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  return port;
}

/** Start docker-registry on loopback; resolves once GET /v2/ answers. @param {string} dir */
async function startRegistry(dir) {
  const port = await freePort();
  const config = path.join(dir, 'registry.yml');
  fs.writeFileSync(config, `version: 0.1\nstorage: { filesystem: { rootdirectory: ${path.join(dir, 'storage')} } }\nhttp: { addr: 127.0.0.1:${port} }\nlog: { level: warn }\n`);
  const child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v2/`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('docker-registry did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve(undefined));
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Build the image with umoci: layer 1 is `smallFiles` files of 1 KiB in
 * directories of 100; each further layer holds `bigFiles` files of random
 * bytes, `bigLayerBytes` in all.
 * @param {string} dir @param {{ smallFiles: number, bigLayers: number, bigLayerBytes: number }} shape
 */
function buildImage(dir, shape) {
  const layout = path.join(dir, 'src-layout');
  const bundle = path.join(dir, 'src-bundle');
  run('umoci', ['init', '--layout', layout]);
  run('umoci', ['new', '--image', `${layout}:img`]);
  run('umoci', ['unpack', '--rootless', '--image', `${layout}:img`, bundle]);
  const rootfs = path.join(bundle, 'rootfs');
  const small = Buffer.alloc(1024, 's');
  for (let i = 0; i < shape.smallFiles; i++) {
    const d = path.join(rootfs, 'usr', 'share', `pkg-${String(Math.floor(i / 100)).padStart(4, '0')}`);
    if (i % 100 === 0) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, `file-${i}.txt`), small);
  }
  run('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:img`, bundle]);
  for (let l = 0; l < shape.bigLayers; l++) {
    const d = path.join(rootfs, 'opt', `blob-${l}`);
    fs.mkdirSync(d, { recursive: true });
    const per = Math.floor(shape.bigLayerBytes / 8);
    for (let f = 0; f < 8; f++) fs.writeFileSync(path.join(d, `part-${f}.bin`), randomBytes(per));
    run('umoci', ['repack', '--refresh-bundle', '--image', `${layout}:img`, bundle]);
  }
  return layout;
}

/** Sizes of the layer blobs of an OCI layout's only image. @param {string} layout */
function layoutLayers(layout) {
  const blob = (/** @type {string} */ d) => path.join(layout, 'blobs', 'sha256', d.slice('sha256:'.length));
  const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8'));
  return manifest.layers.map((/** @type {{ digest: string, size: number }} */ l) => ({ file: blob(l.digest), size: l.size }));
}

/**
 * @param {{ quick: boolean, log: (s: string) => void, notes: string[], peers: Array<{ id: string, initError?: string }> }} ctx
 */
export async function runP4(ctx) {
  const missing = missingTools();
  if (missing.length > 0) {
    const reason = `needs ${missing.join(', ')} (scripts/install-deps.sh)`;
    if (process.env.CI === 'true') throw new Error(`P4: ${reason}`);
    throw new Skip(reason);
  }
  const { pull, ImageStore, indexLayer, viewLayers } = await import(pathToFileURL(path.join(dist, 'oci', 'index.js')).href);
  const shape = ctx.quick ? { smallFiles: 2_000, bigLayers: 2, bigLayerBytes: 2 << 20 } : { smallFiles: 10_000, bigLayers: 3, bigLayerBytes: 30 << 20 };
  const reps = ctx.quick ? 1 : 3;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-p4-'));
  const registry = await startRegistry(work);
  try {
    ctx.log(`P4 building a ${shape.bigLayers + 1}-layer image with umoci`);
    const layout = buildImage(work, shape);
    const ref = `${registry.host}/bench/img:1`;
    run('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:img`, `docker://${ref}`]);
    const layers = layoutLayers(layout);
    const imageBytes = layers.reduce((n, l) => n + l.size, 0);
    const label = `${(imageBytes / 1e6).toFixed(0)} MB, ${layers.length} layers, ${shape.smallFiles + 8 * shape.bigLayers} files`;

    /** @type {number[]} */ const strataPull = [];
    /** @type {number[]} */ const ready = [];
    /** @type {number[]} */ const skopeoCopy = [];
    /** @type {number[]} */ const umociUnpack = [];
    /** @type {number[]} */ const tarX = [];
    for (let r = 0; r < reps; r++) {
      const store = fs.mkdtempSync(path.join(work, 'store-'));
      const images = await ImageStore.open(store);
      let t0 = performance.now();
      const image = await pull(ref, { store: images, insecure: true });
      strataPull.push((performance.now() - t0) * 1e6);

      t0 = performance.now();
      const cached = await ImageStore.open(store);
      const indexes = await Promise.all(image.layers.map((/** @type {any} */ l) => indexLayer(cached.blobs, { digest: l.digest, mediaType: l.mediaType, diffID: l.diffID })));
      const view = viewLayers(indexes, { dev: 1n });
      ready.push((performance.now() - t0) * 1e6);
      if (view.root.type !== 'directory') throw new Error('layer view has no root');
      for (const i of indexes) i.close();

      const out = path.join(work, `skopeo-${r}`);
      skopeoCopy.push(timed(['skopeo', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:img`]));
      umociUnpack.push(timed(['umoci', 'unpack', '--rootless', '--image', `${out}:img`, path.join(work, `bundle-${r}`)]));

      const dest = path.join(work, `tar-${r}`);
      fs.mkdirSync(dest);
      t0 = performance.now();
      for (const l of layoutLayers(out)) run('tar', ['-xzf', l.file, '-C', dest]);
      tarX.push((performance.now() - t0) * 1e6);
      for (const d of [store, out, path.join(work, `bundle-${r}`), dest]) fs.rmSync(d, { recursive: true, force: true });
    }
    const index = await measureLayerIndex({ files: 10_000, reps: ctx.quick ? 1 : 3 });
    const med = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    const ms = (/** @type {number} */ ns) => `${(ns / 1e6).toFixed(0)} ms`;
    const s = med(strataPull);
    const skopeoUmoci = med(skopeoCopy.map((c, i) => c + (umociUnpack[i] ?? 0)));
    ctx.notes.push(
      `P4 image: ${label}, from docker-registry on 127.0.0.1 (median of ${reps}).`,
      `P4 skopeo copy + umoci unpack of the same image: ${ms(skopeoUmoci)} (copy ${ms(med(skopeoCopy))}, unpack ${ms(med(umociUnpack))}); ×${(skopeoUmoci / s).toFixed(2)} strata's pull + index`,
      `P4 tar -xzf of its layer blobs (extraction only, no fetch): ${ms(med(tarX))}; ×${(med(tarX) / s).toFixed(2)} strata's pull + index`,
    );
    /** @type {(id: string) => any} */
    const na = () => ({ status: 'na', reason: 'no OCI image support', kind: 'skip' });
    /**
     * @param {string} key @param {string} rowLabel @param {'ns' | 'bytes'} unit
     * @param {number[] | { median: number, min: number, max: number, n: number }} values
     */
    const row = (key, rowLabel, unit, values) => {
      const stat = Array.isArray(values) ? { median: med(values), min: Math.min(...values), max: Math.max(...values), n: values.length, samples: values } : values;
      /** @type {Record<string, any>} */
      const cells = {};
      for (const p of ctx.peers) cells[p.id] = p.id === 'strata' ? { status: 'ok', ...stat } : na(p.id);
      return { key: `P4.${key}`, caseId: 'P4', label: rowLabel, unit, cells };
    };
    const rows = [
      row('pull', `pull + index (${label})`, 'ns', strataPull),
      row('ready', 'cached image → ready layer view', 'ns', ready),
      row('index', 'index one 10k-file gzip layer (cold)', 'ns', index.indexNs),
    ];
    if (index.bytesPer10kFiles !== undefined) rows.push(row('indexMemory', 'layer index memory per 10k files', 'bytes', [index.bytesPer10kFiles]));
    return rows;
  } finally {
    await registry.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
