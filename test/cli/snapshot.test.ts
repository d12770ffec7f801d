import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/layer-trees.js';

// The built CLI with a private store: every command is a process of its
// own, so a snapshot made by one restores in another from its manifest alone.
const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));
const home = tempDir('strata-cli-snap-');
const image = 'oci:examples/hello-image';

function strata(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repo, encoding: 'utf8', timeout: 60_000, env: { ...process.env, STRATA_HOME: home } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('strata snapshot and run --from', () => {
  it('creates a golden snapshot from an init command, lists, inspects, runs it in another process, exports, imports and removes it', () => {
    const created = strata(['snapshot', 'create', '-q', '--label', 'purpose=golden', image, '--', 'fsbox', 'write', '/etc/golden', 'from init']);
    expect(created.status, created.stderr).toBe(0);
    const digest = created.stdout.trim();
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    expect(strata(['snapshot', 'ls']).stdout).toContain(digest.slice(7, 19));
    const inspected = JSON.parse(strata(['snapshot', 'inspect', digest.slice(7, 15)]).stdout) as { digest: string; manifest: { labels?: Record<string, string>; root: { mode: string }; delta: unknown[] } };
    expect(inspected).toMatchObject({ digest, manifest: { labels: { purpose: 'golden' }, root: { mode: 'overlay' } } });
    expect(inspected.manifest.delta.length).toBe(1);

    // Restored in fresh processes: the init's file is there, and each run's writes stay its own.
    expect(strata(['run', '--from', digest, '--', 'fsbox', 'cat', '/etc/golden'])).toMatchObject({ status: 0, stdout: 'from init' });
    expect(strata(['run', '--from', digest, '--', 'fsbox', 'write', '/etc/golden', 'changed']).status).toBe(0);
    expect(strata(['run', '--from', digest, '--', 'fsbox', 'cat', '/etc/golden']).stdout).toBe('from init');
    expect(strata(['run', '--from', digest]).stdout).toBe('hello, world\n'); // the image's Cmd

    // A snapshot of a snapshot: a chain.
    const child = strata(['snapshot', 'create', '-q', '--from', digest, '--', 'fsbox', 'write', '/etc/second', 'two']).stdout.trim();
    expect(strata(['run', '--from', child, '--', 'fsbox', 'cat', '/etc/golden', '/etc/second']).stdout).toBe('from inittwo');
    const childManifest = JSON.parse(strata(['snapshot', 'inspect', child]).stdout) as { manifest: { parent?: string } };
    expect(childManifest.manifest.parent).toBe(digest);

    // Restored into a kept sandbox: cp and diff work on it, from the snapshot's state.
    expect(strata(['snapshot', 'restore', '--name', 'restored', digest.slice(7, 17)])).toMatchObject({ status: 0, stdout: 'restored\n' });
    expect(strata(['ps']).stdout).toMatch(/restored .*restored [0-9a-f]{12}/);
    const host = tempDir('strata-cli-snap-cp-');
    expect(strata(['cp', 'restored:/etc/golden', join(host, 'golden')]).status).toBe(0);
    expect(readFileSync(join(host, 'golden'), 'utf8')).toBe('from init');
    writeFileSync(join(host, 'more'), 'more');
    expect(strata(['cp', join(host, 'more'), 'restored:/more']).status).toBe(0);
    expect(strata(['diff', 'restored']).stdout).toBe('A /more\n');
    expect(strata(['rm', 'restored']).status).toBe(0);

    const layout = join(tempDir('strata-cli-snap-export-'), 'layout');
    expect(strata(['snapshot', 'export', digest, `oci:${layout}:v1`]).status).toBe(0);
    expect(existsSync(join(layout, 'index.json'))).toBe(true);
    expect(strata(['snapshot', 'rm', child]).status).toBe(0);
    expect(strata(['snapshot', 'rm', digest]).status).toBe(0);
    expect(strata(['run', '--from', digest.slice(7, 19)]).status).toBe(1); // no longer listed
    expect(strata(['gc']).status).toBe(0); // and now its blobs are gone too
    expect(strata(['run', '--from', digest]).status).toBe(1);
    const imported = strata(['snapshot', 'import', `oci:${layout}:v1`]);
    expect(imported.status, imported.stderr).toBe(0);
    expect(strata(['run', '--from', imported.stdout.trim(), '--', 'fsbox', 'cat', '/etc/golden']).stdout).toBe('from init');
  });

  it('commits nothing when the init command fails, and exits with its code', () => {
    const before = strata(['snapshot', 'ls', '--json']).stdout;
    const r = strata(['snapshot', 'create', '-q', image, '--', 'fsbox', 'cat', '/no/such/file']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('nothing was committed');
    expect(strata(['snapshot', 'ls', '--json']).stdout).toBe(before);
  });

  it('refuses bad input with a clear error', () => {
    expect(strata(['snapshot', 'inspect', 'sha256:' + '0'.repeat(64)])).toMatchObject({ status: 1, stderr: expect.stringMatching(/^strata: ERR_/) });
    expect(strata(['snapshot', 'export', 'abc', 'not-a-layout']).status).toBe(2);
    expect(strata(['snapshot', 'bogus']).status).toBe(2);
    expect(strata(['run', '--label', 'a=b', image]).status).toBe(2);
    expect(strata(['snapshot', '--help']).stdout).toContain('strata snapshot create');
  });
});
