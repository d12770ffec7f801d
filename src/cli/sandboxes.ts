import { ImageStore } from '../oci/image-store.js';
import { KeptSandboxes } from '../sandbox/index.js';
import { out, parseFlags, UsageError } from './io.js';

/** The text of `strata ps --help`. */
export const psHelp = `Usage: strata ps [--json]

Lists the sandboxes kept after 'strata run IMAGE' (without --rm): id, name,
image, command, exit code and creation time. --json prints the records.
`;

/** The text of `strata rm --help`. */
export const rmHelp = `Usage: strata rm SANDBOX...

Removes kept sandboxes, with the changes they made to their root. SANDBOX is
a name, an id, or a unique prefix of an id.
`;

/** The text of `strata diff --help`. */
export const diffHelp = `Usage: strata diff [--json] SANDBOX

Prints what a kept sandbox changed in its root since the image, like
'docker diff': 'A /path' added, 'C /path' changed, 'D /path' deleted.
`;

/** The text of `strata cp --help`. */
export const cpHelp = `Usage: strata cp SANDBOX:PATH HOSTPATH
       strata cp HOSTPATH SANDBOX:PATH

Copies files and directories (recursively) out of, or into, a kept sandbox's
root. Symlinks are copied as symlinks and never followed on either side;
modes and modification times are kept. Writes into the sandbox count against
its quotas.
`;

async function kept(): Promise<KeptSandboxes> {
  return new KeptSandboxes((await ImageStore.open()).root);
}

/** `strata ps`. */
export async function psCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('ps', argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    out(psHelp);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`strata ps takes no arguments, got '${positionals[0]}'`);
  const records = await (await kept()).list();
  if (values.json === true) {
    out(`${JSON.stringify(records, null, 2)}\n`);
    return 0;
  }
  const rows = [['ID', 'NAME', 'IMAGE', 'COMMAND', 'STATUS', 'CREATED']];
  for (const r of records) {
    rows.push([r.id, r.name ?? '', r.image, r.command.join(' ').slice(0, 40), r.exitCode !== undefined ? `exited ${r.exitCode}` : r.snapshot !== undefined && r.command.length === 0 ? `restored ${r.snapshot.slice(7, 19)}` : 'running or killed', r.created]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) out(`${row.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()}\n`);
  return 0;
}

/** `strata rm`. */
export async function rmCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('rm', argv, { help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    out(rmHelp);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError("missing SANDBOX (see 'strata ps')");
  const store = await kept();
  for (const name of positionals) {
    const record = await store.remove(name);
    out(`removed ${record.id}${record.name === undefined ? '' : ` (${record.name})`}\n`);
  }
  return 0;
}

/** `strata diff`. */
export async function diffCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('diff', argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    out(diffHelp);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("expected one SANDBOX (see 'strata ps')");
  const { sandbox } = await (await kept()).open(positionals[0]!);
  const changes = sandbox.diff();
  if (values.json === true) out(`${JSON.stringify(changes, null, 2)}\n`);
  else for (const c of changes) out(`${c.kind === 'added' ? 'A' : c.kind === 'changed' ? 'C' : 'D'} ${c.path}\n`);
  return 0;
}

/** `strata cp`. */
export async function cpCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags('cp', argv, { help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    out(cpHelp);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError("expected SOURCE and DEST, one of them SANDBOX:PATH (see 'strata cp --help')");
  const [from, to] = positionals as [string, string];
  const inFrom = sandboxPath(from);
  const inTo = sandboxPath(to);
  if ((inFrom === undefined) === (inTo === undefined)) throw new UsageError('exactly one of SOURCE and DEST must be SANDBOX:PATH');
  const store = await kept();
  if (inFrom !== undefined) {
    const { sandbox } = await store.open(inFrom.sandbox);
    await sandbox.fs.copyOut(inFrom.path, to, { recursive: true });
  } else {
    const { sandbox } = await store.open(inTo!.sandbox);
    await sandbox.fs.copyIn(from, inTo!.path, { recursive: true });
    sandbox.sync();
  }
  return 0;
}

/** `NAME:/path` → its parts; a host path (no colon before the first `/`) → undefined. */
function sandboxPath(text: string): { sandbox: string; path: string } | undefined {
  const colon = text.indexOf(':');
  const slash = text.indexOf('/');
  if (colon <= 0 || (slash >= 0 && slash < colon)) return undefined;
  const path = text.slice(colon + 1);
  if (!path.startsWith('/')) throw new UsageError(`'${text}': the path in the sandbox must be absolute`);
  return { sandbox: text.slice(0, colon), path };
}
