import { isAbsolute, resolve } from 'node:path';
import { StrataError } from '../errors.js';
import { parseDigest, type Digest } from './digest.js';

/**
 * An image reference, in one of skopeo's transports.
 *
 * - `oci:DIR[:TAG]`: an OCI image layout on the host
 * - `docker-archive:FILE[:NAME[:TAG]]`: `docker save` output
 * - `HOST[:PORT]/REPO[:TAG][@sha256:…]` or `docker://…`: a registry
 *
 * https://github.com/containers/image/blob/main/docs/containers-transports.5.md
 */
export type ImageReference = OciLayoutReference | DockerArchiveReference | RegistryReference;

/** `oci:DIR[:TAG]`. Without a tag, the layout's only image (or its `latest`) is used. */
export interface OciLayoutReference {
  readonly transport: 'oci';
  /** The layout directory, made absolute. */
  readonly dir: string;
  readonly tag?: string;
}

/** `docker-archive:FILE[:NAME[:TAG]]`. Without a name, the archive's only image is used. */
export interface DockerArchiveReference {
  readonly transport: 'docker-archive';
  /** The archive file, made absolute. */
  readonly file: string;
  /** A `RepoTags` entry to choose, when the archive holds several images. */
  readonly name?: string;
}

/** A repository on a registry that speaks the distribution API. */
export interface RegistryReference {
  readonly transport: 'registry';
  /** `host[:port]` as written (Docker Hub is `docker.io`). */
  readonly registry: string;
  /** The repository path, e.g. `library/alpine`. */
  readonly repository: string;
  /** The tag; `latest` when neither a tag nor a digest was given. */
  readonly tag?: string;
  /** The manifest digest, when the reference is pinned. */
  readonly digest?: Digest;
}

/** The registry host for Docker Hub names, and where its API actually lives. */
export const dockerHub = { name: 'docker.io', apiHost: 'registry-1.docker.io' } as const;

/** The tag used when a reference names none. */
export const defaultTag = 'latest';

// The grammar of github.com/distribution/reference (reference.go).
const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const hostComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const hostPattern = new RegExp(`^(?:${hostComponent}(?:\\.${hostComponent})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);
const maxNameLength = 255;

/**
 * Parse an image reference. Relative `oci:` and `docker-archive:` paths are
 * resolved against `cwd`.
 *
 * Errors: ERR_BAD_REFERENCE (naming the input and what is wrong with it).
 *
 * Notes: as in skopeo, the path of `oci:` and `docker-archive:` ends at its
 * first `:` (a Windows drive letter excepted). A registry name without a
 * host (`alpine`, `docker://alpine`) is a Docker Hub name, as in docker:
 * `docker.io/library/alpine:latest`.
 */
export function parseReference(text: string, cwd: string = process.cwd()): ImageReference {
  if (text.startsWith('oci:')) return parseOciLayout(text, cwd);
  if (text.startsWith('docker-archive:')) return parseDockerArchive(text, cwd);
  if (text.startsWith('docker://')) return parseRegistry(text, text.slice('docker://'.length));
  const transport = /^([a-z][a-z0-9-]*):/.exec(text)?.[1];
  if (transport !== undefined && otherTransports.has(transport)) {
    throw bad(text, `transport '${transport}:' is not supported (use oci:DIR, docker-archive:FILE, docker://NAME or HOST/REPO)`);
  }
  return parseRegistry(text, text);
}

/** skopeo's other transports, refused by name rather than misread as a registry host. */
const otherTransports = new Set(['oci-archive', 'dir', 'docker-daemon', 'containers-storage', 'sif', 'tarball']);

function parseOciLayout(text: string, cwd: string): OciLayoutReference {
  const [path, tag] = splitPath(text.slice('oci:'.length));
  if (path === '') throw bad(text, 'the layout directory is empty (expected oci:DIR[:TAG])');
  if (tag === undefined) return { transport: 'oci', dir: absolute(path, cwd) };
  if (!tagPattern.test(tag)) throw bad(text, `'${tag}' is not a valid tag (letters, digits, '_', '.', '-'; at most 128)`);
  return { transport: 'oci', dir: absolute(path, cwd), tag };
}

function parseDockerArchive(text: string, cwd: string): DockerArchiveReference {
  const [path, name] = splitPath(text.slice('docker-archive:'.length));
  if (path === '') throw bad(text, 'the archive file is empty (expected docker-archive:FILE)');
  if (name === undefined) return { transport: 'docker-archive', file: absolute(path, cwd) };
  if (name === '') throw bad(text, 'the image name after the file is empty');
  if (name.startsWith('@')) throw bad(text, 'selecting an image by @index is not supported; name it by one of its RepoTags');
  return { transport: 'docker-archive', file: absolute(path, cwd), name };
}

/** Split `PATH[:REST]` at the first colon, except a Windows drive letter's. */
function splitPath(text: string): [string, string | undefined] {
  const skip = /^[a-zA-Z]:[\\/]/.test(text) ? 2 : 0;
  const at = text.indexOf(':', skip);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function absolute(path: string, cwd: string): string {
  return isAbsolute(path) ? resolve(path) : resolve(cwd, path);
}

function parseRegistry(text: string, name: string): RegistryReference {
  if (name === '') throw bad(text, 'the image name is empty');
  if (/^(\.{1,2}(\/|$)|\/|~)/.test(name)) throw bad(text, 'a path is not a registry name; for a local layout use oci:DIR, for a docker save archive docker-archive:FILE');
  let rest = name;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const digestText = rest.slice(at + 1);
    try {
      digest = parseDigest(digestText);
    } catch (error) {
      throw bad(text, `'${digestText}' is not a sha256 digest (sha256: and 64 lowercase hex digits)`, error);
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw bad(text, `'${tag}' is not a valid tag (letters, digits, '_', '.', '-'; at most 128)`);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? rest : rest.slice(0, slash);
  // As in docker: the first component is a host only if it looks like one.
  const hasHost = slash >= 0 && (first.includes('.') || first.includes(':') || first.startsWith('[') || first === 'localhost');
  let registry = hasHost ? first : dockerHub.name;
  let repository = hasHost ? rest.slice(slash + 1) : rest;
  if (hasHost && !hostPattern.test(registry)) throw bad(text, `'${registry}' is not a valid registry host[:port]`);
  if (registry === 'index.docker.io') registry = dockerHub.name;
  if (repository === '') throw bad(text, 'the repository is empty (expected HOST[:PORT]/REPO[:TAG])');
  for (const component of repository.split('/')) {
    if (!pathComponent.test(component)) {
      throw bad(text, `repository component '${component}' is invalid (lowercase letters and digits, separated by '.', '_', '__' or '-')` + (component.includes(':') || component === '.' || component === '..' ? '; for a local layout use oci:DIR' : ''));
    }
  }
  if (registry === dockerHub.name && !repository.includes('/')) repository = `library/${repository}`;
  if (`${registry}/${repository}`.length > maxNameLength) throw bad(text, `the name is longer than ${maxNameLength} characters`);
  if (tag === undefined && digest === undefined) tag = defaultTag;
  return { transport: 'registry', registry, repository, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

/**
 * The canonical text of a reference: the key under which a pulled image is
 * catalogued. `parseReference(formatReference(r))` gives `r` back.
 */
export function formatReference(ref: ImageReference): string {
  switch (ref.transport) {
    case 'oci':
      return `oci:${ref.dir}${ref.tag !== undefined ? `:${ref.tag}` : ''}`;
    case 'docker-archive':
      return `docker-archive:${ref.file}${ref.name !== undefined ? `:${ref.name}` : ''}`;
    case 'registry':
      return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
  }
}

function bad(text: string, why: string, cause?: unknown): StrataError {
  return new StrataError('ERR_BAD_REFERENCE', `invalid image reference '${text.slice(0, 300)}': ${why}`, cause === undefined ? undefined : { cause });
}
