// A zone with one record of every type lbdns knows, unknown types (RFC 3597) and DNAMEs (RFC 6672): imported with the
// CLI, exported, checked by named-checkzone, read back unchanged, and answered byte for byte as NSD answers the file.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseZoneFile } from '../../src/zonefile/parse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { dig, type DigRecord } from '../helpers/dig.js';
import { nsdConf } from '../helpers/nsd-conf.js';
import { onPath, underCi } from '../helpers/prerequisite.js';
import { ROOT, startInProcess, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const NSD = '/usr/sbin/nsd';
const ZONE = 'every-type.test';
const FIXTURE = join(ROOT, 'test/fixtures/every-type.test.zone');
const missing = !existsSync(NSD) ? 'nsd is not installed' : onPath('named-checkzone') === undefined ? 'named-checkzone is not installed' : undefined;
if (missing !== undefined && underCi()) throw new Error(`${missing}, and CI must run this test (.ci/run installs it)`);

let db: TestDatabase;
let server: TestServer;
let nsd: ChildProcess | undefined;
let nsdPort = 0;
let dir = '';
let exported = '';

const cli = (args: string[]) =>
  run(process.execPath, [join(ROOT, 'bin/lbdns.js'), ...args], {
    env: { ...process.env, DATABASE_URL: db.url ?? '', LBDNS_DATA_DIR: db.dataDir, LBDNS_LOG_LEVEL: 'silent' },
  });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  if (missing !== undefined) return;
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'lbdns-every-type-'));
  await cli(['zone', 'import', FIXTURE]);
  await cli(['zone', 'export', ZONE, '--out', join(dir, 'exported.zone')]);
  exported = readFileSync(join(dir, 'exported.zone'), 'utf8');
  server = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir });
  // NSD serves the fixture itself, as an operator's other servers would.
  writeFileSync(join(dir, `${ZONE}.zone`), readFileSync(FIXTURE));
  nsdPort = await freePort();
  const conf = join(dir, 'nsd.conf');
  writeFileSync(conf, nsdConf({ dir, port: nsdPort, zones: [ZONE] }));
  nsd = spawn(NSD, ['-d', '-c', conf], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const r = await dig('127.0.0.1', nsdPort, [ZONE, 'SOA'], { timeoutSec: 1 }).catch(() => undefined);
    if (r?.status === 'NOERROR') break;
    await new Promise((res) => setTimeout(res, 100));
  }
}, 120_000);

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
  ['every-type.test', 'SOA'],
  ['every-type.test', 'CAA'],
  ['every-type.test', 'DNSKEY'],
  ['every-type.test', 'CDS'],
  ['every-type.test', 'CDNSKEY'],
  ['every-type.test', 'HTTPS'],
  ['alias-https.every-type.test', 'HTTPS'],
  ['svc.every-type.test', 'SVCB'],
  ['svc2.every-type.test', 'SVCB'],
  ['hinfo.every-type.test', 'HINFO'],
  ['rp.every-type.test', 'RP'],
  ['loc.every-type.test', 'LOC'],
  ['loc2.every-type.test', 'LOC'],
  ['naptr.every-type.test', 'NAPTR'],
  ['naptr2.every-type.test', 'NAPTR'],
  ['cert.every-type.test', 'CERT'],
  ['sshfp.every-type.test', 'SSHFP'],
  ['sub.every-type.test', 'DS'],
  ['_443._tcp.www.every-type.test', 'TLSA'],
  ['smimea.every-type.test', 'SMIMEA'],
  ['openpgpkey.every-type.test', 'OPENPGPKEY'],
  ['_ftp._tcp.every-type.test', 'URI'],
  ['txt.every-type.test', 'TXT'],
  ['unknown.every-type.test', 'TYPE65280'],
  ['empty.every-type.test', 'TYPE65281'],
  ['generic-a.every-type.test', 'A'],
  ['unknown.every-type.test', 'A'],
  ['dname.every-type.test', 'DNAME'],
  ['dname.every-type.test', 'A'],
  ['x.dname.every-type.test', 'A'],
  ['a.b.dname.every-type.test', 'AAAA'],
  ['x.inzone.every-type.test', 'A'],
  ['x.inzone.every-type.test', 'CNAME'],
  ['x.inzone.every-type.test', 'DNAME'],
  ['nothing.inzone.every-type.test', 'A'],
  ['www.outside.every-type.test', 'A'],
  ['a.long.every-type.test', 'A'],
  ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.long.every-type.test', 'A'],
];

const norm = (rs: DigRecord[]) => rs.map((r) => `${r.name.toLowerCase()} ${r.ttl} ${r.class} ${r.type} ${r.data.toLowerCase()}`).sort();
const same = (file: string) =>
  parseZoneFile(file, { file: 'zone' })
    .records.map((r) => `${r.name} ${r.ttl} ${r.type} ${r.content}`)
    .sort();

describe.skipIf(missing !== undefined)(`every record type (${missing ?? 'nsd and named-checkzone present'})`, () => {
  it('exports a file named-checkzone accepts and that reads back as the same records', async () => {
    const { stdout } = await run('named-checkzone', ['-k', 'fail', ZONE, join(dir, 'exported.zone')]);
    expect(stdout).toMatch(/OK/);
    expect(same(exported)).toEqual(same(readFileSync(FIXTURE, 'utf8')));
    expect(exported).toMatch(/^unknown\.every-type\.test\.\s+IN TYPE65280 \\# 4 c0000247$/m);
    expect(exported).toMatch(/^generic-a\.every-type\.test\.\s+IN A 192\.0\.2\.2$/m);
  });

  // In a zone of its own, so that the serial of the zone compared with NSD stays the file's.
  it('record add takes the new types and RFC 3597 text, and the server answers them', async () => {
    await cli(['zone', 'add', 'cli-types.test']);
    const added = await cli(['record', 'add', 'cli.cli-types.test', 'HTTPS', '1', '.', 'alpn="h2,h3"', 'port=8443']);
    expect(added.stdout).toMatch(/^added cli\.cli-types\.test HTTPS 1 \. alpn=h2,h3 port=8443 /);
    const generic = await cli(['record', 'add', 'cli.cli-types.test', 'type65282', '\\#', '2', 'ABCD']);
    expect(generic.stdout).toMatch(/^added cli\.cli-types\.test TYPE65282 \\# 2 abcd /);
    let answer: DigRecord[] = [];
    for (let i = 0; i < 50 && answer.length === 0; i++) {
      answer = (await dig('127.0.0.1', server.dnsPort, ['cli.cli-types.test', 'TYPE65282', '+norec'])).answer;
      if (answer.length === 0) await new Promise((res) => setTimeout(res, 100));
    }
    expect(answer.map((r) => r.data)).toEqual(['\\# 2 ABCD']);
    const https = await dig('127.0.0.1', server.dnsPort, ['cli.cli-types.test', 'HTTPS', '+norec']);
    expect(https.answer.map((r) => r.data)).toEqual(['1 . alpn="h2,h3" port=8443']);
  });

  it('synthesises a CNAME from a DNAME with its TTL, chases it, and answers YXDOMAIN when the result is too long', async () => {
    const chased = await dig('127.0.0.1', server.dnsPort, ['x.inzone.every-type.test', 'A', '+norec']);
    expect(chased.status).toBe('NOERROR');
    expect(norm(chased.answer)).toEqual([
      'inzone.every-type.test. 3600 IN DNAME target.every-type.test.',
      'x.inzone.every-type.test. 3600 IN CNAME x.target.every-type.test.',
      'x.target.every-type.test. 3600 IN A 192.0.2.11',
    ]);
    const long = await dig('127.0.0.1', server.dnsPort, ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.long.every-type.test', 'A', '+norec']);
    expect(long.status).toBe('YXDOMAIN');
    expect(long.answer.map((r) => r.type)).toEqual(['DNAME']);
  });

  // +unknownformat prints every RDATA as RFC 3597 hex: the comparison is of the octets on the wire.
  it.each(questions)('%s %s answers as NSD does', async (name, type) => {
    const args = [name, type, '+norec', '+tcp', '+unknownformat'];
    const [ours, theirs] = await Promise.all([dig('127.0.0.1', server.dnsPort, args), dig('127.0.0.1', nsdPort, args)]);
    expect(ours.status).toBe(theirs.status);
    expect(ours.flags.includes('aa')).toBe(theirs.flags.includes('aa'));
    expect(norm(ours.answer)).toEqual(norm(theirs.answer));
    expect(norm(ours.authority)).toEqual(norm(theirs.authority));
  });
});
