// `npm run fuzz -- --count N [--seed S] [--rate PPS]`: hostile packets at a running lbdns, replies checked, memory watched.
import './lib/current-build.js';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { replyProblem } from '../test/fuzz/check.js';
import { hostilePacket, prng } from '../test/fuzz/mutate.js';
import { buildQuery, decodeReply } from '../test/helpers/wire.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({ options: { count: { type: 'string', default: '100000' }, seed: { type: 'string', default: '1' }, rate: { type: 'string', default: '20000' } } });
const count = Number(values.count);
const rate = Number(values.rate);
const rand = prng(Number(values.seed));

const dataDir = mkdtempSync(join(tmpdir(), 'lbdns-fuzz-'));
const child = spawn(process.execPath, [join(ROOT, 'bin/lbdns.js'), 'serve'], {
  env: { ...process.env, LBDNS_LISTEN: '127.0.0.1:0', LBDNS_HTTP_LISTEN: '127.0.0.1:0', LBDNS_EMBEDDED_PG_LISTEN: '127.0.0.1:0', LBDNS_DATA_DIR: dataDir, LBDNS_RRL_RATE: '0', LBDNS_LOG_LEVEL: 'info' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let crashed = false;
child.on('exit', (code, signal) => {
  if (!stopping) {
    crashed = true;
    console.error(`lbdns exited during the run: code ${code} signal ${signal}`);
  }
});
let stopping = false;

const port: number = await new Promise((res, rej) => {
  let buf = '';
  const timer = setTimeout(() => rej(new Error('lbdns did not start')), 60_000);
  let found = false;
  child.stdout!.on('data', (d) => {
    if (found) return;
    buf += d;
    const line = buf.split('\n').find((l) => l.includes('"msg":"dns listening"'));
    const m = line && /"port":(\d+)/.exec(line);
    if (m) {
      found = true;
      clearTimeout(timer);
      res(Number(m[1]));
    }
  });
});

function rssMb(): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

const sock = dgram.createSocket('udp4');
await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
const sent = new Map<number, Buffer>();
const problems: string[] = [];
const rcodes = new Map<number, number>();
let replies = 0;
sock.on('message', (m) => {
  replies++;
  if (m.length < 12) return;
  const q = sent.get(m.readUInt16BE(0));
  if (!q) return;
  rcodes.set(m[3] & 15, (rcodes.get(m[3] & 15) ?? 0) + 1);
  const p = replyProblem(q, m);
  if (p && problems.length < 20) problems.push(`${p}: ${q.toString('hex')}`);
});

const rss: number[] = [rssMb()];
const t0 = performance.now();
for (let i = 0; i < count && !crashed; i++) {
  const { packet } = hostilePacket(rand);
  if (packet.length >= 2) {
    packet.writeUInt16BE(i & 0xffff, 0);
    sent.set(i & 0xffff, packet);
  }
  sock.send(packet, port, '127.0.0.1');
  // Hold the rate: a bounded load, so the kernel does not simply drop what we send.
  if (i % 50 === 49) {
    const due = t0 + ((i + 1) / rate) * 1000;
    const wait = due - performance.now();
    await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
  }
  if (i % Math.max(1, Math.floor(count / 10)) === 0 && i > 0) rss.push(rssMb());
}
await new Promise((r) => setTimeout(r, 500));
rss.push(rssMb());

// After all of it, an ordinary query must get the ordinary answer.
const check = buildQuery({ id: 4242, name: 'www.example.test' });
const normal = await new Promise<string>((res) => {
  const s = dgram.createSocket('udp4');
  const timer = setTimeout(() => res('no answer'), 2000);
  s.on('message', (m) => {
    clearTimeout(timer);
    const r = decodeReply(m);
    s.close();
    res(r.rcode === 0 && r.answers.length > 0 ? 'ok' : `rcode ${r.rcode}`);
  });
  s.send(check, port, '127.0.0.1');
});
sock.close();
stopping = true;
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });

const seconds = (performance.now() - t0) / 1000;
console.log(`packets sent        ${count} in ${seconds.toFixed(1)} s (${Math.round(count / seconds)}/s)`);
console.log(`replies             ${replies} (${[...rcodes].sort().map(([k, v]) => `rcode ${k}: ${v}`).join(', ')})`);
console.log(`malformed replies   ${problems.length}`);
console.log(`RSS MB              ${rss.map((r) => r.toFixed(0)).join(' → ')}`);
console.log(`normal query after  ${normal}`);
for (const p of problems) console.log(`  ${p}`);
const ok = !crashed && problems.length === 0 && normal === 'ok';
console.log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
