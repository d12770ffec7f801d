import { describe, expect, it } from 'vitest';
import { concat, endOfArchive, rawHeader, rawPax, t, tar } from '../support/tar-dsl.js';
import { runCase } from './harness.js';

/**
 * Regressions for the node-tar and tar-fs advisories, named after them.
 * strata keeps no directory cache and resolves every entry's parents in
 * the tree as it is (symlinks clamped to the root), so each of these must
 * land inside the target.
 */
describe('node-tar advisories', () => {
  it('CVE-2021-32803 (GHSA-r628-mhmh-qjhw): a directory replaced by a symlink, then written through', async () => {
    const o = await runCase({
      layers: async (sentinel) => [await tar(t.dir('a'), t.file('a/first', '1'), t.symlink(sentinel, 'a'), t.file('a/pwned', 'owned'))],
    });
    expect(o.tree!['a']).toMatchObject({ type: 'symlink' });
    // The write went through the symlink, clamped: <target><sentinel>/pwned.
    expect(o.tree![`${o.sentinel.slice(1)}/pwned`]!.content).toBe('owned');
  });

  it('CVE-2021-32804 (GHSA-3jfq-g458-7qm9): absolute names with repeated slashes are root-relative', async () => {
    const o = await runCase({
      layers: async (sentinel) => [await tar(t.file(`////${sentinel}/secret`, 'overwritten'), t.file('//pwned', 'root-relative'))],
    });
    expect(o.tree![`${o.sentinel.slice(1)}/secret`]!.content).toBe('overwritten');
    expect(o.tree!['pwned']!.content).toBe('root-relative');
  });

  it('CVE-2021-37701 (GHSA-9r2w-394v-53qc): a backslash is a name character, not a separator', async () => {
    const o = await runCase({
      layers: async (sentinel) => [await tar(t.dir('a\\b'), t.symlink(sentinel, 'a\\b'), t.file('a\\b/pwned', 'x'), t.dir('a'), t.file('a/b/pwned', 'y'))],
    });
    expect(o.tree!['a\\b']).toMatchObject({ type: 'symlink' });
    expect(o.tree![`${o.sentinel.slice(1)}/pwned`]!.content).toBe('x');
    expect(o.tree!['a/b/pwned']!.content).toBe('y');
  });

  it('CVE-2021-37712 (GHSA-qq89-hq3f-393p): names equal under Unicode normalization stay distinct', async () => {
    const nfc = '\u00e9';
    const nfd = 'e\u0301';
    const o = await runCase({
      layers: async (sentinel) => [await tar(t.dir(nfc), t.symlink(sentinel, nfd), t.file(`${nfc}/pwned`, 'in dir'), t.file(`${nfd}/pwned`, 'via link'))],
    });
    expect(o.tree![`${nfc}/pwned`]!.content).toBe('in dir');
    expect(o.tree![nfd]).toMatchObject({ type: 'symlink' });
    expect(o.tree![`${o.sentinel.slice(1)}/pwned`]!.content).toBe('via link');
  });

  it('CVE-2024-28863 (GHSA-f5x3-32g6-xq36): deeply nested paths are refused, not created', async () => {
    const deep = await runCase({ layers: async () => [await tar(t.file('a/'.repeat(1500) + 'pwned', 'x'))] });
    expect(deep.code).toBe('ERR_LAYER_PATH_TOO_LONG');
    // Through a pax path (no ustar limit on length), the cap on pax headers applies.
    const huge = await runCase({ layers: async () => [concat(rawPax({ path: 'a/'.repeat(600_000) + 'pwned' }), rawHeader({ name: 'pwned' }), endOfArchive)] });
    expect(huge.code).toBe('ERR_TAR_PAX_TOO_LARGE');
  });

  it('hardlink with an absolute linkpath naming a host file, then overwritten (node-tar ≤ 7.5.2 class)', async () => {
    const o = await runCase({
      layers: async (sentinel) => [await tar(t.dir(sentinel.slice(1)), t.file(`${sentinel}/secret`, 'inner copy'), t.link(`${sentinel}/secret`, 'h'), t.file('h', 'rewritten'))],
    });
    // The later file replaced the link: the inner copy is unchanged too.
    expect(o.tree!['h']!.content).toBe('rewritten');
    expect(o.tree![`${o.sentinel.slice(1)}/secret`]!.content).toBe('inner copy');
  });
});

describe('tar-fs advisories', () => {
  it('CVE-2024-12905 (GHSA-pq67-2wwv-3xjx): a hardlink through a symlink pointing outside', async () => {
    const o = await runCase({
      layers: async (sentinel) => [await tar(t.symlink(sentinel, 'out'), t.link('out/secret', 'stolen'), t.file('out/secret', 'pwned'))],
    });
    // `out/secret` resolved inside: no such file there, so a typed error.
    expect(o.code).toBe('ERR_LAYER_HARDLINK');
  });

  it('CVE-2024-12905 (GHSA-pq67-2wwv-3xjx): a symlink out, then a file written through it', async () => {
    const o = await runCase({
      layers: async () => [await tar(t.symlink('../sentinel', 'out'), t.file('out/secret', 'pwned'), t.file('out/sub/file', 'pwned'))],
    });
    expect(o.tree!['sentinel/secret']!.content).toBe('pwned');
    expect(o.tree!['sentinel/sub/file']!.content).toBe('pwned');
  });

  it('CVE-2025-48387 (GHSA-8cj5-5rvv-wf4v): relative hardlink and symlink targets out of the root', async () => {
    const o = await runCase({
      layers: async () => [await tar(t.file('sentinel/secret', 'inner'), t.link('../../sentinel/secret', 'hl'), t.symlink('../../../sentinel/secret', 'sl'), t.file('hl', 'replaced'), t.file('sl', 'replaced'))],
    });
    expect(o.tree!['sentinel/secret']!.content).toBe('inner');
    expect(o.tree!['hl']!.content).toBe('replaced');
    expect(o.tree!['sl']).toMatchObject({ type: 'file', content: 'replaced' });
  });

  it('CVE-2025-59343 (GHSA-vj76-c3g6-qr5v): a symlink to the predictable destination path', async () => {
    const o = await runCase({
      layers: async (sentinel) => [await tar(t.symlink(`${sentinel}/../target/../sentinel`, 'x'), t.file('x/pwned', 'y'), t.link('x/secret', 'copy'))],
      prepare: () => {},
    });
    // Resolved in the root: <target>/sentinel/pwned; the hardlink target does not exist there.
    expect(o.code).toBe('ERR_LAYER_HARDLINK');
  });
});
