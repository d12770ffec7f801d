import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ErrorCode, StrataError } from '../errors.js';
import type { BackendAsset } from './manifest.js';

/** An asset checked against its file on this host: what ran, and what a checkpoint records. */
export interface VerifiedAsset {
  readonly name: string;
  readonly version: string;
  /** The architecture it was checked for (OCI names: `amd64`, `arm64`, …). */
  readonly arch: string;
  readonly path: string;
  readonly sha256: string;
}

const sha256Hex = /^[0-9a-f]{64}$/;

/**
 * This host's architecture in OCI's (and Go's) names, the keys of
 * {@link BackendAsset.arch}: `amd64` for Node's `x64`, `386` for `ia32`,
 * else Node's own name (`arm64`, `arm`, `ppc64`, `s390x`, `riscv64`).
 */
export function hostArch(arch: string = process.arch): string {
  return arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch;
}

// sha256 by file identity: a file is hashed again only when its device,
// inode, size, mtime or ctime changed (a replaced or rewritten binary
// changes at least one), so verifying before every use costs a stat.
const hashes = new Map<string, { key: string; sha256: string }>();

/**
 * The sha256 (lowercase hex) of a host file, cached by path, device, inode,
 * size, mtime and ctime.
 *
 * Errors: ERR_ASSET_MISSING (the file cannot be stat-ed or read, or is not
 * a regular file), naming the path.
 */
export async function fileSha256(path: string): Promise<string> {
  const key = await identityOf(path);
  const cached = hashes.get(path);
  if (cached !== undefined && cached.key === key) return cached.sha256;
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (error) {
    throw new StrataError(ErrorCode.assetMissing, `cannot read '${path}': ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  const sha256 = hash.digest('hex');
  // The file may have changed while it was read: keep the hash only if its identity still holds.
  if ((await identityOf(path)) === key) hashes.set(path, { key, sha256 });
  return sha256;
}

async function identityOf(path: string): Promise<string> {
  let st;
  try {
    st = await stat(path, { bigint: true });
  } catch (error) {
    throw new StrataError(ErrorCode.assetMissing, `cannot stat '${path}': ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  if (!st.isFile()) throw new StrataError(ErrorCode.assetMissing, `'${path}' is not a regular file`);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * Check an asset's pin for `arch` against its file: the file at the pinned
 * path must hash to the pinned sha256. Called before every use.
 *
 * Errors, in order: ERR_ASSET_MISSING (no entry for `arch`, or the file
 * cannot be read); ERR_ASSET_MISMATCH (the pin is not 64 lowercase hex
 * digits, or the file hashes to another sha256; names the asset, the path,
 * the expected and the actual sha256).
 */
export async function verifyAsset(asset: BackendAsset, arch: string = hostArch()): Promise<VerifiedAsset> {
  const pin = asset.arch[arch];
  if (pin === undefined) {
    throw new StrataError(ErrorCode.assetMissing, `backend asset '${asset.name}' ${asset.version} has no entry for architecture '${arch}' (it has: ${Object.keys(asset.arch).join(', ') || 'none'})`);
  }
  if (!sha256Hex.test(pin.sha256)) {
    throw new StrataError(ErrorCode.assetMismatch, `backend asset '${asset.name}' ${asset.version} (${arch}): pinned sha256 '${pin.sha256}' is not 64 lowercase hex digits`);
  }
  const actual = await fileSha256(pin.path);
  if (actual !== pin.sha256) {
    throw new StrataError(ErrorCode.assetMismatch, `backend asset '${asset.name}' ${asset.version} at '${pin.path}': expected sha256 ${pin.sha256}, actual ${actual}`);
  }
  return { name: asset.name, version: asset.version, arch, path: pin.path, sha256: pin.sha256 };
}

/** {@link verifyAsset} for each asset, in order; the first failure rejects. */
export async function verifyAssets(assets: readonly BackendAsset[], arch: string = hostArch()): Promise<VerifiedAsset[]> {
  const verified: VerifiedAsset[] = [];
  for (const asset of assets) verified.push(await verifyAsset(asset, arch));
  return verified;
}

/**
 * Check the assets a snapshot recorded against the ones this host
 * configures, before anything runs: every recorded asset must be
 * configured under the same name, with the same version and, for `arch`,
 * the same sha256. Paths are host-specific and are not compared (the
 * configured path is what gets hashed). Configured assets the snapshot
 * does not mention are allowed (an older snapshot recorded fewer).
 *
 * Errors, in order, for the first recorded asset that fails:
 * ERR_ASSET_MISMATCH naming the asset and the field (not configured here;
 * another version; no sha256 recorded for `arch`; another sha256), with
 * the recorded (expected) and the configured (actual) value.
 */
export function checkRecordedAssets(recorded: readonly BackendAsset[], configured: readonly BackendAsset[], arch: string = hostArch()): void {
  for (const want of recorded) {
    const have = configured.find((a) => a.name === want.name);
    const what = `snapshot's backend asset '${want.name}'`;
    if (have === undefined) {
      throw new StrataError(ErrorCode.assetMismatch, `${what} ${want.version} is not configured on this host (configured: ${configured.map((a) => a.name).join(', ') || 'none'})`);
    }
    if (have.version !== want.version) {
      throw new StrataError(ErrorCode.assetMismatch, `${what}: expected version ${want.version}, actual ${have.version}`);
    }
    const wantPin = want.arch[arch];
    if (wantPin === undefined) {
      throw new StrataError(ErrorCode.assetMismatch, `${what} ${want.version} was recorded for ${Object.keys(want.arch).join(', ') || 'no architecture'}, not for this host's '${arch}'`);
    }
    const havePin = have.arch[arch];
    if (havePin?.sha256 !== wantPin.sha256) {
      throw new StrataError(ErrorCode.assetMismatch, `${what} ${want.version} (${arch}): expected sha256 ${wantPin.sha256}, actual ${havePin?.sha256 ?? 'none configured'}`);
    }
  }
}

/**
 * The assets as a checkpoint records them in `backend.assets`: one entry
 * per name with the verified architecture's path and sha256.
 */
export function recordAssets(verified: readonly VerifiedAsset[]): BackendAsset[] {
  return verified.map((v) => ({ name: v.name, version: v.version, arch: { [v.arch]: { path: v.path, sha256: v.sha256 } } }));
}
