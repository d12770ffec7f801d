import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/layer-trees.js';

/**
 * src/snapshot/manifest-validator.generated.ts is ajv's standalone code for
 * schemas/snapshot-manifest.v1.json, committed so a manifest read never
 * compiles the schema; regenerating it from the schema must give the same
 * bytes, or the validator checks something the published schema does not say.
 */
const repo = fileURLToPath(new URL('../..', import.meta.url));
const committed = join(repo, 'src', 'snapshot', 'manifest-validator.generated.ts');

describe('src/snapshot/manifest-validator.generated.ts', () => {
  it('is what scripts/build-snapshot-validator.mjs generates from the published schema', () => {
    const out = join(tempDir('strata-validator-'), 'manifest-validator.generated.ts');
    const r = spawnSync(process.execPath, [join(repo, 'scripts', 'build-snapshot-validator.mjs'), out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8'), 'stale: run node scripts/build-snapshot-validator.mjs').toBe(readFileSync(committed, 'utf8'));
  });

  it('imports nothing but node:module, and requires only ajv and ajv-formats', () => {
    const code = readFileSync(committed, 'utf8');
    expect([...code.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1])).toEqual(['node:module']);
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0);
    for (const name of required) expect(name).toMatch(/^ajv(-formats)?\//);
  });
});
