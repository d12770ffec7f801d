import { ImageStore, type ImageRecord } from '../oci/image-store.js';
import { formatPlatform, parseConfig } from '../oci/manifest.js';
import { formatBytes, out, parseFlags, UsageError } from './io.js';
import { short } from './progress.js';

/** The text of `strata images --help`. */
export const imagesHelp = `Usage: strata images [--json]

Lists the pulled images: reference, manifest digest, platform, size (the
blobs as stored) and when the image was created.

Options:
  --json      print the catalogue records as a JSON array
  -h, --help  show this help
`;

/** The text of `strata inspect --help`. */
export const inspectHelp = `Usage: strata inspect REF

Prints a pulled image as JSON: reference, manifest digest, platform, config
(descriptor and content) and layers (digest, size, media type, diffID).
REF is a reference as pulled, or a manifest digest (sha256:...).
`;

/** The text of `strata rmi --help`. */
export const rmiHelp = `Usage: strata rmi REF...

Removes pulled images from the catalogue. REF is a reference as pulled, or a
manifest digest (every reference of that image). Blobs stay in the store
until 'strata gc'.
`;

/** The text of `strata gc --help`. */
export const gcHelp = `Usage: strata gc [--json]

Deletes every blob, cached layer tar and layer index that no pulled image
or snapshot refers to; every cached root tree (extracted for the runc, crun,
runsc and qemu classes) with a layer nothing keeps, unless a live sandbox
uses it; and temp files left by dead processes. Reports the bytes freed.
Waits for pulls and root tree builds in progress to finish (up to a minute).

Options:
  --json      print the result as JSON
  -h, --help  show this help
`;

/** `strata images`. */
export async function imagesCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('images', argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) return help(imagesHelp);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (see 'strata images --help')`);
  const records = await (await ImageStore.open()).list();
  if (values.json === true) {
    out(`${JSON.stringify(records, null, 2)}\n`);
    return 0;
  }
  const rows = [['REFERENCE', 'DIGEST', 'PLATFORM', 'SIZE', 'CREATED']];
  for (const r of records) {
    rows.push([r.reference, short(r.manifestDigest), r.platform !== undefined ? formatPlatform(r.platform) : '-', formatBytes(r.size), r.created !== undefined ? ago(r.created) : '-']);
  }
  out(table(rows));
  return 0;
}

/** `strata inspect`. */
export async function inspectCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('inspect', argv, { help: { type: 'boolean', short: 'h' } });
  if (values.help === true) return help(inspectHelp);
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "missing REF (see 'strata inspect --help')" : `expected one REF, got ${positionals.length}`);
  const store = await ImageStore.open();
  const [record] = (await store.find(positionals[0]!)) as [ImageRecord, ...ImageRecord[]];
  const config = parseConfig(await store.blobs.readVerified(record.config.digest), `config of ${record.reference}`);
  const inspected = {
    reference: record.reference,
    manifestDigest: record.manifestDigest,
    mediaType: record.mediaType,
    ...(record.indexDigest !== undefined && { indexDigest: record.indexDigest }),
    platform: record.platform ?? null,
    created: record.created ?? null,
    pulledAt: record.pulledAt,
    size: record.size,
    config: { ...record.config, content: config.raw },
    layers: record.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffID: l.diffID ?? null, ...(l.annotations !== undefined && { annotations: l.annotations }) })),
  };
  out(`${JSON.stringify(inspected, null, 2)}\n`);
  return 0;
}

/** `strata rmi`. */
export async function rmiCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('rmi', argv, { help: { type: 'boolean', short: 'h' } });
  if (values.help === true) return help(rmiHelp);
  if (positionals.length === 0) throw new UsageError("missing REF (see 'strata rmi --help')");
  const store = await ImageStore.open();
  for (const ref of positionals) {
    for (const record of await store.remove(ref)) out(`removed ${record.reference} ${record.manifestDigest}\n`);
  }
  return 0;
}

/** `strata gc`. */
export async function gcCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('gc', argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) return help(gcHelp);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}' (see 'strata gc --help')`);
  const result = await (await ImageStore.open()).gc();
  if (values.json === true) {
    out(`${JSON.stringify(result)}\n`);
  } else {
    out(`removed ${result.blobsRemoved} blob(s), ${result.layerFilesRemoved} cached layer file(s), ${result.rootfsTreesRemoved} cached root tree(s), ${result.tempFilesRemoved} temp file(s); freed ${formatBytes(result.bytesFreed)} (${result.bytesFreed} bytes)\n`);
  }
  return 0;
}

function help(text: string): number {
  out(text);
  return 0;
}

/** Columns padded to their widest cell, two spaces apart. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** "3 minutes ago", as `docker images` says it. */
function ago(iso: string, now: number = Date.now()): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  const steps: [number, string][] = [[60, 'second'], [60, 'minute'], [24, 'hour'], [30, 'day'], [12, 'month'], [Infinity, 'year']];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (value < size) return `${value} ${unit}${value === 1 ? '' : 's'} ago`;
    value = Math.floor(value / size);
  }
  return iso;
}
