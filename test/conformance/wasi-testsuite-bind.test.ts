/**
 * The official wasi-testsuite again, with the guest's root a read-write
 * bind of a fresh host copy of each test's `root` tree: the same POSIX
 * semantics through HostDir (host inodes, host errors, host readdir) as
 * through tmpfs. The suite itself and its spec format are described in
 * wasi-testsuite.test.ts; this runner reads only what these tests use.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../../src/index.js';

const suiteDir = fileURLToPath(new URL('../../../shared/wasi-testsuite/', import.meta.url));
const present = existsSync(join(suiteDir, 'README.md'));
if (!present && process.env['CI'] === 'true') throw new Error(`the wasi-testsuite is missing at ${suiteDir}; CI=true allows no skipped tests`);

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!present)('wasi-testsuite over a bind-mounted host directory', () => {
  const tests = present
    ? ['assemblyscript', 'c', 'rust'].flatMap((g) =>
        readdirSync(join(suiteDir, g))
          .filter((f) => f.endsWith('.wasm'))
          .sort()
          .map((f) => `${g}/${f.slice(0, -'.wasm'.length)}`),
      )
    : [];

  it('has the 72 tests', () => {
    expect(tests).toHaveLength(72);
  });

  for (const name of tests) {
    it(name, async () => {
      const [group, base] = name.split('/') as [string, string];
      const specFile = join(suiteDir, group, `${base}.json`);
      const spec = (existsSync(specFile) ? JSON.parse(readFileSync(specFile, 'utf8')) : {}) as {
        args?: string[];
        env?: Record<string, string>;
        root?: string;
        exit_code?: number;
        stdout?: string;
      };
      const host = mkdtempSync(join(tmpdir(), 'strata-wasi-bind-'));
      made.push(host);
      if (spec.root !== undefined) cpSync(join(suiteDir, group, spec.root), host, { recursive: true, verbatimSymlinks: true });
      const sandbox = await Sandbox.create({ mounts: [{ type: 'bind', source: host, target: '/' }] });
      const result = await sandbox.run(readFileSync(join(suiteDir, group, `${base}.wasm`)), {
        argv0: `${base}.wasm`,
        args: spec.args ?? [],
        env: spec.env ?? {},
        preopens: spec.root === undefined ? [] : [{ dir: '/', as: '/' }],
        timeoutMs: 30_000,
      });
      const stderr = new TextDecoder().decode(result.stderr);
      expect(result.exitCode, `exit code; stderr:\n${stderr}`).toBe(spec.exit_code ?? 0);
      if (spec.stdout !== undefined) expect(new TextDecoder().decode(result.stdout)).toBe(spec.stdout);
    });
  }
});
