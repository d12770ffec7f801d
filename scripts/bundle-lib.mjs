#!/usr/bin/env node
// Bundle the library: dist/index.js and the modules it reaches into one ES
// module, dist/bundle/index.js, the package's entry (package.json
// "exports"), and the pool's worker script likewise into
// dist/bundle/worker-entry.js. Node then reads and compiles one file where
// it loaded ~200 modules one by one: importing strata took ~210 ms and
// ~19 MiB of RSS, the bundle ~85 ms and ~12 MiB (docs/decisions.md,
// "The library entry is a bundle").
//
// The bundle sits two levels under the package root, as every module it
// holds did (dist/<folder>/<module>.js), so the paths those modules find
// beside themselves through import.meta.url stay right: `../../schemas/`
// is the package's schemas/, and `./worker-entry.js` is the bundled worker.
// Dynamic imports of strata's own modules stay lazy: esbuild makes each a
// module initialized on first use. Packages under node_modules stay
// external. dist/ keeps its modules and their .d.ts files: the types
// ("exports"."types") are tsc's, and the tests import the modules.
// Run after `tsc -p tsconfig.build.json` (npm run build and npm test do).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { index: 'dist/index.js', 'worker-entry': 'dist/sandbox/pool/worker-entry.js' },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
