import { lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, StrataError } from '../errors.js';

/**
 * Named volumes: persistent host directories in the store, at
 * `<store root>/volumes/NAME`, that outlive sandboxes. A sandbox sees one
 * only when it names it in a `volume` mount (a bind of that directory), so
 * two sandboxes share a volume exactly when they both name it.
 *
 * The store root is the image store's ({@link defaultStoreRoot} in
 * src/oci: `$STRATA_HOME`, else `$XDG_CACHE_HOME/strata`, else
 * `~/.cache/strata`).
 */

/** What a volume name must look like: lowercase letters, digits, `_`, `.` and `-`, starting with a letter or digit, 64 characters at most. */
export const volumeNamePattern = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

/**
 * The host directory of volume `name`, created on first use.
 *
 * Errors (StrataError): ERR_INVALID_OPTION (a name outside
 * {@link volumeNamePattern}), ERR_BAD_PATH (the volume's path exists and is
 * not a directory, e.g. a symlink someone put in the store), ERR_HOST_FILE
 * (the directory cannot be created).
 */
export function volumePath(storeRoot: string, name: string): string {
  checkVolumeName(name);
  const path = join(storeRoot, 'volumes', name);
  try {
    mkdirSync(path, { recursive: true, mode: 0o755 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new StrataError(ErrorCode.hostFile, `volume '${name}': cannot create ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  // A volume is a real directory of the store: a symlink there would make
  // the mount land wherever it points.
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined || !st.isDirectory()) throw new StrataError(ErrorCode.badPath, `volume '${name}': ${path} is not a directory`);
  return path;
}

/** The names of the volumes in the store, sorted. A store with none (or no store yet) gives an empty list. */
export function listVolumes(storeRoot: string): string[] {
  let entries;
  try {
    entries = readdirSync(join(storeRoot, 'volumes'), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StrataError(ErrorCode.hostFile, `cannot list volumes in ${storeRoot}: ${(error as Error).message}`, { cause: error });
  }
  return entries
    .filter((e) => e.isDirectory() && volumeNamePattern.test(e.name))
    .map((e) => e.name)
    .sort();
}

/**
 * Delete volume `name` and everything in it. A sandbox still using it
 * keeps what it has open; new lookups there find nothing.
 *
 * Errors (StrataError): ERR_INVALID_OPTION (a bad name),
 * ERR_VOLUME_NOT_FOUND (no such volume), ERR_HOST_FILE (it cannot be deleted).
 */
export function removeVolume(storeRoot: string, name: string): void {
  checkVolumeName(name);
  const path = join(storeRoot, 'volumes', name);
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined || !st.isDirectory()) throw new StrataError(ErrorCode.volumeNotFound, `no volume named '${name}'`);
  try {
    rmSync(path, { recursive: true });
  } catch (error) {
    throw new StrataError(ErrorCode.hostFile, `volume '${name}': cannot delete ${path}: ${(error as Error).message}`, { cause: error });
  }
}

function checkVolumeName(name: string): void {
  if (typeof name !== 'string' || !volumeNamePattern.test(name)) {
    throw new StrataError(ErrorCode.invalidOption, `bad volume name ${JSON.stringify(name)}: use 1 to 64 of a-z 0-9 _ . - starting with a letter or digit`);
  }
}
