/**
 * /dev in every root mode: the dev-nodes guest, run through the Sandbox API,
 * finds the same devices over a tmpfs root, an overlay, a read-only image
 * root and a tmpfs seeded from an image, and mounting /dev leaves the root
 * unchanged (an overlay's diff does not show it).
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/oci/image-store.js';
import { openImage, Sandbox, type Image, type SandboxOptions } from '../../src/sandbox/index.js';
import { guestPath, text } from '../support/guests.js';
import { tempDir } from '../support/layer-trees.js';

const example = fileURLToPath(new URL('../../examples/hello-image', import.meta.url));
let image: Image;

beforeAll(async () => {
  const store = await ImageStore.open(tempDir('strata-images-'));
  image = await openImage(`oci:${example}`, { store });
});

/** Lines every run of dev-nodes prints where /dev behaves as Linux's. */
const linuxLines = [
  'stat /dev/null: chr=1 size=0',
  'isatty /dev/null: 0 ENOTTY',
  'read /dev/null: 0, zeros 0',
  'write /dev/null: 5',
  'read /dev/zero: 64, zeros 1',
  'write /dev/zero: 5',
  'read /dev/full: 64, zeros 1',
  'write /dev/full: ENOSPC',
  'read /dev/urandom: 64, again 64, all zero 0, same twice 0',
  'lseek-set-100 /dev/urandom: 0',
  'fopen-w /dev/null: ok',
  'dirent /dev/random: chr',
  'read /dev/stdin: "piped in"',
  'written through /dev/stdout',
  'done',
];

async function devNodes(options: () => SandboxOptions): Promise<{ sandbox: Sandbox; lines: string[]; stderr: string }> {
  const sandbox = await Sandbox.create(options());
  const r = await sandbox.run(guestPath('dev-nodes'), { stdin: 'piped in' });
  expect(r.exitCode).toBe(0);
  return { sandbox, lines: text(r.stdout).split('\n'), stderr: text(r.stderr) };
}

describe('/dev in each root mode', () => {
  const modes: readonly [string, () => SandboxOptions][] = [
    ['tmpfs, no image', () => ({})],
    ['overlay over an image', () => ({ image })],
    ['readonly image root', () => ({ image, root: 'readonly' })],
    ['tmpfs seeded from an image', () => ({ image, root: 'tmpfs' })],
  ];
  for (const [name, options] of modes) {
    it(name, async () => {
      const { lines, stderr } = await devNodes(options);
      for (const line of linuxLines) expect(lines, line).toContain(line);
      expect(stderr).toBe('written through /dev/stderr\n');
    });
  }

  it('mounting /dev changes nothing in the root: an overlay\'s diff and a tmpfs\'s usage do not see it', async () => {
    const { sandbox } = await devNodes(() => ({ image }));
    expect(sandbox.diff().filter((c) => c.path === '/dev' || c.path.startsWith('/dev/'))).toEqual([]);
    const withDev = await Sandbox.create();
    const without = await Sandbox.create({ dev: false });
    expect(withDev.usage).toEqual(without.usage);
  });

  it('dev: false leaves /dev out', async () => {
    const { lines } = await devNodes(() => ({ dev: false }));
    expect(lines).toContain('stat /dev/null: ENOENT');
    expect(lines).toContain('opendir /dev: ENOENT');
    expect(lines).toContain('open /dev/stdout: ENOENT');
  });
});
