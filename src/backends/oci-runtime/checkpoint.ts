import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDigest } from '../../oci/index.js';
import { snapshotMediaType, SnapshotStore, type LayerDescriptor, type SnapshotManifest } from '../../snapshot/index.js';
import { recordAssets, type VerifiedAsset } from '../assets.js';
import type { Checkpoint, Prepared } from '../backend.js';
import { runscCheckpointMediaType, storeCheckpointImage, type RunscCheckpointRecord } from './checkpoint-image.js';
import { writeHostDelta } from './host-delta.js';
import type { OciState } from './oci-runtime-backend.js';
import { runRuntime, type RuntimeName } from './runtime-cli.js';

/**
 * Checkpoint a prepared oci-runtime sandbox (see `OciRuntimeBackend.checkpoint`).
 *
 * The filesystem: an `overlay` root's changes since prepare (its upper,
 * read with the merged view; rootless, through the pause init's
 * `/proc/PID/root`, its entries 0:0) as one delta over the snapshot it was
 * restored from (`parent`), or over the image; a `tmpfs` root whole, as
 * one layer over no image and no parent (as the wasm backend writes it;
 * docs/decisions.md); a `readonly` root has no changes. On runsc an
 * `overlay` root's writes live in the sandbox's memory: they are in the
 * memory checkpoint, not in a delta.
 *
 * On runsc (unless `memory` is false), memory too: `runsc checkpoint --image-path` (which stops the
 * sandbox), stored as one blob and recorded in `backend.config.checkpoint`
 * with the runsc version and sha256 that made it; then `runsc restore`
 * of the same image under the same id, so the sandbox keeps running.
 */
export async function takeCheckpoint(cls: RuntimeName, prepared: Prepared, state: OciState, assets: readonly VerifiedAsset[], labels: Readonly<Record<string, string>> | undefined, memory: boolean): Promise<Checkpoint> {
  const { manifest } = prepared;
  const { bundle, store, rt } = state;
  let checkpoint: RunscCheckpointRecord | undefined;
  const imageDir = join(bundle.dir, `checkpoint-${Date.now()}`);
  try {
    if (memory) {
      await runRuntime(rt, 'checkpoint', ['--image-path', imageDir, bundle.id]);
      // The sandbox stopped; bring it back from the same image under the same id.
      await runRuntime(rt, 'delete', ['--force', bundle.id]);
      await runRuntime(rt, 'restore', ['--image-path', imageDir, '--bundle', bundle.dir, '--detach', bundle.id]);
      const runsc = assets.find((a) => a.name === 'runsc')!;
      checkpoint = { mediaType: runscCheckpointMediaType, ...(await storeCheckpointImage(store.blobs, imageDir)), runsc: { version: runsc.version, sha256: runsc.sha256 } };
    }
    const mode = manifest.root.mode;
    const delta: LayerDescriptor[] = [];
    const exclude = bundle.mountTargets;
    if (mode === 'tmpfs') delta.push(await writeHostDelta(store.blobs, { kind: 'tree', root: bundle.rootfs }, exclude));
    else if (mode === 'overlay' && bundle.rootless) {
      // The merged view exists in the container's mount namespace only: read it through the init's root.
      const { pid } = JSON.parse(await runRuntime(rt, 'state', [bundle.id])) as { pid: number };
      delta.push(await writeHostDelta(store.blobs, { kind: 'overlay', upper: bundle.upper!, merged: `/proc/${String(pid)}/root`, lower: bundle.lower, owner: { uid: 0, gid: 0 } }, exclude));
    }
    else if (mode === 'overlay' && rt.overlayFlag === undefined) delta.push(await writeHostDelta(store.blobs, { kind: 'overlay', upper: bundle.upper!, merged: bundle.rootfs, lower: bundle.lower }, exclude));
    const whole = mode === 'tmpfs';
    const parent = whole ? undefined : state.snapshot;
    const image = whole ? undefined : manifest.image;
    const process = manifest.process ?? (state.layers.imageProcess !== undefined ? { args: [...state.layers.imageProcess.entrypoint, ...state.layers.imageProcess.cmd], env: [...state.layers.imageProcess.env], workdir: state.layers.imageProcess.workdir } : undefined);
    const snapshot: SnapshotManifest = {
      mediaType: snapshotMediaType,
      schemaVersion: 1,
      created: new Date().toISOString(),
      ...(labels !== undefined && { labels: { ...labels } }),
      ...(parent !== undefined && { parent: parseDigest(parent, 'parent snapshot') }),
      ...(image !== undefined && { image: { reference: image.reference, manifestDigest: parseDigest(image.manifestDigest, 'image'), configDigest: parseDigest(image.configDigest, 'image config'), diffIDs: image.diffIDs.map((d) => parseDigest(d, 'diffID')) } }),
      root: { mode, ...(manifest.root.limits !== undefined && { limits: manifest.root.limits as NonNullable<SnapshotManifest['root']['limits']> }) },
      mounts: manifest.mounts.map((m) => (m.type === 'identity' ? { type: 'identity', target: m.target } : m)) as SnapshotManifest['mounts'],
      ...(process !== undefined && { process: { args: [...process.args], env: [...process.env], workdir: process.workdir } }),
      class: cls,
      backend: { assets: recordAssets(assets), config: { ...state.config, ...(checkpoint !== undefined && { checkpoint }) } },
      delta,
    };
    const { digest, manifest: stored } = await new SnapshotStore(store).adopt(snapshot);
    return { digest, manifest: stored };
  } finally {
    await rm(imageDir, { recursive: true, force: true });
  }
}
