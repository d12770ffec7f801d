import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real components for registry tests, all on 127.0.0.1: Debian's
 * `docker-registry` (the distribution registry), a Bearer token server,
 * and helpers that build images with umoci and push them with skopeo.
 * Everything started here is stopped by its `stop()`.
 */

/** A free TCP port on 127.0.0.1 (closed again; the caller binds it soon after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** How the registry authenticates. */
export type RegistryAuth =
  | { readonly htpasswd: string }
  | { readonly token: { readonly realm: string; readonly service: string; readonly issuer: string; readonly rootCertBundle: string } };

/** A running registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`, as references name it. */
  readonly host: string;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Start `docker-registry serve` on a free loopback port, with its storage
 * in a temp dir, and wait until `GET /v2/` answers.
 */
export async function startRegistry(options: { auth?: RegistryAuth } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-registry-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const lines = ['version: 0.1', `storage: { filesystem: { rootdirectory: ${join(dir, 'storage')} }, delete: { enabled: true } }`, `http: { addr: 127.0.0.1:${port}, secret: strata-test }`, 'log: { level: warn }'];
    const auth = options.auth;
    if (auth !== undefined && 'htpasswd' in auth) lines.push(`auth: { htpasswd: { realm: strata-test, path: ${auth.htpasswd} } }`);
    if (auth !== undefined && 'token' in auth) {
      const t = auth.token;
      lines.push(`auth: { token: { realm: "${t.realm}", service: "${t.service}", issuer: "${t.issuer}", rootcertbundle: ${t.rootCertBundle} } }`);
    }
    writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
    const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const url = `http://127.0.0.1:${port}`;
    const up = await waitForHttp(`${url}/v2/`, child, 15_000);
    if (up) {
      return {
        host: `127.0.0.1:${port}`,
        url,
        async stop() {
          await stopChild(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stopChild(child);
    if (attempt >= 2) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`docker-registry did not start on 127.0.0.1:${port}: ${stderr.slice(-2000)}`);
    }
  }
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      return true;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return false;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * An htpasswd file with one bcrypt entry, as the registry requires. The
 * hash comes from perl's crypt(), which on Debian is libxcrypt and knows
 * bcrypt (`$2b$`), so no apache2-utils is needed.
 */
export function writeHtpasswd(path: string, user: string, password: string): void {
  const salt = createHash('sha256').update(randomUUID()).digest('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 22);
  const r = spawnSync('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, `$2b$05$${salt}`], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.startsWith('$2b$')) throw new Error(`perl crypt() gave no bcrypt hash: ${r.stdout}${r.stderr}`);
  writeFileSync(path, `${user}:${r.stdout}\n`);
}

/** A key pair and self-signed certificate (EC P-256) for signing tokens, made by openssl. */
export function makeSigningCert(dir: string): { key: string; cert: string; certPath: string } {
  mkdirSync(dir, { recursive: true });
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=strata-test-token'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath };
}

/** A token request the token server saw. */
export interface TokenRequestLog {
  readonly service: string | null;
  readonly scopes: string[];
  readonly user: string | undefined;
}

/** A running token server. */
export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  readonly requests: TokenRequestLog[];
  stop(): Promise<void>;
}

/**
 * A Bearer token server in the distribution token spec's shape: `GET
 * /token?service=…&scope=…` with optional Basic credentials answers
 * `{ token }`, a JWT (ES256) whose header carries the certificate chain
 * (`x5c`) the registry verifies against its rootcertbundle. With `users`,
 * requests without matching credentials get 401.
 * https://distribution.github.io/distribution/spec/auth/jwt/
 */
export async function startTokenServer(signing: { key: string; cert: string }, options: { users?: Record<string, string> } = {}): Promise<TokenServer> {
  const service = 'strata-test-registry';
  const issuer = 'strata-test-issuer';
  const requests: TokenRequestLog[] = [];
  const der = signing.cert.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const auth = req.headers.authorization;
    let user: string | undefined;
    if (auth?.startsWith('Basic ')) {
      const [name, password] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(/:(.*)/s) as [string, string | undefined];
      if (options.users?.[name] !== undefined && options.users[name] === password) user = name;
      else {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
    }
    const scopes = url.searchParams.getAll('scope');
    requests.push({ service: url.searchParams.get('service'), scopes, user });
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    if (options.users !== undefined && user === undefined) {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"credentials needed"}');
      return;
    }
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(':') as [string, string | undefined, string | undefined];
      return name === undefined || actions === undefined ? [] : [{ type, name, actions: actions.split(',') }];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [der] };
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${encode(header)}.${encode(claims)}`;
    const signature = sign('sha256', Buffer.from(input), { key: signing.key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: `${input}.${signature}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    requests,
    stop: () => closeServer(server),
  };
}

/** Close a node:http server and its open connections. */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Run a host tool (with extra environment variables); throw with its output if it fails. */
export function tool(command: string, args: string[], env?: Record<string, string>): string {
  const r = spawnSync(command, args, { encoding: 'utf8', ...(env !== undefined && { env: { ...process.env, ...env } }) });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Files to put in an image: path → content (string or bytes). */
export type ImageFiles = Readonly<Record<string, string | Uint8Array>>;

/**
 * Build an image with umoci into an OCI layout (created if needed) under
 * `tag`: one layer holding `files`, and the config's os/architecture.
 */
export function buildImage(layout: string, tag: string, files: ImageFiles, platform: { os: string; architecture: string } = { os: 'linux', architecture: 'amd64' }): void {
  if (!existsDir(layout)) tool('umoci', ['init', '--layout', layout]);
  const base = `${tag}-base`;
  tool('umoci', ['new', '--image', `${layout}:${base}`]);
  const bundle = mkdtempSync(join(tmpdir(), 'strata-bundle-'));
  try {
    rmSync(bundle, { recursive: true });
    tool('umoci', ['unpack', '--rootless', '--image', `${layout}:${base}`, bundle]);
    for (const [path, content] of Object.entries(files)) {
      const target = join(bundle, 'rootfs', path);
      mkdirSync(join(target, '..'), { recursive: true });
      writeFileSync(target, content);
    }
    tool('umoci', ['repack', '--image', `${layout}:${base}`, bundle]);
    tool('umoci', ['config', '--image', `${layout}:${base}`, '--tag', tag, '--os', platform.os, '--architecture', platform.architecture]);
    tool('umoci', ['rm', '--image', `${layout}:${base}`]);
  } finally {
    rmSync(bundle, { recursive: true, force: true });
  }
}

function existsDir(path: string): boolean {
  try {
    readFileSync(join(path, 'oci-layout'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Push `oci:LAYOUT:TAG` to `docker://HOST/REPO:TAG` with skopeo (plain HTTP).
 * `all` copies a whole index. Asynchronous, so a token server running in
 * this process can answer skopeo meanwhile.
 */
export function pushImage(layout: string, tag: string, destination: string, options: { all?: boolean; creds?: string } = {}): Promise<void> {
  const args = [
    'copy',
    '--quiet',
    '--dest-tls-verify=false',
    ...(options.all === true ? ['--all'] : []),
    ...(options.creds !== undefined ? ['--dest-creds', options.creds] : []),
    `oci:${layout}:${tag}`,
    `docker://${destination}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      if (status === 0) resolve();
      else reject(new Error(`skopeo ${args.join(' ')} failed (${status}): ${stderr}`));
    });
  });
}

/** Push a blob with the distribution API (monolithic upload), for hand-made images. */
export async function pushBlob(registryUrl: string, repository: string, bytes: Uint8Array): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const start = await fetch(`${registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location')!, registryUrl);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/** Push a manifest or index with the distribution API. Returns its digest. */
export async function pushManifest(registryUrl: string, repository: string, reference: string, mediaType: string, bytes: Uint8Array): Promise<string> {
  const put = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, { method: 'PUT', body: bytes, headers: { 'Content-Type': mediaType } });
  if (put.status !== 201) throw new Error(`manifest upload: HTTP ${put.status} ${await put.text()}`);
  return put.headers.get('docker-content-digest')!;
}
