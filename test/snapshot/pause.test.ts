import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sandbox } from '../../src/sandbox/index.js';
import { storeWithImage } from './support.js';

/**
 * The pause a commit costs the sandbox: the synchronous part of
 * `sandbox.commit()` (sealing the root and giving it a fresh upper),
 * during which no guest call and no other work of this thread can run,
 * measured apart from writing the delta, which happens after it. Reported,
 * not asserted tightly (timing assertions do not go in tests): the only
 * check is that the pause stays a small part of the commit as the delta
 * grows.
 */
describe('commit pause', () => {
  it('does not grow with the delta', async () => {
    const { images, reference } = await storeWithImage();
    const rows: string[] = [];
    for (const mib of [1, 8, 32]) {
      const pauses: number[] = [];
      const syncs: number[] = [];
      let writtenMs = 0;
      let bytes = 0;
      for (let rep = 0; rep < 3; rep++) {
        const sandbox = await Sandbox.create({ image: reference, store: images, dev: false });
        // Incompressible, so the layer written is as big as the delta.
        for (let i = 0; i < mib; i++) await sandbox.fs.writeFile(`/data-${i}`, randomBytes(1 << 20));
        await new Promise((resolve) => setTimeout(resolve, 20)); // let the writes' garbage be collected first
        const started = performance.now();
        const pending = sandbox.commit();
        syncs.push(performance.now() - started);
        const { pauseMs, manifest } = await pending;
        writtenMs = performance.now() - started;
        pauses.push(pauseMs);
        bytes = manifest.delta[0]!.size;
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
      rows.push(`${String(mib).padStart(3)} MiB delta: pause median ${median(pauses).toFixed(3)} ms (seal), ${median(syncs).toFixed(3)} ms (commit() before it yields); written in ${writtenMs.toFixed(0)} ms, ${bytes} bytes`);
      if (mib === 32) expect(median(syncs)).toBeLessThan(writtenMs / 4);
    }
    console.log(`commit pause vs delta size:\n${rows.join('\n')}`);
  });
});
