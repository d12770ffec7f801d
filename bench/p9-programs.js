// P9: real third-party WASI programs, strata beside node:wasi.
//
// Two programs nobody here wrote, on the same inputs under both hosts, each
// run in a fresh child process (bench/p9-child.js) so its peak RSS is that
// run's own (VmHWM of /proc/self/status on Linux, read by the child at its end):
//   - SQLite 3.54.1 (its amalgamation from better-sqlite3's npm tarball,
//     built to wasm32-wasi by scripts/build-sqlite-wasm.sh with our driver
//     bench/programs/sqlite-bench.c): 100k inserts in one transaction, then
//     20k rows in 2,000 transactions, on a database file in the root.
//     strata: a tmpfs root. node:wasi: a directory in /dev/shm, and one on
//     disk (os.tmpdir()), where each commit's fsyncs reach the disk.
//   - Yosys 0.55 (@yowasp/yosys's core module, yosys.core.wasm, run directly;
//     its share/ tree unpacked from the package's resources-yosys.js):
//     `synth -noabc; stat` of an 8-bit counter. strata: a tmpfs root with
//     the share tree as a read-only bind mount at /share. node:wasi: a
//     directory in /dev/shm preopened as /, the share tree as /share.
// Every run's stdout must equal the others' (SQLite prints a count, sums
// and a hash of the final table); a difference is an error in strata's cell.
// Skipped in --quick: it compiles SQLite (~1–2 min of clang, cached after)
// and runs for a couple of minutes.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { summary } from './measure.js';
import { measureMemory } from './p9-memory.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.join(here, '..');
const build = path.join(here, 'programs', 'build');

const counter = `module counter(input clk, input rst, input en, output reg [7:0] count);
  always @(posedge clk)
    if (rst) count <= 8'd0;
    else if (en) count <= count + 8'd1;
endmodule
`;

/** The SQLite guest, built (or found cached) by scripts/build-sqlite-wasm.sh. */
function sqliteProgram() {
  const r = spawnSync('bash', [path.join(repo, 'scripts', 'build-sqlite-wasm.sh')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/build-sqlite-wasm.sh failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  const meta = JSON.parse(fs.readFileSync(path.join(build, 'sqlite-bench.json'), 'utf8'));
  return {
    name: 'sqlite',
    title: `SQLite ${meta.sqlite}: 100k inserts, then 20k rows in 2,000 transactions`,
    wasm: path.join(build, 'sqlite-bench.wasm'),
    spec: { argv0: 'sqlite-bench', args: ['/bench.db'], dirs: [], files: {} },
    note: `SQLite ${meta.sqlite} from ${meta.source} (sha256 ${meta['sqlite3.c sha256'].slice(0, 12)}…), ${meta.clang}, ${meta.flags}: SQLite's own WASI port (unix VFS, "unix-dotfile" locking, rollback journal, synchronous=FULL)`,
    disk: true,
  };
}

/** Yosys's core module and its share tree, unpacked once per package version. */
async function yosysProgram() {
  const pkgDir = path.join(repo, 'node_modules', '@yowasp', 'yosys');
  if (!fs.existsSync(path.join(pkgDir, 'package.json'))) throw new Error('@yowasp/yosys is not installed (npm ci)');
  const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version;
  const root = path.join(build, `yosys-share-${version}`);
  if (!fs.existsSync(path.join(root, 'done'))) {
    // The package's runtime builds its root the same way: the tree in
    // resources-yosys.js (inline text, or URLs of files in gen/share) at /share.
    const { filesystem } = await import(path.join(pkgDir, 'gen', 'resources-yosys.js'));
    fs.rmSync(root, { recursive: true, force: true });
    const unpack = (/** @type {Record<string, any>} */ tree, /** @type {string} */ dir) => {
      fs.mkdirSync(dir, { recursive: true });
      for (const [name, v] of Object.entries(tree)) {
        const to = path.join(dir, name);
        if (typeof v === 'string') fs.writeFileSync(to, v);
        else if (v instanceof URL) fs.copyFileSync(fileURLToPath(v), to);
        else unpack(v, to);
      }
    };
    unpack(filesystem, root);
    fs.writeFileSync(path.join(root, 'done'), '');
  }
  return {
    name: 'yosys',
    title: `Yosys ${version}: synth -noabc; stat of an 8-bit counter`,
    wasm: path.join(pkgDir, 'gen', 'yosys.core.wasm'),
    spec: { argv0: 'yowasp-yosys', args: ['-Q', '-T', '-p', 'read_verilog /counter.v; synth -noabc -top counter; stat'], dirs: ['/tmp'], files: { '/counter.v': counter }, share: path.join(root, 'share') },
    note: `Yosys: @yowasp/yosys ${version}'s gen/yosys.core.wasm (a preview1 command; imports only wasi_snapshot_preview1), argv0 yowasp-yosys, -Q -T (no banner, no timing footer). Not \`synth\` with ABC: its in-process ABC emulates dup2 with fd_renumber, moving stdout away (fd_renumber(1, 5)) and then its log file onto fd 1, which is no longer open; strata (FdTable.renumber) and node:wasi (uvwasi) require the target fd to be open and answer EBADF (strata's trace: fd_renumber(4, 1) = EBADF), @yowasp's own runtime accepts it; the rest of the log then goes nowhere on both hosts (exit 0, identical truncated output)`,
    disk: false,
  };
}

/**
 * One run in a fresh process.
 * @param {{ wasm: string, spec: object }} program @param {'strata' | 'node:wasi'} host @param {string} [base]
 */
function runChild(program, host, base) {
  let dir;
  if (host === 'node:wasi') {
    dir = fs.mkdtempSync(path.join(/** @type {string} */ (base), 'strata-bench-p9-'));
    fs.mkdirSync(path.join(dir, 'root'));
  }
  try {
    const r = spawnSync(process.execPath, [path.join(here, 'p9-child.js'), host, dir ? path.join(dir, 'root') : 'tmpfs', program.wasm, JSON.stringify(program.spec)], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const line = r.stdout.trim().split('\n').pop();
    if (r.status !== 0 || !line) throw new Error(`p9-child ${host}: exit ${r.status}: ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    const out = JSON.parse(line);
    if (out.exitCode !== 0) throw new Error(`${host}: guest exited ${out.exitCode}: ${out.stderr.trim().split('\n')[0]}`);
    return out;
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** @param {import('./cases.js').Ctx} ctx */
async function runP9(ctx) {
  const reps = 5;
  const programs = [];
  /** @type {import('./cases.js').Row[]} */
  const rows = [];
  const naRow = (/** @type {string} */ key, /** @type {string} */ why) => rows.push({ key: `P9 ${key}`, caseId: 'P9', label: key, unit: 'ns', cells: {}, merged: `n/a: ${why}` });
  for (const [key, make] of /** @type {const} */ ([['sqlite', sqliteProgram], ['yosys', yosysProgram]])) {
    try {
      programs.push(await make());
    } catch (e) {
      naRow(key, e instanceof Error ? e.message : String(e));
    }
  }
  const peersNa = (/** @type {Record<string, any>} */ cells, reason = 'P9 runs real programs under strata and node:wasi only') => {
    for (const p of ctx.peers) if (!(p.id in cells)) cells[p.id] = { status: 'na', reason, kind: 'skip' };
    return cells;
  };
  for (const program of programs) {
    const hosts = /** @type {Array<[string, 'strata' | 'node:wasi', string | undefined]>} */ ([
      ['strata', 'strata', undefined],
      ['shm', 'node:wasi', fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()],
      ...(program.disk ? [/** @type {[string, 'node:wasi', string]} */ (['disk', 'node:wasi', os.tmpdir()])] : []),
    ]);
    /** @type {Record<string, any[]>} */
    const runs = Object.fromEntries(hosts.map(([k]) => [k, []]));
    /** @type {Record<string, string>} */
    const failed = {};
    for (let i = 0; i < reps; i++) {
      for (const [k, host, base] of hosts) {
        if (failed[k]) continue;
        try {
          runs[k]?.push(runChild(program, host, base));
        } catch (e) {
          failed[k] = e instanceof Error ? e.message : String(e);
        }
      }
      ctx.log(`P9 ${program.name}: run ${i + 1}/${reps}`);
    }
    const expected = runs['shm']?.[0]?.stdout ?? runs['strata']?.[0]?.stdout;
    for (const [k] of hosts) {
      const bad = (runs[k] ?? []).find((r) => r.stdout !== expected);
      if (bad && !failed[k]) failed[k] = `stdout differs from node:wasi's: ${JSON.stringify(bad.stdout.slice(0, 120))}…`;
    }
    const cell = (/** @type {string} */ k, /** @type {(r: any) => number} */ f) => {
      const host = k === 'strata' ? 'strata' : 'node:wasi';
      if (failed[k]) return { status: host === 'strata' ? 'error' : 'na', reason: /** @type {string} */ (failed[k]) };
      const xs = (runs[k] ?? []).map(f);
      return { status: 'ok', ...summary(xs), samples: xs, info: { importMs: runs[k]?.map((r) => r.importMs), compileMs: runs[k]?.map((r) => r.compileMs), rssBaseline: runs[k]?.map((r) => r.rssBaseline), stderr: runs[k]?.map((r) => r.stderr.trim()) } };
    };
    for (const [k, , base] of hosts.slice(1)) {
      const where = k === 'disk' ? `node:wasi on disk (${base})` : `node:wasi in ${base}`;
      rows.push({ key: `P9.${program.name}.time.${k}`, caseId: 'P9', label: `${program.name}: wall time (${where})`, unit: 'ns', cells: peersNa({ strata: cell('strata', (r) => r.runMs * 1e6), 'node:wasi': cell(k, (r) => r.runMs * 1e6) }) });
      rows.push({ key: `P9.${program.name}.rss.${k}`, caseId: 'P9', label: `${program.name}: peak RSS (${where})`, unit: 'bytes', cells: peersNa({ strata: cell('strata', (r) => r.maxRSS), 'node:wasi': cell(k, (r) => r.maxRSS) }) });
    }
    const med = (/** @type {string} */ k, /** @type {string} */ f) => summary((runs[k] ?? []).map((r) => r[f])).median;
    const mib = (/** @type {number} */ b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    ctx.notes.push(`P9 ${program.title}: ${reps} runs per host, each in a fresh process (bench/p9-child.js); wall time from the host's setup to the guest's exit, compiling excluded (median compile: ${hosts.map(([k]) => `${k} ${med(k, 'compileMs').toFixed(0)} ms`).join(', ')}; loading strata itself, before that: ${med('strata', 'importMs').toFixed(0)} ms); peak RSS = the child's own peak (VmHWM) at its end (after loading the host and compiling, before the run: ${hosts.map(([k]) => `${k} ${mib(med(k, 'rssBaseline'))}`).join(', ')}). stdout identical on every run: ${Object.keys(failed).length === 0 ? 'yes' : 'NO'}${expected && program.name === 'sqlite' ? ` (${expected.trim()})` : ''}.`);
    ctx.notes.push(`P9 ${program.note}.`);
    ctx.extra[`P9.${program.name}`] = runs;
  }
  // strata's file store alone: memory per byte of file data, per write pattern.
  try {
    for (const m of measureMemory(64)) {
      rows.push({ key: `P9.memory.${m.pattern}`, caseId: 'P9', label: `file data RSS/byte, ${m.pattern} (ArrayBuffers ${m.arrayBuffers.toFixed(2)})`, unit: 'x', cells: peersNa({ strata: { status: 'ok', median: m.rss, n: 1, info: m } }, "strata's in-memory file store only (node:wasi's files are in the kernel's page cache)") });
    }
    ctx.notes.push('P9 file data: bench/p9-memory.js, 64 MiB per pattern, each in a fresh process: growth of RSS (and of V8\'s arrayBuffers) after a full GC, divided by the bytes the FileData objects hold; 1.00 is one byte of memory per byte of data.');
  } catch (e) {
    naRow('file data memory', e instanceof Error ? e.message : String(e));
  }
  return rows;
}

/** @type {import('./cases.js').Case} */
export const p9 = {
  id: 'P9',
  title: 'real programs: SQLite and Yosys, strata vs node:wasi',
  async run(ctx) {
    if (ctx.quick) {
      ctx.notes.push('P9 skipped in --quick: it builds SQLite to wasm (1–2 min of clang on first use) and runs two real programs 5× per host in fresh processes (a few minutes); run `npm run bench -- --filter P9`.');
      return [{ key: 'P9', caseId: 'P9', label: 'real programs (SQLite, Yosys)', unit: 'ns', cells: {}, merged: 'skipped in --quick (see note)' }];
    }
    return runP9(ctx);
  },
};
