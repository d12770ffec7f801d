import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, StrataError } from '../errors.js';
import { ImageStore } from '../oci/index.js';
import { imageFromRecord } from './image.js';
import type { MountSpec } from './mounts.js';
import { Sandbox } from './sandbox.js';

/** What is kept of a sandbox after its process exits: enough to open it again. */
export interface KeptRecord {
  /** 12 hex digits. */
  readonly id: string;
  /** A name given with `--name`, unique among kept sandboxes. */
  readonly name?: string;
  /** The image reference, as pulled, and the manifest it resolved to. */
  readonly image: string;
  readonly manifestDigest: string;
  /** The snapshot its root was restored from (`strata snapshot restore`), if any: it is opened from that, not from the image. */
  readonly snapshot?: string;
  /** Mounts, with host paths absolute (identity mounts are never kept). */
  readonly mounts: readonly MountSpec[];
  /** The command that ran, and its exit code once it has exited. */
  readonly command: readonly string[];
  readonly exitCode?: number;
  readonly created: string;
}

const namePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/**
 * Sandboxes kept after `strata run` (without `--rm`), for `strata cp`,
 * `strata diff`, `strata ps` and `strata rm`: `<store>/sandboxes/<id>/`
 * holds `sandbox.json` and `upper/`, the overlay's upper as an OCI
 * changeset (whiteouts as `.wh.` files), so the root survives the process.
 */
export class KeptSandboxes {
  readonly root: string;

  constructor(storeRoot: string) {
    this.root = join(storeRoot, 'sandboxes');
  }

  /**
   * Reserve a new kept sandbox: its directory and upper, and its record.
   * Errors: ERR_INVALID_OPTION (a bad name, or one already in use).
   */
  async create(record: Omit<KeptRecord, 'id' | 'created'>): Promise<{ record: KeptRecord; upperDir: string }> {
    if (record.name !== undefined) {
      if (!namePattern.test(record.name)) throw new StrataError(ErrorCode.invalidOption, `sandbox name '${record.name}' must match ${namePattern.source}`);
      if ((await this.list()).some((r) => r.name === record.name)) throw new StrataError(ErrorCode.invalidOption, `a kept sandbox is already named '${record.name}' (strata rm ${record.name})`);
    }
    const full: KeptRecord = { ...record, id: randomBytes(6).toString('hex'), created: new Date().toISOString() };
    const upperDir = join(this.root, full.id, 'upper');
    await mkdir(upperDir, { recursive: true });
    await this.#write(full);
    return { record: full, upperDir };
  }

  /** Record the exit code of a kept sandbox's process. */
  async exited(record: KeptRecord, exitCode: number): Promise<void> {
    await this.#write({ ...record, exitCode });
  }

  /** Every kept sandbox, oldest first. Unreadable records are skipped. */
  async list(): Promise<KeptRecord[]> {
    const ids = await readdir(this.root).catch(() => [] as string[]);
    const records: KeptRecord[] = [];
    for (const id of ids) {
      try {
        records.push(JSON.parse(await readFile(join(this.root, id, 'sandbox.json'), 'utf8')) as KeptRecord);
      } catch {
        // A sandbox being created or removed.
      }
    }
    return records.sort((a, b) => a.created.localeCompare(b.created));
  }

  /**
   * The kept sandbox named by its name, id or a unique id prefix.
   * Errors: ERR_SANDBOX_NOT_FOUND (none, or an ambiguous prefix).
   */
  async find(text: string): Promise<KeptRecord> {
    const all = await this.list();
    const exact = all.find((r) => r.name === text || r.id === text);
    if (exact !== undefined) return exact;
    const hits = /^[0-9a-f]+$/.test(text) ? all.filter((r) => r.id.startsWith(text)) : [];
    if (hits.length === 1) return hits[0]!;
    throw new StrataError(ErrorCode.sandboxNotFound, hits.length > 1 ? `'${text}' names ${hits.length} kept sandboxes; give more of the id` : `no kept sandbox '${text}' (see 'strata ps')`);
  }

  /**
   * Open a kept sandbox again: its image from the store, its upper from
   * disk, its mounts.
   * Errors: ERR_SANDBOX_NOT_FOUND, ERR_IMAGE_NOT_FOUND (its image was removed), the errors of Sandbox.create.
   */
  async open(text: string, store?: ImageStore): Promise<{ record: KeptRecord; sandbox: Sandbox }> {
    const record = await this.find(text);
    const images = store ?? (await ImageStore.open(join(this.root, '..')));
    const upper = { dir: join(this.root, record.id, 'upper') };
    if (record.snapshot !== undefined) {
      return { record, sandbox: await Sandbox.create({ from: record.snapshot, root: 'overlay', upper, mounts: record.mounts, store: images }) };
    }
    const image = (await images.list()).find((r) => r.manifestDigest === record.manifestDigest);
    if (image === undefined) throw new StrataError(ErrorCode.imageNotFound, `kept sandbox ${record.id}: its image ${record.image} (${record.manifestDigest}) is no longer in the store`);
    const sandbox = await Sandbox.create({
      image: await imageFromRecord(images, image),
      root: 'overlay',
      upper,
      mounts: record.mounts,
      store: images,
    });
    return { record, sandbox };
  }

  /** Remove kept sandboxes and their uppers. Errors: ERR_SANDBOX_NOT_FOUND. */
  async remove(text: string): Promise<KeptRecord> {
    const record = await this.find(text);
    await rm(join(this.root, record.id), { recursive: true, force: true });
    return record;
  }

  async #write(record: KeptRecord): Promise<void> {
    const path = join(this.root, record.id, 'sandbox.json');
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(temp, path);
  }
}
