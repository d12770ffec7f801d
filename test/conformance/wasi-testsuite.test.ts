/**
 * The official WebAssembly/wasi-testsuite (72 prebuilt wasm32-wasip1 tests),
 * read from `../shared/wasi-testsuite` beside the repository, run through
 * the public API as a user would: one test per wasm file, named after it,
 * each in a fresh sandbox whose root is a fresh copy of the spec's `root`.
 *
 * The runner follows the spec format in the suite's README (upstream
 * `doc/specification.md`); a key it does not know fails that test loudly.
 * The summary reporter prints the score, `wasi-testsuite N/72`.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ImageStore, Sandbox } from '../../src/index.js';
import { openImage, type Image } from '../../src/sandbox/index.js';
import { Layout } from '../support/image-layout.js';
import { tempDir } from '../support/layer-trees.js';

declare module 'vitest' {
  interface TaskMeta {
    /** The conformance suite a test counts towards, for the summary's score line. */
    score?: string;
    /** A listed expected failure: it never counts as a pass in the score. */
    expectedFailure?: boolean;
  }
}

/** Where CI puts the suite: `../shared/wasi-testsuite` relative to the repository. */
const suiteDir = fileURLToPath(new URL('../../../shared/wasi-testsuite/', import.meta.url));
const groups = ['assemblyscript', 'c', 'rust'] as const;

/**
 * Tests expected to fail, each with why and the upstream issue that tracks
 * it. The goal is an empty list; a listed test that starts passing fails
 * (vitest's `it.fails`), so the list cannot go stale.
 */
const expectedFailures: Readonly<Record<string, { readonly reason: string; readonly upstream: string }>> = {};

/** A test's spec (upstream doc/specification.md). */
interface Spec {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** A directory beside the test, preopened as the guest's `/`; without it, nothing is preopened. */
  readonly root?: string;
  readonly exitCode: number;
  /** Expected stdout, exactly; unchecked when absent. */
  readonly stdout?: string;
}

const knownKeys = ['args', 'env', 'root', 'exit_code', 'stdout'];

/**
 * Parse a spec file's text (`undefined` when the test has none). Throws,
 * naming the file and the key, on anything the runner does not know or a
 * value of the wrong type: a runner that ignored a key could pass a test
 * it never ran as written.
 */
function parseSpec(text: string | undefined, file: string): Spec {
  const raw: unknown = text === undefined ? {} : JSON.parse(text);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: a spec must be a JSON object`);
  const spec = raw as Record<string, unknown>;
  for (const key of Object.keys(spec)) {
    if (!knownKeys.includes(key)) throw new Error(`${file}: unknown spec key '${key}' (the runner knows ${knownKeys.join(', ')})`);
  }
  const { args = [], env = {}, root, exit_code: exitCode = 0, stdout } = spec;
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new Error(`${file}: 'args' must be an array of strings`);
  if (env === null || typeof env !== 'object' || Array.isArray(env) || !Object.values(env).every((v) => typeof v === 'string')) {
    throw new Error(`${file}: 'env' must map names to strings`);
  }
  if (root !== undefined && typeof root !== 'string') throw new Error(`${file}: 'root' must be a string`);
  if (typeof exitCode !== 'number' || !Number.isInteger(exitCode)) throw new Error(`${file}: 'exit_code' must be an integer`);
  if (stdout !== undefined && typeof stdout !== 'string') throw new Error(`${file}: 'stdout' must be a string`);
  return {
    args: args as string[],
    env: env as Record<string, string>,
    exitCode,
    ...(root === undefined ? {} : { root }),
    ...(stdout === undefined ? {} : { stdout }),
  };
}

/** Copy the host directory `from` (files, directories, symlinks) into the sandbox at `to`. */
function seed(sandbox: Sandbox, from: string, to: string): void {
  for (const entry of readdirSync(from)) {
    const host = join(from, entry);
    const inside = `${to}/${entry}`;
    const st = lstatSync(host);
    if (st.isSymbolicLink()) sandbox.namespace.symlink(readlinkSync(host), sandbox.namespace.root, inside);
    else if (st.isDirectory()) {
      sandbox.mkdir(inside);
      seed(sandbox, host, inside);
    } else if (st.isFile()) sandbox.writeFile(inside, readFileSync(host));
    else throw new Error(`${host}: the runner copies files, directories and symlinks only`);
  }
}

/** The suite's tests as `group/name`, in a stable order. */
function listTests(): string[] {
  return groups.flatMap((g) =>
    readdirSync(join(suiteDir, g))
      .filter((f) => f.endsWith('.wasm'))
      .sort()
      .map((f) => `${g}/${f.slice(0, -'.wasm'.length)}`),
  );
}

const present = existsSync(join(suiteDir, 'README.md'));
if (!present) {
  if (process.env['CI'] === 'true') throw new Error(`the wasi-testsuite is missing at ${suiteDir}; CI=true allows no skipped tests`);
  console.warn(`skipping the wasi-testsuite: not found at ${suiteDir} (CI puts it there)`);
}

describe.skipIf(!present)('wasi-testsuite', () => {
  const tests = present ? listTests() : [];

  it('has the 72 tests of the pinned upstream commit', () => {
    expect(tests).toHaveLength(72);
  });

  it('lists expected failures only with a reason and an upstream link, for tests that exist', () => {
    for (const [name, { reason, upstream }] of Object.entries(expectedFailures)) {
      expect(tests, name).toContain(name);
      expect(reason.length, `${name}: reason`).toBeGreaterThan(20);
      expect(upstream, `${name}: upstream`).toMatch(/^https:\/\/github\.com\/WebAssembly\/[\w-]+\/(issues|pull)\/\d+$/);
    }
  });

  // Every test runs twice: in a tmpfs root seeded from its `root` tree, and
  // in an overlay root over an image whose layer holds that tree (the same
  // image shared by every test, each with its own fresh upper).
  const images = new Map<string, Promise<Image>>();
  const imageOf = (dir: string): Promise<Image> => {
    let image = images.get(dir);
    if (image === undefined) {
      image = (async () => {
        const work = tempDir('strata-testsuite-image-');
        const layout = new Layout(join(work, 'layout'));
        layout.tag(await layout.image([filesOf(dir)], { os: 'wasip1', architecture: 'wasm' }), 'latest');
        return openImage(`oci:${layout.dir}`, { store: await ImageStore.open(join(work, 'store')) });
      })();
      images.set(dir, image);
    }
    return image;
  };

  for (const mode of ['tmpfs', 'overlay'] as const) {
    for (const name of tests) {
      const expectFailure = name in expectedFailures;
      (expectFailure ? it.fails : it)(mode === 'tmpfs' ? name : `${name} (overlay over an image)`, async ({ task }) => {
        task.meta.score = mode === 'tmpfs' ? 'wasi-testsuite' : 'wasi-testsuite, overlay root over an image';
        if (expectFailure) task.meta.expectedFailure = true;
        const [group, base] = name.split('/') as [string, string];
        const specFile = join(suiteDir, group, `${base}.json`);
        const spec = parseSpec(existsSync(specFile) ? readFileSync(specFile, 'utf8') : undefined, `${name}.json`);
        let sandbox: Sandbox;
        if (mode === 'overlay' && spec.root !== undefined) {
          sandbox = await Sandbox.create({ image: await imageOf(join(suiteDir, group, spec.root)), root: 'overlay' });
          expect(sandbox.rootMode).toBe('overlay');
        } else {
          sandbox = await Sandbox.create();
          if (spec.root !== undefined) seed(sandbox, join(suiteDir, group, spec.root), '');
        }
        const result = await sandbox.run(readFileSync(join(suiteDir, group, `${base}.wasm`)), {
          argv0: `${base}.wasm`,
          args: spec.args,
          env: spec.env,
          preopens: spec.root === undefined ? [] : [{ dir: '/', as: '/' }],
          timeoutMs: 30_000,
        });
        const stderr = new TextDecoder().decode(result.stderr);
        expect(result.exitCode, `exit code; stderr:\n${stderr}`).toBe(spec.exitCode);
        if (spec.stdout !== undefined) expect(new TextDecoder().decode(result.stdout)).toBe(spec.stdout);
      });
    }
  }
});

/** The regular files under a host directory, by relative path (the suite's trees hold nothing else). */
function filesOf(dir: string, prefix = ''): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) Object.assign(files, filesOf(dir, rel));
    else if (entry.isFile()) files[rel] = readFileSync(join(dir, rel));
    else throw new Error(`${join(dir, rel)}: an image of the suite's tree holds files and directories only`);
  }
  return files;
}

describe('the spec reader', () => {
  it('reads every key the format defines', () => {
    const text = JSON.stringify({ args: ['a'], env: { K: 'v' }, root: 'fs-tests.dir', exit_code: 3, stdout: 'out' });
    expect(parseSpec(text, 't.json')).toEqual({ args: ['a'], env: { K: 'v' }, root: 'fs-tests.dir', exitCode: 3, stdout: 'out' });
  });

  it('defaults a missing spec to no args, no env, no preopen, exit code 0', () => {
    expect(parseSpec(undefined, 't.json')).toEqual({ args: [], env: {}, exitCode: 0 });
  });

  const bad: [string, unknown, RegExp][] = [
    ['an unknown key', { args: [], dirs: ['x'] }, /t\.json: unknown spec key 'dirs'/],
    ['args that are not strings', { args: [1] }, /'args' must be an array of strings/],
    ['env values that are not strings', { env: { a: 1 } }, /'env' must map names to strings/],
    ['a root that is not a string', { root: ['a'] }, /'root' must be a string/],
    ['an exit code that is not an integer', { exit_code: '1' }, /'exit_code' must be an integer/],
    ['stdout that is not a string', { stdout: 1 }, /'stdout' must be a string/],
    ['an array', [], /a spec must be a JSON object/],
  ];
  it.each(bad)('fails loudly on %s', (_what, spec, message) => {
    expect(() => parseSpec(JSON.stringify(spec), 't.json')).toThrow(message);
  });
});
