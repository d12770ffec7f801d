import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { StrataError } from '../../src/errors.js';
import { applyLayers, viewLayers, type ApplyResult } from '../../src/oci/apply.js';
import type { IndexLayerOptions, LayerIndex } from '../../src/oci/layer-index.js';
import { fingerprint, hostTree, indexBlobs, mediaTypes, project, tempDir, tempStore, viewTree, type Tree } from '../support/layer-trees.js';
import { gzip } from '../support/tar-dsl.js';

/**
 * The hostile-layer harness. Each case gets a fresh directory holding
 * `target/` (where layers are applied) and `sentinel/` beside it (a file,
 * a subdirectory, a symlink), whose state is fingerprinted before and
 * checked after: nothing may be written outside the target. The layers
 * are indexed, merged into a layer view and applied with applyLayers; the
 * case either applies safely, and then the view and the directory show
 * the same tree, or fails with a typed error, the same for both.
 */
export interface Outcome {
  /** The merged tree (when the layers applied). */
  readonly tree?: Tree;
  /** The error code (when they did not). */
  readonly code?: string;
  readonly result?: ApplyResult;
  /** Absolute paths of the case's directories. */
  readonly target: string;
  readonly sentinel: string;
}

export interface Case {
  /** Layer tars, lowest first; a function gets the sentinel's absolute path. */
  readonly layers: (sentinel: string) => Promise<Uint8Array[]>;
  readonly options?: IndexLayerOptions;
  /** Prepare the target (pre-existing content) before applying. */
  readonly prepare?: (target: string, sentinel: string) => void;
}

export async function runCase(c: Case): Promise<Outcome> {
  const base = tempDir('strata-hostile-');
  const target = join(base, 'target');
  const sentinel = join(base, 'sentinel');
  mkdirSync(target);
  mkdirSync(join(sentinel, 'sub'), { recursive: true });
  writeFileSync(join(sentinel, 'secret'), 'untouched', { mode: 0o640 });
  writeFileSync(join(sentinel, 'sub', 'file'), 'untouched too');
  symlinkSync('secret', join(sentinel, 'link'));
  c.prepare?.(target, sentinel);
  const before = fingerprint(sentinel);
  const store = await tempStore();

  let indexes: LayerIndex[];
  try {
    indexes = await indexBlobs(store, (await c.layers(sentinel)).map(gzip), mediaTypes.gzip, c.options);
  } catch (error) {
    expect(error).toBeInstanceOf(StrataError);
    checkContained(base, sentinel, before);
    return { code: (error as StrataError).code, target, sentinel };
  }

  let viewCode: string | undefined;
  let view: Tree | undefined;
  try {
    view = viewTree(viewLayers(indexes, { dev: 1n }).root);
  } catch (error) {
    expect(error).toBeInstanceOf(StrataError);
    viewCode = (error as StrataError).code;
  }
  let applyCode: string | undefined;
  let result: ApplyResult | undefined;
  try {
    result = await applyLayers(indexes, target);
  } catch (error) {
    expect(error).toBeInstanceOf(StrataError);
    applyCode = (error as StrataError).code;
  }
  for (const index of indexes) index.close();
  checkContained(base, sentinel, before);
  expect(applyCode, 'the view and applyLayers must agree').toBe(viewCode);
  if (viewCode !== undefined) return { code: viewCode, target, sentinel };
  // Applied on a prepared target, the directory also holds what was there.
  const applied = hostTree(target);
  if (c.prepare === undefined) expect(project(applied, ['uid', 'gid'])).toEqual(project(view!, ['uid', 'gid']));
  return { tree: c.prepare === undefined ? view! : applied, ...(result !== undefined && { result }), target, sentinel };
}

function checkContained(base: string, sentinel: string, before: string): void {
  expect(fingerprint(sentinel), 'the sentinel beside the target is untouched').toBe(before);
  expect(readdirSync(base).sort(), 'nothing new beside the target').toEqual(['sentinel', 'target']);
  // Payloads that climb further name their file `pwned`.
  for (const dir of ['/', tmpdir(), dirname(base)]) expect(existsSync(join(dir, 'pwned')), `${dir}/pwned`).toBe(false);
}

/** Whether `a` and `b` name the same inode in a tree. */
export function sameFile(tree: Tree, a: string, b: string): boolean {
  return tree[a] !== undefined && (tree[a]!.links ?? []).includes(b);
}
