// DNSSEC bad input against the real binary: a node with a wrong LBDNS_KEY_SECRET, one with none, and a key row
// corrupted under a running node each serve the zone unsigned (NOERROR, never SERVFAIL, no crash) with one error line
// per key and lbdns_dnssec_zone_signed{zone} 0; DO for an unsigned zone and no DO for a signed one get no DNSSEC
// records; a signed zone is never transferred, even to a network its allow-transfer list names.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, pgAvailable, storeConfig, type TestDatabase } from '../helpers/db.js';
import { dig, type DigResult } from '../helpers/dig.js';
import { need, onPath } from '../helpers/prerequisite.js';
import { startChild, type ChildServer } from '../helpers/server.js';

const run = promisify(execFile);
const H = '127.0.0.1';
const SIGNED = 'sec.test';
const PLAIN = 'plain.test';
const SECRET = 'the right secret for this store';
const havePg = await pgAvailable();
const why = !havePg ? 'no PostgreSQL on 127.0.0.1:5432' : onPath('dig') === undefined ? 'dig not on PATH' : undefined;

let db: TestDatabase;
let store: Store;
/** By what LBDNS_KEY_SECRET the node was given. */
const nodes: Partial<Record<'right' | 'wrong' | 'none', ChildServer>> = {};

async function sql(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return await c.query(text, params);
  } finally {
    await c.end();
  }
}

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Two DNS workers whatever the machine: each process takes the key in, and the node must still say it once. */
const start = (secret: string | undefined): Promise<ChildServer> =>
  startChild({ DATABASE_URL: db.url!, LBDNS_SEED_DIR: undefined, LBDNS_KEY_SECRET: secret, LBDNS_WORKERS: '2' });

/** What a zone's signing gauge says on a node's /metrics (undefined: no such line). */
async function signedGauge(node: ChildServer, zone: string): Promise<string | undefined> {
  const text = await (await fetch(`http://${H}:${node.httpPort}/metrics`)).text();
  return new RegExp(`^lbdns_dnssec_zone_signed\\{zone="${zone.replace('.', '\\.')}"\\} (\\S+)$`, 'm').exec(text)?.[1];
}

/** Error lines (pino level 50) that say a zone is served UNSIGNED. */
const unsignedLines = (node: ChildServer, zone: string) => node.logs.filter((l) => l.level === 50 && l.zone === zone && /UNSIGNED/.test(l.msg));

const dnssecRecords = (r: DigResult) => [...r.answer, ...r.authority, ...r.additional].filter((a) => ['RRSIG', 'NSEC', 'NSEC3'].includes(a.type));

/** Questions for the signed zone with what an unsigned answer to each is. */
const QUESTIONS = [
  { name: `www.${SIGNED}`, type: 'A', status: 'NOERROR', answers: 2 },
  { name: `x.wild.${SIGNED}`, type: 'A', status: 'NOERROR', answers: 1 },
  { name: `chain.${SIGNED}`, type: 'A', status: 'NOERROR', answers: 4 },
  { name: SIGNED, type: 'MX', status: 'NOERROR', answers: 1 },
  { name: `nosuch.${SIGNED}`, type: 'A', status: 'NXDOMAIN', answers: 0 },
  { name: `www.${SIGNED}`, type: 'AAAA', status: 'NOERROR', answers: 0 },
] as const;

beforeAll(async () => {
  if (why) return;
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  for (const zone of [SIGNED, PLAIN]) {
    await store.addZone({ name: zone });
    await store.addRecord({ name: zone, type: 'NS', content: `ns1.${zone}` });
    await store.addRecord({ name: zone, type: 'MX', content: `10 mail.${zone}` });
    await store.addRecord({ name: `ns1.${zone}`, type: 'A', content: '192.0.2.53' });
    await store.addRecord({ name: `mail.${zone}`, type: 'A', content: '192.0.2.25' });
    await store.addRecord({ name: `www.${zone}`, type: 'A', content: '192.0.2.80' });
    await store.addRecord({ name: `www.${zone}`, type: 'A', content: '192.0.2.81' });
    await store.addRecord({ name: `*.wild.${zone}`, type: 'A', content: '192.0.2.90' });
    await store.addRecord({ name: `chain.${zone}`, type: 'CNAME', content: `chain2.${zone}` });
    await store.addRecord({ name: `chain2.${zone}`, type: 'CNAME', content: `www.${zone}` });
  }
  await store.enableDnssec(SIGNED, 13, SECRET);
  // Transfers allowed to loopback for both zones: only the signing can refuse one.
  await sql(`update zones set allow_transfer = '{127.0.0.0/8}'`);
  nodes.right = await start(SECRET);
  nodes.wrong = await start('not the secret the key was sealed with');
  nodes.none = await start(undefined);
}, 120_000);

afterAll(async () => {
  for (const node of Object.values(nodes)) {
    await node.stop();
    rmSync(node.env.LBDNS_DATA_DIR, { recursive: true, force: true });
  }
  await store?.close();
  await db?.drop();
});

describe('DNSSEC faults: answered unsigned, never SERVFAIL', () => {
  beforeEach((ctx) => need(ctx, why));

  it('the node with the right secret signs (the control for everything below)', async () => {
    const node = nodes.right!;
    expect(await signedGauge(node, SIGNED)).toBe('1');
    const r = await dig(H, node.dnsPort, [`www.${SIGNED}`, 'A', '+dnssec']);
    expect(r.status).toBe('NOERROR');
    expect(r.answer.map((a) => a.type).sort()).toEqual(['A', 'A', 'RRSIG']);
    expect(unsignedLines(node, SIGNED)).toEqual([]);
  });

  it.for([
    { which: 'wrong' as const, says: /^DNSSEC key unusable: serving the zone UNSIGNED$/, err: /LBDNS_KEY_SECRET is not the secret it was sealed with/ },
    { which: 'none' as const, says: /^zone has a DNSSEC key but LBDNS_KEY_SECRET is not set: serving it UNSIGNED$/, err: undefined },
  ])('a node with the $which secret answers DO queries unsigned and NOERROR, logs one UNSIGNED line, and shows the gauge at 0', async ({ which, says, err }) => {
    const node = nodes[which]!;
    for (let round = 0; round < 3; round++) {
      for (const q of QUESTIONS) {
        const r = await dig(H, node.dnsPort, [q.name, q.type, '+dnssec']);
        expect({ q: `${q.name} ${q.type}`, status: r.status, answers: r.answer.length, dnssec: dnssecRecords(r) }, r.raw).toEqual({
          q: `${q.name} ${q.type}`,
          status: q.status,
          answers: q.answers,
          dnssec: [],
        });
      }
    }
    // The unsigned zone and its neighbour both answer: nothing else is affected.
    expect((await dig(H, node.dnsPort, [`www.${PLAIN}`, 'A', '+dnssec'])).status).toBe('NOERROR');
    expect(await signedGauge(node, SIGNED)).toBe('0');
    const lines = unsignedLines(node, SIGNED);
    expect(lines, JSON.stringify(lines)).toHaveLength(1);
    expect(lines[0].msg).toMatch(says);
    // Said by the primary, though both workers took the same key in and answer unsigned too.
    expect(new Set(node.logs.filter((l) => l.msg === 'snapshot adopted').map((l) => l.worker))).toEqual(new Set([1, 2]));
    if (err) expect(lines[0].err).toMatch(err);
    // The line names the key, never the secret.
    expect(lines[0].keyTag).toBeTypeOf('number');
    expect(JSON.stringify(node.logs)).not.toContain(SECRET);
    expect(JSON.stringify(node.logs)).not.toContain('not the secret the key was sealed with');
    // explain says so too.
    const ex = await (await fetch(`http://${H}:${node.httpPort}/explain?name=www.${SIGNED}&type=A&do=1`)).json();
    expect(ex.dnssec).toMatchObject({ signed: false });
    expect(ex.dnssec.note).toMatch(/UNSIGNED/);
    expect(node.child.exitCode).toBeNull();
  });

  it('a change to the zone reloads it on the node without the secret: still one UNSIGNED line, still no SERVFAIL', async () => {
    const node = nodes.none!;
    await store.addRecord({ name: `new.${SIGNED}`, type: 'A', content: '192.0.2.99' });
    await until('the new record served', 10_000, async () => ((await dig(H, node.dnsPort, [`new.${SIGNED}`, 'A', '+dnssec'])).answer.length === 1 ? true : undefined));
    const r = await dig(H, node.dnsPort, [`new.${SIGNED}`, 'A', '+dnssec']);
    expect(r.status).toBe('NOERROR');
    expect(dnssecRecords(r)).toEqual([]);
    expect(unsignedLines(node, SIGNED)).toHaveLength(1);
    expect(await signedGauge(node, SIGNED)).toBe('0');
  });

  it('a key row corrupted under a running node: unsigned at the next reload with one line and the gauge at 0; signed again once repaired', async () => {
    const node = nodes.right!;
    const { rows } = await sql(`select k.private_key from dnssec_keys k join zones z on z.id = k.zone_id where z.name = $1`, [SIGNED]);
    const good = rows[0].private_key as Buffer;
    // One flipped bit in the ciphertext (after version, salt, check, IV and tag: 53 octets): the row still looks
    // sealed to the database, but the key inside fails authentication.
    const bad = Buffer.from(good);
    bad[60] ^= 0x01;
    await sql(`update dnssec_keys set private_key = $1 where zone_id = (select id from zones where name = $2)`, [bad, SIGNED]);
    try {
      await until('the zone served unsigned', 10_000, async () => ((await signedGauge(node, SIGNED)) === '0' ? true : undefined));
      for (const q of QUESTIONS) {
        const r = await dig(H, node.dnsPort, [q.name, q.type, '+dnssec']);
        expect({ q: `${q.name} ${q.type}`, status: r.status, answers: r.answer.length, dnssec: dnssecRecords(r) }, r.raw).toEqual({
          q: `${q.name} ${q.type}`,
          status: q.status,
          answers: q.answers,
          dnssec: [],
        });
      }
      const lines = unsignedLines(node, SIGNED);
      expect(lines, JSON.stringify(lines)).toHaveLength(1);
      expect(lines[0].msg).toBe('DNSSEC key unusable: serving the zone UNSIGNED');
      expect(lines[0].err).toMatch(/corrupt: its ciphertext fails authentication/);
      expect(node.child.exitCode).toBeNull();
    } finally {
      await sql(`update dnssec_keys set private_key = $1 where zone_id = (select id from zones where name = $2)`, [good, SIGNED]);
    }
    await until('the zone signed again', 10_000, async () => ((await signedGauge(node, SIGNED)) === '1' ? true : undefined));
    const r = await dig(H, node.dnsPort, [`www.${SIGNED}`, 'A', '+dnssec']);
    expect(r.answer.map((a) => a.type).sort()).toEqual(['A', 'A', 'RRSIG']);
    expect(unsignedLines(node, SIGNED)).toHaveLength(1);
  });

  it('a DO query for an unsigned zone gets no RRSIG and no NSEC: positive, NXDOMAIN, NODATA, wildcard', async () => {
    const node = nodes.right!;
    const cases = [
      [`www.${PLAIN}`, 'A', 'NOERROR', 2],
      [`nosuch.${PLAIN}`, 'A', 'NXDOMAIN', 0],
      [`www.${PLAIN}`, 'AAAA', 'NOERROR', 0],
      [`x.wild.${PLAIN}`, 'A', 'NOERROR', 1],
      [PLAIN, 'DNSKEY', 'NOERROR', 0],
    ] as const;
    for (const [name, type, status, answers] of cases) {
      const r = await dig(H, node.dnsPort, [name, type, '+dnssec']);
      expect({ q: `${name} ${type}`, status: r.status, answers: r.answer.length, dnssec: dnssecRecords(r) }, r.raw).toEqual({ q: `${name} ${type}`, status, answers, dnssec: [] });
      // The DO bit is echoed (RFC 3225 §3), as for any EDNS query.
      expect(r.opt.join(' ')).toMatch(/flags: do/);
    }
    expect(await signedGauge(node, PLAIN)).toBeUndefined();
  });

  it('a query without DO for the signed zone gets no RRSIG and no NSEC, and a missing name is NXDOMAIN as before', async () => {
    const node = nodes.right!;
    for (const q of QUESTIONS) {
      for (const flags of [['+nodnssec'], ['+noedns']]) {
        const r = await dig(H, node.dnsPort, [q.name, q.type, ...flags]);
        expect({ q: `${q.name} ${q.type} ${flags}`, status: r.status, answers: r.answer.length, dnssec: dnssecRecords(r) }, r.raw).toEqual({
          q: `${q.name} ${q.type} ${flags}`,
          status: q.status,
          answers: q.answers,
          dnssec: [],
        });
      }
    }
    // The same node signs them when asked with DO: the absence above is DO's doing.
    const withDo = await dig(H, node.dnsPort, [`nosuch.${SIGNED}`, 'A', '+dnssec']);
    expect(withDo.status).toBe('NOERROR');
    expect(withDo.authority.map((a) => a.type).sort()).toEqual(['NSEC', 'RRSIG', 'RRSIG', 'SOA']);
  });

  it('AXFR of the signed zone is refused to a network allow-transfer names; the unsigned zone with the same setting transfers', async () => {
    const node = nodes.right!;
    const axfr = async (zone: string) => (await run('dig', [`@${H}`, '-p', String(node.dnsPort), '+time=3', '+tries=1', zone, 'AXFR'], { timeout: 10_000 })).stdout;
    const refused = await axfr(SIGNED);
    expect(refused).toMatch(/Transfer failed/);
    expect(refused).not.toMatch(/\sIN\s+SOA\s/);
    const plain = await axfr(PLAIN);
    expect(plain.match(/\sIN\s+SOA\s/g)).toHaveLength(2);
    expect(plain).toMatch(new RegExp(`^www\\.plain\\.test\\.\\s+\\d+\\s+IN\\s+A\\s+192\\.0\\.2\\.80$`, 'm'));
    // IXFR too (dig's IXFR=serial form), and the reason is in the log.
    const ixfr = (await run('dig', [`@${H}`, '-p', String(node.dnsPort), '+time=3', '+tries=1', SIGNED, 'IXFR=1'], { timeout: 10_000 })).stdout;
    expect(ixfr).toMatch(/Transfer failed/);
    const reasons = node.logs.filter((l) => /transfer refused/.test(l.msg ?? '') && l.zone === SIGNED);
    expect(reasons.length, JSON.stringify(node.logs.filter((l) => /transfer/.test(l.msg ?? '')))).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(reasons)).toMatch(/signed online \(DNSSEC\)/);
    expect(node.child.exitCode).toBeNull();
  });
});
