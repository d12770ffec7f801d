/**
 * What a backend reads of a snapshot manifest
 * (`application/vnd.strata.snapshot.v1+json`, src/snapshot): the fields a
 * rendering or a start needs, typed structurally so that every
 * `SnapshotManifest` is one. The snapshot module owns the schema,
 * validation and digests; backends only read.
 */

/** The sandbox classes, as a manifest's `class` names them. */
export const SandboxClass = {
  /** In-process WASI (this Node process runs the guest). */
  wasm: 'wasm',
  /** gVisor's runsc, through an OCI bundle (issue 12). */
  runsc: 'runsc',
  /** runc, through an OCI bundle (issue 12). */
  runc: 'runc',
  /** crun, through an OCI bundle (issue 12). */
  crun: 'crun',
  /** QEMU's `microvm` machine with an ext4 rootfs (issue 13). */
  qemu: 'qemu',
  /** Firecracker with an ext4 rootfs (issue 13). */
  firecracker: 'firecracker',
} as const;
/** One sandbox class. */
export type SandboxClass = (typeof SandboxClass)[keyof typeof SandboxClass];

/** The root modes a manifest records. */
export type ManifestRootMode = 'readonly' | 'overlay' | 'tmpfs';

/** The mount kinds a manifest records (identity mounts carry no contents). */
export type ManifestMountKind = 'tmpfs' | 'bind' | 'overlay' | 'volume' | 'identity';

/**
 * One host binary a backend runs, pinned per architecture: `node` for
 * `wasm`, the runtime for `runsc`/`runc`/`crun`, the VMM, kernel and
 * initramfs for `qemu`/`firecracker`. Architectures use OCI's names
 * (`amd64`, `arm64`, …); `sha256` is 64 lowercase hex digits.
 */
export interface BackendAsset {
  readonly name: string;
  readonly version: string;
  readonly arch: Readonly<Record<string, { readonly path: string; readonly sha256: string }>>;
}

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
