// P8: components (WASI preview2) beside their preview1 twins, in strata.
//
// The same C guest runs as its preview1 module (guests/bin) and as its
// component (guests/components: the module adapted with jco's preview1
// command adapter), both in-thread over a fresh tmpfs root:
//   - transpile: jco-transpile's first call in the process (its import and
//     its bindgen's compile included), then the median of later ones;
//   - cache: a transpiled component read back from the blob store and
//     loaded (glue evaluated, core modules compiled), and the in-thread hit;
//   - spawn→exit: `hello` run to its exit, module or component already
//     loaded (instantiate + start + exit + stdout capture);
//   - per call: bench-calls OP N, (t(N) − t(0)) / N, so setup,
//     instantiation and exit cancel out.
// Usage: `npm run bench -- --filter P8`, or `node bench/p8-components.js`
// alone (prints the rows). strata's dist must be built (`npm run build`).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { distDir } from './peers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.join(here, '..');
const dist = distDir;

/** @param {number[]} xs */
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

/** @param {() => unknown} fn @param {number} n */
async function sample(fn, n) {
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    xs.push((performance.now() - t0) * 1e6);
  }
  return xs;
}

/** @param {boolean} quick */
export async function measureComponents(quick) {
  // The modules, not the bundle: component-run and component below are internal modules, and share their classes.
  const strata = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  const run = await import(pathToFileURL(path.join(dist, 'sandbox', 'component-run.js')).href);
  const component = await import(pathToFileURL(path.join(dist, 'component', 'index.js')).href);
  const bytes = (/** @type {string} */ dir, /** @type {string} */ name) => new Uint8Array(fs.readFileSync(path.join(repo, 'guests', dir, `${name}.wasm`)));
  const storeRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-p8-'));
  const rows = /** @type {Record<string, { p1?: number, p2: number, n: number }>} */ ({});
  try {
    // Transpile: cold (first call in this process), then warm.
    const hello = bytes('components', 'hello');
    let t0 = performance.now();
    await component.transpileComponent(hello, 'hello');
    rows['transpile, first in process (hello)'] = { p2: (performance.now() - t0) * 1e6, n: 1 };
    const warm = await sample(() => component.transpileComponent(bytes('components', 'bench-calls'), 'bench-calls'), quick ? 2 : 5);
    rows['transpile, warm (bench-calls)'] = { p2: median(warm), n: warm.length };

    // Cache: fill the store once, then read back + load (a new thread's or process's first run).
    const calls = bytes('components', 'bench-calls');
    await run.loadedComponent(calls, 'bench-calls', storeRoot);
    const cache = run.blobTranspileCache(storeRoot);
    const digest = component.componentDigest(calls);
    const storeHit = await sample(async () => {
      const files = await cache.get(digest);
      await component.loadComponent(digest, files, (/** @type {Uint8Array} */ b) => WebAssembly.compile(b));
    }, quick ? 3 : 10);
    rows['cache hit: blob store read + load'] = { p2: median(storeHit), n: storeHit.length };
    const threadHit = await sample(() => run.loadedComponent(calls, 'bench-calls', storeRoot), quick ? 10 : 100);
    rows['cache hit: in-thread'] = { p2: median(threadHit), n: threadHit.length };

    // Spawn→exit of hello, preloaded.
    const p1Hello = await strata.compileGuest(bytes('bin', 'hello'));
    const p2Hello = await run.loadedComponent(hello, 'hello', storeRoot);
    const sandbox = await strata.Sandbox.create({ root: 'tmpfs' });
    const n = quick ? 20 : 200;
    for (let i = 0; i < 10; i++) {
      sandbox.runSync(p1Hello, { args: ['bench'] });
      run.runLoadedComponent(sandbox.namespace, p2Hello, 'hello', { args: ['bench'] });
    }
    const s1 = await sample(() => sandbox.runSync(p1Hello, { args: ['bench'] }), n);
    const s2 = await sample(() => run.runLoadedComponent(sandbox.namespace, p2Hello, 'hello', { args: ['bench'] }), n);
    rows['spawn→exit (hello)'] = { p1: median(s1), p2: median(s2), n };

    // Per call.
    const p1Calls = await strata.compileGuest(bytes('bin', 'bench-calls'));
    const p2Calls = await run.loadedComponent(calls, 'bench-calls', storeRoot);
    const calls1 = quick ? 2000 : 20000;
    for (const op of ['clock', 'write16', 'read16', 'stat']) {
      const per = async (/** @type {(s: any, args: string[]) => unknown} */ go) => {
        const xs = [];
        for (let i = 0; i < (quick ? 3 : 7); i++) {
          const s = await strata.Sandbox.create({ root: 'tmpfs' });
          const [zero] = await sample(() => go(s, [op, '0']), 1);
          const [full] = await sample(() => go(s, [op, String(calls1)]), 1);
          xs.push((/** @type {number} */ (full) - /** @type {number} */ (zero)) / calls1);
        }
        return median(xs);
      };
      const check = (/** @type {{ exitCode: number, stderr: Uint8Array }} */ r) => {
        if (r.exitCode !== 0) throw new Error(`bench-calls ${op}: exit ${r.exitCode}: ${new TextDecoder().decode(r.stderr)}`);
        return r;
      };
      rows[`per call: ${op}`] = {
        p1: await per((s, args) => check(s.runSync(p1Calls, { args }))),
        p2: await per((s, args) => check(run.runLoadedComponent(s.namespace, p2Calls, 'bench-calls', { args }))),
        n: calls1,
      };
    }
  } finally {
    fs.rmSync(storeRoot, { recursive: true, force: true });
  }
  return rows;
}

/** @param {number} ns */
const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)} µs` : `${ns.toFixed(0)} ns`);

/** @type {import('./cases.js').Case} */
export const p8 = {
  id: 'P8',
  title: 'components (preview2 via jco) beside their preview1 twins',
  async run(ctx) {
    const rows = await measureComponents(ctx.quick);
    ctx.extra['P8'] = rows;
    for (const [label, r] of Object.entries(rows)) {
      ctx.notes.push(`P8 ${label}: component ${fmt(r.p2)}${r.p1 === undefined ? '' : `, preview1 ${fmt(r.p1)} (×${(r.p2 / r.p1).toFixed(1)})`}`);
    }
    return Object.entries(rows).map(([label, r]) => ({
      key: `P8 ${label}`,
      caseId: 'P8',
      label: `${label} (component${r.p1 === undefined ? '' : `; preview1 twin ${fmt(r.p1)}`})`,
      unit: /** @type {const} */ ('ns'),
      cells: { strata: { status: /** @type {const} */ ('ok'), median: r.p2, n: r.n } },
    }));
  },
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = await measureComponents(process.argv.includes('--quick'));
  for (const [label, r] of Object.entries(rows)) console.log(`${label.padEnd(40)} component ${fmt(r.p2).padStart(10)}${r.p1 === undefined ? '' : `   preview1 ${fmt(r.p1).padStart(10)}   ×${(r.p2 / r.p1).toFixed(1)}`}`);
}
