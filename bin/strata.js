#!/usr/bin/env node
// The CLI, from its bundle (scripts/bundle-cli.mjs) when it is at least as
// new as the modules it was made from, else from the modules themselves
// (after a bare `tsc`, a stale bundle would run old code).
import { statSync } from 'node:fs';

const bundle = new URL('../dist/cli/bundle/main.js', import.meta.url);
const modules = new URL('../dist/cli/main.js', import.meta.url);
let fresh = false;
try {
  fresh = statSync(bundle).mtimeMs >= statSync(modules).mtimeMs;
} catch {
  // no bundle: the modules
}
const cli = await import(fresh ? bundle.href : modules.href);

process.exitCode = await cli.main(process.argv.slice(2));
