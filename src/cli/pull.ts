import { credentialsFromEnv, parseCredentials } from '../oci/auth.js';
import { ImageStore } from '../oci/image-store.js';
import { parsePlatform } from '../oci/manifest.js';
import { pull } from '../oci/pull.js';
import { out, parseFlags, UsageError } from './io.js';
import { PullProgress } from './progress.js';

/** The text of `strata pull --help`. */
export const pullHelp = `Usage: strata pull [OPTIONS] REF

Fetches an image into the local store ($STRATA_HOME, else
$XDG_CACHE_HOME/strata), verifies every blob's digest, indexes its layers and
catalogues it under REF. Blobs already in the store are not fetched again.

REF is one of:
  HOST[:PORT]/REPO[:TAG|@sha256:...]   a registry (default tag: latest)
  docker://NAME                        the same; a name without a host is Docker Hub's
  oci:DIR[:TAG]                        an OCI image layout
  docker-archive:FILE[:NAME:TAG]       'docker save' output

Options:
  --platform OS/ARCH[/VARIANT]  the platform to choose from a multi-platform
                       image (default: wasi/wasm, then linux/<host arch>)
  --insecure           talk plain HTTP to the registry (https otherwise)
  --creds USER:PASS    credentials for the registry (Basic auth, or to get a
                       Bearer token); also read from $STRATA_REGISTRY_AUTH
  -q, --quiet          print only the manifest digest
  -h, --help           show this help

Progress goes to stdout: bars redrawn in place on a terminal, plain lines
otherwise.

Example:
  strata pull --insecure 127.0.0.1:5000/tools/hello:1.0
`;

/** `strata pull`. */
export async function pullCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('pull', argv, {
    platform: { type: 'string' },
    insecure: { type: 'boolean' },
    creds: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    out(pullHelp);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "missing REF (see 'strata pull --help')" : `expected one REF, got ${positionals.length}`);
  const credentials = values.creds !== undefined ? parseCredentials(values.creds, '--creds') : credentialsFromEnv();
  const platform = values.platform !== undefined ? parsePlatform(values.platform) : undefined;
  const progress = values.quiet === true ? undefined : new PullProgress({ write: out, tty: process.stdout.isTTY === true, columns: process.stdout.columns ?? 80 });
  progress?.start(positionals[0]!);
  const image = await pull(positionals[0]!, {
    store: await ImageStore.open(),
    ...(platform !== undefined && { platform }),
    ...(values.insecure === true && { insecure: true }),
    ...(credentials !== undefined && { credentials }),
    ...(progress !== undefined && { onEvent: (event) => progress.handle(event) }),
  });
  if (values.quiet === true) out(`${image.manifestDigest}\n`);
  return 0;
}
