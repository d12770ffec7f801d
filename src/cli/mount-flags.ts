import { isAbsolute, resolve } from 'node:path';
import type { MountSpec } from '../sandbox/index.js';
import { bytes, positive, UsageError } from './io.js';

/**
 * `--tmpfs PATH[:size=N,nr_inodes=N]`, as docker spells it.
 * Errors: UsageError naming the flag.
 */
export function parseTmpfsFlag(text: string): MountSpec {
  const colon = text.indexOf(':');
  const target = colon < 0 ? text : text.slice(0, colon);
  const spec: { type: 'tmpfs'; target: string; size?: number; inodes?: number } = { type: 'tmpfs', target: containerPath(target, '--tmpfs') };
  if (colon >= 0) {
    for (const option of text.slice(colon + 1).split(',').filter((o) => o !== '')) {
      const [key, value] = splitOption(option);
      if (key === 'size' && value !== undefined) spec.size = bytes('--tmpfs size', value);
      else if (key === 'nr_inodes' && value !== undefined) spec.inodes = positive('--tmpfs nr_inodes', value);
      else throw new UsageError(`--tmpfs: unknown option '${option}' (size=N, nr_inodes=N)`);
    }
  }
  return spec;
}

/**
 * `-v SRC:DST[:ro|:rw|:overlay]`. A SRC with no `/` and no leading `.` is
 * a named volume (as in docker); otherwise a host directory, relative to
 * `cwd`. `overlay` makes a copy-on-write mount whose changes go back only
 * with `--apply`.
 * Errors: UsageError naming the flag.
 */
export function parseVolumeFlag(text: string, cwd: string): MountSpec {
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 3 || parts[0] === '' || parts[1] === '') throw new UsageError(`-v '${text}': expected SRC:DST[:ro|:rw|:overlay]`);
  const [source, dest, mode = 'rw'] = parts as [string, string, string?];
  const target = containerPath(dest, '-v');
  if (!['ro', 'rw', 'overlay'].includes(mode)) throw new UsageError(`-v '${text}': unknown mode '${mode}' (ro, rw or overlay)`);
  if (isVolumeName(source)) {
    if (mode === 'overlay') throw new UsageError(`-v '${text}': a named volume cannot be an overlay mount`);
    return { type: 'volume', name: source, target, readonly: mode === 'ro' };
  }
  const hostPath = isAbsolute(source) ? source : resolve(cwd, source);
  if (mode === 'overlay') return { type: 'overlay', source: hostPath, target };
  return { type: 'bind', source: hostPath, target, readonly: mode === 'ro' };
}

/**
 * `--mount type=T,src=S,dst=D[,ro][,size=N][,nr_inodes=N]`, as docker
 * spells it (`source`/`target`/`destination` and `readonly` also read).
 * Types: bind, overlay, volume, tmpfs.
 * Errors: UsageError naming the flag and the field.
 */
export function parseMountFlag(text: string, cwd: string): MountSpec {
  const fields = new Map<string, string | undefined>();
  for (const option of text.split(',').filter((o) => o !== '')) {
    const [key, value] = splitOption(option);
    const name = ({ source: 'src', destination: 'dst', target: 'dst', readonly: 'ro' } as Record<string, string>)[key] ?? key;
    if (fields.has(name)) throw new UsageError(`--mount '${text}': '${name}' given twice`);
    fields.set(name, value);
  }
  const known = ['type', 'src', 'dst', 'ro', 'size', 'nr_inodes'];
  for (const key of fields.keys()) if (!known.includes(key)) throw new UsageError(`--mount '${text}': unknown field '${key}' (type, src, dst, ro, size, nr_inodes)`);
  const type = fields.get('type');
  const dst = fields.get('dst');
  if (dst === undefined) throw new UsageError(`--mount '${text}': needs dst=PATH`);
  const target = containerPath(dst, '--mount');
  const ro = fields.has('ro') && fields.get('ro') !== 'false';
  const src = fields.get('src');
  const needSource = () => {
    if (src === undefined || src === '') throw new UsageError(`--mount '${text}': type=${type} needs src=`);
    return src;
  };
  switch (type) {
    case 'tmpfs': {
      if (src !== undefined) throw new UsageError(`--mount '${text}': a tmpfs mount takes no src`);
      const size = fields.get('size');
      const inodes = fields.get('nr_inodes');
      return { type: 'tmpfs', target, ...(size !== undefined && { size: bytes('--mount size', size) }), ...(inodes !== undefined && { inodes: positive('--mount nr_inodes', inodes) }) };
    }
    case 'bind': {
      const source = needSource();
      return { type: 'bind', source: isAbsolute(source) ? source : resolve(cwd, source), target, readonly: ro };
    }
    case 'overlay': {
      const source = needSource();
      return { type: 'overlay', source: isAbsolute(source) ? source : resolve(cwd, source), target };
    }
    case 'volume':
      return { type: 'volume', name: needSource(), target, readonly: ro };
    default:
      throw new UsageError(`--mount '${text}': type must be bind, overlay, volume or tmpfs`);
  }
}

function isVolumeName(source: string): boolean {
  return !source.includes('/') && !source.includes('\\') && !source.startsWith('.') && !source.startsWith('~');
}

function containerPath(path: string, flag: string): string {
  if (!path.startsWith('/')) throw new UsageError(`${flag}: the path in the sandbox must be absolute, got '${path}'`);
  return path;
}

function splitOption(option: string): [string, string | undefined] {
  const eq = option.indexOf('=');
  return eq < 0 ? [option, undefined] : [option.slice(0, eq), option.slice(eq + 1)];
}
