import { posix } from 'node:path';
import { ErrorCode, StrataError } from '../../errors.js';
import { defaultTmpfsMount, readonlyScratch } from '../../sandbox/index.js';
import type { BackendManifest, ManifestMount } from '../manifest.js';

/**
 * The kernel command-line words that tell the microVM guest's init how to
 * set up the sandbox (`runtime/microvm/`, issue 13):
 * - `strata.root=readonly|overlay|tmpfs`: the root mode;
 * - `strata.tmpfs=TARGET:SIZE:INODES`: one per tmpfs mount (a `readonly`
 *   root without one gets `/tmp` and `/run`, as on the wasm backend);
 * - `strata.share=TAG:TARGET:ro|rw`: one per 9p share (QEMU only);
 * - `strata.identity=TARGET`: identity files on the `identity` drive.
 * Targets are absolute, normalized and may not hold whitespace, `:` or
 * quotes (they would split the command line).
 *
 * Errors: ERR_INVALID_OPTION naming a target that cannot be passed so.
 */
export function guestBootWords(manifest: BackendManifest, shares: readonly { tag: string; target: string; readonly: boolean }[]): string[] {
  const words = [`strata.root=${manifest.root.mode}`];
  const tmpfs: ManifestMount[] = manifest.mounts.filter((m) => m.type === 'tmpfs');
  if (manifest.root.mode === 'readonly' && tmpfs.length === 0) for (const target of readonlyScratch) tmpfs.push({ type: 'tmpfs', target });
  for (const m of tmpfs) words.push(`strata.tmpfs=${bootTarget(m.target)}:${m.size ?? defaultTmpfsMount.size}:${m.inodes ?? defaultTmpfsMount.inodes}`);
  for (const s of shares) words.push(`strata.share=${s.tag}:${bootTarget(s.target)}:${s.readonly ? 'ro' : 'rw'}`);
  for (const m of manifest.mounts) if (m.type === 'identity') words.push(`strata.identity=${bootTarget(m.target)}`);
  return words;
}

/** A mount target as it can travel on the kernel command line. */
export function bootTarget(target: string): string {
  const normalized = posix.normalize(target);
  if (!posix.isAbsolute(normalized) || /[\s:"'\\]/.test(normalized)) {
    throw new StrataError(ErrorCode.invalidOption, `mount target '${target}' cannot be passed on a kernel command line (absolute, no whitespace, ':' or quotes)`);
  }
  return normalized;
}

/** Identity mounts need an identity drive; refused without one, naming the target. */
export function checkIdentityDrive(manifest: BackendManifest, identityImage: string | undefined): void {
  const identity = manifest.mounts.find((m) => m.type === 'identity');
  if (identity !== undefined && identityImage === undefined) {
    throw new StrataError(ErrorCode.invalidOption, `identity mount at '${identity.target}' needs an identity drive (options.identityImage)`);
  }
}

/**
 * The TSC frequency in kHz from `/proc/cpuinfo`'s first `cpu MHz` line,
 * for `tsc_early_khz=` (see {@link renderQemuArgs}). `undefined` when the
 * text has none (not x86, or not Linux).
 */
export function tscKhzFromCpuinfo(cpuinfo: string): number | undefined {
  const match = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(cpuinfo);
  return match === null ? undefined : Math.floor(Number(match[1]) * 1000);
}
