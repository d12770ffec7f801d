// P10: the same trivial job on every local sandbox class: the wasm backend
// (in this process), runc, crun and runsc (gVisor, ptrace), from one run.
//
// One image holds busybox-static (Linux) and hello.wasm; the job prints a
// line and exits 0 (`/bin/echo hello` on the Linux runtimes, `hello` on
// wasm). For each class:
//   - start→exit: backend.start() to wait() resolving, in a sandbox already
//     prepared (for the OCI runtimes: one `runtime exec` into a running
//     container, stdio over pipes);
//   - prepare→exit→cleanup: a whole sandbox's life (bundle, mounts,
//     create+start, the job, delete, umount);
//   - runsc only: checkpoint (memory + blob) and restore.
// Needs root and runc, crun, runsc, umoci, busybox on PATH; a class whose
// runtime is missing is reported as n/a. `npm run bench -- --filter P10`, or
// `node bench/p10-oci-runtimes.js [--quick]` (prints the rows).
// strata's dist must be built (`npm run build`).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { distEntry } from './peers.js';
import { buildBusyboxImage, sample, stat, which } from './linux-bench.js';

/**
 * @param {boolean} quick
 * @returns {Promise<Record<string, Record<string, { median: number, min: number, max: number, n: number } | { na: string }>>>}
 */
export async function measureRuntimes(quick) {
  const strata = await import(pathToFileURL(distEntry).href);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-p10-'));
  /** @type {Record<string, Record<string, any>>} */
  const rows = { 'start→exit (prepared sandbox)': {}, 'prepare→exit→cleanup': {}, 'runsc checkpoint (memory + blob)': {}, 'runsc restore → running': {} };
  try {
    const reference = buildBusyboxImage(dir, { hello: true });
    const store = await strata.ImageStore.open(path.join(dir, 'store'));
    const record = await strata.pull(reference, { store });
    const image = { reference: record.reference, manifestDigest: record.manifestDigest, configDigest: record.config.digest, diffIDs: record.layers.map((/** @type {any} */ l) => l.diffID) };
      for (const cls of ['wasm', 'runc', 'crun', 'runsc']) {
      const job = cls === 'wasm' ? ['hello', 'bench'] : ['/bin/echo', 'hello'];
      /** @type {any} */
      let backend;
      if (cls === 'wasm') backend = strata.selectBackend('wasm', await strata.defaultHostConfig());
      else {
        const bin = which(cls);
        if (bin === '' || process.getuid?.() !== 0) {
          for (const r of Object.values(rows)) r[cls] = { na: bin === '' ? `${cls} not on PATH` : 'needs root' };
          continue;
        }
        backend = new strata.OciRuntimeBackend(cls, { assets: [await strata.probeAsset(cls, bin)] });
      }
      const manifest = { class: cls, image, root: { mode: 'overlay' }, mounts: [], process: { args: job, env: ['PATH=/usr/bin:/bin'], workdir: '/' }, backend: { assets: [], config: {} }, delta: [] };
      const runJob = async (/** @type {any} */ prepared) => {
        const exit = await (await backend.start(prepared)).wait();
        if (exit.code !== 0) throw new Error(`${cls}: the job exited ${exit.code} (${exit.reason}): ${new TextDecoder().decode(exit.stderr)}`);
      };
      const n = quick ? 3 : cls === 'runsc' ? 15 : 30;
      const prepared = await backend.prepare(manifest, { store });
      try {
        await runJob(prepared); // warm-up
        rows['start→exit (prepared sandbox)'][cls] = stat(await sample(() => runJob(prepared), n));
        if (cls === 'runsc') {
          /** @type {string | undefined} */
          let digest;
          rows['runsc checkpoint (memory + blob)'][cls] = stat(await sample(async () => ({ digest } = await backend.checkpoint(prepared)), quick ? 1 : 5));
          rows['runsc restore → running'][cls] = stat(
            await sample(async () => {
              const restored = await backend.restore(digest, { store });
              await backend.cleanup(restored);
            }, quick ? 1 : 5),
          );
        }
      } finally {
        await backend.cleanup(prepared);
      }
      rows['prepare→exit→cleanup'][cls] = stat(
        await sample(async () => {
          const p = await backend.prepare(manifest, { store });
          try {
            await runJob(p);
          } finally {
            await backend.cleanup(p);
          }
        }, quick ? 1 : Math.ceil(n / 3)),
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** @param {number} ns */
const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms` : `${(ns / 1e3).toFixed(0)} µs`);

/** @type {import('./cases.js').Case} */
export const p10 = {
  id: 'P10',
  title: 'one trivial job on the wasm backend, runc, crun and runsc (gVisor)',
  async run(ctx) {
    const rows = await measureRuntimes(ctx.quick);
    ctx.extra['P10'] = rows;
    for (const [label, byClass] of Object.entries(rows)) {
      const parts = Object.entries(byClass).map(([cls, s]) => `${cls} ${'na' in s ? `n/a (${s.na})` : fmt(s.median)}`);
      if (parts.length > 0) ctx.notes.push(`P10 ${label}: ${parts.join(', ')}`);
    }
    return Object.entries(rows).flatMap(([label, byClass]) =>
      Object.entries(byClass).map(([cls, s]) => ({
        key: `P10 ${label} ${cls}`,
        caseId: 'P10',
        label: `${label}: ${cls}`,
        unit: /** @type {const} */ ('ns'),
        cells: { strata: 'na' in s ? { status: /** @type {const} */ ('na'), kind: 'skip', reason: s.na } : { status: /** @type {const} */ ('ok'), ...s } },
      })),
    );
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await measureRuntimes(process.argv.includes('--quick'));
  for (const [label, byClass] of Object.entries(rows)) {
    for (const [cls, s] of Object.entries(byClass)) console.log(`${label.padEnd(34)} ${cls.padEnd(6)} ${'na' in s ? `n/a: ${s.na}` : `${fmt(s.median).padStart(9)}  [${fmt(s.min)}–${fmt(s.max)}] n=${s.n}`}`);
  }
}
