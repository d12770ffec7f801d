// One run of a P9 program under one host, in this fresh process, so the
// process's peak RSS is that run's. Prints one JSON line:
//   { exitCode, stdout, stderr, importMs (strata), compileMs, runMs, maxRSS, rssBaseline, memory }
// maxRSS is the peak resident set of the whole process (Node, the host's
// code, the compiled module, the guest's memory and, for strata, its
// in-memory files), in bytes, at the end: VmHWM of /proc/self/status on
// Linux. Not process.resourceUsage().maxRSS there: Linux carries the
// parent's peak across fork and exec into it, so a child of a large bench
// process would report the parent's RSS (every host measured 370 MiB in
// one full run). Elsewhere, resourceUsage().maxRSS.
// rssBaseline is the same peak after loading the host and compiling the
// module, before the run.
//
//   node bench/p9-child.js HOST ROOT WASM SPEC_JSON
//   HOST strata | node:wasi; ROOT tmpfs (strata) | a host directory (node:wasi)
//   SPEC_JSON { argv0, args, dirs: ['/path'], files: { '/path': text }, share?: hostDir }
//             (dirs and files are made in the root first; share is mounted read-only at /share)
//
// Wall time (runMs) is from before the host's setup (sandbox or WASI
// object, the root's seed files) to the guest's exit; compiling the module
// (the same for both hosts) is outside it and given as compileMs.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { distEntry } from './peers.js';

/** This process's peak resident set in bytes (see the header for why not resourceUsage() on Linux). */
function peakRss() {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

const [host, root, wasmPath, specJson] = process.argv.slice(2);
if (!host || !root || !wasmPath || !specJson) throw new Error('usage: node bench/p9-child.js HOST ROOT WASM SPEC_JSON');
/** @type {{ argv0: string, args: string[], dirs: string[], files: Record<string, string>, share?: string }} */
const spec = JSON.parse(specJson);
const decoder = new TextDecoder();

let t0 = performance.now();
const bytes = new Uint8Array(fs.readFileSync(wasmPath));
/** @type {Record<string, unknown>} */
let result;
if (host === 'strata') {
  // Loading strata itself is not compiling: timed apart (importMs), so compileMs compares like with like.
  const strata = await import(pathToFileURL(distEntry).href);
  const importMs = performance.now() - t0;
  t0 = performance.now();
  const mod = await strata.compileGuest(bytes);
  const compileMs = performance.now() - t0;
  const rssBaseline = peakRss();
  t0 = performance.now();
  const sandbox = await strata.Sandbox.create({
    root,
    ...(spec.share ? { mounts: [{ type: 'bind', source: spec.share, target: '/share', readonly: true }] } : {}),
  });
  for (const dir of spec.dirs) sandbox.fs.mkdir(dir);
  for (const [file, text] of Object.entries(spec.files)) sandbox.fs.writeFile(file, text);
  const r = await sandbox.run(mod, { args: spec.args, argv0: spec.argv0, env: {}, stdin: '' });
  const runMs = performance.now() - t0;
  result = { exitCode: r.exitCode, stdout: decoder.decode(r.stdout), stderr: decoder.decode(r.stderr), importMs, compileMs, runMs, rssBaseline };
  sandbox.close?.();
} else if (host === 'node:wasi') {
  process.emitWarning = () => {};
  const { WASI } = await import('node:wasi');
  const mod = new WebAssembly.Module(bytes);
  const compileMs = performance.now() - t0;
  const rssBaseline = peakRss();
  // stdout and stderr through files beside the root, as bench/peers.js does.
  const out = path.join(root, '..', 'stdout');
  const err = path.join(root, '..', 'stderr');
  t0 = performance.now();
  for (const dir of spec.dirs) fs.mkdirSync(path.join(root, dir));
  for (const [file, text] of Object.entries(spec.files)) fs.writeFileSync(path.join(root, file), text);
  const fds = [fs.openSync('/dev/null', 'r'), fs.openSync(out, 'w+'), fs.openSync(err, 'w+')];
  const wasi = new WASI({
    version: 'preview1',
    args: [spec.argv0, ...spec.args],
    env: {},
    preopens: { '/': root, ...(spec.share ? { '/share': spec.share } : {}) },
    stdin: fds[0],
    stdout: fds[1],
    stderr: fds[2],
    returnOnExit: true,
  });
  const exitCode = wasi.start(new WebAssembly.Instance(mod, /** @type {any} */ (wasi.getImportObject())));
  const runMs = performance.now() - t0;
  // The guest may have closed an fd (node:wasi then closes the host fd too).
  for (const fd of fds) try { fs.closeSync(/** @type {number} */ (fd)); } catch {}
  result = { exitCode, stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8'), compileMs, runMs, rssBaseline };
} else {
  throw new Error(`p9-child: unknown host ${host}`);
}
// memoryUsage at the end: where the peak went (JS heap, ArrayBuffers such as strata's file data).
const { heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
console.log(JSON.stringify({ ...result, maxRSS: peakRss(), memory: { heapTotal, heapUsed, external, arrayBuffers } }));
