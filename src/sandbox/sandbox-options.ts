import type { ImageStore } from '../oci/index.js';
import type { TmpfsLimits } from '../vfs/index.js';
import type { Image, OpenImageOptions } from './image.js';
import type { MountSpec } from './mounts.js';
import type { RootMode } from './root.js';

/** Options of {@link Sandbox.create}. */
export interface SandboxOptions {
  /**
   * The image the root is built over: a reference (`oci:DIR:TAG`,
   * `HOST/REPO:TAG`, …), pulled first when it is not in the store, or an
   * {@link Image} already opened. Default: none, an empty root.
   */
  readonly image?: string | Image;
  /**
   * Restore a snapshot (its digest, or a unique prefix) from the store:
   * the image and every delta of its chain as one read-only view, each
   * layer verified first. The root mode and quotas come from the manifest
   * unless `root`/`tmpfs` say otherwise; its tmpfs, volume and recorded
   * bind mounts are rebuilt under `mounts` (identity mounts only from
   * `mounts`, injected afresh). Not with `image`.
   */
  readonly from?: string;
  /**
   * The root's mode. Default `overlay` over an image (a copy-on-write upper),
   * `tmpfs` without one (a private, empty in-memory root). `readonly` needs
   * an image, and adds tmpfs at `/tmp` and `/run` unless `mounts` has a
   * tmpfs of its own; `tmpfs` over an image copies the image in.
   */
  readonly root?: RootMode;
  /** Quotas of the tmpfs root, or of the overlay's in-memory upper. Default 1 GiB and 1 Mi inodes. */
  readonly tmpfs?: Partial<TmpfsLimits>;
  /** Keep the overlay's upper in this host directory instead of memory; it survives the sandbox. */
  readonly upper?: { readonly dir: string };
  /** Mounts, at any path; missing mount points are made without writing the root. */
  readonly mounts?: readonly MountSpec[];
  /** Mount the minimal `/dev` (null, zero, full, random, urandom, stdin, stdout, stderr). Default true. */
  readonly dev?: boolean;
  /** The image store, for the image and for volumes. Default: `ImageStore.open()`. */
  readonly store?: ImageStore;
  /** Pulling a missing image: `missing` (default) or `never`; plus the pull's options. */
  readonly pull?: OpenImageOptions['pull'];
  readonly insecure?: boolean;
  readonly onPullEvent?: OpenImageOptions['onEvent'];
  /** Resolves relative host paths (mount sources, `oci:` references). Default `process.cwd()`. */
  readonly cwd?: string;
}
