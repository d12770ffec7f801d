// strata's benchmark suite: `npm run bench [-- --quick] [-- --filter NAME]`.
//
// Measures strata and its in-process peers on the same guests and the same
// (empty, guest-built) file trees, prints a table with ratios peer/strata,
// and writes everything to bench/results/latest.json. See bench/README.md.
//
//   --quick         small sizes and few runs: a smoke test. Asserts nothing
//                   about timings; exits 1 if strata is missing or any case
//                   fails in a way that is not a declared skip.
//   --filter NAME   only cases whose "ID title" contains NAME (any case)
//   --peers A,B     only these hosts (substring of the column name); strata
//                   is always included
//   --out FILE      write the JSON there instead of bench/results/latest.json

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { allPeers, distEntry, hostTmpBase } from './peers.js';
import { cases as baseCases } from './cases.js';
import { p8 } from './p8-components.js';
import { p9 } from './p9-programs.js';
import { p10 } from './p10-oci-runtimes.js';
import { p11 } from './p11-microvm.js';
import { ratio, renderTable } from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cases = [...baseCases, p8, p9, p10, p11];
const repo = path.join(here, '..');

/** @typedef {import('./cases.js').Row} Row */

function parseArgs(/** @type {string[]} */ argv) {
  const opts = { quick: false, filter: /** @type {string | undefined} */ (undefined), peers: /** @type {string[] | undefined} */ (undefined), out: path.join(here, 'results', 'latest.json') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return /** @type {string} */ (v);
    };
    if (a === '--quick') opts.quick = true;
    else if (a === '--filter') opts.filter = value();
    else if (a?.startsWith('--filter=')) opts.filter = a.slice('--filter='.length);
    else if (a === '--peers') opts.peers = value().split(',');
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  return opts;
}

/** @param {string} [problem] @returns {never} */
function usage(problem) {
  if (problem) console.error(`bench: ${problem}`);
  console.error('usage: node --expose-gc bench/run.js [--quick] [--filter NAME] [--peers A,B] [--out FILE]');
  process.exit(problem ? 2 : 0);
}

// node:wasi announces itself as experimental on first use; that line would
// land in the middle of the progress output. Every other warning still shows.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = /** @type {typeof process.emitWarning} */ (
  (/** @type {any} */ warning, /** @type {any[]} */ ...rest) => {
    if (String(warning?.message ?? warning).startsWith('WASI is an experimental feature')) return;
    return emitWarning(warning, ...rest);
  }
);

const opts = parseArgs(process.argv.slice(2));
const started = performance.now();
/** @param {string} msg */
const log = (msg) => process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
if (!globalThis.gc) log('warning: run with --expose-gc (npm run bench does) for steadier figures');

// ---------------------------------------------------------------- hosts

const peers = allPeers().filter((p) => p.id === 'strata' || !opts.peers || opts.peers.some((f) => p.id.includes(f)));
/** @type {Array<import('./peers.js').Peer & { initError?: string }>} */
const hosts = [];
for (const p of peers) {
  try {
    await p.init();
    hosts.push(p);
  } catch (e) {
    hosts.push({ ...p, initError: e instanceof Error ? e.message : String(e) });
  }
}
const strata = /** @type {(typeof hosts)[number]} */ (hosts[0]);
if (strata.initError) {
  log(`${strata.initError.toUpperCase()}. Peers are measured; strata's column stays empty.`);
}

// ---------------------------------------------------------------- guests

const guestFiles = { hello: 'hello', calls: 'bench-calls', append: 'bench-append', meta: 'bench-meta', bulk: 'bench-bulk' };
/** @type {Record<string, import('./peers.js').Guest>} */
const guests = {};
for (const [key, name] of Object.entries(guestFiles)) {
  const file = path.join(repo, 'guests', 'bin', `${name}.wasm`);
  if (!fs.existsSync(file)) {
    console.error(`bench: ${path.relative(repo, file)} is missing; build the guests with \`bash guests/build.sh\``);
    process.exit(1);
  }
  const bytes = new Uint8Array(fs.readFileSync(file));
  guests[key] = { name, bytes, module: new WebAssembly.Module(bytes) };
}
/** @type {Map<any, Map<any, Promise<any>>>} */
const handles = new Map();
/** @type {import('./cases.js').Ctx['handle']} */
const handle = (peer, guest) => {
  let byGuest = handles.get(peer.id);
  if (!byGuest) handles.set(peer.id, (byGuest = new Map()));
  let h = byGuest.get(guest);
  if (!h) byGuest.set(guest, (h = peer.load(guest)));
  return h;
};

// ---------------------------------------------------------------- run

/** @type {import('./cases.js').Ctx} */
const ctx = {
  quick: opts.quick,
  peers: hosts,
  guests: /** @type {any} */ (guests),
  handle,
  log,
  notes: [],
  extra: {},
};
const selected = cases.filter((c) => !opts.filter || `${c.id} ${c.title}`.toLowerCase().includes(opts.filter.toLowerCase()));
if (selected.length === 0) usage(`--filter ${opts.filter} matches no case (cases: ${cases.map((c) => c.id).join(', ')})`);

/** @type {Array<{ id: string, title: string, rows: Row[], error?: string }>} */
const results = [];
for (const c of selected) {
  log(`${c.id} ${c.title}`);
  try {
    results.push({ id: c.id, title: c.title, rows: await c.run(ctx) });
  } catch (e) {
    // A failure outside any one host: a bug in the harness or a guest.
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    log(`${c.id} FAILED: ${msg}`);
    results.push({ id: c.id, title: c.title, rows: [], error: msg.split('\n')[0] ?? msg });
  }
}
const allRows = results.flatMap((r) => r.rows);
// Figures timed by the guest itself rely on the host's monotonic clock.
const coarse = new Set();
for (const row of allRows) {
  for (const [id, cell] of Object.entries(row.cells)) {
    const g = cell.status === 'ok' ? cell.info?.clockGranularityNs : undefined;
    if (typeof g === 'number' && g >= 1e6) coarse.add(id);
  }
}
if (coarse.size > 0) {
  ctx.notes.push(
    `Clock: the monotonic clock of ${[...coarse].join(', ')} ticks in whole milliseconds, so their guest-timed figures (P2b, P3, P3b) are ±1 ms per interval.`,
  );
}
const byKey = new Map(allRows.map((r) => [r.key, r]));
for (const row of allRows) if (row.target) row.targetResult = row.target(row, byKey);

// ---------------------------------------------------------------- verdict

/** @type {string[]} */
const problems = [];
if (opts.quick && strata.initError) problems.push(strata.initError);
for (const r of results) if (r.error) problems.push(`${r.id}: harness failure: ${r.error}`);
for (const row of allRows) {
  for (const [id, cell] of Object.entries(row.cells)) {
    if (cell.status === 'error') problems.push(`${row.caseId} ${id}: ${cell.reason}`);
    // In the smoke run a peer failing is a regression too, unless the case
    // skipped it on purpose (no equivalent, or too slow for the size).
    if (opts.quick && cell.status === 'na' && cell.kind !== 'skip') problems.push(`${row.caseId} ${id}: ${cell.reason}`);
  }
}
const uniqueProblems = [...new Set(problems)];

// ---------------------------------------------------------------- output

/** @param {string} pkg */
const version = (pkg) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(repo, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
};
const git = (/** @type {string[]} */ args) => spawnSync('git', args, { cwd: repo, encoding: 'utf8' }).stdout?.trim() || undefined;
const packages = { 'node:wasi': undefined, browser_wasi_shim: '@bjorn3/browser_wasi_shim', '@wasmer/wasi': '@wasmer/wasi', 'wasm-util+memfs': '@tybys/wasm-util' };
const headers = Object.fromEntries(hosts.map((h) => [h.id, h.id]));
const peerIds = hosts.map((h) => h.id);
const cpu = os.cpus();

const { text, footnotes } = renderTable({ rows: allRows, peerIds, headers });
const out = [];
out.push(`strata bench: ${opts.quick ? 'QUICK smoke run (small sizes, few runs: figures are not comparable)' : 'full run'}${opts.filter ? `, --filter ${opts.filter}` : ''}`);
out.push(`node ${process.version}, ${os.platform()} ${os.arch()}, ${cpu.length} × ${cpu[0]?.model ?? '?'}, host dirs under ${hostTmpBase}`);
out.push(
  `Figures: median of ${opts.quick ? 'a few runs' : 'repeated runs after a warm-up'}, [min–max] beneath. Ratio ×N = peer / strata: every figure is a cost, so N > 1 means strata is faster or smaller.`,
);
if (strata.initError) out.push(`*** ${strata.initError}. Its column is empty and no ratio can be computed. ***`);
out.push('');
out.push(text);
for (const r of results) if (r.error) out.push(`${r.id} ${r.title}: FAILED: ${r.error}`);
if (footnotes.length > 0 || ctx.notes.length > 0) out.push('');
footnotes.forEach((f, i) => out.push(`[${i + 1}] ${f}`));
for (const n of ctx.notes) out.push(n);
console.log(out.join('\n'));

const json = {
  schema: 'strata-bench/1',
  date: new Date().toISOString(),
  mode: opts.quick ? 'quick' : 'full',
  filter: opts.filter ?? null,
  ratio: 'peer / strata; every figure is a cost (ns, bytes or a growth factor): > 1 means strata is faster or smaller',
  env: {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: `${cpu.length} × ${cpu[0]?.model ?? '?'}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    hostTmpBase,
    exposeGc: Boolean(globalThis.gc),
  },
  strata: { built: !strata.initError, reason: strata.initError ?? null, dist: path.relative(repo, distEntry), commit: git(['rev-parse', 'HEAD']) ?? null, srcDirty: Boolean(git(['status', '--porcelain', '--', 'src'])) },
  peers: hosts.map((h) => ({ id: h.id, label: h.label, version: h.id === 'node:wasi' ? process.version : h.id === 'strata' ? JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).version : version(/** @type {any} */ (packages)[h.id]) ?? null, setup: h.setup, available: !h.initError, reason: h.initError ?? null })),
  cases: results.map((r) => ({
    id: r.id,
    title: r.title,
    error: r.error ?? null,
    rows: r.rows.map((row) => ({
      key: row.key,
      label: row.label,
      unit: row.unit,
      ...(row.merged !== undefined ? { status: row.merged } : {}),
      target: row.targetResult ?? null,
      cells: row.cells,
      ratios: Object.fromEntries(peerIds.filter((id) => id !== 'strata').map((id) => [id, ratio(row, id) ?? null])),
    })),
  })),
  notes: ctx.notes,
  extra: ctx.extra,
  problems: uniqueProblems,
  seconds: Math.round((performance.now() - started) / 100) / 10,
};
fs.mkdirSync(path.dirname(opts.out), { recursive: true });
fs.writeFileSync(opts.out, JSON.stringify(json, null, 1) + '\n');
log(`wrote ${path.relative(process.cwd(), opts.out)}`);

if (uniqueProblems.length > 0) {
  console.error(`\nbench: ${uniqueProblems.length} problem(s):`);
  for (const p of uniqueProblems) console.error(`  - ${p}`);
  process.exit(1);
}
