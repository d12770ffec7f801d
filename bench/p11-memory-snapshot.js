// P11 evidence: do QEMU memory snapshots (migrate to a file, restore with
// -incoming) work under TCG here? Not a timing case: `node
// bench/p11-memory-snapshot.js [--trials=3]` boots the qemu class's guest
// (runtime/microvm assets, built here; cached) on a job that prints a
// counter, saves it mid-run with HMP `stop` + `migrate "exec:cat > FILE"`,
// ends that VM, restores a new one from FILE (`-incoming`, then `cont`)
// and checks that the counter goes on from where it stopped and the exit
// code arrives. Prints one line per trial; exit status 1 if any failed.
// See docs/decisions.md ("QEMU memory snapshots…").

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const trials = Number(process.argv.find((a) => a.startsWith('--trials='))?.slice(9) ?? 3);
const assets = execFileSync('sh', [path.join(repo, 'runtime/microvm/build-assets.sh')], { encoding: 'utf8' }).trim().split('\n').at(-1);
const khz = Math.floor(Number(/cpu MHz\s*:\s*([0-9.]+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1]) * 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A tiny root (busybox) and a job printing 0..N-1, then exiting 5. */
function fixture(dir) {
  const root = path.join(dir, 'root');
  for (const d of ['bin', 'dev', 'proc', 'tmp', 'run']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  fs.symlinkSync('busybox', path.join(root, 'bin/sh'));
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', root, path.join(dir, 'rootfs.ext4'), '32M']);
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', path.join(dir, 'upper.ext4'), '32M']);
  const job = path.join(dir, 'job');
  fs.mkdirSync(job);
  fs.writeFileSync(path.join(job, 'config'), 'ACTION=run\nROOT_BYTES=33554432\nROOT_INODES=4096\nSTATE=0\n');
  fs.writeFileSync(path.join(job, 'argv0'), '/bin/sh\0-c\0i=0; while [ $i -lt 60 ]; do echo tick $i; i=$((i+1)); j=0; while [ $j -lt 3000 ]; do j=$((j+1)); done; done; exit 5\0');
  fs.writeFileSync(path.join(job, 'env0'), 'PATH=/bin\0');
  fs.writeFileSync(path.join(job, 'cwd'), '/');
  fs.writeFileSync(path.join(job, 'stdin'), '');
  fs.mkdirSync(path.join(job, 'identity'));
  execFileSync('tar', ['-cf', path.join(dir, 'job.tar'), '-C', job, '.']);
}

function qemuArgs(dir, n, extra) {
  const drive = (id, ro) => ['-drive', `id=${id},file=${path.join(dir, id === 'job' ? 'job.tar' : `${id}.ext4`)},format=raw,if=none${ro ? ',readonly=on' : ''}`, '-device', `virtio-blk-device,drive=${id},serial=${id}`];
  const port = (name) => ['-chardev', `file,id=${name},path=${path.join(dir, `${name}${n}.txt`)}`, '-device', `virtserialport,chardev=${name},name=${name}`];
  return ['-M', 'microvm', '-accel', 'tcg', '-m', '256', '-display', 'none', '-serial', `file:${path.join(dir, `console${n}.txt`)}`, '-no-reboot',
    '-kernel', path.join(assets, 'vmlinux'), '-initrd', path.join(assets, 'initrd.cpio.gz'), ...drive('rootfs', true), ...drive('upper', false), ...drive('job', true),
    '-device', 'virtio-serial-device,max_ports=4', ...port('stdout'), ...port('stderr'), ...port('control'), '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-monitor', `unix:${path.join(dir, `mon${n}.sock`)},server=on,wait=off`, '-append', `console=ttyS0 quiet panic=-1 tsc_early_khz=${khz} tsc=reliable strata.root=overlay`, ...extra];
}

/** Send HMP commands; resolve with everything the monitor said. */
async function hmp(sock, commands, until) {
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(50);
  const c = net.createConnection(sock);
  let out = '';
  c.on('data', (d) => (out += d));
  await new Promise((r) => c.once('connect', r));
  for (const cmd of commands) {
    c.write(`${cmd}\n`);
    await sleep(200);
  }
  for (let i = 0; until && i < 300 && !until(out); i++) {
    c.write('info migrate\n');
    await sleep(100);
  }
  c.end();
  return out;
}

const exited = (child) => new Promise((r) => child.on('close', (code) => r(code)));
let failed = 0;
for (let t = 1; t <= trials; t++) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-memsnap-'));
  try {
    fixture(dir);
    const a = spawn('timeout', ['-s', 'KILL', '120', 'qemu-system-x86_64', ...qemuArgs(dir, 1, [])], { stdio: ['ignore', 'ignore', 'inherit'] });
    const aExit = exited(a);
    const out1 = path.join(dir, 'stdout1.txt');
    for (let i = 0; i < 1200 && !/tick 3\n/.test(fs.existsSync(out1) ? fs.readFileSync(out1, 'utf8') : ''); i++) await sleep(100);
    const t0 = performance.now();
    const said = await hmp(path.join(dir, 'mon1.sock'), ['stop', `migrate "exec:cat > ${path.join(dir, 'mem.bin')}"`], (o) => /Migration status: (completed|failed)/.test(o));
    const saveMs = performance.now() - t0;
    const lastBefore = fs.readFileSync(out1, 'utf8').trim().split('\n').at(-1);
    await hmp(path.join(dir, 'mon1.sock'), ['quit']);
    await aExit;
    const t1 = performance.now();
    const b = spawn('timeout', ['-s', 'KILL', '180', 'qemu-system-x86_64', ...qemuArgs(dir, 2, ['-incoming', `exec:cat ${path.join(dir, 'mem.bin')}`])], { stdio: ['ignore', 'ignore', 'inherit'] });
    const bExit = exited(b);
    await hmp(path.join(dir, 'mon2.sock'), [], (o) => /Migration status: completed/.test(o));
    await hmp(path.join(dir, 'mon2.sock'), ['cont']);
    const resumeMs = performance.now() - t1;
    const code = await bExit;
    const out2 = fs.readFileSync(path.join(dir, 'stdout2.txt'), 'utf8').trim().split('\n');
    const control = fs.readFileSync(path.join(dir, 'control2.txt'), 'utf8');
    const next = Number(/tick (\d+)/.exec(lastBefore ?? '')?.[1]) + 1;
    const ok = /completed/.test(said) && out2[0] === `tick ${next}` && out2.at(-1) === 'tick 59' && /exit 5/.test(control) && code === 11;
    if (!ok) failed++;
    console.log(`trial ${t}: ${ok ? 'ok' : 'FAILED'}; save ${saveMs.toFixed(0)} ms (${(fs.statSync(path.join(dir, 'mem.bin')).size / 2 ** 20).toFixed(0)} MiB), restore→running ${resumeMs.toFixed(0)} ms; saved at '${lastBefore}', resumed at '${out2[0]}', ended at '${out2.at(-1)}', control '${control.trim()}', qemu status ${code}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
process.exitCode = failed > 0 ? 1 : 0;
