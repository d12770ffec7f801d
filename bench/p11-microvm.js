// P11: the qemu class (a microVM per process, `qemu-system-x86_64 -M
// microvm`), on the same trivial job as P10 (`/bin/echo hello` over a
// busybox-static image), per root mode:
//   - boot→exit: backend.start() to wait() resolving in a prepared sandbox
//     (one whole VM boot: kernel, guest init, modules, root, the job, exit);
//   - prepare→exit→cleanup: the sandbox's life (rootfs materialized,
//     mke2fs -d, the boot, images removed);
//   - checkpoint (overlay): one export boot + the delta layer; a memory
//     checkpoint of a running process, and its restore until it runs again.
// The accelerator is what the backend probes (`accel: auto`): TCG on hosts
// whose /dev/kvm cannot run the guest. Needs qemu-system-x86_64, mke2fs,
// umoci, busybox and the guest assets (runtime/microvm/build-assets.sh, run
// here; cached). Skipped in --quick (a boot is seconds). `npm run bench --
// --filter P11`, or `node bench/p11-microvm.js` (prints the rows).
// strata's dist must be built (`npm run build`).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { distDir } from './peers.js';
import { buildBusyboxImage, repo, sample, stat, tool, which } from './linux-bench.js';

/** @returns {Promise<Record<string, { median: number, min: number, max: number, n: number } | { na: string }>>} */
export async function measureMicrovm(runs = 5) {
  /** @type {Record<string, any>} */
  const rows = {};
  const missing = ['qemu-system-x86_64', 'mke2fs', 'umoci', 'busybox', 'apt-get', 'dpkg-deb'].filter((t) => which(t) === '');
  if (missing.length > 0) return { 'boot→exit': { na: `${missing.join(', ')} not on PATH` } };
  // The backends' own entry: the qemu class's exports are not in the package's top level.
  // The modules, not the bundle: backends/index.js is an internal module, and shares their classes.
  const strata = { ...(await import(pathToFileURL(path.join(distDir, 'index.js')).href)), ...(await import(pathToFileURL(path.join(distDir, 'backends', 'index.js')).href)) };
  const t0 = performance.now();
  const assets = tool('sh', [path.join(repo, 'runtime/microvm/build-assets.sh')]).trim().split('\n').at(-1);
  const assetMs = performance.now() - t0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-p11-'));
  try {
    const reference = buildBusyboxImage(dir);
    const store = await strata.ImageStore.open(path.join(dir, 'store'));
    const record = await strata.pull(reference, { store });
    const image = { reference: record.reference, manifestDigest: record.manifestDigest, configDigest: record.config.digest, diffIDs: record.layers.map((/** @type {any} */ l) => l.diffID) };
    const config = await strata.qemuClassConfig(assets, { settings: { accel: 'auto' } });
    const backend = strata.selectBackend('qemu', { classes: { qemu: config } });
    const accel = await strata.probeAccel('/usr/bin/qemu-system-x86_64', config.assets[1].arch.amd64.path, config.assets[2].arch.amd64.path, Math.floor(Number(/cpu MHz\s*:\s*([0-9.]+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 0) * 1000));
    rows[`assets (build-assets.sh, cached: ${assets.split('/').at(-1)})`] = stat([assetMs * 1e6]);
    const manifest = (/** @type {string} */ mode) => ({ class: 'qemu', image, root: { mode, limits: { maxBytes: 64 << 20, maxInodes: 4096 } }, mounts: [], process: { args: ['/bin/echo', 'hello'], env: ['PATH=/usr/bin:/bin'], workdir: '/' }, backend: { assets: [], config: {} }, delta: [] });
    const runJob = async (/** @type {any} */ prepared) => {
      const exit = await (await backend.start(prepared)).wait();
      if (exit.code !== 0) throw new Error(`qemu: the job exited ${exit.code} (${exit.reason}): ${exit.error?.message ?? ''}`);
    };
    for (const mode of ['readonly', 'overlay', 'tmpfs']) {
      const prepared = await backend.prepare(manifest(mode), { store });
      try {
        await runJob(prepared); // warm-up (and the accelerator probe)
        rows[`boot→exit, ${mode} root (${accel})`] = stat(await sample(() => runJob(prepared), runs));
        if (mode === 'overlay') {
          rows[`checkpoint, overlay root (export boot + delta, ${accel})`] = stat(await sample(() => backend.checkpoint(prepared), Math.max(1, Math.ceil(runs / 2))));
          // A memory checkpoint of a running process (stop, migrate, drives, cont), then its restore → resumed output.
          const saves = [];
          const resumes = [];
          for (let i = 0; i < Math.max(1, Math.ceil(runs / 2)); i++) {
            let started;
            const ticked = new Promise((r) => (started = r));
            const job = await backend.exec(prepared, { args: ['/bin/sh', '-c', 'i=0; while [ $i -lt 200 ]; do echo tick $i; i=$((i+1)); done; sleep 3'], stdout: () => started() });
            await ticked;
            const t0 = performance.now();
            const { digest } = await backend.checkpoint(prepared, { memory: true });
            saves.push((performance.now() - t0) * 1e6);
            await job.wait();
            const t1 = performance.now();
            const restored = await backend.restore(digest, { store });
            let first;
            const out = new Promise((r) => (first = r));
            const resumed = await backend.start(restored, { stdout: () => first() });
            await Promise.race([out, resumed.wait()]);
            resumes.push((performance.now() - t1) * 1e6);
            await resumed.wait();
            await backend.cleanup(restored);
          }
          rows[`memory checkpoint of a running process (${accel})`] = stat(saves);
          rows[`memory restore → resumed (first output or exit, ${accel})`] = stat(resumes);
        }
      } finally {
        await backend.cleanup(prepared);
      }
    }
    rows[`prepare→exit→cleanup, overlay root (${accel})`] = stat(
      await sample(async () => {
        const p = await backend.prepare(manifest('overlay'), { store });
        try {
          await runJob(p);
        } finally {
          await backend.cleanup(p);
        }
      }, Math.max(1, Math.ceil(runs / 2))),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** @param {number} ns */
const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms` : `${(ns / 1e3).toFixed(0)} µs`);

/** @type {import('./cases.js').Case} */
export const p11 = {
  id: 'P11',
  title: 'the P10 job in a QEMU microVM (qemu class), per root mode',
  async run(ctx) {
    if (ctx.quick) {
      ctx.notes.push('P11 skipped in --quick: each process is a VM boot (seconds under TCG) and needs the kernel assets');
      return [{ key: 'P11 boot→exit', caseId: 'P11', label: 'boot→exit', unit: /** @type {const} */ ('ns'), cells: { strata: { status: /** @type {const} */ ('na'), kind: 'skip', reason: 'skipped in --quick (VM boots take seconds)' } } }];
    }
    const rows = await measureMicrovm(5);
    ctx.extra['P11'] = rows;
    for (const [label, s] of Object.entries(rows)) ctx.notes.push(`P11 ${label}: ${'na' in s ? `n/a (${s.na})` : fmt(s.median)}`);
    return Object.entries(rows).map(([label, s]) => ({
      key: `P11 ${label}`,
      caseId: 'P11',
      label,
      unit: /** @type {const} */ ('ns'),
      cells: { strata: 'na' in s ? { status: /** @type {const} */ ('na'), kind: 'skip', reason: s.na } : { status: /** @type {const} */ ('ok'), ...s } },
    }));
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 5);
  const rows = await measureMicrovm(runs);
  for (const [label, s] of Object.entries(rows)) console.log(`${label.padEnd(58)} ${'na' in s ? `n/a: ${s.na}` : `${fmt(s.median).padStart(9)}  [${fmt(s.min)}–${fmt(s.max)}] n=${s.n}`}`);
}
