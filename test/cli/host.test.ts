import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The CLI as users run it: the built bin (npm test builds dist first).
const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'strata-cli-host-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function strata(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, STRATA_HOME: home, STRATA_HOST_CONFIG: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('strata host', () => {
  it('pin hashes a binary into $STRATA_HOME/host.json; show and verify read it', () => {
    const pinned = strata(['host', 'pin', 'runc', '--asset', 'sh', '--path', '/bin/sh', '--version', '1', '--config', '{"note":"x"}']);
    expect(pinned).toMatchObject({ status: 0, stdout: expect.stringMatching(/^pinned runc: sh 1 \S+ \/bin\/sh sha256:[0-9a-f]{64}\n/) });
    const file = JSON.parse(readFileSync(join(home, 'host.json'), 'utf8')) as { version: number; classes: Record<string, { assets: { name: string }[]; config: object }> };
    expect(file.version).toBe(1);
    expect(file.classes['runc']).toMatchObject({ assets: [{ name: 'sh' }], config: { note: 'x' } });
    expect(strata(['host', 'show']).stdout).toMatch(/runc\n {2}sh 1 .* \/bin\/sh sha256:/);
    expect(strata(['host', 'verify', 'runc'])).toMatchObject({ status: 0, stdout: 'ok runc sh 1 /bin/sh\n' });
  });

  it('refuses an unknown class and a binary not on PATH as usage errors', () => {
    expect(strata(['host', 'pin', 'docker'])).toMatchObject({ status: 2, stderr: expect.stringContaining("unknown sandbox class 'docker'") });
    expect(strata(['host', 'pin', 'runc', '--asset', 'no-such-binary-strata'])).toMatchObject({ status: 2, stderr: expect.stringContaining('--path FILE') });
  });

  it('a broken host config is ERR_BAD_HOST_CONFIG', () => {
    const r = strata(['host', 'show', '--host-config', '/etc/hostname']);
    expect(r).toMatchObject({ status: 1, stderr: expect.stringContaining('ERR_BAD_HOST_CONFIG') });
  });
});
