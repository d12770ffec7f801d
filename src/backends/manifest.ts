/**
 * What a backend reads of a snapshot manifest
 * (`application/vnd.strata.snapshot.v1+json`, src/snapshot): the fields a
 * rendering or a start needs, typed structurally so that every
 * `SnapshotManifest` is one (test/backends/manifests.ts checks it), and
 * the renderers' tests can write small ones. The snapshot module owns the schema,
 * validation and digests; backends only read.
 */

import { SandboxClass } from '../snapshot/index.js';
import type { BackendAsset } from '../snapshot/index.js';

/**
 * The sandbox classes (`wasm`; `runsc`, `runc`, `crun` through an OCI
 * bundle, issue 12; `qemu`, `firecracker` as microVMs, issue 13), and the
 * pinned host binary a backend runs (name, version, and per architecture
 * in OCI's names a path and a sha256 of 64 lowercase hex digits): the
 * snapshot manifest's own types.
 */
export { SandboxClass };
export type { BackendAsset };

/** The root modes a manifest records. */
export type ManifestRootMode = 'readonly' | 'overlay' | 'tmpfs';

/** The mount kinds a manifest records (identity mounts carry no contents). */
export type ManifestMountKind = 'tmpfs' | 'bind' | 'overlay' | 'volume' | 'identity';

/**
 * A mount as a manifest records it. Bind, overlay and volume mounts may
 * omit the host side (`source`, `name`), which is then given at prepare
 * time; identity mounts never record their files' contents.
 */
export interface ManifestMount {
  readonly type: ManifestMountKind;
  /** Absolute path in the sandbox. */
  readonly target: string;
  /** Host directory of a bind or overlay mount, when recorded. */
  readonly source?: string | undefined;
  /** Volume name. */
  readonly name?: string | undefined;
  readonly readonly?: boolean | undefined;
  /** Byte quota of a tmpfs mount (or an overlay mount's upper). */
  readonly size?: number | undefined;
  /** Inode quota of the same. */
  readonly inodes?: number | undefined;
}

/** The process a manifest records: argv, `KEY=VALUE` env, working directory. */
export interface ManifestProcess {
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly workdir: string;
}

/** The fields of a snapshot manifest that backends read. */
export interface BackendManifest {
  readonly class: SandboxClass;
  readonly image?: {
    readonly reference: string;
    readonly manifestDigest: string;
    readonly configDigest: string;
    readonly diffIDs: readonly string[];
  } | undefined;
  readonly root: { readonly mode: ManifestRootMode; readonly limits?: object | undefined };
  readonly mounts: readonly ManifestMount[];
  readonly process?: ManifestProcess | undefined;
  readonly backend: { readonly assets: readonly BackendAsset[]; readonly config: Readonly<Record<string, unknown>> };
  readonly delta: readonly { readonly mediaType: string; readonly digest: string; readonly size: number; readonly diffID: string }[];
  readonly parent?: string | undefined;
}

/** A numeric field of `root.limits` (`maxBytes`, `maxInodes`), if the manifest records it. */
export function rootLimit(manifest: BackendManifest, key: 'maxBytes' | 'maxInodes'): number | undefined {
  const value: unknown = (manifest.root.limits as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'number' ? value : undefined;
}
