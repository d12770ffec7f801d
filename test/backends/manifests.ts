/** Manifests for the backend tests: every root mode and mount kind. */
import { expect } from 'vitest';
import { StrataError } from '../../src/errors.js';
import type { BackendManifest, ManifestMount, ManifestRootMode } from '../../src/backends/index.js';
import type { SnapshotManifest } from '../../src/snapshot/index.js';

export const rootModes: readonly ManifestRootMode[] = ['readonly', 'overlay', 'tmpfs'];

/** One mount of each kind. */
export const everyMount: readonly ManifestMount[] = [
  { type: 'tmpfs', target: '/scratch', size: 8 << 20, inodes: 1024 },
  { type: 'bind', target: '/data', source: '/srv/data', readonly: true },
  { type: 'bind', target: '/out', readonly: false },
  { type: 'overlay', target: '/src' },
  { type: 'volume', target: '/cache', name: 'cache' },
  { type: 'identity', target: '/run/strata' },
];

/** A manifest over a linux image, with a process. */
export function manifest(mode: ManifestRootMode, mounts: readonly ManifestMount[] = [], cls: BackendManifest['class'] = 'runc'): BackendManifest {
  return {
    class: cls,
    image: {
      reference: '127.0.0.1:5000/busybox:1',
      manifestDigest: `sha256:${'a'.repeat(64)}`,
      configDigest: `sha256:${'b'.repeat(64)}`,
      diffIDs: [`sha256:${'c'.repeat(64)}`],
    },
    root: { mode, limits: { maxBytes: 64 << 20, maxInodes: 4096 } },
    mounts,
    process: { args: ['/bin/sh', '-c', 'echo hi'], env: ['PATH=/usr/bin:/bin'], workdir: '/' },
    backend: { assets: [], config: {} },
    delta: [],
  };
}

/** Expect `fn` to throw a StrataError with `code` and a message matching `message`. */
export function expectStrataError(fn: () => unknown, code: string, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof StrataError)) throw new Error(`expected a StrataError ${code}, got ${String(thrown)}`);
  expect({ code: thrown.code, message: thrown.message }).toEqual({ code, message: expect.stringMatching(message) });
}

/** Every snapshot manifest is a manifest the backends read (the compiler checks this line). */
export const fromSnapshot = (manifest: SnapshotManifest): BackendManifest => manifest;
