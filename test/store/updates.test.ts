// Migrations 0015-0016 and applyUpdate in a real PostgreSQL: update rules per key (audited), and RFC 2136 updates all or nothing, recorded as the key's.
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Prerequisite, type Store, type UpdateOperation } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;
let client: pg.Client;

const SECRET = Buffer.alloc(32, 7).toString('base64');
const ZONE = 'upd.test';

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  client = new pg.Client({ connectionString: sqlUrl(db) });
  await client.connect();
  await store.addZone({ name: ZONE });
  await store.addZone({ name: 'other.test' });
  await store.addTsigKey({ name: 'acme', algorithm: 'hmac-sha256', secret: SECRET });
  await store.addTsigKey({ name: 'idle', algorithm: 'hmac-sha256', secret: SECRET });
  await store.addRecord({ name: ZONE, type: 'NS', content: `ns1.${ZONE}` });
  await store.addRecord({ name: `www.${ZONE}`, type: 'A', content: '192.0.2.10' });
  await store.addRecord({ name: `www.${ZONE}`, type: 'TXT', content: '"site"' });
  await store.addRecord({ name: `alias.${ZONE}`, type: 'CNAME', content: `www.${ZONE}` });
  await store.addPool({ name: `lb.${ZONE}` });
});

afterAll(async () => {
  await client?.end();
  await store?.close();
  await db?.drop();
});

/** Every record and the serial: what "the store is unchanged" compares. */
async function contents(): Promise<unknown> {
  const records = await client.query('select zone_id, name, type, ttl, content from records order by zone_id, name, type, content');
  const zones = await client.query('select name, serial from zones order by name');
  return { records: records.rows, zones: zones.rows };
}

async function update(prerequisites: Prerequisite[], operations: UpdateOperation[], key = 'acme', zone = ZONE) {
  return store.applyUpdate({ key, zone, prerequisites, operations });
}

const txt = (name: string, content: string, ttl = 60): UpdateOperation => ({ kind: 'add', name, type: 'TXT', ttl, content });

describe('update rules', () => {
  it('sets, replaces, lists and removes rules; refuses bad patterns, SOA, unknown keys and zones in one line', async () => {
    expect(await store.allowUpdate({ key: 'ACME.', zone: 'UPD.test.', pattern: '_ACME-challenge.*', types: ['txt'] })).toEqual({ key: 'acme', zone: ZONE, pattern: '_acme-challenge.*', types: ['TXT'] });
    await store.allowUpdate({ key: 'acme', zone: ZONE, pattern: '*.dyn.upd.test', types: ['A', 'AAAA'] });
    await store.allowUpdate({ key: 'acme', zone: ZONE, pattern: '*.dyn.upd.test', types: ['A', 'TXT', 'A'] });
    await store.allowUpdate({ key: 'acme', zone: ZONE, pattern: `host.${ZONE}`, types: ['A', 'CNAME', 'TXT'] });
    await store.allowUpdate({ key: 'acme', zone: 'other.test', pattern: '*', types: ['ANY'] });
    expect(await store.listUpdateRules('acme')).toEqual([
      { key: 'acme', zone: 'other.test', pattern: '*', types: ['ANY'] },
      { key: 'acme', zone: ZONE, pattern: '*.dyn.upd.test', types: ['A', 'TXT'] },
      { key: 'acme', zone: ZONE, pattern: '_acme-challenge.*', types: ['TXT'] },
      { key: 'acme', zone: ZONE, pattern: `host.${ZONE}`, types: ['A', 'CNAME', 'TXT'] },
    ]);
    const refused = async (p: Promise<unknown>) => p.then(() => undefined, (e: { code: string; message: string }) => ({ code: e.code, message: e.message }));
    expect(await refused(store.allowUpdate({ key: 'acme', zone: ZONE, pattern: 'www.example.org', types: ['TXT'] }))).toEqual({ code: 'E_INPUT', message: 'name pattern www.example.org is not inside zone upd.test' });
    expect(await refused(store.allowUpdate({ key: 'acme', zone: ZONE, pattern: 'a.*.upd.test', types: ['TXT'] }))).toMatchObject({ code: 'E_INPUT' });
    expect(await refused(store.allowUpdate({ key: 'acme', zone: ZONE, pattern: '*', types: ['SOA'] }))).toMatchObject({ code: 'E_INPUT', message: expect.stringMatching(/^type SOA cannot be allowed/) });
    expect(await refused(store.allowUpdate({ key: 'acme', zone: ZONE, pattern: '*', types: ['BOGUS'] }))).toMatchObject({ code: 'E_INPUT', message: expect.stringMatching(/record type "BOGUS" is not supported/) });
    expect(await refused(store.allowUpdate({ key: 'nokey', zone: ZONE, pattern: '*', types: ['TXT'] }))).toEqual({ code: 'E_NOT_FOUND', message: 'no tsig key "nokey"' });
    expect(await refused(store.allowUpdate({ key: 'acme', zone: 'nozone.test', pattern: '*', types: ['TXT'] }))).toEqual({ code: 'E_NOT_FOUND', message: 'no zone "nozone.test"' });
    // Plain SQL meets the same rule, in one line.
    await expect(client.query(`insert into update_policies (key_name, zone_id, name, types) select 'acme', id, 'x.example.org', '{TXT}' from zones where name = '${ZONE}'`)).rejects.toThrow('name pattern x.example.org is not inside zone upd.test');
    await expect(client.query(`insert into update_policies (key_name, zone_id, name, types) select 'acme', id, 'x.upd.test', '{SOA}' from zones where name = '${ZONE}'`)).rejects.toThrow(/update_policies_types_valid/);
    // Rules are audited, each named by its pattern.
    const audited = await client.query(`select op, name, new ->> 'types' as types from audit_log where table_name = 'update_policies' order by id`);
    expect(audited.rows.slice(0, 3)).toEqual([
      { op: 'insert', name: '_acme-challenge.*', types: '["TXT"]' },
      { op: 'insert', name: '*.dyn.upd.test', types: '["A", "AAAA"]' },
      { op: 'update', name: '*.dyn.upd.test', types: '["A", "TXT"]' },
    ]);
  });

  it('keeps a key its rules name, and the rules of a zone go with it', async () => {
    await expect(store.removeTsigKey('acme')).rejects.toThrow('tsig key acme may update zone other.test (lbdns tsig deny-update acme first)');
    await store.addZone({ name: 'gone.test' });
    await store.allowUpdate({ key: 'idle', zone: 'gone.test', pattern: '*', types: ['TXT'] });
    await store.removeZone('gone.test');
    expect(await store.listUpdateRules('idle')).toEqual([]);
    await store.removeTsigKey('idle');
    await store.addTsigKey({ name: 'idle', algorithm: 'hmac-sha256', secret: SECRET });
    expect((await store.denyUpdate('acme', { zone: 'other.test' })).map((r) => r.pattern)).toEqual(['*']);
    await expect(store.denyUpdate('acme', { zone: 'other.test' })).rejects.toThrow('no update rule of key acme in zone other.test');
  });
});

describe('applyUpdate', () => {
  let before: unknown;
  beforeEach(async () => {
    before = await contents();
  });

  it('adds and deletes within the rules, moves the serial once, and names the key as the actor', async () => {
    const serial = (await store.getZone(ZONE))!.serial;
    const name = `_acme-challenge.www.${ZONE}`;
    const added = await update([{ kind: 'name-not-in-use', name }], [txt(name, '"token-1"'), txt(name, '"token-2"')]);
    expect(added).toEqual({ result: 'ok', changed: 2, ignored: 0, serial: serial + 1 });
    expect((await store.listRecords({ name })).map((r) => [r.type, r.ttl, r.content])).toEqual([['TXT', 60, '"token-1"'], ['TXT', 60, '"token-2"']]);
    // The audit log (migration 0013) names the key as who wrote the records.
    const seen = await client.query(`select op, actor from audit_log where table_name = 'records' and name like $1 order by id`, [`${name} TXT %`]);
    expect(seen.rows).toEqual([{ op: 'insert', actor: 'tsig:acme' }, { op: 'insert', actor: 'tsig:acme' }]);
    const removed = await update([{ kind: 'rrset-equals', name, type: 'TXT', contents: ['"token-2"', '"token-1"'] }], [{ kind: 'delete-rr', name, type: 'TXT', content: '"token-1"' }]);
    expect(removed).toMatchObject({ result: 'ok', changed: 1, serial: serial + 2 });
    expect(await update([], [{ kind: 'delete-rrset', name, type: 'TXT' }])).toMatchObject({ result: 'ok', changed: 1, serial: serial + 3 });
    expect(await store.listRecords({ name })).toEqual([]);
    // Nothing to delete: ok, and the serial stays.
    expect(await update([], [{ kind: 'delete-rrset', name, type: 'TXT' }])).toMatchObject({ result: 'ok', changed: 0, serial: serial + 3 });
  });

  it('an update is one transaction in the audit log, which lbdns_revert undoes', async () => {
    const name = `_acme-challenge.revert.${ZONE}`;
    expect(await update([], [txt(name, '"one"'), txt(name, '"two"')])).toMatchObject({ result: 'ok', changed: 2 });
    const tx = await client.query(`select distinct txid from audit_log where actor = 'tsig:acme' and name like $1`, [`${name} %`]);
    expect(tx.rows).toHaveLength(1);
    await client.query('select lbdns_revert($1)', [tx.rows[0].txid]);
    expect(await store.listRecords({ name })).toEqual([]);
  });

  it('refuses changes outside the rules, and leaves the store as it was', async () => {
    const cases: [UpdateOperation[], string, string?, string?][] = [
      [[txt(`_acme-challenge.www.${ZONE}`, '"x"'), txt(`www.${ZONE}`, '"x"')], `key acme may not update www.${ZONE} TXT`],
      [[{ kind: 'add', name: `_acme-challenge.${ZONE}`, type: 'A', ttl: 60, content: '192.0.2.1' }], `key acme may not update _acme-challenge.${ZONE} A`],
      [[txt(`lb.${ZONE}`, '"x"')], `key acme may not update lb.${ZONE} TXT`],
      [[{ kind: 'delete-rrset', name: ZONE, type: 'NS' }], `${ZONE} NS: the apex NS set is not changed by updates`],
      [[{ kind: 'add', name: ZONE, type: 'SOA', ttl: 0, content: 'x' }], `${ZONE} SOA: the zone's SOA is not changed by updates (its serial moves by itself)`],
      [[txt(`_acme-challenge.${ZONE}`, '"x"')], 'key idle has no update rules for zone upd.test', 'idle'],
      [[txt(`_acme-challenge.other.test`, '"x"')], 'key acme has no update rules for zone other.test', 'acme', 'other.test'],
    ];
    for (const [ops, reason, key, zone] of cases) {
      expect(await update([], ops, key, zone)).toEqual({ result: 'refused', reason, changed: 0, ignored: 0 });
    }
    expect(await update([], [txt('x.nowhere.test', '"x"')], 'acme', 'nowhere.test')).toMatchObject({ result: 'notauth' });
    expect(await contents()).toEqual(before);
  });

  it('refuses anything naming a pool, even with a rule that covers it', async () => {
    await store.allowUpdate({ key: 'idle', zone: ZONE, pattern: '*', types: ['ANY'] });
    try {
      expect(await update([], [txt(`lb.${ZONE}`, '"x"')], 'idle')).toMatchObject({ result: 'refused', reason: `lb.${ZONE} is a pool: its addresses follow health checks, and updates do not touch it` });
      expect(await update([{ kind: 'name-in-use', name: `lb.${ZONE}` }], [txt(`t.${ZONE}`, '"x"')], 'idle')).toMatchObject({ result: 'refused' });
      // Deleting a name deletes every type there: the apex NS set stays, the rest must be covered.
      expect(await update([], [{ kind: 'delete-name', name: `www.${ZONE}` }], 'acme')).toMatchObject({ result: 'refused', reason: `key acme may not update www.${ZONE} A (deleting the name would)` });
      expect(await contents()).toEqual(before);
      expect(await update([], [{ kind: 'delete-name', name: ZONE }], 'idle')).toMatchObject({ result: 'ok', changed: 0 });
      expect((await store.listRecords({ name: ZONE })).map((r) => r.type)).toEqual(['NS']);
    } finally {
      await store.denyUpdate('idle');
    }
  });

  it('answers each failed prerequisite with its rcode and changes nothing', async () => {
    const add = [txt(`host.${ZONE}`, '"should not land"')];
    const cases: [Prerequisite, string][] = [
      [{ kind: 'name-in-use', name: `nothing.${ZONE}` }, 'nxdomain'],
      [{ kind: 'name-not-in-use', name: `www.${ZONE}` }, 'yxdomain'],
      [{ kind: 'name-not-in-use', name: ZONE }, 'yxdomain'],
      [{ kind: 'rrset-exists', name: `www.${ZONE}`, type: 'MX' }, 'nxrrset'],
      [{ kind: 'rrset-not-exists', name: `www.${ZONE}`, type: 'A' }, 'yxrrset'],
      [{ kind: 'rrset-not-exists', name: ZONE, type: 'SOA' }, 'yxrrset'],
      [{ kind: 'rrset-equals', name: `www.${ZONE}`, type: 'A', contents: ['192.0.2.10', '192.0.2.11'] }, 'nxrrset'],
      [{ kind: 'rrset-equals', name: `www.${ZONE}`, type: 'A', contents: ['192.0.2.99'] }, 'nxrrset'],
    ];
    for (const [p, result] of cases) expect(await update([p], add)).toMatchObject({ result, changed: 0 });
    expect(await contents()).toEqual(before);
    // The same checks hold when true (the apex SOA included), and then the change goes in.
    const soa = await store.getZone(ZONE);
    const ok = await update(
      [
        { kind: 'name-in-use', name: `www.${ZONE}` },
        { kind: 'name-not-in-use', name: `nothing.${ZONE}` },
        { kind: 'rrset-exists', name: ZONE, type: 'SOA' },
        { kind: 'rrset-equals', name: ZONE, type: 'SOA', contents: [`${soa!.mname} ${soa!.rname} ${soa!.serial} ${soa!.refresh} ${soa!.retry} ${soa!.expire} ${soa!.minimum}`] },
        { kind: 'rrset-equals', name: `www.${ZONE}`, type: 'A', contents: ['192.0.2.10'] },
        { kind: 'rrset-not-exists', name: `www.${ZONE}`, type: 'MX' },
      ],
      add,
    );
    expect(ok).toMatchObject({ result: 'ok', changed: 1 });
    await update([], [{ kind: 'delete-rrset', name: `host.${ZONE}`, type: 'TXT' }]);
  });

  it('follows RFC 2136 for CNAMEs and RFC 2181 for TTLs', async () => {
    const host = `host.${ZONE}`;
    expect(await update([], [txt(host, '"a"', 60)])).toMatchObject({ changed: 1 });
    // A CNAME beside other data is ignored, and so is data beside a CNAME.
    expect(await update([], [{ kind: 'add', name: host, type: 'CNAME', ttl: 60, content: `www.${ZONE}` }])).toMatchObject({ result: 'ok', changed: 0, ignored: 1 });
    // A second TXT with another TTL: the whole RRset takes it.
    expect(await update([], [txt(host, '"b"', 120)])).toMatchObject({ changed: 2 });
    expect((await store.listRecords({ name: host })).map((r) => [r.ttl, r.content])).toEqual([[120, '"a"'], [120, '"b"']]);
    expect(await update([], [{ kind: 'delete-name', name: host }])).toMatchObject({ changed: 2 });
    expect(await update([], [{ kind: 'add', name: host, type: 'CNAME', ttl: 60, content: `www.${ZONE}` }])).toMatchObject({ changed: 1 });
    expect(await update([], [txt(host, '"c"')])).toMatchObject({ changed: 0, ignored: 1 });
    // A CNAME replaces the CNAME.
    expect(await update([], [{ kind: 'add', name: host, type: 'CNAME', ttl: 60, content: `alias.${ZONE}` }])).toMatchObject({ changed: 1 });
    expect((await store.listRecords({ name: host })).map((r) => r.content)).toEqual([`alias.${ZONE}`]);
    await update([], [{ kind: 'delete-name', name: host }]);
  });

  it('rolls back the changes already made when the database refuses a later one', async () => {
    // DNAME is allowed by no rule of acme: give it one, then ask for two DNAMEs at one name (RFC 6672 refuses).
    await store.allowUpdate({ key: 'idle', zone: ZONE, pattern: `*.${ZONE}`, types: ['DNAME', 'TXT'] });
    try {
      const before2 = await contents();
      const err = await update([], [
        txt(`d.${ZONE}`, '"first"'),
        { kind: 'add', name: `d.${ZONE}`, type: 'DNAME', ttl: 60, content: 'a.example.org' },
        { kind: 'add', name: `d.${ZONE}`, type: 'DNAME', ttl: 60, content: 'b.example.org' },
      ], 'idle').then(() => undefined, (e: { code: string; message: string }) => e);
      expect(err).toMatchObject({ code: 'E_CONFLICT', message: `record d.${ZONE}: a name holds at most one DNAME` });
      expect(await contents()).toEqual(before2);
    } finally {
      await store.denyUpdate('idle');
    }
  });
});
