// `npm run bench:flood [-- --seconds N]`: dnsperf floods lbdns from one /24 while a second client measures normal queries.
import './lib/current-build.js';
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startChild } from '../test/helpers/server.js';
import { buildQuery } from '../test/helpers/wire.js';
import { ensureDnsperf } from './lib/dnsperf.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, rrl: { type: 'string' } } });
const seconds = Math.min(120, Number(values.seconds));

await ensureDnsperf();
const server = await startChild({ DATABASE_URL: process.env.DATABASE_URL, LBDNS_RRL_RATE: values.rrl, LBDNS_LOG_LEVEL: 'info' });
const dir = mkdtempSync(join(tmpdir(), 'lbdns-flood-'));
const queries = join(dir, 'queries.txt');
writeFileSync(queries, ['www.example.test A', 'missing.example.test A', 'example.test MX', 'web.example.test A'].join('\n') + '\n');

/** The well-behaved client: one query every 50 ms from another network, each timed. */
async function normalClient(durationMs: number): Promise<{ sent: number; answered: number; latencies: number[] }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.1.1', r));
  const pending = new Map<number, number>();
  const latencies: number[] = [];
  sock.on('message', (m) => {
    const t = pending.get(m.readUInt16BE(0));
    if (t !== undefined) {
      latencies.push(performance.now() - t);
      pending.delete(m.readUInt16BE(0));
    }
  });
  let sent = 0;
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    const id = sent & 0xffff;
    pending.set(id, performance.now());
    sock.send(buildQuery({ id, name: 'www.example.test' }), server.dnsPort, '127.0.0.1');
    sent++;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1000));
  sock.close();
  return { sent, answered: latencies.length, latencies };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

try {
  const baseline = await normalClient(2000);
  const [flood, during] = await Promise.all([
    run('dnsperf', ['-s', '127.0.0.1', '-p', String(server.dnsPort), '-a', '127.0.0.1', '-d', queries, '-l', String(seconds), '-c', '8', '-q', '5000', '-t', '0.2'], { maxBuffer: 256 << 20 }),
    normalClient(seconds * 1000),
  ]);
  // dnsperf prints one line per timed-out query; only its summary matters here.
  const out = flood.stdout.split('\n').filter((l) => !l.startsWith('[Timeout]')).join('\n');
  const field = (re: RegExp) => (re.exec(out) ?? [])[1] ?? '?';
  const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  const metric = (re: RegExp) => Number((re.exec(metrics) ?? [])[1] ?? 0);
  console.log(`flood (dnsperf from 127.0.0.1, ${seconds} s, RRL ${values.rrl ?? 'default'} responses/s per /24 and kind)`);
  console.log(`  queries sent        ${field(/Queries sent:\s+(\d+)/)}`);
  console.log(`  queries answered    ${field(/Queries completed:\s+(\d+)/)} (${field(/Queries lost:\s+\d+ \(([\d.]+%)\)/)} lost: limited or dropped)`);
  console.log(`  sent per second     ${Math.round(Number(field(/Queries sent:\s+(\d+)/)) / seconds)}`);
  console.log(`  RRL dropped         ${metric(/lbdns_rrl_limited_total\{action="drop"\} (\d+)/)}`);
  console.log(`  RRL slipped (TC)    ${metric(/lbdns_rrl_limited_total\{action="slip"\} (\d+)/)}`);
  for (const [label, r] of [['normal client, idle server', baseline], ['normal client during flood', during]] as const) {
    console.log(`${label} (127.0.1.1, 20 queries/s)`);
    console.log(`  answered            ${r.answered}/${r.sent}`);
    console.log(`  latency ms          p50 ${pct(r.latencies, 50).toFixed(3)}  p99 ${pct(r.latencies, 99).toFixed(3)}  max ${Math.max(...r.latencies).toFixed(3)}`);
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(server.env.LBDNS_DATA_DIR, { recursive: true, force: true });
}
