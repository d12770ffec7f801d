/**
 * Files of strata's own package (its `package.json`, the pool's worker
 * script), found from wherever this code runs: one module per file under
 * `dist/` (or `src/` under the tests), or the CLI's single bundle
 * `dist/cli/strata.bundle.cjs`, where `import.meta.url` names the bundle,
 * not the module the code came from.
 */
import { existsSync, readFileSync } from 'node:fs';

let root: URL | undefined;

/** The package's root directory: the nearest directory above this code whose `package.json` is strata's. */
export function packageRoot(): URL {
  if (root !== undefined) return root;
  for (let dir = new URL('./', import.meta.url); ; ) {
    const manifest = new URL('package.json', dir);
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'strata') return (root = dir);
    const up = new URL('../', dir);
    if (up.href === dir.href) throw new Error(`strata's package.json was not found above ${import.meta.url}`);
    dir = up;
  }
}

let version: string | undefined;

/** strata's version, from its `package.json`. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('package.json', packageRoot()), 'utf8')) as { version: string }).version;
  return version;
}

/** A module of the built package, by its path under `dist/` (e.g. `sandbox/pool/worker-entry.js`). */
export function distModule(path: string): URL {
  return new URL(`dist/${path}`, packageRoot());
}
