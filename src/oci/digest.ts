import { createHash } from 'node:crypto';
import { StrataError } from '../errors.js';

/** A content digest, `sha256:` + 64 lowercase hex digits (the only algorithm accepted). */
export type Digest = `sha256:${string}`;

const digestPattern = /^sha256:[0-9a-f]{64}$/;

/**
 * Parse a digest string. Anything but sha256 with 64 lowercase hex digits
 * is refused, so a digest can be used as a file name without escaping.
 * Errors: ERR_BAD_DIGEST.
 * https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
 */
export function parseDigest(text: string, what = 'digest'): Digest {
  if (!digestPattern.test(text)) {
    throw new StrataError('ERR_BAD_DIGEST', `${what} '${text.slice(0, 100)}' is not a sha256 digest (sha256: and 64 lowercase hex digits)`);
  }
  return text as Digest;
}

/** The sha256 digest of `bytes`. */
export function digestOf(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The hex part of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice('sha256:'.length);
}
