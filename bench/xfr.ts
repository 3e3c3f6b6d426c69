// `npm run bench:xfr [-- --records N --runs N]`: AXFR of a 100,000-record zone from lbdns beside NSD serving the same file, and an IXFR of one change.
//
// A throwaway PostgreSQL database gets one zone of N A records (plus a pool); lbdns (bin/lbdns.js, one process) and
// NSD (from `lbdns zone export` of the same zone, provide-xfr to loopback) both serve it. A small TCP client here
// asks AXFR and times from the query to the last message (the second SOA), so neither dig's printing nor its
// parsing is measured; then an unsigned and a TSIG-signed AXFR from lbdns, and IXFRs of one added record each from
// lbdns's journal. Medians of --runs; targets from issue 14: AXFR <= 2 s, IXFR of one change <= 50 ms.
import './lib/current-build.js';
import { execFileSync, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { nsdConf } from '../test/helpers/nsd-conf.js';
import { buildQuery } from '../test/helpers/wire.js';
import { cleanup, cleanupOnSignals, onCleanup } from './lib/cleanup.js';
import { createDatabase } from './lib/dataset.js';
import { ask, lightLoad } from './lib/dns-client.js';
import { freePort, ROOT, startLbdns } from './lib/lbdns-server.js';
import { nsdPath } from './lib/nsd.js';
import { endTree, procId } from './lib/proc.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '100000' }, runs: { type: 'string', default: '5' } } });
const RECORDS = Number(values.records);
const RUNS = Number(values.runs);
const ZONE = 'xfr.test';
const AXFR_TARGET_S = 2;
const IXFR_TARGET_MS = 50;

function log(text: string): void {
  console.error(`bench:xfr: ${text}`);
}

function nameWire(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
}

/** An AXFR or IXFR query; IXFR carries the client's SOA (RFC 1995 §3); `key` signs it (RFC 8945). */
function xfrQuery(qtype: 252 | 251, clientSerial?: number, key?: { name: string; secret: string }): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0x4242, 0);
  head.writeUInt16BE(1, 4);
  const q = Buffer.concat([nameWire(ZONE), Buffer.from([0, qtype, 0, 1])]);
  let auth = Buffer.alloc(0);
  if (qtype === 251) {
    head.writeUInt16BE(1, 8);
    const rdata = Buffer.concat([Buffer.from([0]), Buffer.from([0]), Buffer.alloc(20)]);
    rdata.writeUInt32BE(clientSerial ?? 0, 2);
    auth = Buffer.concat([Buffer.from([0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 0, 0, rdata.length]), rdata]);
  }
  let msg = Buffer.concat([head, q, auth]);
  if (key) {
    const now = Math.floor(Date.now() / 1000);
    const time = Buffer.alloc(6);
    time.writeUIntBE(now, 0, 6);
    const alg = nameWire('hmac-sha256');
    const vars = Buffer.concat([nameWire(key.name), Buffer.from([0, 255, 0, 0, 0, 0]), alg, time, Buffer.from([1, 44, 0, 0, 0, 0])]);
    const mac = createHmac('sha256', Buffer.from(key.secret, 'base64')).update(msg).update(vars).digest();
    const rdata = Buffer.concat([alg, time, Buffer.from([1, 44, 0, 32]), mac, Buffer.from([0x42, 0x42, 0, 0, 0, 0])]);
    const rr = Buffer.concat([nameWire(key.name), Buffer.from([0, 250, 0, 255, 0, 0, 0, 0, rdata.length >> 8, rdata.length & 255]), rdata]);
    msg = Buffer.concat([msg, rr]);
    msg.writeUInt16BE(1, 10);
  }
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

/** Sends the query on a new TCP connection; resolves when the answer's final SOA arrived: ms, messages, records. */
function transfer(port: number, query: Buffer): Promise<{ ms: number; messages: number; records: number; rcode: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const sock = net.connect(port, '127.0.0.1', () => sock.write(query));
    let buf = Buffer.alloc(0);
    let messages = 0;
    let records = 0;
    let soas = 0;
    let firstSerial = -1;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('transfer took over 60 s'));
    }, 60_000);
    const done = (rcode: number): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ms: performance.now() - t0, messages, records, rcode });
    };
    sock.on('error', reject);
    sock.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + m.length);
        messages++;
        const rcode = m[3] & 0xf;
        if (rcode !== 0) return done(rcode);
        const an = m.readUInt16BE(6);
        records += an;
        // Count SOAs by walking the answer section: the transfer ends at the SOA that repeats the first one's serial.
        let o = 12;
        for (let i = m.readUInt16BE(4); i > 0; i--) o = skipName(m, o) + 4;
        for (let i = 0; i < an; i++) {
          o = skipName(m, o);
          const type = m.readUInt16BE(o);
          const rdlen = m.readUInt16BE(o + 8);
          if (type === 6) {
            const serial = m.readUInt32BE(o + 10 + rdlen - 20);
            soas++;
            if (firstSerial === -1) firstSerial = serial;
            // AXFR ends at its second SOA; IXFR (first SOA, then an old and a new SOA per step) at the SOA that
            // repeats the first after an even count.
            else if (serial === firstSerial && soas % 2 === 0) return done(0);
          }
          o += 10 + rdlen;
        }
        // The one-SOA answer of an IXFR from a client already up to date.
        if (soas === 1 && records === 1) return done(0);
      }
    });
  });
}

function skipName(m: Buffer, o: number): number {
  while (m[o] !== 0) {
    if ((m[o] & 0xc0) === 0xc0) return o + 2;
    o += m[o] + 1;
  }
  return o + 1;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  cleanupOnSignals();
  const load = loadavg()[0];
  if (load >= 2) log(`load average ${load.toFixed(2)} >= 2: figures will be noisy`);
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });
  const url = await createDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'lbdns-bench-xfr-'));
  onCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const secret = randomBytes(32).toString('base64');
  const db = new pg.Client({ connectionString: url });
  // The schema first: the server migrates on start, but the data must be there before its first load.
  execFileSync(process.execPath, [join(ROOT, 'bin/lbdns.js'), 'migrate'], { env: { ...process.env, DATABASE_URL: url, LBDNS_LOG_LEVEL: 'silent' }, stdio: 'ignore' });
  await db.connect();
  log(`filling ${RECORDS} records`);
  const t0 = performance.now();
  await db.query(`insert into zones (name, allow_transfer) values ('${ZONE}', '{127.0.0.0/8}')`);
  await db.query(
    `insert into records (zone_id, name, type, ttl, content)
     select z.id, 'host' || i || '.${ZONE}', 'A', 300, '10.' || (i >> 16) % 256 || '.' || (i >> 8) % 256 || '.' || i % 256
       from zones z, generate_series(0, ${RECORDS - 2}) i where z.name = '${ZONE}'`,
  );
  await db.query(`insert into records (zone_id, name, type, content) select id, '${ZONE}', 'NS', 'ns1.${ZONE}' from zones where name = '${ZONE}'`);
  await db.query(`insert into tsig_keys (name, secret) values ('bench-key', '${secret}')`);
  await db.query(`update zones set transfer_keys = '{bench-key}' where name = '${ZONE}'`);
  log(`filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const lbdns = await startLbdns({ databaseUrl: url, dataDir: join(dir, 'lbdns'), cpus: undefined, workers: '1', readyTimeoutMs: 120_000 });
  if (!lbdns.ready) throw new Error('lbdns did not get ready');
  const nsdDir = join(dir, 'nsd');
  mkdirSync(nsdDir);
  execFileSync(process.execPath, [join(ROOT, 'bin/lbdns.js'), 'zone', 'export', ZONE, '--out', join(nsdDir, `${ZONE}.zone`)], { env: { ...process.env, DATABASE_URL: url, LBDNS_LOG_LEVEL: 'silent' } });
  const nsdPort = await freePort();
  writeFileSync(
    join(nsdDir, 'nsd.conf'),
    nsdConf({ dir: nsdDir, port: nsdPort, zones: [], serverExtra: '  rrl-ratelimit: 0\n' }) + `zone:\n  name: ${ZONE}\n  zonefile: ${ZONE}.zone\n  provide-xfr: 127.0.0.0/8 NOKEY\n`,
  );
  const nsdChild = spawn(await nsdPath(), ['-d', '-c', join(nsdDir, 'nsd.conf')], { stdio: 'ignore' });
  const nsdId = await new Promise<NonNullable<ReturnType<typeof procId>>>((res, rej) => nsdChild.once('spawn', () => (procId(nsdChild.pid!) ? res(procId(nsdChild.pid!)!) : rej(new Error('nsd ended at once')))));
  onCleanup(`nsd (pid ${nsdId.pid})`, () => endTree(nsdId, [nsdId]));
  for (let i = 0; i < 300; i++) {
    const r = await ask(nsdPort, buildQuery({ name: ZONE, qtype: 6 }), 300);
    if (r?.rcode === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  const rows: { what: string; ms: number; messages: number; records: number; target?: number }[] = [];
  const measure = async (what: string, port: number, query: () => Buffer, target?: number) => {
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await transfer(port, query()));
    if (runs.some((r) => r.rcode !== 0)) throw new Error(`${what}: rcode ${runs.find((r) => r.rcode !== 0)!.rcode}`);
    rows.push({ what, ms: median(runs.map((r) => r.ms)), messages: runs[0].messages, records: runs[0].records, target });
  };
  await transfer(lbdns.dnsPort, xfrQuery(252)); // warm-up: the first transfer pays for JIT compilation
  await measure('lbdns AXFR', lbdns.dnsPort, () => xfrQuery(252), AXFR_TARGET_S * 1000);
  await measure('lbdns AXFR, TSIG hmac-sha256', lbdns.dnsPort, () => xfrQuery(252, undefined, { name: 'bench-key', secret }), AXFR_TARGET_S * 1000);
  await measure('nsd AXFR', nsdPort, () => xfrQuery(252));

  // UDP answers while transfers stream (issue 14: transfers never block them): 500 queries/s for 3 s, first with
  // no transfer, then with AXFRs back to back. The times include this client's own event loop, which also reads
  // the transfer, so they are an upper bound.
  const soaQuery = [buildQuery({ name: ZONE, qtype: 6 })];
  const quiet = await lightLoad(lbdns.dnsPort, soaQuery, 500, 3);
  let streaming = true;
  const busy = (async () => {
    let n = 0;
    while (streaming) {
      await transfer(lbdns.dnsPort, xfrQuery(252));
      n++;
    }
    return n;
  })();
  const during = await lightLoad(lbdns.dnsPort, soaQuery, 500, 3);
  streaming = false;
  const transfersDuring = await busy;

  // IXFR of one change: each run adds one record, waits until lbdns serves the new serial, asks from the one before.
  const ixfr: number[] = [];
  let ixfrRecords = 0;
  for (let i = 0; i < RUNS; i++) {
    const before = Number((await db.query(`select serial from zones where name = '${ZONE}'`)).rows[0].serial);
    await db.query(`insert into records (zone_id, name, type, content) select id, 'added${i}.${ZONE}', 'A', '192.0.2.${i + 1}' from zones where name = '${ZONE}'`);
    const after = Number((await db.query(`select serial from zones where name = '${ZONE}'`)).rows[0].serial);
    for (let k = 0; k < 400; k++) {
      const r = await ask(lbdns.dnsPort, buildQuery({ name: ZONE, qtype: 6 }), 300);
      if ((r?.answers[0] as { serial?: number } | undefined)?.serial === after) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const r = await transfer(lbdns.dnsPort, xfrQuery(251, before));
    ixfr.push(r.ms);
    ixfrRecords = r.records;
  }
  rows.push({ what: 'lbdns IXFR of one change', ms: median(ixfr), messages: 1, records: ixfrRecords, target: IXFR_TARGET_MS });
  await db.end();
  await lbdns.stop();

  console.log(`zone ${ZONE}: ${RECORDS} records; median of ${RUNS} runs; load average ${load.toFixed(2)} at start`);
  console.log(`${'transfer'.padEnd(32)}${'ms'.padStart(10)}${'messages'.padStart(10)}${'records'.padStart(10)}  target`);
  for (const r of rows) {
    const verdict = r.target === undefined ? '' : `<= ${r.target} ms: ${r.ms <= r.target ? 'met' : 'MISSED'}`;
    console.log(`${r.what.padEnd(32)}${r.ms.toFixed(1).padStart(10)}${String(r.messages).padStart(10)}${String(r.records).padStart(10)}  ${verdict}`);
  }
  console.log(
    `UDP SOA queries at 500/s: quiet p99 ${quiet.p99Ms.toFixed(2)} ms, max ${quiet.maxMs.toFixed(2)} ms, ${quiet.sent - quiet.answered} lost; ` +
      `during ${transfersDuring} back-to-back AXFRs p99 ${during.p99Ms.toFixed(2)} ms, max ${during.maxMs.toFixed(2)} ms, ${during.sent - during.answered} lost`,
  );
  if (ixfrRecords > 10) console.log(`(IXFR answered with ${ixfrRecords} records: the journal did not reach, the whole zone went)`);
}

main()
  .catch((err) => {
    console.error(`bench:xfr: ${(err as Error).stack ?? err}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
