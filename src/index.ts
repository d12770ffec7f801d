/**
 * strata: run untrusted programs in sandboxes with their own filesystem root.
 *
 * @example
 * import { Sandbox } from 'strata';
 * const sandbox = await Sandbox.create();
 * const { exitCode, stdout } = await sandbox.run('hello.wasm', { args: ['world'] });
 */
export { Sandbox, GuestError, RootMode, compileGuest, GuestModule, defaultMaxOutputBytes, defaultMemoryLimitBytes } from './sandbox/index.js';
export type { CompileOptions, RunOptions, RunResult, SandboxOptions, SandboxChange } from './sandbox/index.js';
// Embedding: a node:wasi-shaped facade, reactors, extra imports.
export { SandboxWasi } from './sandbox/index.js';
export type { SandboxWasiOptions, SandboxWasiStdin, SandboxWasiOutput, InstantiateOptions, ReactorInstance, ExtraImports, GuestKind } from './sandbox/index.js';
// Roots over images, and mounts.
export { openImage, checkMount, defaultTmpfsMount, readonlyScratch, KeptSandboxes } from './sandbox/index.js';
export type { Image, ImageProcess, OpenImageOptions, MountSpec, TmpfsMount, BindMount, OverlayMount, VolumeMount, IdentityMount, KeptRecord } from './sandbox/index.js';
export type { PreopenOption } from './sandbox/preopens.js';
// sandbox.fs: files in and out, shaped like node:fs/promises.
export { SandboxFs } from './sandbox/sandbox-fs.js';
export type { SandboxMkdirOptions, SandboxReadFileOptions, SandboxReaddirOptions, SandboxRmOptions, SandboxTime, SandboxWriteFileOptions } from './sandbox/sandbox-fs.js';
export { SandboxDirent, SandboxStats, FileTypeBits } from './sandbox/sandbox-fs-stats.js';
export { SandboxFileHandle } from './sandbox/sandbox-fs-handle.js';
export type { SandboxOpenFlags, SandboxReadStreamOptions, SandboxWriteStreamOptions } from './sandbox/sandbox-fs-handle.js';
export type { SandboxCopyOptions } from './sandbox/sandbox-fs-copy.js';
// The worker pool: sandboxes on worker threads, processes with streams and kill.
export { SandboxPool, PooledSandbox, PooledSandboxFs, Process } from './sandbox/pool/index.js';
export type { SandboxPoolOptions, PooledSandboxOptions, SpawnOptions, PooledRunOptions, ProcessExit, ExitReason } from './sandbox/pool/index.js';
export { StrataError, ErrorCode } from './errors.js';
export { FsError, Errno, defaultTmpfsLimits } from './vfs/index.js';
export type { TmpfsLimits } from './vfs/index.js';
export { defaultMaxFds, wasiFunctionNames } from './wasi/index.js';
export { defaultMaxPollSubscriptions } from './wasi/poll.js';
export { defaultTableLimitElements } from './sandbox/guest-module.js';
export type { StreamSink, StreamSource } from './wasi/index.js';
// Components (WASI preview2): run by Sandbox.run/exec when the binary is one.
export { isComponent, componentLayerMediaType, componentDigest } from './component/index.js';

// Images: pull into the local store, look them up, index and view their layers.
export { pull, ImageStore, parseReference, formatReference, defaultStoreRoot, indexLayer, viewLayers, applyLayers, parsePlatform } from './oci/index.js';
export type { PullOptions, PullEvent, ImageRecord, LayerRecord, ImageReference, Platform, ApplyOptions, ApplyResult, LayerIndex } from './oci/index.js';
export type { LayerView } from './vfs/index.js';

// Snapshots: manifests, the snapshot store (commit, restore, export, import).
export { SnapshotStore, parseSnapshotManifest, snapshotDigest, canonicalManifestBytes, snapshotMediaType, snapshotSchemaUrl, SandboxClass } from './snapshot/index.js';
export type { SnapshotManifest, SnapshotMount, SnapshotImage, SnapshotProcess, LayerDescriptor, BackendAsset, CommitSource, CommitOptions, CommittedSnapshot, RestoredSnapshot, ExportResult, DeltaSource } from './snapshot/index.js';
export type { SandboxCommitOptions, SandboxSnapshot } from './sandbox/sandbox.js';

// Backends: one interface for every sandbox class, binaries pinned by the host config, and the Linux hosts' renderings.
export { selectBackend, defaultHostConfig, nodeAsset, WasmBackend, verifyAsset, checkRecordedAssets, hostArch, renderRuntimeConfig, renderFirecrackerConfig, renderQemuArgs, tscKhzFromCpuinfo } from './backends/index.js';
export { OciRuntimeBackend, materializeRootfs, readHostConfig, hostConfigPath, probeAsset, pinAsset, writeHostConfig } from './backends/index.js';
export type { OciPrepared, HostConfigFile, MaterializedRootfs, RootfsOptions } from './backends/index.js';
export { QemuBackend, FirecrackerBackend, qemuClassConfig, probeAccel } from './backends/index.js';
export type { QemuPrepared, QemuSettings, FirecrackerPrepared, MicrovmAssetsFile } from './backends/index.js';
export type { Backend, BackendCapabilities, BackendExit, BackendProcess, Checkpoint, PrepareOptions, Prepared, ProcessSpec, BackendManifest, HostConfig, ClassConfig, VerifiedAsset, WasmPrepared, RuntimeConfigOptions, FirecrackerConfigOptions, QemuArgsOptions } from './backends/index.js';
