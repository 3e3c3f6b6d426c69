// The Store interface over a real database: zones, records, import/export, seeding, errors.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LbdnsError } from '../../src/errors.js';
import { openStore, type Store } from '../../src/store/store.js';
import { parseZoneFile } from '../../src/zonefile/parse.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

async function failure(p: Promise<unknown>): Promise<LbdnsError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LbdnsError);
    return err as LbdnsError;
  }
  throw new Error('expected a failure');
}

const zoneText = (serial: number, extra = '') => `$ORIGIN imp.test.
$TTL 300
@ IN SOA ns1 hostmaster ${serial} 3600 600 86400 60
  IN NS ns1
ns1 IN A 192.0.2.53
www 60 IN A 192.0.2.80
www IN AAAA 2001:DB8::80
${extra}`;

describe('zones', () => {
  it('adds a zone with defaults, normalising the name', async () => {
    const z = await store.addZone({ name: 'Zones.TEST.' });
    expect(z).toMatchObject({ name: 'zones.test', mname: 'ns1.zones.test', rname: 'hostmaster.zones.test', serial: 1, ttl: 3600 });
    expect(await store.getZone('zones.test')).toEqual(z);
    expect(await store.getZone('absent.test')).toBeUndefined();
  });

  it('refuses a second zone of the same name, and bad names and fields', async () => {
    expect(await failure(store.addZone({ name: 'zones.test' }))).toMatchObject({ code: 'E_CONFLICT', message: 'zone zones.test already exists' });
    expect((await failure(store.addZone({ name: 'bad..test' }))).code).toBe('E_INPUT');
    expect(await failure(store.addZone({ name: 'neg.test', refresh: -1 }))).toMatchObject({ code: 'E_INPUT' });
    expect((await store.listZones()).map((z) => z.name)).toEqual(['zones.test']);
  });

  it('removes a zone with its records', async () => {
    await store.addZone({ name: 'gone.test' });
    await store.addRecord({ name: 'a.gone.test', type: 'A', content: '192.0.2.1' });
    expect(await store.removeZone('gone.test')).toEqual({ records: 1 });
    expect(await failure(store.removeZone('gone.test'))).toMatchObject({ code: 'E_NOT_FOUND', message: 'no zone "gone.test"' });
    expect(await store.listRecords({ name: 'a.gone.test' })).toEqual([]);
  });
});

describe('records', () => {
  beforeAll(async () => {
    await store.addZone({ name: 'rec.test' });
    await store.addZone({ name: 'sub.rec.test' });
  });

  it('puts a record in the zone that is the longest suffix of its name, with canonical content', async () => {
    const a = await store.addRecord({ name: 'WWW.Sub.Rec.Test.', type: 'aaaa', content: '2001:DB8:0::1', ttl: 60 });
    expect(a.zone.name).toBe('sub.rec.test');
    expect(a.record).toMatchObject({ name: 'www.sub.rec.test', type: 'AAAA', content: '2001:db8::1', ttl: 60, zoneId: a.zone.id });
    const b = await store.addRecord({ name: 'www.rec.test', type: 'MX', content: '10 Mail.Rec.Test.' });
    expect(b.zone.name).toBe('rec.test');
    expect(b.record).toMatchObject({ content: '10 mail.rec.test', ttl: null });
    const w = await store.addRecord({ name: '*.rec.test', type: 'TXT', content: '"wild"' });
    expect(w.zone.name).toBe('rec.test');
  });

  it('bumps the zone serial and reports it', async () => {
    const before = (await store.getZone('rec.test'))!.serial;
    const r = await store.addRecord({ name: 'n.rec.test', type: 'A', content: '192.0.2.7' });
    expect(r.zone.serial).toBe(before + 1);
  });

  it('explains each refusal in one line and writes nothing', async () => {
    const before = await store.loadContents();
    const cases: [() => Promise<unknown>, string, string][] = [
      [() => store.addRecord({ name: 'x.nowhere.test', type: 'A', content: '192.0.2.1' }), 'E_NOT_FOUND', 'no zone contains "x.nowhere.test"'],
      [() => store.addRecord({ name: 'x.rec.test', type: 'A', content: '300.1.1.1' }), 'E_INPUT', 'A record content "300.1.1.1" is not an IPv4 address'],
      [() => store.addRecord({ name: 'x.rec.test', type: 'SOA', content: 'x' }), 'E_INPUT', 'record type "SOA" is not supported (use one of A, AAAA, CNAME, NS, MX, TXT, SRV, CAA, PTR, DNAME, HINFO, RP, NAPTR, LOC, URI, CERT, SSHFP, DS, CDS, DNSKEY, CDNSKEY, TLSA, SMIMEA, OPENPGPKEY, SVCB, HTTPS, or TYPEnnn with RFC 3597 content "\\# length hex")'],
      [() => store.addRecord({ name: 'www.rec.test', type: 'CNAME', content: 'x.rec.test' }), 'E_CONFLICT', 'record www.rec.test: CNAME cannot coexist with other data'],
      [() => store.addRecord({ name: 'rec.test', type: 'CNAME', content: 'x.rec.test' }), 'E_INPUT', 'record rec.test: CNAME is not allowed at the zone apex'],
      [() => store.addRecord({ name: 'www.rec.test', type: 'MX', content: '10 mail.rec.test' }), 'E_CONFLICT', 'record www.rec.test MX 10 mail.rec.test already exists'],
      [() => store.addRecord({ name: 'x.rec.test', type: 'A', content: '192.0.2.1', ttl: -5 }), 'E_INPUT', 'TTL -5 is not a whole number from 0 to 2147483647'],
      [() => store.addRecord({ name: 'bad name.rec.test', type: 'A', content: '192.0.2.1' }), 'E_INPUT', 'record name "bad name.rec.test" is not a valid domain name: label "bad name" may hold only letters, digits, "-" and "_"'],
    ];
    for (const [f, code, message] of cases) expect(await failure(f())).toMatchObject({ code, message });
    expect(await store.loadContents()).toEqual(before);
  });

  it('lists by zone and by name, and removes by name, type and content', async () => {
    await store.addRecord({ name: 'multi.rec.test', type: 'A', content: '192.0.2.1' });
    await store.addRecord({ name: 'multi.rec.test', type: 'A', content: '192.0.2.2' });
    await store.addRecord({ name: 'multi.rec.test', type: 'A', content: '192.0.2.3' });
    expect((await store.listRecords({ zone: 'rec.test', name: 'Multi.rec.test.' })).map((r) => r.content)).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3']);
    expect((await store.listRecords({ zone: 'sub.rec.test' })).map((r) => r.name)).toEqual(['www.sub.rec.test']);
    expect(await failure(store.listRecords({ zone: 'none.test' }))).toMatchObject({ code: 'E_NOT_FOUND' });
    expect(await store.removeRecord({ name: 'multi.rec.test', type: 'a', content: '192.0.2.2' })).toBe(1);
    expect(await failure(store.removeRecord({ name: 'multi.rec.test', type: 'A', content: '192.0.2.2' }))).toMatchObject({
      code: 'E_NOT_FOUND',
      message: 'no A record "192.0.2.2" at multi.rec.test',
    });
    expect(await store.removeRecord({ name: 'multi.rec.test', type: 'A' })).toBe(2);
    expect(await store.listRecords({ name: 'multi.rec.test' })).toEqual([]);
  });
});

describe('import and export', () => {
  it('imports a zone file, keeping its serial, and exports it back', async () => {
    const parsed = parseZoneFile(zoneText(2024010101), { file: 'imp.test.zone' });
    const r = await store.importZone(parsed, { replace: false });
    expect(r).toMatchObject({ records: 4, replaced: false, zone: { name: 'imp.test', serial: 2024010101, ttl: 300, minimum: 60 } });
    const { zone, records } = await store.zoneForExport('imp.test');
    expect(zone).toEqual(r.zone);
    expect(records.map((x) => `${x.name} ${x.ttl} ${x.type} ${x.content}`)).toEqual([
      'imp.test null NS ns1.imp.test',
      'ns1.imp.test null A 192.0.2.53',
      'www.imp.test 60 A 192.0.2.80',
      'www.imp.test null AAAA 2001:db8::80',
    ]);
    expect(await failure(store.zoneForExport('none.test'))).toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('refuses to overwrite without replace, and replaces with a forward serial', async () => {
    const again = parseZoneFile(zoneText(2024010101, 'new IN A 192.0.2.99'), { file: 'imp.test.zone' });
    expect(await failure(store.importZone(again, { replace: false }))).toMatchObject({ code: 'E_CONFLICT', message: 'zone imp.test already exists' });
    const r = await store.importZone(again, { replace: true });
    // The file's serial is not greater than the stored one, so the stored one moves on by one.
    expect(r).toMatchObject({ replaced: true, records: 5, zone: { serial: 2024010102 } });
    const newer = await store.importZone(parseZoneFile(zoneText(2025000000), { file: 'imp.test.zone' }), { replace: true });
    expect(newer.zone.serial).toBe(2025000000);
    expect(await store.listRecords({ name: 'new.imp.test' })).toEqual([]);
  });

  it('is atomic: one bad record and nothing is written', async () => {
    const before = await store.loadContents();
    // The parser would refuse these too; built by hand so that the failure comes from the database,
    // after the zone row and the first records were already written in the transaction.
    const base = parseZoneFile(zoneText(2026000000), { file: 'imp.test.zone' });
    const withRecord = (origin: string, r: { name: string; type: string; content: string }) => ({
      ...base,
      origin,
      records: [...base.records.map((x) => ({ ...x, name: x.name.replace('imp.test', origin), content: x.content.replace('imp.test', origin) })), { ...r, ttl: null, line: 99 }],
    });
    expect(await failure(store.importZone(withRecord('imp.test', { name: 'www.imp.test', type: 'CNAME', content: 'ns1.imp.test' }), { replace: true }))).toMatchObject({
      code: 'E_CONFLICT',
      message: 'record www.imp.test: CNAME cannot coexist with other data',
    });
    expect(await failure(store.importZone(withRecord('fresh.test', { name: 'x.fresh.test', type: 'A', content: '300.1.1.1' }), { replace: false }))).toMatchObject({
      code: 'E_INPUT',
      message: 'record x.fresh.test: A content "300.1.1.1" is not an IPv4 address in dotted-quad form',
    });
    expect(await failure(store.importZone(withRecord('fresh.test', { name: 'x.other.test', type: 'A', content: '192.0.2.1' }), { replace: false }))).toMatchObject({
      code: 'E_INPUT',
      message: 'record x.other.test: name is not inside zone fresh.test',
    });
    expect(await store.loadContents()).toEqual(before);
    expect(await store.getZone('fresh.test')).toBeUndefined();
  });
});

describe('contents and seeding', () => {
  it('loads version, zones and records in one read, as frozen rows', async () => {
    const c = await store.loadContents();
    expect(c.version).toBe(await store.configVersion());
    expect(c.zones.map((z) => z.name)).toContain('rec.test');
    expect(c.records.every((r) => typeof r.id === 'number' && typeof r.zoneId === 'number')).toBe(true);
    expect(Object.isFrozen(c.records[0])).toBe(true);
  });

  it('seeds an empty store from a zones dir, and only an empty one', async () => {
    const other = await createTestDatabase();
    const s = await openStore(storeConfig(other), { role: 'server', migrate: true });
    try {
      const dir = mkdtempSync(join(tmpdir(), 'lbdns-zones-'));
      writeFileSync(join(dir, 'imp.test.zone'), zoneText(7).replace('$ORIGIN imp.test.\n', ''));
      writeFileSync(join(dir, 'README'), 'not a zone');
      expect(await s.seedIfEmpty(join(dir, 'missing'))).toEqual([]);
      expect(await s.seedIfEmpty(dir)).toEqual(['imp.test']);
      expect((await s.loadContents()).records).toHaveLength(4);
      expect(await s.seedIfEmpty(dir)).toEqual([]);
      writeFileSync(join(dir, 'broken.test.zone'), '@ IN SOA ns1 hostmaster 1 2 3 4 5\nwww IN A 300.1.1.1\n');
      await expect(s.seedIfEmpty(dir)).rejects.toMatchObject({ code: 'E_ZONEFILE' });
    } finally {
      await s.close();
      await other.drop();
    }
  });
});

describe('PostgreSQL down', () => {
  it('a server-role store still opens; its calls fail in one line and its feed reports the outage', async () => {
    const down = await openStore(
      { databaseUrl: 'postgres://lbdns:hunter2@127.0.0.1:1/lbdns', dataDir: db.dataDir, embeddedListen: { host: '127.0.0.1', port: 0, family: 4 } },
      { role: 'server', pollIntervalMs: 50 },
    );
    try {
      const err = await failure(down.migrate());
      expect(err.code).toBe('E_STORE');
      expect(err.message).toMatch(/^cannot reach PostgreSQL at postgres:\/\/lbdns:\*\*\*@127\.0\.0\.1:1\/lbdns: .*ECONNREFUSED/);
      expect(err.message).not.toContain('hunter2');
      const statuses: unknown[] = [];
      const stop = await down.watchChanges(() => {}, (s) => statuses.push(s));
      await new Promise((r) => setTimeout(r, 300));
      await stop();
      expect(statuses.at(-1)).toMatchObject({ via: 'poll', degraded: true, storeReachable: false });
    } finally {
      await down.close();
    }
  });
});
