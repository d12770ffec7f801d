import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GuestError, ImageStore, Sandbox } from '../../src/index.js';
import { tempDir } from '../support/layer-trees.js';

/** The README's Node API example, step by step, with its paths made absolute. */
describe('the README sandbox example', () => {
  it('runs over the example image with bind, overlay and identity mounts, then reviews and applies', async () => {
    const work = tempDir('strata-readme-');
    mkdirSync(join(work, 'out'));
    mkdirSync(join(work, 'src'));
    writeFileSync(join(work, 'src', 'main.c'), 'int main;\n');
    const store = await ImageStore.open(join(work, 'store'));
    const image = `oci:${fileURLToPath(new URL('../../examples/hello-image', import.meta.url))}`;

    const sandbox = await Sandbox.create({
      image,
      store,
      root: 'overlay',
      tmpfs: { maxBytes: 64 << 20 },
      mounts: [
        { type: 'bind', source: join(work, 'out'), target: '/out' },
        { type: 'overlay', source: join(work, 'src'), target: '/src' },
        { type: 'identity', target: '/run/strata', files: { token: 'secret' } },
      ],
    });
    await sandbox.fs.writeFile('/etc/input.txt', 'some input');
    const { exitCode, stdout } = await sandbox.exec(['fsbox', 'cat', '/etc/input.txt'], { timeoutMs: 5_000 });
    expect([exitCode, new TextDecoder().decode(stdout)]).toEqual([0, 'some input']);
    expect(sandbox.diff()).toEqual([
      { path: '/etc', kind: 'changed', type: 'directory' },
      { path: '/etc/input.txt', kind: 'added', type: 'file' },
    ]);

    await sandbox.exec(['fsbox', 'write', '/src/main.c', 'int main(void) { return 0; }\n']);
    await sandbox.exec(['fsbox', 'write', '/out/log', 'built']);
    expect(sandbox.mountChanges('/src').map((c) => `${c.kind} ${c.path}`)).toEqual(['changed /main.c']);
    expect(readFileSync(join(work, 'src', 'main.c'), 'utf8')).toBe('int main;\n');
    sandbox.applyMount('/src');
    expect(readFileSync(join(work, 'src', 'main.c'), 'utf8')).toBe('int main(void) { return 0; }\n');
    expect(readFileSync(join(work, 'out', 'log'), 'utf8')).toBe('built');

    const spin = await sandbox.exec(['fsbox', 'cat', '/run/strata/token']);
    expect(new TextDecoder().decode(spin.stdout)).toBe('secret');
    expect(GuestError).toBeTypeOf('function');
  });
});
