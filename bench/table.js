// Renders the rows as a plain-text table for the terminal.
//
// Each figure takes two lines: the median with the ratio peer/strata, and
// under it [min–max]. Reasons for n/a and errors are footnotes, so that the
// columns stay narrow.

import { fmtNs, sig } from './cases.js';

/**
 * @typedef {import('./cases.js').Row} Row
 * @typedef {import('./cases.js').Cell} Cell
 * @typedef {import('./cases.js').Unit} Unit
 */

const LABEL_WIDTH = 46;
const CELL_WIDTH = 20;

/**
 * The ratio shown in a peer's column: peer / strata. All figures are costs
 * (time, bytes, growth), so above 1 means strata is faster or smaller.
 * @param {Row} row
 * @param {string} peerId
 */
export function ratio(row, peerId) {
  const s = row.cells.strata;
  const p = row.cells[peerId];
  if (peerId === 'strata' || !s || !p || s.status !== 'ok' || p.status !== 'ok' || s.median <= 0) return undefined;
  return p.median / s.median;
}

/**
 * @param {number} v
 * @param {Unit} unit
 */
export function fmtValue(v, unit) {
  if (unit === 'ns') return fmtNs(v);
  if (unit === 'bytes') return fmtBytes(v);
  return `${sig(v)}×`;
}

/** @param {number} b */
function fmtBytes(b) {
  const abs = Math.abs(b);
  if (abs < 1024) return `${sig(b)} B`;
  if (abs < 1024 * 1024) return `${sig(b / 1024)} KiB`;
  return `${sig(b / 1024 / 1024)} MiB`;
}

/**
 * min–max in the unit the median was printed in, without repeating it.
 * @param {number} median @param {number} min @param {number} max @param {Unit} unit
 */
function fmtRange(median, min, max, unit) {
  const suffix = fmtValue(median, unit).split(' ')[1] ?? '';
  /** @type {Record<string, number>} */
  const scale = { ns: 1, 'µs': 1e3, ms: 1e6, s: 1e9, B: 1, KiB: 1024, MiB: 1024 * 1024 };
  const k = unit === 'x' ? 1 : scale[suffix] ?? 1;
  return `[${sig(min / k)}–${sig(max / k)}]`;
}

/** @param {string} s @param {number} w */
const pad = (s, w) => (s.length >= w ? s + ' ' : s + ' '.repeat(w - s.length));

/**
 * @param {{ rows: Row[], peerIds: string[], headers: Record<string, string> }} input
 * @returns {{ text: string, footnotes: string[] }}
 */
export function renderTable({ rows, peerIds, headers }) {
  /** @type {string[]} */
  const footnotes = [];
  /** @type {Map<string, number>} */
  const footIndex = new Map();
  /** @param {string} text */
  const foot = (text) => {
    let i = footIndex.get(text);
    if (i === undefined) {
      footnotes.push(text);
      i = footnotes.length;
      footIndex.set(text, i);
    }
    return `[${i}]`;
  };

  const lines = [];
  const header = pad('figure', LABEL_WIDTH) + peerIds.map((id) => pad(headers[id] ?? id, CELL_WIDTH)).join('') + 'target (strata)';
  lines.push(header, '-'.repeat(header.length));
  let lastCase = '';
  for (const row of rows) {
    if (row.caseId !== lastCase && lastCase !== '') lines.push('');
    lastCase = row.caseId;
    const label = `${row.caseId} ${row.label}`;
    if (row.merged !== undefined) {
      lines.push(pad(label, LABEL_WIDTH) + row.merged);
      continue;
    }
    let main = pad(label, LABEL_WIDTH);
    let sub = pad('', LABEL_WIDTH);
    for (const id of peerIds) {
      const c = row.cells[id];
      let a = '';
      let b = '';
      if (!c) a = '—';
      else if (c.status === 'ok') {
        const r = ratio(row, id);
        a = fmtValue(c.median, row.unit) + (r === undefined ? '' : `  ×${sig(r)}`);
        if (c.min !== undefined && c.max !== undefined) b = fmtRange(c.median, c.min, c.max, row.unit);
      } else if (c.status === 'missing') {
        a = `not built ${foot(c.reason)}`;
      } else if (c.status === 'error') {
        a = `ERROR ${foot(`${headers[id] ?? id}, ${row.caseId}: ${c.reason}`)}`;
      } else {
        a = `n/a ${foot(`${headers[id] ?? id}, ${row.caseId}: ${c.reason}`)}`;
      }
      main += pad(a, CELL_WIDTH);
      sub += pad(b, CELL_WIDTH);
    }
    if (row.targetResult) main += `${row.targetResult.text}: ${row.targetResult.verdict}`;
    lines.push(main.trimEnd());
    if (sub.trim() !== '') lines.push(sub.trimEnd());
  }
  return { text: lines.join('\n'), footnotes };
}
