import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = `${root}bin/strata.js`;
const loader = `${root}bin/compile-cache.js`;
const hello = `${root}guests/bin/hello.wasm`;
const bundle = `${root}dist/cli/strata.bundle.cjs`;

/** Run bin/strata.js with its code cache in `cache`. */
function strata(args: string[], cache: string) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, STRATA_COMPILE_CACHE: cache } });
}

/** Load `file` through bin/compile-cache.js in a fresh process (the cache is written at exit) and print what `script` makes of its exports. */
function load(file: string, cache: string, script = 'String(exports.value)') {
  return spawnSync(process.execPath, ['-e', `
    const { loadBundle } = require(${JSON.stringify(loader)});
    const exports = loadBundle(${JSON.stringify(file)}, { tag: 'test' });
    Promise.resolve(${script}).then((out) => process.stdout.write(String(out)));
  `], { encoding: 'utf8', env: { ...process.env, STRATA_COMPILE_CACHE: cache } });
}

const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

describe('the CLI bundle (scripts/bundle-cli.mjs, loaded by bin/strata.js)', () => {
  it('runs a guest the same from a cold and a warm code cache', () => {
    const cache = tempDir('strata-cc-');
    const cold = strata(['run', hello, 'bundled'], cache);
    expect(cold.stderr).toBe('');
    expect(cold.stdout).toBe('hello, bundled\n');
    // runtime, the digest the bundle states, its size and time (base 36), the command
    expect(readdirSync(cache)).toEqual([expect.stringMatching(/^[0-9a-f]{12}-[0-9a-f]{32}-[0-9a-z]+-[0-9a-z]+-run\.v8$/)]);
    const warm = strata(['run', hello, 'bundled'], cache);
    expect([warm.status, warm.stdout, warm.stderr]).toEqual([0, 'hello, bundled\n', '']);
  });

  it('runs with the cache off, or in a directory it cannot write', () => {
    const file = join(tempDir('strata-cc-'), 'not-a-dir');
    writeFileSync(file, '');
    for (const cache of ['off', file]) {
      const r = strata(['run', hello, 'uncached'], cache);
      expect([r.status, r.stdout, r.stderr]).toEqual([0, 'hello, uncached\n', '']);
    }
  });

  it('states the sha256 of the rest in its first line, and holds its code in the function the loader runs', () => {
    const text = readFileSync(bundle, 'latin1');
    const newline = text.indexOf('\n');
    expect(text.slice(0, newline)).toBe(`// strata-bundle sha256=${createHash('sha256').update(text.slice(newline + 1), 'latin1').digest('hex')}`);
    expect(text.slice(newline + 1)).toMatch(/^\(function \(exports, require, module, __filename, __dirname, __hostImport\) \{[^]*\n\}\)$/);
  });

  it('`strata run MODULE.wasm` loads no builtin module it does not need, from a cold or a warm cache, into a pipe or /dev/null', () => {
    // Each costs milliseconds of every start (docs/decisions.md, "CLI start"). vm (the code cache's loader) is needed;
    // perf_hooks only when the guest reads a clock (hello does not).
    const unneeded = ['tty', 'net', 'readline', 'child_process', 'worker_threads', 'zlib', 'http', 'https', 'crypto', 'fs/promises', 'stream', 'os', 'perf_hooks'];
    const cache = tempDir('strata-cc-');
    const report = join(cache, 'report.js');
    writeFileSync(report, `const fs = require('node:fs'); process.on('exit', () => fs.writeSync(2, JSON.stringify(process.moduleLoadList)));`);
    for (const stdio of ['pipe', 'ignore'] as const) {
      for (let i = 0; i < 2; i++) {
        const r = spawnSync(process.execPath, ['-r', report, bin, 'run', hello], { encoding: 'utf8', stdio: ['ignore', stdio, 'pipe'], env: { ...process.env, STRATA_COMPILE_CACHE: cache } });
        expect(r.status).toBe(0);
        const loaded = (JSON.parse(r.stderr) as string[]).filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
        expect(loaded).toContain('vm'); // the report works
        expect(unneeded.filter((m) => loaded.includes(m))).toEqual([]);
      }
    }
  });

  it('finds the package version from the bundle', () => {
    const run = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(run.stdout.trim()).toMatch(/^strata \d+\.\d+\.\d+/);
  });

  it('a pool made from the bundle finds its worker script in dist/', () => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { build } from 'esbuild';
      const out = ${JSON.stringify(`${root}dist/cli/pool-probe.bundle.js`)};
      await build({ stdin: { contents: "export { SandboxPool } from './dist/index.js';", resolveDir: ${JSON.stringify(root)} }, bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile: out, logLevel: 'silent' });
      const { SandboxPool } = await import(out);
      const pool = new SandboxPool({ size: 1 });
      const sandbox = await pool.create();
      const r = await sandbox.run(${JSON.stringify(hello)}, { args: ['pool'] });
      process.stdout.write(new TextDecoder().decode(r.stdout));
      await pool.close();
      (await import('node:fs')).rmSync(out);
    `], { encoding: 'utf8', cwd: root });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('hello, pool\n');
  });
});

describe('the code cache (bin/compile-cache.js)', () => {
  it('never runs a cache made for other bytes, even of the same length', () => {
    const dir = tempDir('strata-cc-');
    const cache = join(dir, 'cache');
    const file = join(dir, 'bundle.cjs');
    writeFileSync(file, 'exports.value = function () { return 1; }();');
    expect(load(file, cache).stdout).toBe('1');
    expect(load(file, cache).stdout).toBe('1');
    writeFileSync(file, 'exports.value = function () { return 2; }();');
    expect(load(file, cache).stdout).toBe('2');
    expect(readdirSync(cache)).toHaveLength(2);
  });

  it('trusts the digest a bundle states only with its size and time: an edit that keeps the line and the length misses', () => {
    const dir = tempDir('strata-cc-');
    const cache = join(dir, 'cache');
    const file = join(dir, 'bundle.cjs');
    const line = `// strata-bundle sha256=${'ab'.repeat(32)}\n`;
    writeFileSync(file, `${line}exports.value = function () { return 1; }();`);
    expect(load(file, cache).stdout).toBe('1');
    expect(load(file, cache).stdout).toBe('1');
    writeFileSync(file, `${line}exports.value = function () { return 2; }();`);
    utimesSync(file, 1_000_000, 1_000_000);
    expect(load(file, cache).stdout).toBe('2');
    expect(load(file, cache).stdout).toBe('2');
    expect(readdirSync(cache)).toHaveLength(2);
    expect(readdirSync(cache).every((name) => name.includes('-abababababababababababababababab-'))).toBe(true);
  });

  it('loads no node:crypto for a bundle that states its digest, and hashes one that does not', () => {
    const dir = tempDir('strata-cc-');
    const cache = join(dir, 'cache');
    const stated = join(dir, 'stated.cjs');
    const plain = join(dir, 'plain.cjs');
    writeFileSync(stated, `// strata-bundle sha256=${'cd'.repeat(32)}\nexports.value = 6;`);
    writeFileSync(plain, 'exports.value = 6;');
    // a script file: `node -e` loads node:crypto itself
    const runner = join(dir, 'runner.cjs');
    writeFileSync(runner, `require(${JSON.stringify(loader)}).loadBundle(process.argv[2], { tag: 'test' }); process.stdout.write(String(process.moduleLoadList.includes('NativeModule crypto')));`);
    const loadsCrypto = (file: string) => spawnSync(process.execPath, [runner, file], { encoding: 'utf8', env: { ...process.env, STRATA_COMPILE_CACHE: cache } }).stdout;
    for (let i = 0; i < 2; i++) {
      expect(loadsCrypto(stated)).toBe('false');
      expect(loadsCrypto(plain)).toBe('true');
    }
    expect(readdirSync(cache).sort()).toEqual([
      expect.stringMatching(/^[0-9a-f]{12}-[0-9a-f]{32}-test\.v8$/),
      expect.stringMatching(/^[0-9a-f]{12}-cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd-[0-9a-z]+-[0-9a-z]+-test\.v8$/),
    ]);
    expect(readdirSync(cache).find((name) => !name.includes('-cdcd'))).toContain(createHash('sha256').update('exports.value = 6;').digest('hex').slice(0, 32));
  });

  it('writes no cache from a run that fails', () => {
    const dir = tempDir('strata-cc-');
    const cache = join(dir, 'cache');
    const file = join(dir, 'bundle.cjs');
    writeFileSync(file, 'exports.value = 5; process.exitCode = 2;');
    expect(load(file, cache)).toMatchObject({ status: 2, stdout: '5' });
    expect(existsSync(cache)).toBe(false);
  });

  it('keeps the 16 files written last', () => {
    const dir = tempDir('strata-cc-');
    const cache = join(dir, 'cache');
    const file = join(dir, 'bundle.cjs');
    mkdirSync(cache);
    for (let i = 0; i < 20; i++) {
      writeFileSync(join(cache, `old-${i}.v8`), '');
      utimesSync(join(cache, `old-${i}.v8`), 1_000_000 + i, 1_000_000 + i);
    }
    writeFileSync(file, 'exports.value = 4;');
    expect(load(file, cache).stdout).toBe('4');
    const kept = readdirSync(cache);
    expect(kept).toHaveLength(16);
    expect(kept.filter((name) => !name.startsWith('old-'))).toHaveLength(1);
    expect(kept).not.toContain('old-4.v8');
    expect(kept).toContain('old-5.v8');
  });

  it('imports packages and file URLs from code compiled from the cache', () => {
    const dir = tempDir('strata-cc-');
    const cache = join(dir, 'cache');
    const file = join(dir, 'bundle.cjs');
    const module = join(dir, 'module.mjs');
    writeFileSync(module, 'export const value = 7;');
    // what the bundler makes of import('node:os') and of import(expression); a require of a builtin and of a name
    writeFileSync(file, `exports.value = async () => (await __hostImport('node:os')).EOL.length + (await Promise.resolve().then(() => require(${JSON.stringify(pathToFileURL(module).href)}))).value + require('node:path').sep.length + require('path').sep.length;`);
    for (let i = 0; i < 2; i++) expect(load(file, cache, 'exports.value()')).toMatchObject({ stdout: '10', stderr: '' });
  });

  it.skipIf(process.platform === 'win32')('ignores a cache file others may write, and writes its own', () => {
    const dir = tempDir('strata-cc-');
    const cache = join(dir, 'cache');
    const file = join(dir, 'bundle.cjs');
    writeFileSync(file, 'exports.value = 3;');
    expect(load(file, cache).stdout).toBe('3');
    const [name] = readdirSync(cache);
    const path = join(cache, name!);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    chmodSync(path, 0o666);
    expect(load(file, cache).stdout).toBe('3');
    // rejected, so written again (a new file, the user's own and private)
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
