import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = `${root}bin/strata.js`;
const loader = `${root}bin/compile-cache.js`;
const hello = `${root}guests/bin/hello.wasm`;

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
    expect(readdirSync(cache)).toEqual([expect.stringMatching(/^[0-9a-f]{12}-[0-9a-f]{32}-run\.v8$/)]);
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
    // what the bundler makes of import('node:os') and of import(expression)
    writeFileSync(file, `exports.value = async () => (await __hostImport('node:os')).EOL.length + (await Promise.resolve().then(() => require(${JSON.stringify(pathToFileURL(module).href)}))).value;`);
    for (let i = 0; i < 2; i++) expect(load(file, cache, 'exports.value()')).toMatchObject({ stdout: '8', stderr: '' });
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
