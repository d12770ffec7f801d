import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one plain line after the run, `N passed, N failed, N skipped`,
 * which any CI log reader understands, beside vitest's own coloured summary.
 *
 * Tests that set `task.meta.score = NAME` (a conformance suite written by
 * others) also give one line per NAME, `NAME P/T`: T such tests ran and P
 * passed, not counting any marked `task.meta.expectedFailure`.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    const scores = new Map<string, { passed: number; total: number }>();
    for (const module of testModules) {
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed++;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        const meta = test.meta() as { score?: unknown; expectedFailure?: unknown };
        if (typeof meta.score === 'string') {
          const score = scores.get(meta.score) ?? { passed: 0, total: 0 };
          score.total++;
          if (state === 'passed' && meta.expectedFailure !== true) score.passed++;
          scores.set(meta.score, score);
        }
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
      }
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    for (const [name, { passed: p, total }] of scores) process.stdout.write(`${name} ${p}/${total}\n`);
  }
}
