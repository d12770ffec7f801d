#!/usr/bin/env node
// Bundle the CLI (dist/cli/main.js and the modules it reaches) into
// dist/cli/bundle/: main.js, plus one chunk per command loaded on demand
// (esbuild's code splitting of the CLI's dynamic imports) and the chunks
// they share. bin/strata.js loads it: Node then resolves and compiles a
// few files instead of ~140, and only what the command needs, which is
// most of `strata run`'s own start (docs/benchmarks.md, "CLI start").
// Packages under node_modules stay external (loaded as usual).
// Run after `tsc -p tsconfig.build.json` (npm run build and npm test do).
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await rm(`${root}dist/cli/bundle`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['dist/cli/main.js'],
  outdir: 'dist/cli/bundle',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
