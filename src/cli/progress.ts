import type { Digest } from '../oci/digest.js';
import { formatPlatform } from '../oci/manifest.js';
import type { PullEvent } from '../oci/pull.js';
import { formatBytes } from './io.js';

/** Where progress goes, and whether it is a terminal. */
export interface ProgressOutput {
  readonly write: (text: string) => void;
  /** A terminal: draw bars and redraw them in place. Otherwise, one plain line per step. */
  readonly tty: boolean;
  /** Columns of the terminal (default 80). */
  readonly columns?: number;
}

interface LayerState {
  readonly digest: Digest;
  readonly size: number;
  bytes: number;
  status: 'waiting' | 'fetching' | 'fetched' | 'cached' | 'indexed';
}

/** Redraws at most this often on a terminal. */
const redrawMs = 100;

/**
 * Shows a pull's progress: on a terminal, a bar per layer and one for the
 * total (bytes), redrawn in place with ANSI cursor movement; elsewhere,
 * plain lines, one per step, for logs.
 */
export class PullProgress {
  private readonly output: ProgressOutput;
  private readonly layers = new Map<Digest, LayerState>();
  private drawnLines = 0;
  private lastDraw = 0;
  private header = '';

  constructor(output: ProgressOutput) {
    this.output = output;
  }

  /** Start: say what is being pulled. */
  start(reference: string): void {
    this.header = `pulling ${reference}`;
    if (!this.output.tty) this.output.write(`${this.header}\n`);
  }

  /** Take one event of the pull. */
  handle(event: PullEvent): void {
    switch (event.type) {
      case 'resolved': {
        for (const layer of event.layers) this.layers.set(layer.digest, { digest: layer.digest, size: layer.size, bytes: 0, status: 'waiting' });
        const total = event.layers.reduce((sum, l) => sum + l.size, 0);
        const digest = this.output.tty ? short(event.manifestDigest) : event.manifestDigest;
        const summary = `${digest}${event.platform !== undefined ? ` (${formatPlatform(event.platform)})` : ''}, ${event.layers.length} layer${event.layers.length === 1 ? '' : 's'}, ${formatBytes(total)}`;
        if (this.output.tty) {
          this.header = `${this.header}\nresolved ${summary}`;
          this.draw(true);
        } else {
          this.output.write(`resolved ${summary}\n`);
        }
        return;
      }
      case 'progress': {
        const layer = this.layers.get(event.digest);
        if (layer === undefined) return;
        layer.bytes = event.bytes;
        layer.status = 'fetching';
        if (this.output.tty) this.draw(false);
        return;
      }
      case 'fetched': {
        const layer = this.layers.get(event.digest);
        if (layer !== undefined) {
          layer.bytes = event.size;
          layer.status = event.cached ? 'cached' : 'fetched';
        }
        if (this.output.tty) this.draw(true);
        else this.output.write(`${short(event.digest)}: ${event.cached ? 'already present' : 'fetched'}, ${formatBytes(event.size)}\n`);
        return;
      }
      case 'indexed': {
        const layer = this.layers.get(event.digest);
        if (layer !== undefined) layer.status = 'indexed';
        if (this.output.tty) this.draw(true);
        else this.output.write(`${short(event.digest)}: indexed (diffID ${short(event.diffID)})\n`);
        return;
      }
      case 'done': {
        if (this.output.tty) this.draw(true);
        this.output.write(`pulled ${event.image.reference} ${event.image.manifestDigest} in ${(event.durationMs / 1000).toFixed(2)} s\n`);
        return;
      }
    }
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < redrawMs) return;
    this.lastDraw = now;
    // A pseudo-terminal without a size reports 0 columns.
    const columns = Math.max(60, this.output.columns || 80);
    const lines = this.header.split('\n');
    let done = 0;
    let total = 0;
    for (const layer of this.layers.values()) {
      done += layer.bytes;
      total += layer.size;
      lines.push(this.line(`  ${short(layer.digest)}`, layer.bytes, layer.size, layer.status, columns));
    }
    if (this.layers.size > 0) {
      const all = [...this.layers.values()];
      const status = all.every((l) => l.status === 'indexed') ? 'indexed' : all.every((l) => l.status !== 'waiting' && l.status !== 'fetching') ? 'fetched' : 'fetching';
      lines.push(this.line('  total', done, total, status, columns));
    }
    // Move up over what was drawn before, then rewrite each line in full.
    let text = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    for (const line of lines) text += `\r\x1b[2K${line.slice(0, columns - 1)}\n`;
    this.drawnLines = lines.length;
    this.output.write(text);
  }

  private line(label: string, bytes: number, size: number, status: LayerState['status'], columns: number): string {
    const width = Math.max(10, Math.min(30, columns - 60));
    const fraction = size === 0 ? 1 : Math.min(1, bytes / size);
    const filled = Math.round(fraction * width);
    const bar = `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? (fraction < 1 ? '>' : '=') : ''}${' '.repeat(width - filled)}]`;
    return `${label.padEnd(22)} ${bar} ${`${formatBytes(bytes)} / ${formatBytes(size)}`.padEnd(22)} ${status}`;
  }
}

/** `sha256:` and the first 12 hex digits, as `docker images` shows ids. */
export function short(digest: Digest): string {
  return digest.slice(0, 'sha256:'.length + 12);
}
