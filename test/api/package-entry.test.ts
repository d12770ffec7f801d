/**
 * The package's entry, as `import 'strata'` finds it: package.json
 * "exports" names the bundle dist/bundle/index.js (scripts/bundle-lib.mjs),
 * which must offer what dist/index.js offers and work where the modules'
 * own paths matter (the pool's worker script, the published schema).
 * `npm test` builds it first; alone, run `npm run build`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type * as Strata from '../../src/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { exports: { '.': { default: string; types: string } } };
const entry = `${root}${manifest.exports['.'].default}`;
const hello = `${root}guests/bin/hello.wasm`;

async function packageEntry(): Promise<typeof Strata> {
  if (!existsSync(entry)) throw new Error(`the package entry ${entry} is missing: run \`npm run build\` first (npm test does)`);
  return (await import(pathToFileURL(entry).href)) as typeof Strata;
}

describe('the package entry (dist/bundle/index.js)', () => {
  it('is the bundle, and exports exactly what dist/index.js exports', async () => {
    expect(manifest.exports['.'].default).toBe('./dist/bundle/index.js');
    const bundled = await packageEntry();
    const modules = (await import(pathToFileURL(`${root}dist/index.js`).href)) as Record<string, unknown>;
    expect(Object.keys(bundled).sort()).toEqual(Object.keys(modules).sort());
  });

  it('runs a guest in the caller thread and in a pool worker (the bundled worker script)', async () => {
    const strata = await packageEntry();
    const sandbox = await strata.Sandbox.create();
    const local = await sandbox.run(hello, { args: ['entry'] });
    expect(new TextDecoder().decode(local.stdout)).toBe('hello, entry\n');
    const pool = new strata.SandboxPool({ size: 1 });
    try {
      const pooled = await pool.create();
      const remote = await pooled.run(hello, { args: ['worker'] });
      expect(new TextDecoder().decode(remote.stdout)).toBe('hello, worker\n');
    } finally {
      await pool.close();
    }
  });

  it('finds the published schema beside the package', async () => {
    const { snapshotSchemaUrl } = await packageEntry();
    expect(fileURLToPath(snapshotSchemaUrl)).toBe(`${root}schemas/snapshot-manifest.v1.json`);
    expect(existsSync(snapshotSchemaUrl)).toBe(true);
  });

  it('imports no module of dist/ beside itself, only packages and builtins', () => {
    // A module of dist/ loaded beside the bundle would be a second copy of
    // its classes (instanceof checks and error classes would then disagree).
    for (const file of [entry, `${root}dist/bundle/worker-entry.js`]) {
      const source = readFileSync(file, 'utf8');
      const specifiers = [...source.matchAll(/(?:^|[\s;])(?:import|export)\s[^'";]*?from\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)|^import\s*["']([^"']+)["']/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
      expect(specifiers.length).toBeGreaterThan(0);
      expect(specifiers.filter((s) => s.startsWith('.') || s.startsWith('/') || s.startsWith('file:'))).toEqual([]);
    }
  });
});
