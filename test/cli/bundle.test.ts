import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bundle = `${root}dist/cli/bundle/main.js`;

describe('the CLI bundle (scripts/bundle-cli.mjs, loaded by bin/strata.js)', () => {
  it('runs a guest', () => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', `
      const { main } = await import(${JSON.stringify(bundle)});
      process.exitCode = await main(['run', ${JSON.stringify(`${root}guests/bin/hello.wasm`)}, 'bundled']);
    `], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('hello, bundled\n');
    expect(run.status).toBe(0);
  });

  it('finds the package version from the bundle', () => {
    const run = spawnSync(process.execPath, [`${root}bin/strata.js`, '--version'], { encoding: 'utf8' });
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
      const r = await sandbox.run(${JSON.stringify(`${root}guests/bin/hello.wasm`)}, { args: ['pool'] });
      process.stdout.write(new TextDecoder().decode(r.stdout));
      await pool.close();
      (await import('node:fs')).rmSync(out);
    `], { encoding: 'utf8', cwd: root });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('hello, pool\n');
  });
});
