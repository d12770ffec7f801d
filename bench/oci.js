// Layer figures for P4 (issue 3): index time, index memory per 10k files,
// cached image → ready layer view, and the decompressors' throughput.
// Plain functions over ../dist (run `npm run build` first); bench/run.js
// wires them into the table. Index memory counts the JS heap and array
// buffers (the typed-array columns). Every function builds its own synthetic layers
// in a temp store and removes it afterwards. Run with --expose-gc for the
// memory figure (it returns `bytesPer10kFiles: undefined` without gc).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pack } from 'tar-stream';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(process.env.STRATA_BENCH_DIST ?? path.join(here, '..', 'dist'));

/** @param {string} rel */
async function load(rel) {
  const file = path.join(dist, rel);
  if (!fs.existsSync(file)) throw new Error(`strata not built: ${file} is missing (run \`npm run build\`)`);
  return import(pathToFileURL(file).href);
}

async function modules() {
  const [{ BlobStore }, { indexLayer }, { viewLayers }, { decompress }] = await Promise.all([
    load('oci/blob-store.js'),
    load('oci/layer-index.js'),
    load('oci/apply.js'),
    load('oci/decompress.js'),
  ]);
  return { BlobStore, indexLayer, viewLayers, decompress };
}

/**
 * A synthetic layer tar: `files` files of `fileBytes` bytes in directories
 * of 100, paths like `usr/share/pkg-00042/file-0042.txt` (about 35 bytes).
 * @param {{ files: number, fileBytes?: number, prefix?: string }} o
 * @returns {Promise<Uint8Array>}
 */
export async function syntheticLayer({ files, fileBytes = 256, prefix = 'usr/share' }) {
  const p = pack();
  /** @type {Uint8Array[]} */
  const chunks = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c);
  })();
  const body = Buffer.alloc(fileBytes, 'x');
  const put = (/** @type {any} */ header, /** @type {Buffer} */ content) => new Promise((resolve, reject) => p.entry(header, content, (/** @type {any} */ e) => (e ? reject(e) : resolve(undefined))));
  const mtime = new Date(1_700_000_000_000);
  for (let i = 0; i < files; i++) {
    const dir = `${prefix}/pkg-${String(Math.floor(i / 100)).padStart(5, '0')}`;
    if (i % 100 === 0) await put({ name: `${dir}/`, type: 'directory', mode: 0o755, mtime }, Buffer.alloc(0));
    await put({ name: `${dir}/file-${String(i % 100).padStart(4, '0')}.txt`, type: 'file', mode: 0o644, mtime, size: body.length }, body);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

function tempRoot() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-oci-'));
}

/** @param {number[]} xs */
function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)] ?? NaN, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, n: s.length };
}

/**
 * (a) Index one gzip layer of `files` files from a cold cache, `reps` times
 * (a fresh store each time), and the heap the index takes per 10k files
 * (heap + array buffers after gc with a loaded index held, minus before it was loaded).
 * @param {{ files?: number, reps?: number }} [o]
 * @returns {Promise<{ files: number, layerBytes: number, gzipBytes: number, indexNs: ReturnType<typeof stats>, cachedLoadNs: ReturnType<typeof stats>, bytesPer10kFiles: number | undefined, bytesPerEntry: number | undefined }>}
 */
export async function measureLayerIndex({ files = 10_000, reps = 5 } = {}) {
  const { BlobStore, indexLayer } = await modules();
  const tarBytes = await syntheticLayer({ files });
  const gz = gzipSync(tarBytes);
  const mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';
  /** @type {number[]} */
  const index = [];
  /** @type {number[]} */
  const cached = [];
  let bytesPer10kFiles;
  let entries = 0;
  for (let r = 0; r < reps; r++) {
    const root = tempRoot();
    try {
      const store = await BlobStore.open(root);
      const digest = await store.put(gz);
      const t0 = performance.now();
      const fresh = await indexLayer(store, { digest, mediaType });
      index.push((performance.now() - t0) * 1e6);
      entries = fresh.entryCount;
      const t1 = performance.now();
      const hit = await indexLayer(store, { digest, mediaType, diffID: fresh.diffID });
      cached.push((performance.now() - t1) * 1e6);
      if (!hit.cached) throw new Error('second indexLayer was not a cache hit');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }
  if (globalThis.gc) bytesPer10kFiles = await indexMemory(BlobStore, indexLayer, gz, mediaType, files);
  return {
    files,
    layerBytes: tarBytes.length,
    gzipBytes: gz.length,
    indexNs: stats(index),
    cachedLoadNs: stats(cached),
    bytesPer10kFiles,
    bytesPerEntry: bytesPer10kFiles === undefined ? undefined : (bytesPer10kFiles / 10_000) * (files / entries),
  };
}

/**
 * Heap + array buffers taken by one loaded index, per 10k files: `copies`
 * cache loads held at once (to average out noise), after gc and a settle.
 * @param {any} BlobStore @param {any} indexLayer @param {Uint8Array} gz @param {string} mediaType @param {number} files
 */
async function indexMemory(BlobStore, indexLayer, gz, mediaType, files, copies = 8) {
  const root = tempRoot();
  try {
    const store = await BlobStore.open(root);
    const digest = await store.put(gz);
    const { diffID } = await indexLayer(store, { digest, mediaType });
    // Typed-array columns live outside the JS heap: count both.
    const used = async () => {
      await new Promise((r) => setTimeout(r, 20));
      globalThis.gc?.();
      globalThis.gc?.();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = await used();
    const held = [];
    for (let i = 0; i < copies; i++) held.push(await indexLayer(store, { digest, mediaType, diffID }));
    const after = await used();
    if (held.some((h) => !h.cached)) throw new Error('expected cache hits');
    return ((after - before) / copies / files) * 10_000;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * (b) A cached image (`layers` layers of `filesPerLayer` files, already
 * indexed) → a ready layer view: indexLayer cache hits for every layer plus
 * the merge, `reps` times.
 * @param {{ layers?: number, filesPerLayer?: number, reps?: number }} [o]
 * @returns {Promise<{ layers: number, files: number, readyNs: ReturnType<typeof stats>, inodes: number }>}
 */
export async function measureReadyView({ layers = 5, filesPerLayer = 4_000, reps = 10 } = {}) {
  const { BlobStore, indexLayer, viewLayers } = await modules();
  const root = tempRoot();
  try {
    const store = await BlobStore.open(root);
    const mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip';
    /** @type {Array<{ digest: string, diffID: string }>} */
    const descs = [];
    for (let l = 0; l < layers; l++) {
      const gz = gzipSync(await syntheticLayer({ files: filesPerLayer, prefix: `layer${l}/usr` }));
      const digest = await store.put(gz);
      const index = await indexLayer(store, { digest, mediaType });
      descs.push({ digest, diffID: index.diffID });
    }
    /** @type {number[]} */
    const samples = [];
    let inodes = 0;
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      const indexes = [];
      for (const d of descs) indexes.push(await indexLayer(store, { digest: d.digest, mediaType, diffID: d.diffID }));
      const view = viewLayers(indexes, { dev: 1n });
      samples.push((performance.now() - t0) * 1e6);
      inodes = view.inodes;
      for (const i of indexes) i.close();
    }
    return { layers, files: layers * filesPerLayer, readyNs: stats(samples), inodes };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Decompression throughput of a synthetic layer: Node's zlib (gzip) and
 * fzstd (zstd, pure JS), in uncompressed MB/s. zstd data comes from the
 * `zstd` CLI; without it the zstd figure is undefined.
 * @param {{ files?: number, fileBytes?: number }} [o]
 * @returns {Promise<{ tarBytes: number, gzipMBps: number, zstdMBps: number | undefined }>}
 */
export async function measureDecompress({ files = 2_000, fileBytes = 16 * 1024 } = {}) {
  const { decompress } = await modules();
  const tarBytes = await syntheticLayer({ files, fileBytes });
  // Less regular content than the file bodies of syntheticLayer.
  for (let i = 0; i < tarBytes.length; i += 97) tarBytes[i] = (i * 2654435761) >>> 24;
  const drain = async (/** @type {Uint8Array} */ blob, /** @type {string} */ compression) => {
    const t0 = performance.now();
    let n = 0;
    for await (const c of decompress([blob], compression)) n += c.length;
    if (n !== tarBytes.length) throw new Error(`${compression}: got ${n} bytes`);
    return tarBytes.length / 1e6 / ((performance.now() - t0) / 1000);
  };
  const gzipMBps = await drain(gzipSync(tarBytes), 'gzip');
  let zstdMBps;
  const z = spawnSync('zstd', ['-q', '-c', '-3'], { input: tarBytes, maxBuffer: 1 << 30 });
  if (z.status === 0) zstdMBps = await drain(new Uint8Array(z.stdout), 'zstd');
  return { tarBytes: tarBytes.length, gzipMBps, zstdMBps };
}

// `node --expose-gc bench/oci.js` prints the figures alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  console.log(JSON.stringify({ index: await measureLayerIndex(), ready: await measureReadyView(), decompress: await measureDecompress() }, null, 2));
}
