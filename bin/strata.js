#!/usr/bin/env node
'use strict';
// The CLI, from its bundle (scripts/bundle-cli.mjs) compiled through a V8
// code cache (./compile-cache.js) when the bundle is at least as new as
// the modules it was made from, else from the modules themselves (after a
// bare `tsc`, a stale bundle would run old code).
// bin/ is CommonJS (bin/package.json): an ES module here would start
// Node's ES module loader, ~10 ms of the CLI's start.
const { statSync } = require('node:fs');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'cli', 'strata.bundle.cjs');
const modules = join(__dirname, '..', 'dist', 'cli', 'main.js');
let fresh = false;
try {
  fresh = statSync(bundle).mtimeMs >= statSync(modules).mtimeMs;
} catch {
  // no bundle: the modules
}
const argv = process.argv.slice(2);
// A cache holds what its first run compiled: `strata run` (not its help)
// has one of its own, so a run finds the code it needs whatever ran first.
const tag = argv[0] === 'run' && !argv.includes('--help') && !argv.includes('-h') ? 'run' : 'other';
const cli = fresh ? Promise.resolve(require('./compile-cache.js').loadBundle(bundle, { tag })) : import(require('node:url').pathToFileURL(modules).href);
cli.then((m) => m.main(argv)).then((code) => {
  process.exitCode = code;
});
