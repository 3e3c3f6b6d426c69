// RFC 2136 updates end to end: the real nsupdate signs with TSIG, the real dig watches the answers, PostgreSQL holds the rows (one server, then one with DNS workers).
import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { onPath, underCi } from '../helpers/prerequisite.js';
import { startChild, startInProcess, type ChildServer, type TestServer } from '../helpers/server.js';

const havePg = await pgAvailable();
const missing =
  onPath('nsupdate') === undefined ? 'nsupdate is not installed (apt-get install bind9-dnsutils)'
  : onPath('dig') === undefined ? 'dig is not installed'
  : !havePg ? 'PostgreSQL does not answer on 127.0.0.1:5432'
  : undefined;
if (missing && underCi()) throw new Error(`${missing}, and CI must run this test (.ci/run installs its prerequisites)`);

const ZONE = 'example.test';
const CHALLENGE = `_acme-challenge.www.${ZONE}`;

interface Key {
  readonly name: string;
  readonly secret: string;
}

async function lbdns(db: TestDatabase, args: string[]): Promise<string> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env: { ...process.env, DATABASE_URL: db.url ?? '', LBDNS_DATA_DIR: db.dataDir }, stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  if (code !== 0) throw new Error(`lbdns ${args.join(' ')}: ${err.join('\n')}`);
  return out.join('\n');
}

async function newKey(db: TestDatabase, name: string): Promise<Key> {
  return { name, secret: /secret "([^"]+)"/.exec(await lbdns(db, ['tsig', 'add', name]))![1] };
}

/** Runs nsupdate with `lines` (then `send`) against the server; its exit status and everything it printed. */
function nsupdate(port: number, lines: string[], opts: { key?: Key; tcp?: boolean; zone?: boolean } = {}): Promise<{ code: number | null; out: string }> {
  const args = ['-t', '5', ...(opts.tcp ? ['-v'] : []), ...(opts.key ? ['-y', `hmac-sha256:${opts.key.name}:${opts.key.secret}`] : [])];
  const child = spawn('nsupdate', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  child.stdin.end([`server 127.0.0.1 ${port}`, ...(opts.zone === false ? [] : [`zone ${ZONE}`]), ...lines, 'send', ''].join('\n'));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

async function txt(port: number, name: string, tcp = false): Promise<{ status: string; data: string[] }> {
  const r = await dig('127.0.0.1', port, [...(tcp ? ['+tcp'] : []), name, 'TXT']);
  return { status: r.status, data: r.answer.filter((a) => a.type === 'TXT').map((a) => a.data) };
}

/** Polls `check` every 20 ms until it holds; returns the ms it took, or fails after `ms`. */
async function within(ms: number, what: string, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every record row and every serial: "the store is unchanged" compares these. */
async function storeRows(db: TestDatabase): Promise<unknown> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const records = await c.query('select zone_id, name, type, ttl, content from records order by zone_id, name, type, content');
    const zones = await c.query('select name, serial from zones order by name');
    return { records: records.rows, zones: zones.rows };
  } finally {
    await c.end();
  }
}

describe.skipIf(missing !== undefined)(`dynamic updates with nsupdate${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let db: TestDatabase;
  let server: TestServer;
  let acme: Key;
  let wide: Key;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_RRL_RATE: '0' });
    acme = await newKey(db, 'acme-key');
    await lbdns(db, ['tsig', 'allow-update', acme.name, '--zone', ZONE, '--name', '_acme-challenge.*', '--type', 'TXT']);
    // A key allowed everything the rules can allow: what it is still refused is refused whatever the rules say.
    wide = await newKey(db, 'wide-key');
    await lbdns(db, ['tsig', 'allow-update', wide.name, '--zone', ZONE, '--name', '*', '--type', 'ANY']);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('answers a certbot-style DNS-01 challenge: the TXT is served within a second of the update, and gone within a second of the delete', async () => {
    const serial = Number((await dig('127.0.0.1', server.dnsPort, [ZONE, 'SOA'])).answer[0].data.split(' ')[2]);
    const add = await nsupdate(server.dnsPort, [`update add ${CHALLENGE} 60 TXT "token-abc"`], { key: acme });
    expect(add, add.out).toMatchObject({ code: 0 });
    const seen = await within(1000, 'the challenge served', async () => (await txt(server.dnsPort, CHALLENGE)).data.includes('"token-abc"'));
    expect(seen).toBeLessThan(1000);
    // The serial moved once, and the log says who changed what.
    expect(Number((await dig('127.0.0.1', server.dnsPort, [ZONE, 'SOA'])).answer[0].data.split(' ')[2])).toBe(serial + 1);
    expect(server.logs.find((l) => l.msg === 'update applied')).toMatchObject({ zone: ZONE, key: acme.name, changed: 1, serial: serial + 1 });
    // certbot's plugin finds the zone itself: a signed SOA query first, then the delete (here over TCP).
    const del = await nsupdate(server.dnsPort, [`update delete ${CHALLENGE} TXT "token-abc"`], { key: acme, zone: false, tcp: true });
    expect(del, del.out).toMatchObject({ code: 0 });
    await within(1000, 'the challenge gone', async () => (await txt(server.dnsPort, CHALLENGE)).status === 'NXDOMAIN');
  }, 30_000);

  it('refuses updates outside the key\'s rules, at a pool, and at the apex SOA and NS, with the store unchanged and the reason in the log', async () => {
    const before = await storeRows(db);
    const cases: [Key, string, string][] = [
      [acme, `update add www.${ZONE} 60 TXT "not a challenge"`, `key acme-key may not update www.${ZONE} TXT`],
      [acme, `update add ${CHALLENGE} 60 A 192.0.2.99`, `key acme-key may not update ${CHALLENGE} A`],
      [acme, `update delete www.${ZONE}`, `key acme-key may not update www.${ZONE} A (deleting the name would)`],
      [wide, `update add lb.${ZONE} 60 TXT "pool"`, `lb.${ZONE} is a pool: its addresses follow health checks, and updates do not touch it`],
      [wide, `update add ${ZONE} 3600 SOA ns1.${ZONE}. hostmaster.${ZONE}. 1 3600 900 604800 300`, `${ZONE} SOA: the zone's SOA is not changed by updates (its serial moves by itself)`],
      [wide, `update delete ${ZONE} NS`, `${ZONE} NS: the apex NS set is not changed by updates`],
    ];
    for (const [key, line, reason] of cases) {
      // check-names off: nsupdate itself would refuse an A record at an _ name before lbdns could.
      const r = await nsupdate(server.dnsPort, ['check-names off', `update add ${CHALLENGE} 60 TXT "rides along"`, line], { key });
      expect(r.code, r.out).not.toBe(0);
      expect(r.out).toMatch(/update failed: REFUSED/);
      expect(server.logs.filter((l) => l.msg === `update refused: ${reason}`), reason).toHaveLength(1);
    }
    // Not signed at all: refused too.
    const unsigned = await nsupdate(server.dnsPort, [`update add ${CHALLENGE} 60 TXT "x"`]);
    expect(unsigned.out).toMatch(/update failed: REFUSED/);
    expect(await storeRows(db)).toEqual(before);
  }, 60_000);

  it('answers a bad TSIG with NOTAUTH, and a zone that is not ours with NOTAUTH, changing nothing', async () => {
    const before = await storeRows(db);
    const wrong = { name: acme.name, secret: Buffer.alloc(32, 9).toString('base64') };
    const badSig = await nsupdate(server.dnsPort, [`update add ${CHALLENGE} 60 TXT "x"`], { key: wrong });
    expect(badSig.out).toMatch(/update failed: NOTAUTH\(BADSIG\)/);
    const badKey = await nsupdate(server.dnsPort, [`update add ${CHALLENGE} 60 TXT "x"`], { key: { name: 'nobody', secret: wrong.secret } });
    expect(badKey.out).toMatch(/update failed: NOTAUTH\(BADKEY\)/);
    expect(server.logs.filter((l) => l.msg === 'update refused: TSIG BADSIG')).toHaveLength(1);
    expect(server.logs.filter((l) => l.msg === 'update refused: TSIG BADKEY')).toHaveLength(1);
    const r = await nsupdate(server.dnsPort, ['zone example.org', 'update add _acme-challenge.example.org 60 TXT "x"'], { key: acme });
    expect(r.out).toMatch(/update failed: NOTAUTH/);
    expect(await storeRows(db)).toEqual(before);
    for (const err of [badSig, badKey]) expect(err.code).not.toBe(0);
  }, 30_000);

  it('gives each failed prerequisite its rcode and changes nothing; a prerequisite that holds lets the update through', async () => {
    const before = await storeRows(db);
    const cases: [string, string][] = [
      [`prereq yxdomain nothing.${ZONE}`, 'NXDOMAIN'],
      [`prereq nxdomain www.${ZONE}`, 'YXDOMAIN'],
      [`prereq yxrrset ${CHALLENGE} TXT`, 'NXRRSET'],
      [`prereq nxrrset www.${ZONE} A`, 'YXRRSET'],
      [`prereq yxrrset www.${ZONE} A 192.0.2.99`, 'NXRRSET'],
    ];
    for (const [prereq, rcode] of cases) {
      const r = await nsupdate(server.dnsPort, [prereq, `update add ${CHALLENGE} 60 TXT "guarded"`], { key: acme });
      expect(r.out, prereq).toMatch(new RegExp(`update failed: ${rcode}`));
    }
    expect(await storeRows(db)).toEqual(before);
    // www holds 192.0.2.10 and 192.0.2.11: a value-dependent prerequisite names the whole RRset, so one address is not enough.
    const part = await nsupdate(server.dnsPort, [`prereq yxrrset www.${ZONE} A 192.0.2.10`, `update add ${CHALLENGE} 60 TXT "guarded"`], { key: acme });
    expect(part.out).toMatch(/update failed: NXRRSET/);
    expect(await storeRows(db)).toEqual(before);
    const whole = await nsupdate(server.dnsPort, [`prereq nxrrset ${CHALLENGE} TXT`, `prereq yxrrset www.${ZONE} A 192.0.2.10`, `prereq yxrrset www.${ZONE} A 192.0.2.11`, `update add ${CHALLENGE} 60 TXT "guarded"`], { key: acme });
    expect(whole, whole.out).toMatchObject({ code: 0 });
    await within(1000, 'the guarded TXT served', async () => (await txt(server.dnsPort, CHALLENGE)).data.includes('"guarded"'));
    expect((await nsupdate(server.dnsPort, [`update delete ${CHALLENGE} TXT`], { key: acme })).code).toBe(0);
  }, 60_000);

  it('never writes a secret to the log', () => {
    const text = JSON.stringify(server.logs);
    expect(server.logs.length).toBeGreaterThan(10);
    for (const secret of [acme.secret, wide.secret, Buffer.alloc(32, 9).toString('base64')]) expect(text).not.toContain(secret);
  });
});

describe.skipIf(missing !== undefined)(`dynamic updates with DNS workers${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let db: TestDatabase;
  let server: ChildServer;
  let acme: Key;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_WORKERS: '2', LBDNS_RRL_RATE: '0' }, 90_000);
    acme = await newKey(db, 'acme-key');
    await lbdns(db, ['tsig', 'allow-update', acme.name, '--zone', ZONE, '--name', '_acme-challenge.*', '--type', 'TXT']);
  }, 120_000);

  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
    await db?.drop();
  });

  it('relays updates from either worker to the primary, over UDP and TCP, and every worker serves the result', async () => {
    for (let i = 0; i < 4; i++) {
      const tcp = i % 2 === 1;
      const token = `"round-${i}"`;
      const add = await nsupdate(server.dnsPort, [`update add ${CHALLENGE} 60 TXT ${token}`], { key: acme, tcp });
      expect(add, add.out).toMatchObject({ code: 0 });
      // Each dig goes to whichever worker the kernel picks: both must serve it.
      await within(1000, `round ${i} served`, async () => {
        const answers = await Promise.all([txt(server.dnsPort, CHALLENGE), txt(server.dnsPort, CHALLENGE, true), txt(server.dnsPort, CHALLENGE)]);
        return answers.every((a) => a.data.includes(token));
      });
      const del = await nsupdate(server.dnsPort, [`update delete ${CHALLENGE} TXT ${token}`], { key: acme, tcp: !tcp });
      expect(del, del.out).toMatchObject({ code: 0 });
      await within(1000, `round ${i} gone`, async () => (await txt(server.dnsPort, CHALLENGE)).status === 'NXDOMAIN');
    }
    const refused = await nsupdate(server.dnsPort, [`update add www.${ZONE} 60 TXT "x"`], { key: acme });
    expect(refused.out).toMatch(/update failed: REFUSED/);
    expect(JSON.stringify(server.logs)).not.toContain(acme.secret);
  }, 60_000);
});
