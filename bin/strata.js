#!/usr/bin/env node
// The CLI, from its bundle (scripts/bundle-cli.mjs) when it was built, else from its modules.
let cli;
try {
  cli = await import('../dist/cli/strata.bundle.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('strata.bundle.js')) throw error;
  cli = await import('../dist/cli/main.js');
}

process.exitCode = await cli.main(process.argv.slice(2));
