import { StrataError } from '../errors.js';

/** A user name and password for a registry (Basic auth, or to obtain a Bearer token). */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** The environment variable holding `USER:PASSWORD` for registries. */
export const credentialsEnv = 'STRATA_REGISTRY_AUTH';

/**
 * Parse `USER:PASSWORD` (the password may contain `:`). `source` names where
 * it came from (`--creds`, `$STRATA_REGISTRY_AUTH`), never the password.
 * Errors: ERR_INVALID_OPTION.
 */
export function parseCredentials(text: string, source: string): Credentials {
  const at = text.indexOf(':');
  if (at <= 0) throw new StrataError('ERR_INVALID_OPTION', `${source}: expected USER:PASSWORD`);
  return { username: text.slice(0, at), password: text.slice(at + 1) };
}

/** Credentials from `$STRATA_REGISTRY_AUTH`, if set. Errors: ERR_INVALID_OPTION. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  const text = env[credentialsEnv];
  return text === undefined || text === '' ? undefined : parseCredentials(text, `$${credentialsEnv}`);
}

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** Lowercased: `bearer`, `basic`… */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parse a `WWW-Authenticate` header into its challenges, e.g.
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`.
 * Unparseable input gives the challenges read so far (possibly none).
 * https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
 * https://distribution.github.io/distribution/spec/auth/token/
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  let i = 0;
  const token = () => {
    const m = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/.exec(header.slice(i));
    if (m === null) return undefined;
    i += m[0].length;
    return m[0];
  };
  const spaces = () => {
    while (i < header.length && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  while (i < header.length) {
    spaces();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const name = token();
    if (name === undefined) break;
    spaces();
    if (header[i] === '=' && challenges.length > 0) {
      // An auth-param of the current challenge.
      i++;
      spaces();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < header.length) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        value = token() ?? '';
      }
      challenges[challenges.length - 1]!.params[name.toLowerCase()] = value;
      continue;
    }
    if (header[i] === '=') {
      i = start;
      break;
    }
    challenges.push({ scheme: name.toLowerCase(), params: {} });
  }
  return challenges;
}

/** The pull scope of a repository, as the token spec names it. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/** What {@link fetchToken} needs. */
export interface TokenRequest {
  readonly challenge: Challenge;
  /** Scopes to ask for when the challenge names none. */
  readonly scopes: readonly string[];
  readonly credentials?: Credentials;
  /** Allow a realm over plain HTTP. */
  readonly insecure: boolean;
  readonly fetch: typeof fetch;
  readonly signal?: AbortSignal;
  /** The registry, for messages. */
  readonly registry: string;
}

/**
 * Obtain a Bearer token from the challenge's realm (the distribution token
 * spec): `GET realm?service=…&scope=…`, with Basic credentials if there are
 * any. Returns the token.
 *
 * Errors: ERR_REGISTRY_AUTH (no realm, realm over HTTP without `insecure`,
 * the token server refuses, or answers without a token),
 * ERR_REGISTRY_UNREACHABLE (the token server cannot be reached).
 * https://distribution.github.io/distribution/spec/auth/token/
 */
export async function fetchToken(request: TokenRequest): Promise<string> {
  const { challenge, registry } = request;
  const realm = challenge.params['realm'];
  if (realm === undefined || realm === '') throw new StrataError('ERR_REGISTRY_AUTH', `registry ${registry} asked for a Bearer token but named no realm`);
  let url: URL;
  try {
    url = new URL(realm);
  } catch (error) {
    throw new StrataError('ERR_REGISTRY_AUTH', `registry ${registry} named a token realm that is not a URL: '${realm}'`, { cause: error });
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && request.insecure)) {
    throw new StrataError('ERR_REGISTRY_AUTH', `registry ${registry} named token realm ${url.origin}, which is not https (pass --insecure to allow plain HTTP)`);
  }
  if (challenge.params['service'] !== undefined) url.searchParams.set('service', challenge.params['service']);
  const scopes = challenge.params['scope'] !== undefined ? [challenge.params['scope']] : request.scopes;
  for (const scope of scopes) url.searchParams.append('scope', scope);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (request.credentials !== undefined) headers['Authorization'] = basicAuthorization(request.credentials);
  let response: Response;
  try {
    response = await request.fetch(url, { headers, redirect: 'follow', ...(request.signal !== undefined && { signal: request.signal }) });
  } catch (error) {
    throw new StrataError('ERR_REGISTRY_UNREACHABLE', `token server ${url.origin} for registry ${registry} cannot be reached: ${causeText(error)}`, { cause: error });
  }
  const body = await response.text();
  if (!response.ok) {
    const who = request.credentials === undefined ? 'anonymously' : `as '${request.credentials.username}'`;
    throw new StrataError('ERR_REGISTRY_AUTH', `token server ${url.origin} refused a token for ${scopes.join(' ')} ${who}: HTTP ${response.status} ${body.slice(0, 200).trim()}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new StrataError('ERR_REGISTRY_AUTH', `token server ${url.origin} answered with something that is not JSON`, { cause: error });
  }
  const record = (json ?? {}) as Record<string, unknown>;
  const token = typeof record['token'] === 'string' && record['token'] !== '' ? record['token'] : record['access_token'];
  if (typeof token !== 'string' || token === '') throw new StrataError('ERR_REGISTRY_AUTH', `token server ${url.origin} answered without a token`);
  return token;
}

/** The `Authorization` value for Basic auth. */
export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

/** The innermost message of a fetch error ("fetch failed" says nothing). */
export function causeText(error: unknown): string {
  let e: unknown = error;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code !== undefined && !e.message.includes(code) ? `${code} ${e.message}` : e.message;
  }
  return String(e);
}
