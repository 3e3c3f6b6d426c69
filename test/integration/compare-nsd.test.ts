// The same zone served by lbdns and by NSD (from `lbdns zone export`) must give the same answers.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { dig, type DigRecord } from '../helpers/dig.js';
import { ROOT, startInProcess, type TestServer } from '../helpers/server.js';
import { nsdConf } from '../helpers/nsd-conf.js';

const run = promisify(execFile);
const NSD = '/usr/sbin/nsd';
const haveNsd = existsSync(NSD);
if (!haveNsd && process.env.CI) throw new Error('nsd is missing: .ci/run installs it');

let db: TestDatabase;
let server: TestServer;
let nsd: ChildProcess | undefined;
let nsdPort = 0;
let dir = '';

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  if (!haveNsd) return;
  db = await createTestDatabase();
  server = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir });
  dir = mkdtempSync(join(tmpdir(), 'lbdns-nsd-'));
  await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'zone', 'export', 'example.test', '--out', join(dir, 'example.test.zone')], {
    env: { ...process.env, DATABASE_URL: db.url ?? '', LBDNS_DATA_DIR: db.dataDir },
  });
  nsdPort = await freePort();
  const conf = join(dir, 'nsd.conf');
  writeFileSync(conf, nsdConf({ dir, port: nsdPort, zones: ['example.test'] }));

  nsd = spawn(NSD, ['-d', '-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const r = await dig('127.0.0.1', nsdPort, ['example.test', 'SOA'], { timeoutSec: 1 }).catch(() => undefined);
    if (r?.status === 'NOERROR') break;
    await new Promise((res) => setTimeout(res, 100));
  }
}, 60_000);

afterAll(async () => {
  if (nsd?.pid && nsd.exitCode === null) {
    const exited = new Promise((r) => nsd!.once('exit', r));
    process.kill(nsd.pid, 'SIGTERM');
    await exited;
  }
  await server?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const questions: [string, string][] = [
  ['example.test', 'SOA'],
  ['example.test', 'NS'],
  ['example.test', 'MX'],
  ['example.test', 'TXT'],
  ['example.test', 'CAA'],
  ['www.example.test', 'A'],
  ['www.example.test', 'AAAA'],
  ['www.example.test', 'MX'],
  ['web.example.test', 'A'],
  ['alias.example.test', 'A'],
  ['missing.example.test', 'A'],
  ['x.y.missing.example.test', 'TXT'],
  ['anything.wild.example.test', 'A'],
  ['anything.wild.example.test', 'TXT'],
  ['anything.wild.example.test', 'MX'],
  ['b.deep.example.test', 'A'],
  ['a.b.deep.example.test', 'A'],
  ['x.a.b.deep.example.test', 'A'],
  ['sub.example.test', 'NS'],
  ['host.sub.example.test', 'A'],
  ['_sip._udp.example.test', 'SRV'],
  ['big.example.test', 'A'],
];

const norm = (rs: DigRecord[]) => rs.map((r) => `${r.name.toLowerCase()} ${r.ttl} ${r.class} ${r.type} ${r.data.toLowerCase()}`).sort();

describe.skipIf(!haveNsd)('lbdns and NSD agree', () => {
  it.each(questions)('%s %s', async (name, type) => {
    const [ours, theirs] = await Promise.all([
      dig('127.0.0.1', server.dnsPort, [name, type, '+norec', '+tcp']),
      dig('127.0.0.1', nsdPort, [name, type, '+norec', '+tcp']),
    ]);
    expect(ours.status).toBe(theirs.status);
    expect(ours.flags.includes('aa')).toBe(theirs.flags.includes('aa'));
    expect(norm(ours.answer)).toEqual(norm(theirs.answer));
    expect(norm(ours.authority)).toEqual(norm(theirs.authority));
    // Additional data is optional (RFC 1034 §4.3.2) and NSD here sends minimal responses: each address
    // we add must be what NSD itself answers for that name.
    for (const rr of ours.additional) {
      const direct = await dig('127.0.0.1', nsdPort, [rr.name, rr.type, '+norec', '+tcp']);
      const fromNsd = norm(direct.answer.length ? direct.answer : direct.additional.filter((a) => a.name === rr.name && a.type === rr.type));
      expect(fromNsd).toContain(norm([rr])[0]);
    }
  });
});
