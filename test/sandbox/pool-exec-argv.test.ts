import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { builtStrata } from './pool-support.js';

/**
 * An app started with process-wide V8 flags (`--expose-gc`, as benchmarks
 * and some servers are) can still use the pool: such flags are refused in a
 * worker's execArgv, so the pool leaves them out (they apply to every
 * thread anyway) and keeps the rest.
 */
describe('a pool in an app started with V8 flags', () => {
  it('starts its workers under --expose-gc', async () => {
    await builtStrata(); // a clear error when dist/ is not built
    const dist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    const hello = fileURLToPath(new URL('../../guests/bin/hello.wasm', import.meta.url));
    const script = `
      const { SandboxPool } = await import(${JSON.stringify(dist)});
      const pool = new SandboxPool({ size: 1 });
      const sandbox = await pool.create();
      const r = await sandbox.run(${JSON.stringify(hello)}, { args: ['flags'] });
      process.stdout.write(new TextDecoder().decode(r.stdout) + String(typeof globalThis.gc));
      await pool.close();`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello, flags\nfunction');
  });
});
