import { ErrorCode, StrataError } from '../errors.js';
import { LayerEntryKind, LayerView, maxNameBytes, type LayerEntry, type LayerSource } from '../vfs/index.js';

/** Most bytes an identity mount may hold in all: it is injected per process, in memory. */
export const maxIdentityBytes = 16 << 20;

/**
 * A read-only tree of identity files (`/run/strata/...`), built in memory as
 * one layer and viewed with the same {@link LayerView} as an image, so it
 * is read-only by construction and never part of an overlay's upper (and so
 * never of a snapshot).
 *
 * `files` maps relative paths (`token`, `certs/ca.pem`) to contents; parent
 * directories are implied. Files are mode 0444, directories 0555.
 *
 * Errors: ERR_INVALID_OPTION (an empty, absolute or climbing path, a name
 * over 255 bytes, a path given twice, or more than {@link maxIdentityBytes}).
 */
export function identityView(files: Readonly<Record<string, string | Uint8Array>>, dev: bigint): LayerView {
  const encoder = new TextEncoder();
  const entries: LayerEntry[] = [];
  const chunks: Uint8Array[] = [];
  const dirs = new Set<string>();
  let offset = 0;
  const mtimeNs = BigInt(Date.now()) * 1_000_000n;
  const base = { uid: 0, gid: 0, mtimeNs, linkTarget: '' };
  for (const [name, content] of Object.entries(files)) {
    const parts = name.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.length === 0 || name.startsWith('/') || parts.includes('..') || parts.some((p) => Buffer.byteLength(p) > maxNameBytes || p.includes('\0'))) {
      throw new StrataError(ErrorCode.invalidOption, `identity file '${name}' must be a relative path without '..', of names up to ${maxNameBytes} bytes`);
    }
    const path = parts.join('/');
    if (dirs.has(path) || entries.some((e) => e.path === path)) throw new StrataError(ErrorCode.invalidOption, `identity file '${name}' is given twice or is also a directory`);
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (dirs.has(dir)) continue;
      if (entries.some((e) => e.path === dir)) throw new StrataError(ErrorCode.invalidOption, `identity file '${dir}' is also a directory`);
      dirs.add(dir);
      entries.push({ ...base, path: dir, kind: LayerEntryKind.directory, mode: 0o555, size: 0, offset: 0 });
    }
    const bytes = typeof content === 'string' ? encoder.encode(content) : content;
    if (offset + bytes.length > maxIdentityBytes) throw new StrataError(ErrorCode.invalidOption, `identity files hold more than ${maxIdentityBytes} bytes`);
    entries.push({ ...base, path, kind: LayerEntryKind.file, mode: 0o444, size: bytes.length, offset });
    chunks.push(bytes);
    offset += bytes.length;
  }
  entries.unshift({ ...base, path: '', kind: LayerEntryKind.directory, mode: 0o555, size: 0, offset: 0 });
  const data = Buffer.concat(chunks);
  const source: LayerSource = {
    entryCount: entries.length,
    entry: (i) => entries[i]!,
    read(dst, dstOffset, length, position) {
      const n = Math.max(0, Math.min(length, data.length - position));
      dst.set(data.subarray(position, position + n), dstOffset);
      return n;
    },
  };
  return new LayerView([source], { dev });
}
