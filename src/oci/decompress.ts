import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { StrataError } from '../errors.js';

/** How a layer blob is stored. */
export type LayerCompression = 'none' | 'gzip' | 'zstd';

/** What a layer media type means: a tar changeset (maybe compressed) or a raw wasm module. */
export interface LayerFormat {
  readonly kind: 'tar' | 'wasm';
  readonly compression: LayerCompression;
}

/**
 * Layer media types strata reads: OCI's, Docker's, and the wasm OCI
 * artifact's `application/wasm` (a raw module, not a tar), and the
 * component layer type (a raw component).
 * https://github.com/opencontainers/image-spec/blob/main/layer.md
 */
export const layerMediaTypes: Readonly<Record<string, LayerFormat>> = {
  'application/vnd.oci.image.layer.v1.tar': { kind: 'tar', compression: 'none' },
  'application/vnd.oci.image.layer.v1.tar+gzip': { kind: 'tar', compression: 'gzip' },
  'application/vnd.oci.image.layer.v1.tar+zstd': { kind: 'tar', compression: 'zstd' },
  'application/vnd.oci.image.layer.nondistributable.v1.tar': { kind: 'tar', compression: 'none' },
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': { kind: 'tar', compression: 'gzip' },
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': { kind: 'tar', compression: 'zstd' },
  'application/vnd.docker.image.rootfs.diff.tar': { kind: 'tar', compression: 'none' },
  'application/vnd.docker.image.rootfs.diff.tar.gzip': { kind: 'tar', compression: 'gzip' },
  'application/vnd.docker.image.rootfs.diff.tar.zstd': { kind: 'tar', compression: 'zstd' },
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': { kind: 'tar', compression: 'gzip' },
  'application/wasm': { kind: 'wasm', compression: 'none' },
  // A wasm component (WASI preview2) as wkg/wasm-pkg publish it: run as a component (src/component).
  'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm': { kind: 'wasm', compression: 'none' },
};

/** Default cap on a layer's uncompressed bytes: 8 GiB. */
export const defaultMaxUncompressedBytes = 8 * 2 ** 30;

/** The largest zstd window accepted (zstd's own default decoder limit, 2^27). */
export const maxZstdWindowBytes = 2 ** 27;

/**
 * The format of a layer media type.
 * Errors: ERR_UNSUPPORTED_MEDIA_TYPE (names the type).
 */
export function layerFormat(mediaType: string): LayerFormat {
  const format = layerMediaTypes[mediaType];
  if (format === undefined || !Object.hasOwn(layerMediaTypes, mediaType)) {
    throw new StrataError('ERR_UNSUPPORTED_MEDIA_TYPE', `layer media type '${mediaType.slice(0, 200)}' is not supported (expected one of: ${Object.keys(layerMediaTypes).join(', ')})`);
  }
  return format;
}

/** Options of {@link decompress}. */
export interface DecompressOptions {
  /** Stop with ERR_LAYER_TOO_LARGE past this many uncompressed bytes. Default {@link defaultMaxUncompressedBytes}. */
  readonly maxBytes?: number;
  /** Named in error messages (e.g. the blob digest). */
  readonly label?: string;
}

/**
 * The uncompressed bytes of a layer blob, streamed.
 *
 * A blob declared uncompressed is sniffed: if it starts with the gzip or
 * zstd magic it is decompressed anyway (docker-archive exports name
 * compressed layers `layer.tar`; containerd sniffs the same way). A blob
 * declared compressed must carry its format's magic.
 *
 * Memory stays bounded whatever the input: gzip goes through Node's zlib
 * stream, and zstd is fed to fzstd one block (at most 128 KiB of output)
 * at a time, so a bomb is stopped by the cap after at most one block more.
 *
 * Errors: ERR_LAYER_DECOMPRESS (corrupt or truncated data, wrong magic,
 * a zstd window over {@link maxZstdWindowBytes}), ERR_LAYER_TOO_LARGE
 * (more than `maxBytes` uncompressed), and whatever `source` throws.
 */
export async function* decompress(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, compression: LayerCompression, options: DecompressOptions = {}): AsyncGenerator<Uint8Array> {
  const maxBytes = options.maxBytes ?? defaultMaxUncompressedBytes;
  const label = options.label ?? 'layer';
  const input = peekable(source);
  const head = await input.peek();
  const sniffed = sniffCompression(head);
  let actual: LayerCompression = compression;
  if (compression === 'none') actual = sniffed;
  else if (sniffed !== compression) {
    throw new StrataError('ERR_LAYER_DECOMPRESS', `${label} is declared ${compression} but its data is ${sniffed === 'none' ? 'not compressed' : sniffed}`);
  }
  const inner = actual === 'gzip' ? gunzip(input, label) : actual === 'zstd' ? unzstd(input, label) : input.rest();
  let total = 0;
  for await (const chunk of inner) {
    total += chunk.length;
    if (total > maxBytes) {
      throw new StrataError('ERR_LAYER_TOO_LARGE', `${label} is over the limit of ${maxBytes} uncompressed bytes`);
    }
    yield chunk;
  }
}

/** The compression a blob's first bytes show (gzip or zstd magic), else `none`. */
export function sniffCompression(head: Uint8Array): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

interface Peekable {
  /** At least the first 4 bytes (fewer only at the end), not consumed. */
  peek(): Promise<Uint8Array>;
  /** Every chunk, the peeked one first. */
  rest(): AsyncGenerator<Uint8Array>;
}

function peekable(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Peekable {
  const it = (Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()) as AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  let first: Uint8Array | undefined;
  let ended = false;
  return {
    async peek() {
      // Enough bytes to see a magic number, however the source is chunked.
      const parts: Uint8Array[] = first === undefined ? [] : [first];
      let have = first?.length ?? 0;
      while (have < 4 && !ended) {
        const r = await it.next();
        if (r.done === true) ended = true;
        else if (r.value.length > 0) {
          parts.push(r.value);
          have += r.value.length;
        }
      }
      if (parts.length > 1) {
        const joined = new Uint8Array(have);
        let at = 0;
        for (const p of parts) {
          joined.set(p, at);
          at += p.length;
        }
        first = joined;
      } else {
        first = parts[0];
      }
      return first ?? new Uint8Array(0);
    },
    async *rest() {
      try {
        if (first !== undefined) yield first;
        while (!ended) {
          const r = await it.next();
          if (r.done === true) break;
          yield r.value;
        }
      } finally {
        await it.return?.();
      }
    },
  };
}

async function* gunzip(input: Peekable, label: string): AsyncGenerator<Uint8Array> {
  const z = createGunzip({ chunkSize: 64 * 1024 });
  const feed = Readable.from(input.rest(), { objectMode: false });
  feed.on('error', (error) => z.destroy(error));
  feed.pipe(z);
  try {
    for await (const chunk of z as AsyncIterable<Uint8Array>) yield chunk;
  } catch (error) {
    if (error instanceof StrataError) throw error;
    const code = (error as { code?: unknown }).code;
    if ((typeof code === 'string' && code.startsWith('Z_')) || code === 'ERR_ZLIB_INITIALIZATION_FAILED') {
      throw new StrataError('ERR_LAYER_DECOMPRESS', `${label}: gzip data is corrupt or truncated (${(error as Error).message})`, { cause: error });
    }
    throw error;
  } finally {
    feed.destroy();
    z.destroy();
  }
}

/**
 * Zstd through fzstd, pushed one frame piece at a time. fzstd calls back
 * once per block and cannot pause inside a push, so a push holding many
 * tiny RLE blocks could produce gigabytes at once; cutting the input at
 * block boundaries here keeps every push to one block.
 * https://www.rfc-editor.org/rfc/rfc8878#section-3.1
 */
async function* unzstd(input: Peekable, label: string): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const decoder = new ZstdDecompress((data) => {
    if (data.length > 0) out.push(data);
  });
  const splitter = new ZstdSplitter(label);
  const push = (piece: Uint8Array, final: boolean): void => {
    try {
      decoder.push(piece, final);
    } catch (error) {
      throw new StrataError('ERR_LAYER_DECOMPRESS', `${label}: zstd data is corrupt or truncated (${(error as Error).message})`, { cause: error });
    }
  };
  for await (const chunk of input.rest()) {
    splitter.add(chunk);
    for (let piece = splitter.next(); piece !== undefined; piece = splitter.next()) {
      push(piece, false);
      while (out.length > 0) yield out.shift()!;
    }
  }
  push(splitter.remainder(), true);
  while (out.length > 0) yield out.shift()!;
}

/** Cuts a zstd stream into pieces that each hold at most one block. */
class ZstdSplitter {
  readonly #label: string;
  #buf: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  /** Whether #buf is ours to append to (else it is a caller's chunk). */
  #owned = false;
  /** What comes next: a frame header or a block. */
  #state: 'frame' | 'block' = 'frame';
  #checksum = false;
  /** Bytes of a skippable frame still to drop (never buffered whole). */
  #skipLeft = 0;

  constructor(label: string) {
    this.#label = label;
  }

  /** Append input. Amortized O(1) per byte: a partial block is never re-copied whole per chunk. */
  add(chunk: Uint8Array): void {
    if (this.#start === this.#end) {
      this.#buf = chunk;
      this.#start = 0;
      this.#end = chunk.length;
      this.#owned = false;
      return;
    }
    if (!this.#owned || this.#end + chunk.length > this.#buf.length) {
      // Pieces already handed out keep the old buffer; nothing is overwritten.
      const live = this.#end - this.#start;
      const next = new Uint8Array(Math.max(2 * (live + chunk.length), 64 * 1024));
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
      this.#owned = true;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The next complete piece, or undefined until more input arrives. */
  next(): Uint8Array | undefined {
    if (this.#skipLeft > 0) {
      const drop = Math.min(this.#skipLeft, this.#end - this.#start);
      this.#skipLeft -= drop;
      this.#start += drop;
      if (this.#skipLeft > 0) return undefined;
    }
    const b = this.#buf;
    const s = this.#start;
    const avail = this.#end - s;
    if (this.#state === 'frame') {
      if (avail < 8) return undefined;
      const magic = (b[s]! | (b[s + 1]! << 8) | (b[s + 2]! << 16) | (b[s + 3]! << 24)) >>> 0;
      if ((magic & 0xfffffff0) === 0x184d2a50) {
        // A skippable frame (metadata): dropped here, fzstd never sees it.
        this.#start += 8;
        this.#skipLeft = (b[s + 4]! | (b[s + 5]! << 8) | (b[s + 6]! << 16) | (b[s + 7]! << 24)) >>> 0;
        return this.next();
      }
      if (magic !== 0xfd2fb528) throw this.#corrupt('bad frame magic');
      const fhd = b[s + 4]!;
      const single = (fhd >> 5) & 1;
      const fcsFlag = fhd >> 6;
      const didFlag = fhd & 3;
      const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
      const headerLen = 5 + (single ? 0 : 1) + (didFlag === 3 ? 4 : didFlag) + fcsBytes;
      if (avail < headerLen) return undefined;
      let window: number;
      if (single) {
        let fcs = 0;
        const at = s + headerLen - fcsBytes;
        for (let i = fcsBytes - 1; i >= 0; i--) fcs = fcs * 256 + b[at + i]!;
        window = fcs + (fcsFlag === 1 ? 256 : 0);
      } else {
        const wd = b[s + 5]!;
        const base = 2 ** (10 + (wd >> 3));
        window = base + (base / 8) * (wd & 7);
      }
      if (window > maxZstdWindowBytes) throw this.#corrupt(`window of ${window} bytes is over the limit of ${maxZstdWindowBytes}`);
      // The frame header goes with the first block (fzstd wants both at once).
      return this.#blockAfter(headerLen, ((fhd >> 2) & 1) === 1);
    }
    return this.#blockAfter(0, this.#checksum);
  }

  /** Whatever is left (a truncated tail), for the final push. */
  remainder(): Uint8Array {
    if (this.#skipLeft > 0) throw this.#corrupt('truncated skippable frame');
    const rest = this.#buf.subarray(this.#start, this.#end);
    this.#start = this.#end;
    return rest;
  }

  /** The block at `prefix` bytes from here (with those bytes), once complete; state moves only then. */
  #blockAfter(prefix: number, checksum: boolean): Uint8Array | undefined {
    const b = this.#buf;
    const at = this.#start + prefix;
    if (this.#end - at < 3) return undefined;
    const bh = b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
    const last = (bh & 1) === 1;
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) throw this.#corrupt('reserved block type');
    if (size > 128 * 1024) throw this.#corrupt('block larger than 128 KiB');
    const len = prefix + 3 + (type === 1 ? 1 : size) + (last && checksum ? 4 : 0);
    const piece = this.#take(len);
    if (piece !== undefined) {
      this.#checksum = checksum;
      this.#state = last ? 'frame' : 'block';
    }
    return piece;
  }

  #take(len: number): Uint8Array | undefined {
    if (this.#end - this.#start < len) return undefined;
    const piece = this.#buf.subarray(this.#start, this.#start + len);
    this.#start += len;
    return piece;
  }

  #corrupt(why: string): StrataError {
    return new StrataError('ERR_LAYER_DECOMPRESS', `${this.#label}: zstd data is corrupt (${why})`);
  }
}
