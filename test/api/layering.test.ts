import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Imports in src/ point one way, as DESIGN.md draws them: vfs imports
 * nothing of ours; wasi and oci import vfs; snapshot imports oci and vfs;
 * sandbox imports vfs, wasi, oci and snapshot (a sandbox commits and
 * restores snapshots); backends and cli import them all. `errors.ts` (the StrataError base) may be
 * imported by everything but vfs, `package-files.ts` (the package's own
 * files: version, the pool's worker script) by sandbox, backends and cli,
 * and `index.ts` (the public entry point) by nothing inside src/.
 */
const src = fileURLToPath(new URL('../../src/', import.meta.url));

const allowed: Readonly<Record<string, readonly string[]>> = {
  vfs: [],
  wasi: ['vfs'],
  oci: ['vfs', 'errors.ts'],
  component: ['vfs', 'wasi', 'errors.ts'],
  sandbox: ['vfs', 'wasi', 'oci', 'component', 'snapshot', 'errors.ts', 'package-files.ts'],
  snapshot: ['vfs', 'oci', 'errors.ts'],
  backends: ['vfs', 'wasi', 'oci', 'component', 'sandbox', 'snapshot', 'errors.ts', 'package-files.ts'],
  cli: ['vfs', 'wasi', 'oci', 'component', 'sandbox', 'snapshot', 'backends', 'errors.ts', 'package-files.ts'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The top-level part of src/ a file belongs to: a folder, or a root file such as `errors.ts`. */
function partOf(file: string): string {
  return relative(src, file).split(/[\\/]/)[0]!;
}

/** Relative imports and re-exports of a file, resolved to absolute paths. */
function importsOf(file: string, code: string = readFileSync(file, 'utf8')): string[] {
  const specifiers = [...code.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/g), ...code.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1]!);
  return specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

/** Every import that points against the rules, as `from → to`. */
function violations(files: readonly { file: string; code?: string }[]): string[] {
  const bad: string[] = [];
  for (const { file, code } of files) {
    const from = partOf(file);
    const rules = allowed[from];
    for (const target of importsOf(file, code)) {
      const to = partOf(target);
      if (to === from) continue;
      const ok = to === 'index.ts' ? false : rules === undefined ? true : rules.includes(to);
      if (!ok) bad.push(`${relative(src, file)} → ${relative(src, target)}`);
    }
  }
  return bad;
}

describe('layering', () => {
  const files = sourceFiles(src);

  it('finds the sources and their imports', () => {
    expect(files.length).toBeGreaterThan(40);
    expect(importsOf(join(src, 'sandbox', 'sandbox.ts')).some((p) => p.includes(`${join('src', 'vfs')}`))).toBe(true);
  });

  it('has no import against the direction in DESIGN.md', () => {
    expect(violations(files.map((file) => ({ file })))).toEqual([]);
  });

  it('would catch one: vfs importing wasi, oci re-exporting sandbox, cli importing the entry point', () => {
    const fake = (part: string, code: string) => ({ file: join(src, part, 'fake.ts'), code });
    expect(
      violations([
        fake('vfs', "import { x } from '../wasi/index.js';"),
        fake('oci', "export { y } from '../sandbox/index.js';"),
        fake('cli', "const m = await import('../index.js');"),
        fake('sandbox', "import { z } from '../oci/index.js';"),
      ]),
    ).toEqual(['vfs/fake.ts → wasi/index.ts', 'oci/fake.ts → sandbox/index.ts', 'cli/fake.ts → index.ts']);
  });

  it('gives every folder of src/ a README that states its invariants', () => {
    for (const entry of readdirSync(src, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const readme = readFileSync(join(src, entry.name, 'README.md'), 'utf8');
      expect(readme, entry.name).toMatch(/Invariants/i);
    }
  });
});
