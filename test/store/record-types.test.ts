// The schema (migration 0005) stores every type's canonical content as src/records/ writes it, and plain SQL cannot store content the server could not serve.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { parseZoneFile } from '../../src/zonefile/parse.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';
import { ROOT } from '../helpers/server.js';

let db: TestDatabase;
let store: Store;
let c: pg.Client;
let zoneId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  c = new pg.Client(sqlUrl(db));
  await c.connect();
  zoneId = (await c.query(`insert into zones (name) values ('example.test') returning id`)).rows[0].id;
});
afterAll(async () => {
  await c?.end();
  await store?.close();
  await db?.drop();
});

const insert = (name: string, type: string, content: string) =>
  c.query('insert into records (zone_id, name, type, content) values ($1, $2, $3, $4)', [zoneId, name, type, content]);

const fixture = parseZoneFile(readFileSync(join(ROOT, 'test/fixtures/every-type.test.zone'), 'utf8'), { file: 'fixture', origin: 'every-type.test' });

describe('canonical content of every type', () => {
  it.each(fixture.records.map((r, i) => [i, r.type, r.content] as const))('#%i %s %s is stored', async (i, type, content) => {
    await insert(`r${i}.example.test`, type, content);
  });
  it('holds with the triggers bypassed: the CHECKs alone accept the same', async () => {
    await c.query('begin');
    try {
      await c.query('set local session_replication_role = replica');
      for (const [i, r] of fixture.records.entries()) await insert(`b${i}.example.test`, r.type, r.content);
    } finally {
      await c.query('rollback');
    }
  });
});

const refused: readonly [type: string, content: string, message: RegExp][] = [
  ['SPF', '"v=spf1 -all"', /type "SPF" is not one of A, AAAA/],
  ['TYPE6', '\\# 0', /type "TYPE6" is not one of/],
  ['TYPE1', '\\# 4 c0000201', /type "TYPE1" is not one of/],
  ['TYPE252', '\\# 0', /type "TYPE252"/],
  ['TYPE065280', '\\# 0', /type "TYPE065280"/],
  ['TYPE65280', '\\# 4 C0000247', /RFC 3597 generic text/],
  ['TYPE65280', '\\# 3 c0000247', /RFC 3597 generic text/],
  ['TYPE65280', 'c0000247', /RFC 3597 generic text/],
  ['DNAME', 'Target.example.test', /DNAME target "Target.example.test" is not a lower-case/],
  ['DNAME', 'target.example.test.', /is not a lower-case domain name/],
  ['HINFO', '"pc"', /two quoted strings/],
  ['RP', 'a.example.test', /mailbox-name text-name/],
  ['NAPTR', '1 1 "S!" "" "" .', /order preference/],
  ['URI', '1 1 ""', /non-empty target/],
  ['TLSA', '3 1 1 ABCD', /lower-case hex/],
  ['TLSA', '3 1 1 abcd', /TLSA data of type 1 must be 32 octets, not 2/],
  ['SSHFP', '1 1 abcd', /SSHFP fingerprint of type 1 must be 20 octets/],
  ['DS', '1 8 2 abcd', /DS digest of type 2 must be 32 octets/],
  ['DNSKEY', '256 2 8 AA==', /flags 3 algorithm/],
  ['DNSKEY', '256 3 8 AA=', /flags 3 algorithm/],
  ['CERT', 'PGP 0 0 AAAA', /type key-tag algorithm/],
  ['OPENPGPKEY', 'not base64!', /not base64/],
  ['LOC', '42 21 54 N 71 06 18 W -24m 30m', /is not "d m s.sss/],
  ['LOC', '91 0 0.000 N 0 0 0.000 E 0.00m 1m 10000m 10m', /out of range/],
  ['LOC', '1 0 0.000 N 0 0 0.000 E 0.00m 25m 10000m 10m', /one digit times a power of ten/],
  ['SVCB', '1 . port=53 alpn=h2', /increasing key order/],
  ['SVCB', '1 . alpn', /alpn needs a value/],
  ['SVCB', '1 . no-default-alpn', /no-default-alpn without alpn/],
  ['SVCB', '1 . mandatory=port', /mandatory key it does not hold/],
  ['SVCB', '1 . mandatory=mandatory', /must list other keys/],
  ['SVCB', '1 . key3=53', /not a canonical key/],
  ['HTTPS', '1 . ipv6hint=2001:DB8::1', /canonical IPv6/],
  ['HTTPS', '1 . port=65536', /port "65536"/],
  ['HTTPS', '1 Foo.example port=1', /priority target/],
];

describe('plain SQL cannot store content of the new types that is not canonical', () => {
  it.each(refused)('%s %s', async (type, content, message) => {
    const before = (await c.query('select count(*)::int as n from records')).rows[0].n;
    await expect(insert('bad.example.test', type, content)).rejects.toThrow(message);
    expect((await c.query('select count(*)::int as n from records')).rows[0].n).toBe(before);
  });
  it('holds at most one DNAME at a name', async () => {
    await insert('d.example.test', 'DNAME', 'one.example.test');
    await expect(insert('d.example.test', 'DNAME', 'two.example.test')).rejects.toThrow(/at most one DNAME/);
  });
});
