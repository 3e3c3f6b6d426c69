// The schema alone (plain SQL, no CLI) refuses what the server could not serve, and leaves the data as it was.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { parseContent } from '../../src/records/content.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';

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
  await c.query(`insert into records (zone_id, name, type, content) values ($1, 'www.example.test', 'A', '192.0.2.1')`, [zoneId]);
  await c.query(`insert into records (zone_id, name, type, content) values ($1, 'alias.example.test', 'CNAME', 'www.example.test')`, [zoneId]);
});
afterAll(async () => {
  await c?.end();
  await store?.close();
  await db?.drop();
});

async function snapshot(): Promise<unknown> {
  const zones = (await c.query('select name, serial, refresh from zones order by id')).rows;
  const records = (await c.query('select name, type, ttl, content from records order by id')).rows;
  const version = (await c.query('select version from config_version')).rows[0].version;
  return { zones, records, version };
}

async function serial(): Promise<number> {
  return Number((await c.query('select serial from zones where id = $1', [zoneId])).rows[0].serial);
}

const insert = (name: string, type: string, content: string, ttl: number | null = null) => () =>
  c.query('insert into records (zone_id, name, type, ttl, content) values ($1, $2, $3, $4, $5)', [zoneId, name, type, ttl, content]);

describe('plain SQL cannot store invalid data', () => {
  const cases: [string, () => () => Promise<unknown>, RegExp][] = [
    ['A out of range', () => insert('a.example.test', 'A', '300.1.1.1'), /record a\.example\.test: A content "300\.1\.1\.1" is not an IPv4 address/],
    ['A with a leading zero', () => insert('a.example.test', 'A', '192.0.2.01'), /not an IPv4 address/],
    ['A that is IPv6', () => insert('a.example.test', 'A', '2001:db8::1'), /not an IPv4 address/],
    ['AAAA not canonical (case)', () => insert('a.example.test', 'AAAA', '2001:DB8::1'), /not in canonical form \(2001:db8::1\)/],
    ['AAAA not canonical (zeros)', () => insert('a.example.test', 'AAAA', '2001:db8:0:0:0:0:0:1'), /not in canonical form \(2001:db8::1\)/],
    ['AAAA that is IPv4', () => insert('a.example.test', 'AAAA', '192.0.2.1'), /is not an IPv6 address/],
    ['name outside the zone', () => insert('www.other.test', 'A', '192.0.2.1'), /record www\.other\.test: name is not inside zone example\.test/],
    ['name that merely ends like the zone', () => insert('badexample.test', 'A', '192.0.2.1'), /not inside zone example\.test/],
    ['upper-case name', () => insert('WWW2.example.test', 'A', '192.0.2.1'), /name must be a lower-case domain name/],
    ['trailing dot', () => insert('www2.example.test.', 'A', '192.0.2.1'), /name must be a lower-case domain name/],
    ['upper-case target', () => insert('x.example.test', 'CNAME', 'WWW.example.test'), /CNAME target "WWW\.example\.test" is not a lower-case domain name/],
    ['CNAME beside an A', () => insert('www.example.test', 'CNAME', 'other.example.test'), /^record www\.example\.test: CNAME cannot coexist with other data$/],
    ['an A beside a CNAME', () => insert('alias.example.test', 'A', '192.0.2.2'), /^record alias\.example\.test: CNAME cannot coexist with other data$/],
    ['a second CNAME', () => insert('alias.example.test', 'CNAME', 'other.example.test'), /at most one CNAME/],
    ['CNAME at the apex', () => insert('example.test', 'CNAME', 'www.example.test'), /record example\.test: CNAME is not allowed at the zone apex/],
    ['TXT string over 255 octets', () => insert('t.example.test', 'TXT', `"${'x'.repeat(256)}"`), /TXT string of 256 octets exceeds 255/],
    ['TXT unquoted', () => insert('t.example.test', 'TXT', 'hello'), /one or more quoted strings/],
    ['TXT with a raw control character', () => insert('t.example.test', 'TXT', '"a\tb"'), /must be escaped/],
    ['MX preference too big', () => insert('m.example.test', 'MX', '70000 mail.example.test'), /MX content/],
    ['SRV port too big', () => insert('_s._tcp.example.test', 'SRV', '0 0 65536 x.example.test'), /SRV content/],
    ['CAA with an upper-case tag', () => insert('example.test', 'CAA', '0 ISSUE "ca.example"'), /CAA content/],
    ['unsupported type', () => insert('x.example.test', 'SOA', 'x'), /type "SOA" is not one of/],
    ['negative TTL', () => insert('x.example.test', 'A', '192.0.2.9', -1), /ttl -1 is negative/],
    ['duplicate record', () => insert('www.example.test', 'A', '192.0.2.1'), /duplicate key value violates unique constraint "records_unique"/],
    ['zone name upper case', () => () => c.query(`insert into zones (name) values ('Other.test')`), /zone "Other\.test": name must be a lower-case/],
    ['zone serial 0', () => () => c.query(`insert into zones (name, serial) values ('other.test', 0)`), /serial 0 is outside 1\.\.4294967295/],
    ['zone renamed under its records', () => () => c.query(`update zones set name = 'renamed.test' where id = $1`, [zoneId]), /cannot be renamed while it has records/],
    ['record moved to be outside its zone', () => () => c.query(`update records set name = 'www.elsewhere.test' where name = 'www.example.test'`), /not inside zone example\.test/],
  ];

  it.each(cases)('%s', async (_label, make, message) => {
    const before = await snapshot();
    await expect(make()()).rejects.toThrow(message);
    expect(await snapshot()).toEqual(before);
  });

  it('bypassing the triggers still meets the CHECK constraints', async () => {
    const before = await snapshot();
    await c.query('begin');
    try {
      await c.query(`set local session_replication_role = replica`);
      await expect(insert('a.example.test', 'A', '300.1.1.1')()).rejects.toThrow(/records_content_valid/);
    } finally {
      await c.query('rollback');
    }
    expect(await snapshot()).toEqual(before);
  });
});

describe('the SQL checks agree with the content parser', () => {
  const inputs: [string, string][] = [
    ['A', '192.0.2.1'],
    ['AAAA', '2001:DB8:0:0:0:0:0:1'],
    ['AAAA', '::ffff:192.0.2.1'],
    ['AAAA', '2001:db8:0:1:1:1:1:1'],
    ['AAAA', '2001:0:0:1:0:0:0:1'],
    ['AAAA', '::'],
    ['AAAA', 'fe80::'],
    ['CNAME', 'WWW.Example.Test.'],
    ['NS', 'ns1.example.test'],
    ['PTR', 'host-1.example.test'],
    ['MX', '10 Mail.example.test.'],
    ['MX', '0 .'],
    ['SRV', '10 5 5060 sip.example.test'],
    ['SRV', '0 0 0 .'],
    ['TXT', 'v=spf1 -all'],
    ['TXT', '"a" "b" ""'],
    ['TXT', '"quote \\" and backslash \\\\"'],
    ['TXT', '"tab\\009 and é and \\255"'],
    ['TXT', `"${'y'.repeat(255)}"`],
    ['CAA', '0 ISSUE "ca.example"'],
    ['CAA', '128 iodef "mailto:x@example.test"'],
  ];

  it.each(inputs)('%s %s', async (type, text) => {
    const { content } = parseContent(type, text);
    const check = async (t: string): Promise<boolean> => (await c.query('select lbdns_check_content($1, $2) as ok', [type, t])).rows[0].ok;
    expect(await check(content)).toBe(true);
    if (content !== text) expect(await check(text)).toBe(false);
  });
});

describe('serial and config version', () => {
  let before: { serial: number; version: number };
  beforeEach(async () => {
    before = { serial: await serial(), version: Number((await c.query('select version from config_version')).rows[0].version) };
  });
  const version = async (): Promise<number> => Number((await c.query('select version from config_version')).rows[0].version);

  it('an insert, an update and a delete each move the serial and the version by one', async () => {
    await insert('s.example.test', 'A', '192.0.2.10')();
    expect(await serial()).toBe(before.serial + 1);
    expect(await version()).toBe(before.version + 1);
    await c.query(`update records set ttl = 60 where name = 's.example.test'`);
    expect(await serial()).toBe(before.serial + 2);
    await c.query(`delete from records where name = 's.example.test'`);
    expect(await serial()).toBe(before.serial + 3);
    expect(await version()).toBe(before.version + 3);
  });

  it('one transaction of many changes moves them once', async () => {
    await c.query('begin');
    await insert('t1.example.test', 'A', '192.0.2.11')();
    await insert('t2.example.test', 'A', '192.0.2.12')();
    await c.query(`update zones set refresh = 1800 where id = $1`, [zoneId]);
    await c.query('commit');
    expect(await serial()).toBe(before.serial + 1);
    expect(await version()).toBe(before.version + 1);
  });

  it('an SOA edit moves the serial unless it sets the serial itself', async () => {
    await c.query(`update zones set retry = 600 where id = $1`, [zoneId]);
    expect(await serial()).toBe(before.serial + 1);
    await c.query(`update zones set expire = 1209600, serial = 4000000000 where id = $1`, [zoneId]);
    expect(await serial()).toBe(4000000000);
  });

  it('wraps from 4294967295 to 1 (RFC 1982)', async () => {
    await c.query(`update zones set serial = 4294967295 where id = $1`, [zoneId]);
    await insert('w.example.test', 'A', '192.0.2.13')();
    expect(await serial()).toBe(1);
  });

  it('a statement that changes nothing and a rolled-back one leave the version alone', async () => {
    await c.query(`delete from records where name = 'nothing.example.test'`);
    await c.query('begin');
    await insert('rb.example.test', 'A', '192.0.2.14')();
    await c.query('rollback');
    expect(await version()).toBe(before.version);
    expect(await serial()).toBe(before.serial);
  });
});
