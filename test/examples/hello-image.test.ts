import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/layer-trees.js';

/**
 * examples/hello-image backs the README's quickstart, so it is committed;
 * rebuilding it from scripts/build-example-image.mjs and the committed
 * guests must give the same bytes, or the quickstart runs stale guests.
 */
const repo = fileURLToPath(new URL('../..', import.meta.url));
const committed = join(repo, 'examples', 'hello-image');

function files(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(dir, join(prefix, e.name)) : [join(prefix, e.name)])).sort();
}

describe('examples/hello-image', () => {
  it('is what scripts/build-example-image.mjs builds from the committed guests', () => {
    const out = join(tempDir('strata-example-'), 'hello-image');
    const r = spawnSync(process.execPath, [join(repo, 'scripts', 'build-example-image.mjs'), out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(files(out)).toEqual(files(committed));
    for (const name of files(committed)) expect(readFileSync(join(out, name)).equals(readFileSync(join(committed, name))), name).toBe(true);
  });
});
