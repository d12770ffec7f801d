import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The code cache of the CLI runs the tests make (bin/compile-cache.js), kept out of the user's home.
    env: { STRATA_COMPILE_CACHE: join(tmpdir(), 'strata-test-compile-cache') },
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
