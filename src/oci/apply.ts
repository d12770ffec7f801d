import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { StrataError } from '../errors.js';
import { ChangesetApplier, FsError, LayerView, type ChangesetTree, type LayerEntry, type LayerSource, type TreeNodeType } from '../vfs/index.js';

/** Options of {@link applyLayers}. */
export interface ApplyOptions {
  /**
   * Give files the uid/gid of their tar entries. Honoured only when running
   * as root (otherwise listed in `warnings` once and ignored). Default false.
   */
  readonly chown?: boolean;
  /**
   * Drop setuid and setgid bits. Default: dropped when running as root
   * without `chown`, where every file would be owned by root and so be
   * setuid root on the host without the image asking for it; kept
   * otherwise (owned by the image's uid, or by the unprivileged caller).
   */
  readonly dropSetuid?: boolean;
}

/** What {@link applyLayers} did besides writing the tree. */
export interface ApplyResult {
  /** Entries applied (deletions included). */
  readonly entries: number;
  /** Things skipped or ignored: device nodes, fifos, AUFS metadata, an unusable chown. */
  readonly warnings: readonly string[];
}

/** A source that can say what it skipped (the layer index does). */
interface WithSkipped {
  readonly skipped?: readonly string[];
}

/**
 * Extract layers, lowest first, into the host directory `dir`, by the same
 * rules as the layer view (vfs/changeset.ts), so both show the same tree.
 *
 * Containment, for a hostile layer:
 * - every parent is resolved here component by component with lstat,
 *   following symlinks clamped to `dir` (RESOLVE_IN_ROOT done in JS), so
 *   every host path used is `dir` plus real directories plus one name;
 * - the last component is never followed: a symlink there is removed and
 *   replaced, files are created with O_CREAT|O_EXCL|O_NOFOLLOW;
 * - entry names were normalized by the index: absolute names are
 *   root-relative and `..` is clamped at the root, never refused;
 * - hardlink targets resolve inside `dir` the same way, and link(2) does
 *   not follow a symlink target: a link to a symlink is a second name for
 *   the symlink;
 * - no metadata is set through a hardlink or a symlink (lchown, lutimes);
 * - directory modes and times, set at the end, never follow a path that a
 *   later entry may have changed: each directory is found again from
 *   `dir`, component by component with lstat (a component that is no
 *   longer a real directory, e.g. replaced by a symlink, drops it), and is
 *   changed through an fd opened O_DIRECTORY|O_NOFOLLOW.
 * It assumes nothing else writes to `dir` meanwhile.
 *
 * Devices, fifos and unknown members are skipped (listed in `warnings`).
 * Extended attributes are indexed but not set: Node has no xattr API.
 * Directory modes and times are set last, deepest first, so a read-only
 * directory can still be filled and adding children does not change times.
 *
 * Errors: ERR_BAD_PATH (`dir` is not a directory), ERR_LAYER_NOT_DIR (an
 * entry's parent is a file), ERR_LAYER_SYMLINK_LOOP, ERR_LAYER_HARDLINK
 * (target missing or a directory), ERR_LAYER_APPLY (a host error, e.g.
 * ENOSPC or EACCES; names the entry). On error the tree is left partly
 * applied, never outside `dir`.
 */
export async function applyLayers(layers: readonly LayerSource[], dir: string, options: ApplyOptions = {}): Promise<ApplyResult> {
  let root: string;
  try {
    root = realpathSync(dir);
    if (!lstatSync(root).isDirectory()) throw new Error('not a directory');
  } catch (error) {
    throw new StrataError('ERR_BAD_PATH', `cannot apply layers: '${dir}' is not a directory`, { cause: error });
  }
  const warnings: string[] = [];
  const isRoot = process.getuid?.() === 0;
  const chown = options.chown === true && isRoot;
  if (options.chown === true && !isRoot) warnings.push('chown ignored: not running as root');
  const tree = new HostTree(root, { chown, dropSetuid: options.dropSetuid ?? (isRoot && !chown) });
  const applier = new ChangesetApplier(tree);
  let entries = 0;
  for (const [i, layer] of layers.entries()) {
    for (const skipped of (layer as WithSkipped).skipped ?? []) warnings.push(skipped);
    try {
      for (const _ of applier.steps(layer)) {
        // Let the event loop run now and then: a big layer is many syscalls.
        if (++entries % 512 === 0) await yieldToLoop();
      }
    } catch (error) {
      throw layerError(error, applier.current?.path, `layer ${i + 1} of ${layers.length}: `);
    }
  }
  tree.finishDirectories();
  return { entries, warnings };
}

/**
 * The merged read-only view of layers (see {@link LayerView}), with the
 * rules' failures turned into the same typed errors as {@link applyLayers}.
 * Errors: ERR_LAYER_NOT_DIR, ERR_LAYER_SYMLINK_LOOP, ERR_LAYER_HARDLINK.
 */
export function viewLayers(layers: readonly LayerSource[], options: { dev: bigint }): LayerView {
  try {
    return new LayerView(layers, options);
  } catch (error) {
    throw layerError(error, undefined);
  }
}

/** Map a rule failure (FsError) or host failure to a typed error. */
function layerError(error: unknown, entryPath: string | undefined, where = ''): unknown {
  if (error instanceof StrataError) return error;
  const path = entryPath ?? (error instanceof FsError ? error.path : undefined) ?? '?';
  if (error instanceof FsError && error.syscall === 'link') {
    const why = error.errno === 'EPERM' ? 'is a directory' : 'does not exist';
    return new StrataError('ERR_LAYER_HARDLINK', `${where}hardlink '${error.path ?? path}': its target ${why}`, { cause: error });
  }
  if (error instanceof FsError && error.errno === 'ELOOP') {
    return new StrataError('ERR_LAYER_SYMLINK_LOOP', `${where}entry '${error.path ?? path}': too many symlinks in its parents`, { cause: error });
  }
  if (error instanceof FsError && (error.errno === 'ENOTDIR' || error.errno === 'ENOENT')) {
    return new StrataError('ERR_LAYER_NOT_DIR', `${where}entry '${error.path ?? path}': a parent is not a directory`, { cause: error });
  }
  const code = (error as { code?: unknown }).code;
  return new StrataError('ERR_LAYER_APPLY', `${where}cannot apply entry '${path}': ${typeof code === 'string' ? code : (error as Error).message}`, { cause: error });
}

interface HostNode {
  readonly path: string;
  readonly type: TreeNodeType;
}

const copyBuffer = 1 << 20;

/** The changeset rules' tree over a host directory. */
class HostTree implements ChangesetTree<HostNode> {
  readonly root: HostNode;
  readonly #rootPath: string;
  readonly #chown: boolean;
  readonly #dropSetuid: boolean;
  /** Directories whose mode and times are set at the end. */
  readonly #dirs = new Map<string, { mode: number; mtimeNs: bigint }>();
  #buffer: Uint8Array | undefined;

  constructor(root: string, options: { chown: boolean; dropSetuid: boolean }) {
    this.root = { path: root, type: 'directory' };
    this.#rootPath = root;
    this.#chown = options.chown;
    this.#dropSetuid = options.dropSetuid;
  }

  lookup(dir: HostNode, name: string): HostNode | undefined {
    const path = join(dir.path, name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    return { path, type: st.isDirectory() ? 'directory' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other' };
  }

  type(node: HostNode): TreeNodeType {
    return node.type;
  }

  readlink(node: HostNode): string {
    return readlinkSync(node.path);
  }

  remove(_dir: HostNode, _name: string, node: HostNode): void {
    // rm never follows symlinks, at the top or inside the tree.
    rmSync(node.path, { recursive: true, force: true });
    this.#dirs.delete(node.path);
  }

  clear(dir: HostNode): void {
    for (const name of readdirSync(dir.path)) rmSync(join(dir.path, name), { recursive: true, force: true });
  }

  implicitDir(dir: HostNode, name: string): HostNode {
    const path = join(dir.path, name);
    mkdirSync(path, 0o700);
    this.#dirs.set(path, { mode: 0o755, mtimeNs: 0n });
    return { path, type: 'directory' };
  }

  mkdir(dir: HostNode, name: string, entry: LayerEntry): HostNode {
    const path = join(dir.path, name);
    // Owner rwx until the end, so children can be added as a non-root user.
    mkdirSync(path, 0o700);
    const node: HostNode = { path, type: 'directory' };
    this.updateDir(node, entry);
    return node;
  }

  updateDir(dir: HostNode, entry: LayerEntry): void {
    if (this.#chown) lchownSync(dir.path, entry.uid, entry.gid);
    this.#dirs.set(dir.path, { mode: this.#mode(entry.mode), mtimeNs: entry.mtimeNs });
  }

  createFile(dir: HostNode, name: string, entry: LayerEntry, source: LayerSource): void {
    const path = join(dir.path, name);
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      let done = 0;
      if (entry.size > 0) {
        const buf = (this.#buffer ??= new Uint8Array(copyBuffer));
        while (done < entry.size) {
          const want = Math.min(buf.length, entry.size - done);
          const n = source.read(buf, 0, want, entry.offset + done);
          if (n <= 0) throw new StrataError('ERR_LAYER_APPLY', `entry '${entry.path}': layer data ends early`);
          let written = 0;
          while (written < n) written += writeSync(fd, buf, written, n - written);
          done += n;
        }
      }
      if (this.#chown) fchownSync(fd, entry.uid, entry.gid);
      // After chown, which clears setuid bits.
      fchmodSync(fd, this.#mode(entry.mode));
      const t = seconds(entry.mtimeNs);
      futimesSync(fd, t, t);
    } finally {
      closeSync(fd);
    }
  }

  symlink(dir: HostNode, name: string, entry: LayerEntry): void {
    const path = join(dir.path, name);
    symlinkSync(entry.linkTarget, path);
    if (this.#chown) lchownSync(path, entry.uid, entry.gid);
    const t = seconds(entry.mtimeNs);
    lutimesSync(path, t, t);
  }

  link(dir: HostNode, name: string, target: HostNode): void {
    linkSync(target.path, join(dir.path, name));
  }

  /**
   * Set directory modes and times, deepest first. Each directory is found
   * again from the root without following a symlink, and changed through
   * an fd, so a directory whose path now crosses a symlink (a later entry
   * replaced a parent) is skipped, never reached outside the root.
   */
  finishDirectories(): void {
    const paths = [...this.#dirs.keys()].sort((a, b) => b.length - a.length);
    const real = new Map<string, boolean>([[this.#rootPath, true]]);
    for (const path of paths) {
      const meta = this.#dirs.get(path)!;
      if (!this.#isRealDir(path, real)) continue;
      const t = seconds(meta.mtimeNs);
      let fd: number;
      try {
        fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      } catch (error) {
        // A directory we may not read (one the target already had) is
        // changed by path: it was just found a real directory, component
        // by component, and nothing else writes to the target meanwhile.
        if ((error as { code?: unknown }).code !== 'EACCES') continue;
        chmodSync(path, meta.mode);
        utimesSync(path, t, t);
        continue;
      }
      try {
        fchmodSync(fd, meta.mode);
        futimesSync(fd, t, t);
      } finally {
        closeSync(fd);
      }
    }
    this.#dirs.clear();
  }

  /** Whether every component of `path` below the root is a real directory (lstat), memoized in `real`. */
  #isRealDir(path: string, real: Map<string, boolean>): boolean {
    const known = real.get(path);
    if (known !== undefined) return known;
    const prefix = this.#rootPath.endsWith('/') ? this.#rootPath : `${this.#rootPath}/`;
    if (path.length <= prefix.length || !path.startsWith(prefix)) return false;
    const slash = path.lastIndexOf('/');
    const parent = slash < prefix.length ? this.#rootPath : path.slice(0, slash);
    const ok = this.#isRealDir(parent, real) && lstatSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
    real.set(path, ok);
    return ok;
  }

  #mode(mode: number): number {
    return this.#dropSetuid ? mode & 0o1777 : mode & 0o7777;
  }
}

function seconds(ns: bigint): number {
  return Number(ns) / 1e9;
}
