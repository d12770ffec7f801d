import { StrataError } from '../errors.js';
import { basicAuthorization, causeText, fetchToken, parseChallenges, pullScope, type Credentials } from './auth.js';
import type { BlobStore } from './blob-store.js';
import { digestOf, type Digest } from './digest.js';
import { manifestAccept, maxManifestBytes, type Descriptor } from './manifest.js';
import { dockerHub } from './reference.js';

/** Options of a {@link RegistryClient}. */
export interface RegistryOptions {
  /** Talk plain HTTP to the registry (and its token server). Off by default: https only. */
  readonly insecure?: boolean;
  /** For Basic auth, or to obtain a Bearer token. */
  readonly credentials?: Credentials;
  /** The fetch to use (the global one by default). */
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
  readonly userAgent?: string;
}

/** A manifest or index as fetched, with its verified digest. */
export interface FetchedManifest {
  readonly bytes: Uint8Array;
  /** The `Content-Type` the registry sent. */
  readonly mediaType?: string;
  readonly digest: Digest;
}

const maxRedirects = 5;

/**
 * A client of one registry's distribution API (v2), for pulling.
 *
 * Authentication follows the registry's challenges: on a 401 it reads
 * `WWW-Authenticate`, and either fetches a Bearer token for the repository's
 * pull scope (with the credentials, if any) or sends Basic credentials, then
 * retries once. Tokens are kept per scope for the client's life.
 *
 * Redirects (blob storage often redirects) are followed by hand, at most 5:
 * credentials are dropped when the origin changes, and https never
 * downgrades to http unless `insecure`.
 *
 * @example
 * const client = new RegistryClient('127.0.0.1:5000', { insecure: true });
 * const top = await client.getManifest('library/hello', 'latest');
 * await client.fetchBlob('library/hello', layerDescriptor, store);
 *
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md
 */
export class RegistryClient {
  /** `host[:port]` as written in references. */
  readonly registry: string;
  /** `https://host[:port]` (or `http://` when insecure). */
  readonly baseUrl: string;
  private readonly options: RegistryOptions;
  private readonly fetch: typeof fetch;
  /** Authorization header values by scope ('' for the /v2/ probe). */
  private readonly authorizations = new Map<string, string>();

  constructor(registry: string, options: RegistryOptions = {}) {
    this.registry = registry;
    this.options = options;
    this.fetch = options.fetch ?? globalThis.fetch;
    const host = registry === dockerHub.name ? dockerHub.apiHost : registry;
    this.baseUrl = `${options.insecure === true ? 'http' : 'https'}://${host}`;
  }

  /**
   * `GET /v2/`: check the registry speaks the distribution API, and that we
   * may talk to it (authenticating if it asks).
   * Errors: as {@link getManifest}.
   */
  async ping(): Promise<void> {
    const response = await this.request('/v2/', { scope: undefined, what: `registry ${this.registry}` });
    await response.body?.cancel();
    if (!response.ok) throw await this.httpError(response, `registry ${this.registry} (GET /v2/)`, 'ERR_REGISTRY');
  }

  /**
   * Fetch a manifest or index by tag or digest, with the media types strata
   * reads in `Accept`. Its digest is computed, and checked against `expected`
   * (a pinned reference or an index's descriptor) and against the
   * `Docker-Content-Digest` header.
   *
   * Errors, in order: ERR_REGISTRY_INSECURE, ERR_REGISTRY_UNREACHABLE,
   * ERR_REGISTRY_AUTH, ERR_MANIFEST_NOT_FOUND, ERR_REGISTRY (any other HTTP
   * failure), ERR_BLOB_TOO_LARGE (over 4 MiB), ERR_SIZE_MISMATCH,
   * ERR_DIGEST_MISMATCH (names both digests).
   */
  async getManifest(repository: string, reference: string, expected?: { digest: Digest; size?: number }): Promise<FetchedManifest> {
    const what = `manifest ${this.registry}/${repository}${reference.startsWith('sha256:') ? '@' : ':'}${reference}`;
    const response = await this.request(`/v2/${repository}/manifests/${reference}`, {
      scope: pullScope(repository),
      what,
      headers: { Accept: manifestAccept.join(', ') },
    });
    if (response.status === 404) {
      await response.body?.cancel();
      throw new StrataError('ERR_MANIFEST_NOT_FOUND', `${what} was not found (HTTP 404)`);
    }
    if (!response.ok) throw await this.httpError(response, what, 'ERR_REGISTRY');
    if (expected?.size !== undefined && expected.size > maxManifestBytes) {
      await response.body?.cancel();
      throw new StrataError('ERR_BLOB_TOO_LARGE', `${what} is declared as ${expected.size} bytes, over the limit of ${maxManifestBytes} for a manifest`);
    }
    const bytes = await readLimited(response, maxManifestBytes, what);
    if (expected?.size !== undefined && bytes.length !== expected.size) {
      throw new StrataError('ERR_SIZE_MISMATCH', `${what} is ${bytes.length} bytes, expected ${expected.size}`);
    }
    const digest = digestOf(bytes);
    if (expected !== undefined && digest !== expected.digest) {
      throw new StrataError('ERR_DIGEST_MISMATCH', `${what} digest mismatch: expected ${expected.digest}, got ${digest}`);
    }
    const header = response.headers.get('docker-content-digest');
    if (header !== null && header.startsWith('sha256:') && header !== digest) {
      throw new StrataError('ERR_DIGEST_MISMATCH', `${what} digest mismatch: the registry says ${header} (Docker-Content-Digest), the bytes are ${digest}`);
    }
    const mediaType = response.headers.get('content-type');
    return { bytes, digest, ...(mediaType !== null && { mediaType }) };
  }

  /**
   * Stream a blob into the store; the store verifies its digest and size
   * and keeps nothing on a mismatch.
   *
   * Errors, in order: as {@link getManifest} for the request (a 404 is
   * ERR_REGISTRY_BLOB_NOT_FOUND), then the store's ERR_SIZE_MISMATCH and
   * ERR_DIGEST_MISMATCH (names both digests).
   */
  async fetchBlob(repository: string, descriptor: Descriptor, store: BlobStore, onProgress?: (bytes: number) => void): Promise<void> {
    const what = `blob ${descriptor.digest} of ${this.registry}/${repository}`;
    const response = await this.request(`/v2/${repository}/blobs/${descriptor.digest}`, { scope: pullScope(repository), what });
    if (response.status === 404) {
      await response.body?.cancel();
      throw new StrataError('ERR_REGISTRY_BLOB_NOT_FOUND', `${what} was not found (HTTP 404)`);
    }
    if (!response.ok) throw await this.httpError(response, what, 'ERR_REGISTRY');
    const body = response.body;
    if (body === null) throw new StrataError('ERR_REGISTRY', `${what}: the registry sent no body`);
    try {
      await store.ingest(body, { digest: descriptor.digest, size: descriptor.size }, onProgress === undefined ? {} : { onProgress });
    } catch (error) {
      await body.cancel().catch(() => {});
      if (error instanceof StrataError) throw new StrataError(error.code, `${error.message} (from ${this.registry}/${repository})`, { cause: error });
      throw new StrataError('ERR_REGISTRY_UNREACHABLE', `${what}: the download failed: ${causeText(error)}`, { cause: error });
    }
  }

  /**
   * One request, following redirects and answering one auth challenge.
   * Returns the final response whatever its status, except that 401 and 403
   * after authenticating become ERR_REGISTRY_AUTH.
   */
  private async request(path: string, how: { scope: string | undefined; what: string; headers?: Record<string, string> }): Promise<Response> {
    const scope = how.scope ?? '';
    let response = await this.send(new URL(path, this.baseUrl), how.headers ?? {}, this.authorizations.get(scope), how.what);
    if (response.status === 401) {
      const challenge = response.headers.get('www-authenticate');
      await response.body?.cancel();
      const authorization = await this.authorize(challenge, how.scope, how.what);
      this.authorizations.set(scope, authorization);
      response = await this.send(new URL(path, this.baseUrl), how.headers ?? {}, authorization, how.what);
    }
    if (response.status === 401 || response.status === 403) {
      const detail = await errorDetail(response);
      const who = this.options.credentials === undefined ? 'anonymously' : `as '${this.options.credentials.username}'`;
      throw new StrataError('ERR_REGISTRY_AUTH', `${how.what}: access denied ${who} (HTTP ${response.status}${detail})${this.options.credentials === undefined ? '; pass --creds USER:PASSWORD or set $STRATA_REGISTRY_AUTH' : ''}`);
    }
    return response;
  }

  /** The Authorization header value answering a challenge. */
  private async authorize(header: string | null, scope: string | undefined, what: string): Promise<string> {
    const challenges = parseChallenges(header ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer !== undefined) {
      const token = await fetchToken({
        challenge: bearer,
        scopes: scope === undefined ? [] : [scope],
        insecure: this.options.insecure === true,
        fetch: this.fetch,
        registry: this.registry,
        ...(this.options.credentials !== undefined && { credentials: this.options.credentials }),
        ...(this.options.signal !== undefined && { signal: this.options.signal }),
      });
      return `Bearer ${token}`;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (this.options.credentials === undefined) {
        throw new StrataError('ERR_REGISTRY_AUTH', `${what}: registry ${this.registry} needs a user name and password; pass --creds USER:PASSWORD or set $STRATA_REGISTRY_AUTH`);
      }
      return basicAuthorization(this.options.credentials);
    }
    throw new StrataError('ERR_REGISTRY_AUTH', `${what}: registry ${this.registry} answered 401 with no Bearer or Basic challenge (WWW-Authenticate: ${JSON.stringify(header ?? '')})`);
  }

  /** fetch, following redirects by hand. */
  private async send(url: URL, headers: Record<string, string>, authorization: string | undefined, what: string): Promise<Response> {
    const origin = url.origin;
    let current = url;
    for (let hop = 0; ; hop++) {
      const sent: Record<string, string> = { ...headers, 'User-Agent': this.options.userAgent ?? 'strata' };
      if (authorization !== undefined && current.origin === origin) sent['Authorization'] = authorization;
      let response: Response;
      try {
        response = await this.fetch(current, { headers: sent, redirect: 'manual', ...(this.options.signal !== undefined && { signal: this.options.signal }) });
      } catch (error) {
        throw await this.connectError(current, error, what);
      }
      if (response.status < 300 || response.status >= 400 || response.status === 304) return response;
      const location = response.headers.get('location');
      await response.body?.cancel();
      if (location === null) throw new StrataError('ERR_REGISTRY', `${what}: HTTP ${response.status} redirect without a Location`);
      if (hop >= maxRedirects) throw new StrataError('ERR_REGISTRY', `${what}: more than ${maxRedirects} redirects`);
      const next = new URL(location, current);
      if (next.protocol !== 'https:' && !(next.protocol === 'http:' && this.options.insecure === true)) {
        throw new StrataError('ERR_REGISTRY_INSECURE', `${what}: redirected to ${next.origin}, which is not https (pass --insecure to allow plain HTTP)`);
      }
      current = next;
    }
  }

  /**
   * The error for a request that got no response. A TLS failure against a
   * registry that answers plain HTTP gets its own code, so the user learns
   * about --insecure instead of reading an OpenSSL message.
   */
  private async connectError(url: URL, error: unknown, what: string): Promise<StrataError> {
    if (error instanceof Error && error.name === 'AbortError') {
      return new StrataError('ERR_REGISTRY_UNREACHABLE', `${what}: the request to ${url.origin} was aborted`, { cause: error });
    }
    const text = causeText(error);
    if (url.protocol === 'https:' && /SSL|TLS|EPROTO|wrong version|ECONNRESET/i.test(text)) {
      const plain = new URL(url);
      plain.protocol = 'http:';
      if (await speaksHttp(this.fetch, new URL('/v2/', plain))) {
        return new StrataError('ERR_REGISTRY_INSECURE', `registry ${this.registry} speaks plain HTTP, not https; pass --insecure to allow it`, { cause: error });
      }
    }
    return new StrataError('ERR_REGISTRY_UNREACHABLE', `${what}: cannot reach ${url.origin}: ${text}`, { cause: error });
  }

  private async httpError(response: Response, what: string, code: string): Promise<StrataError> {
    return new StrataError(code, `${what}: HTTP ${response.status}${await errorDetail(response)}`);
  }
}

/** Whether `url` answers plain HTTP within a second (no credentials are sent). */
async function speaksHttp(fetcher: typeof fetch, url: URL): Promise<boolean> {
  try {
    const response = await fetcher(url, { redirect: 'manual', signal: AbortSignal.timeout(1000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** `: CODE message` from a distribution error body, if there is one. */
async function errorDetail(response: Response): Promise<string> {
  let text: string;
  try {
    text = (await response.text()).slice(0, 4096);
  } catch {
    return '';
  }
  try {
    const json = JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = json.errors?.[0];
    if (first !== undefined) return `: ${String(first.code ?? '')} ${String(first.message ?? '')}`.trimEnd();
  } catch {
    // not the spec's error body
  }
  const line = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
  return line === '' ? '' : `: ${line}`;
}

/** Read a whole body, refusing more than `limit` bytes. Errors: ERR_BLOB_TOO_LARGE. */
async function readLimited(response: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    await response.body?.cancel();
    throw new StrataError('ERR_BLOB_TOO_LARGE', `${what} is ${declared} bytes, over the limit of ${limit}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body !== null) {
    for await (const chunk of response.body) {
      total += chunk.length;
      // Throwing inside for-await cancels the body.
      if (total > limit) {
        throw new StrataError('ERR_BLOB_TOO_LARGE', `${what} is over the limit of ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}
