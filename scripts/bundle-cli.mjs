#!/usr/bin/env node
// Bundle the CLI (dist/cli/main.js and the modules it reaches, dynamic
// imports included) into one file, dist/cli/strata.bundle.js, which
// bin/strata.js loads: Node then resolves and compiles one module instead
// of ~140, which is most of `strata run`'s start (docs/benchmarks.md, "CLI
// start"). Packages under node_modules stay external (loaded as usual).
// Run after `tsc -p tsconfig.build.json` (npm run build and npm test do).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/cli/strata.bundle.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
