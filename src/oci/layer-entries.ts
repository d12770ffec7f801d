import { StrataError } from '../errors.js';
import { LayerEntryKind } from '../vfs/index.js';
import { TarType, type TarEntry } from './tar.js';

/**
 * From tar members to layer entries: path normalization, whiteouts and
 * what is skipped. Everything a layer may hold is judged here, once, so
 * the layer view and applyLayers see the same entries.
 * https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts
 */

/** Longest normalized entry path, in UTF-8 bytes (PATH_MAX). */
export const maxEntryPathBytes = 4096;
/** Most components in an entry path (node-tar's fix for CVE-2024-28863). */
export const maxEntryDepth = 1024;
/** Longest component (NAME_MAX). */
export const maxEntryNameBytes = 255;
/** Longest symlink target (Linux refuses 4096 and more). */
export const maxLinkTargetBytes = 4095;

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';
const metaPrefix = '.wh..wh.';

/** A member, judged: an entry to apply, or a reason it is skipped. */
export type Classified =
  | { readonly skip: false; readonly kind: LayerEntryKind; readonly path: string; readonly linkTarget: string }
  | { readonly skip: true; readonly path: string; readonly reason: string };

/**
 * Normalize an entry name: `.` and empty components dropped, `..` removed
 * with the component before it and never above the root. Absolute names
 * are thus root-relative and `../` cannot climb out (clamped, as
 * containerd's `filepath.Join("/", name)` does), never refused.
 */
export function normalizeEntryPath(name: string): string {
  // Most names are already normal: no leading or trailing `/`, no empty,
  // `.` or `..` component.
  if (name !== '' && name.charCodeAt(0) !== 47 && name.charCodeAt(name.length - 1) !== 47 && !name.includes('//') && !/(^|\/)\.\.?(\/|$)/.test(name)) {
    return name;
  }
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

/**
 * Judge one tar member.
 * Errors: ERR_LAYER_PATH_TOO_LONG (path over 4096 bytes, 1024 components,
 * or a 255-byte component; symlink target over 4095 bytes),
 * ERR_LAYER_BAD_WHITEOUT (`.wh.`, `.wh..`, `.wh...`: a whiteout naming
 * nothing, its own directory, or the parent), ERR_LAYER_HARDLINK (a
 * hardlink to the root).
 */
export function classify(e: TarEntry, label: string): Classified {
  const path = normalizeEntryPath(e.name);
  checkPath(path, e.name, label);
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1);
  const parent = slash < 0 ? '' : path.slice(0, slash);
  if (base.startsWith(whiteoutPrefix)) {
    if (base === opaqueMarker) return { skip: false, kind: LayerEntryKind.opaque, path: parent, linkTarget: '' };
    if (base.startsWith(metaPrefix)) return { skip: true, path, reason: 'AUFS metadata (.wh..wh.*) is ignored' };
    const hidden = base.slice(whiteoutPrefix.length);
    if (hidden === '' || hidden === '.' || hidden === '..') {
      throw new StrataError('ERR_LAYER_BAD_WHITEOUT', `${label}: whiteout '${e.name.slice(0, 200)}' names ${hidden === '..' ? 'the parent directory' : hidden === '.' ? 'its own directory' : 'nothing'}`);
    }
    return { skip: false, kind: LayerEntryKind.whiteout, path: parent === '' ? hidden : `${parent}/${hidden}`, linkTarget: '' };
  }
  let kind: LayerEntryKind;
  let linkTarget = '';
  switch (e.type) {
    case TarType.file:
      kind = LayerEntryKind.file;
      break;
    case TarType.directory:
      kind = LayerEntryKind.directory;
      break;
    case TarType.symlink:
      if (e.linkName === '') return { skip: true, path, reason: 'symlink with an empty target' };
      if (Buffer.byteLength(e.linkName) > maxLinkTargetBytes) {
        throw new StrataError('ERR_LAYER_PATH_TOO_LONG', `${label}: symlink '${path.slice(0, 200)}' has a target over ${maxLinkTargetBytes} bytes`);
      }
      kind = LayerEntryKind.symlink;
      linkTarget = e.linkName;
      break;
    case TarType.hardlink:
      linkTarget = normalizeEntryPath(e.linkName);
      checkPath(linkTarget, e.linkName, label);
      if (linkTarget === '') throw new StrataError('ERR_LAYER_HARDLINK', `${label}: hardlink '${path.slice(0, 200)}' targets the root directory`);
      kind = LayerEntryKind.hardlink;
      break;
    case TarType.charDevice:
    case TarType.blockDevice:
      return { skip: true, path, reason: 'device node skipped' };
    case TarType.fifo:
      return { skip: true, path, reason: 'fifo skipped' };
    default:
      return { skip: true, path, reason: `unknown tar type '${e.type}' skipped` };
  }
  if (path === '' && kind !== LayerEntryKind.directory) {
    return { skip: true, path, reason: `a ${kind} cannot replace the root directory` };
  }
  return { skip: false, kind, path, linkTarget };
}

function checkPath(path: string, raw: string, label: string): void {
  const bytes = path.length * 3 > maxEntryPathBytes ? Buffer.byteLength(path) : path.length;
  const shown = raw.slice(0, 120) + (raw.length > 120 ? '…' : '');
  if (bytes > maxEntryPathBytes) {
    throw new StrataError('ERR_LAYER_PATH_TOO_LONG', `${label}: entry '${shown}' is ${bytes} bytes long (limit ${maxEntryPathBytes})`);
  }
  let depth = 1;
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path.charCodeAt(i) === 47) {
      if (i - start > maxEntryNameBytes / 3 && Buffer.byteLength(path.slice(start, i)) > maxEntryNameBytes) {
        throw new StrataError('ERR_LAYER_PATH_TOO_LONG', `${label}: entry '${shown}' has a component over ${maxEntryNameBytes} bytes`);
      }
      if (i < path.length) depth++;
      start = i + 1;
    }
  }
  if (depth > maxEntryDepth) {
    throw new StrataError('ERR_LAYER_PATH_TOO_LONG', `${label}: entry '${shown}' is ${depth} components deep (limit ${maxEntryDepth})`);
  }
}
