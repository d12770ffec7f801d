import { ImageStore } from '../oci/image-store.js';
import { parseReference } from '../oci/reference.js';
import { KeptSandboxes, RootMode, Sandbox } from '../sandbox/index.js';
import { SnapshotStore } from '../snapshot/index.js';
import { err, out, parseFlags, UsageError, writeAll } from './io.js';
import { parseRun } from './run-args.js';
import { openImageWithProgress, runAndReport, sandboxOptions } from './run.js';

/** The text of `strata snapshot --help`. */
export const snapshotHelp = `Usage:
  strata snapshot create [--label K=V]... [RUN OPTIONS] IMAGE [--] [COMMAND [ARGS...]]
  strata snapshot create [--label K=V]... [RUN OPTIONS] --from SNAPSHOT [--] [COMMAND...]
  strata snapshot ls [--json]
  strata snapshot inspect SNAPSHOT
  strata snapshot restore [--name NAME] SNAPSHOT
  strata snapshot restore --class CLASS [--host-config FILE] SNAPSHOT [-- COMMAND...]
  strata snapshot rm SNAPSHOT...
  strata snapshot export SNAPSHOT oci:DIR[:TAG]
  strata snapshot import oci:DIR[:TAG]

A snapshot is a manifest (JSON, application/vnd.strata.snapshot.v1+json,
checked against its published schema) plus the filesystem delta as ordinary
OCI layers, stored in the image store; its id is the manifest's digest.

  create    make a sandbox over IMAGE (pulled if needed) or over a snapshot,
            run COMMAND in it if one is given (an init step: its exit code
            must be 0), then commit the root and print the snapshot id.
            Takes 'strata run''s root and mount options; identity files are
            never recorded, host paths only as mount kinds
  ls        list snapshots: id, parent, image, root mode, layers, created
  inspect   print a snapshot's manifest as JSON
  restore   restore a snapshot into a kept sandbox (see 'strata ps'): its root
            is the snapshot's state with a fresh upper on disk, for
            'strata cp' and 'strata diff' (which lists changes since the snapshot).
            With --class, restore it on that class's backend instead (runsc,
            runc, crun…: its recorded assets are checked against the host
            config's first), run COMMAND or its process, and exit with its code
  rm        remove snapshots (their layers go at the next 'strata gc')
  export    write a snapshot as a runnable OCI image layout (the image's
            layers + the delta layers + a config), which umoci and skopeo read
  import    read such a layout back, verifying every blob

SNAPSHOT is an id (sha256:…), or a unique prefix of its hex digits. Run a
snapshot with 'strata run --from SNAPSHOT [COMMAND]'.
`;

async function store(): Promise<SnapshotStore> {
  return new SnapshotStore(await ImageStore.open());
}

/** `strata snapshot SUBCOMMAND`. */
export async function snapshotCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case undefined:
    case 'help':
    case '-h':
    case '--help':
      out(snapshotHelp);
      return sub === undefined ? 2 : 0;
    case 'create':
      return create(rest);
    case 'ls':
    case 'list':
      return list(rest);
    case 'inspect':
      return inspect(rest);
    case 'restore':
      return restore(rest);
    case 'rm':
      return remove(rest);
    case 'export':
      return exportCommand(rest);
    case 'import':
      return importCommand(rest);
    default:
      throw new UsageError(`unknown snapshot command '${sub}' (see 'strata snapshot --help')`);
  }
}

async function create(argv: readonly string[]): Promise<number> {
  const parsed = parseRun(argv, 'snapshot create');
  if (parsed === 'help') {
    out(snapshotHelp);
    return 0;
  }
  if (parsed.diff || parsed.apply || parsed.name !== undefined || parsed.rm) throw new UsageError('snapshot create takes no --diff, --apply, --name or --rm');
  const images = await ImageStore.open();
  const common = { ...sandboxOptions(parsed), store: images, ...(parsed.root !== undefined && { root: parsed.root }) };
  let sandbox: Sandbox;
  if (parsed.from !== undefined) {
    sandbox = await Sandbox.create({ ...common, from: parsed.from });
  } else {
    const image = await openImageWithProgress(parsed.target!, parsed, images);
    sandbox = await Sandbox.create({ ...common, image, root: parsed.root ?? RootMode.overlay });
  }
  const command = parsed.explicitCommand || parsed.guestArgs.length > 0 ? parsed.guestArgs : undefined;
  if (command !== undefined) {
    const result = await runAndReport(sandbox, parsed, () =>
      sandbox.exec(command, { ...parsed.options, stdout: (chunk) => writeAll(2, chunk), stderr: (chunk) => writeAll(2, chunk) }),
    );
    if (result.exitCode !== 0) {
      err(`strata: the init command exited ${result.exitCode}; nothing was committed\n`);
      return result.exitCode;
    }
  }
  const snapshot = await sandbox.commit({ labels: parsed.labels });
  out(`${snapshot.digest}\n`);
  return 0;
}

async function list(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('snapshot ls', argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    out(snapshotHelp);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`strata snapshot ls takes no arguments, got '${positionals[0]}'`);
  const snapshots = await (await store()).list();
  if (values.json === true) {
    out(`${JSON.stringify(snapshots.map((s) => ({ digest: s.digest, manifest: s.manifest })), null, 2)}\n`);
    return 0;
  }
  const rows = [['SNAPSHOT', 'PARENT', 'IMAGE', 'ROOT', 'LAYERS', 'CREATED']];
  for (const { digest, manifest } of snapshots) {
    rows.push([digest.slice(7, 19), manifest.parent?.slice(7, 19) ?? '', manifest.image?.reference ?? '', manifest.root.mode, String(manifest.delta.length), manifest.created]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) out(`${row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()}\n`);
  return 0;
}

async function inspect(argv: readonly string[]): Promise<number> {
  if (argv.length !== 1) throw new UsageError("expected one SNAPSHOT (see 'strata snapshot ls')");
  const snapshots = await store();
  const { digest, manifest } = await snapshots.inspect(await snapshots.resolve(argv[0]!));
  out(`${JSON.stringify({ digest, manifest }, null, 2)}\n`);
  return 0;
}

async function restore(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('snapshot restore', argv, { name: { type: 'string' }, class: { type: 'string' }, 'host-config': { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    out(snapshotHelp);
    return 0;
  }
  if (values.class !== undefined && values.class !== 'wasm') {
    if (positionals.length === 0) throw new UsageError("expected a SNAPSHOT (see 'strata snapshot ls')");
    const { restoreOnClass } = await import('./run-class.js');
    return restoreOnClass(values.class, positionals[0]!, positionals.slice(1), values['host-config']);
  }
  if (positionals.length !== 1) throw new UsageError("expected one SNAPSHOT (see 'strata snapshot ls')");
  const images = await ImageStore.open();
  const snapshots = new SnapshotStore(images);
  const { digest, manifest } = await snapshots.inspect(await snapshots.resolve(positionals[0]!));
  const kept = new KeptSandboxes(images.root);
  const { record, upperDir } = await kept.create({
    ...(values.name !== undefined && { name: values.name }),
    image: manifest.image?.reference ?? `snapshot ${digest}`,
    manifestDigest: manifest.image?.manifestDigest ?? digest,
    snapshot: digest,
    mounts: [],
    command: [],
  });
  try {
    // Restoring once checks every layer of the chain now, not at the first cp or diff.
    (await Sandbox.create({ from: digest, root: RootMode.overlay, upper: { dir: upperDir }, store: images })).close();
  } catch (error) {
    await kept.remove(record.id);
    throw error;
  }
  out(`${record.name ?? record.id}\n`);
  return 0;
}

async function remove(argv: readonly string[]): Promise<number> {
  if (argv.length === 0) throw new UsageError("missing SNAPSHOT (see 'strata snapshot ls')");
  const snapshots = await store();
  for (const text of argv) {
    const digest = await snapshots.resolve(text);
    await snapshots.remove(digest);
    out(`removed ${digest}\n`);
  }
  return 0;
}

async function exportCommand(argv: readonly string[]): Promise<number> {
  if (argv.length !== 2) throw new UsageError('expected SNAPSHOT and oci:DIR[:TAG]');
  const { dir, tag } = layout(argv[1]!);
  const snapshots = await store();
  const digest = await snapshots.resolve(argv[0]!);
  await snapshots.export(digest, dir, tag ?? 'latest');
  out(`exported ${digest} to oci:${dir}:${tag ?? 'latest'}\n`);
  return 0;
}

async function importCommand(argv: readonly string[]): Promise<number> {
  if (argv.length !== 1) throw new UsageError('expected oci:DIR[:TAG]');
  const { dir, tag } = layout(argv[0]!);
  const { digest } = await (await store()).import(dir, tag);
  out(`${digest}\n`);
  return 0;
}

/** `oci:DIR[:TAG]`, as references spell an OCI layout. Errors: UsageError. */
function layout(text: string): { dir: string; tag: string | undefined } {
  if (!text.startsWith('oci:')) throw new UsageError(`'${text}': expected oci:DIR[:TAG]`);
  const ref = parseReference(text, process.cwd());
  if (ref.transport !== 'oci') throw new UsageError(`'${text}': expected oci:DIR[:TAG]`);
  return { dir: ref.dir, tag: ref.tag };
}
