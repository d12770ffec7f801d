// P5 helper, run in a fresh process per measurement by bench/cases.js:
//   node --expose-gc bench/rss-probe.js PEER_ID COUNT
// Creates COUNT idle sandboxes of one host, holds them all, and prints one
// JSON line: the growth of RSS (and of V8 heap + external memory) per
// sandbox, each measured after full garbage collections.

import { allPeers } from './peers.js';

const [peerId, countArg] = process.argv.slice(2);
const count = Number(countArg);
const peer = allPeers().find((p) => p.id === peerId);
if (!peer || !Number.isInteger(count) || count <= 0) {
  console.error('usage: node --expose-gc bench/rss-probe.js PEER_ID COUNT');
  process.exit(2);
}
if (!peer.createIdle) {
  console.error(`${peer.id} has no idle sandbox: ${peer.idleNa}`);
  process.exit(2);
}
const gc = globalThis.gc;
if (!gc) {
  console.error('rss-probe needs --expose-gc');
  process.exit(2);
}

await peer.init();
// One sandbox first, so that code loaded and compiled on first use (and the
// host's own start-up allocations) are not charged to the COUNT below.
const warm = await peer.createIdle();

const settle = () => {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage();
};
const before = settle();
const held = [];
for (let i = 0; i < count; i++) held.push(await peer.createIdle());
const after = settle();
// `external` already includes ArrayBuffer contents (wasm memories, file data).
const heap = (/** @type {NodeJS.MemoryUsage} */ m) => m.heapUsed + m.external;
console.log(
  JSON.stringify({
    peer: peer.id,
    count: held.length,
    rssPerSandbox: (after.rss - before.rss) / count,
    heapPerSandbox: (heap(after) - heap(before)) / count,
    keep: warm ? 1 : 0,
  }),
);
