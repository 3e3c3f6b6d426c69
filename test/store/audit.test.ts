// The audit log written by the database (migrations/0013_audit.sql): who and what for plain SQL, store sessions and
// API-style actors; secrets never stored; updates paired row by row in bulk statements; history by zone, pool and time.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LbdnsError } from '../../src/errors.js';
import { openStore, sessionConnection, type AuditTransaction, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase, txidOf } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;
/** A psql-like session: a plain pg client with its own application_name. */
let psql: pg.Client;
let role: string;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  psql = new pg.Client({ connectionString: sqlUrl(db), application_name: 'psql-audit-test' });
  await psql.connect();
  role = (await psql.query('select current_user as r')).rows[0].r;
});
afterAll(async () => {
  await psql?.end();
  await store?.close();
  await db?.drop();
});

/** Runs `statements` in one transaction of the psql session; returns its txid. */
const inTx = (...statements: string[]): Promise<number> => txidOf(psql, ...statements);

async function transaction(txid: number): Promise<AuditTransaction> {
  const h = await store.history({ limit: 1000, perTransaction: 100_000 });
  const t = h.transactions.find((x) => x.txid === txid);
  if (t === undefined) throw new Error(`transaction ${txid} not in the history`);
  return t;
}

const auditCount = async (txid: number): Promise<number> => Number((await psql.query('select count(*) as n from audit_log where txid = $1', [txid])).rows[0].n);

describe('who', () => {
  beforeAll(async () => {
    await store.addZone({ name: 'who.test' });
    await store.addRecord({ name: 'www.who.test', type: 'A', content: '192.0.2.1', ttl: 300 });
  });

  it('records a plain SQL update as db:<role> with the application name, the old and new images, in its transaction', async () => {
    const txid = await inTx(`update records set ttl = 120 where name = 'www.who.test'`);
    const t = await transaction(txid);
    expect(t).toMatchObject({ txid, actor: `db:${role}`, application: 'psql-audit-test', total: 1 });
    expect(t.changes).toHaveLength(1);
    const c = t.changes[0];
    expect(c).toMatchObject({ table: 'records', op: 'update', name: 'www.who.test A 192.0.2.1' });
    expect(c.old).toMatchObject({ ttl: 300, content: '192.0.2.1' });
    expect(c.new).toMatchObject({ ttl: 120, content: '192.0.2.1' });
    expect(c.key).toBe(String(c.new!.id));
    // The serial bump of the same transaction is derived, not an edit: no zones row.
    expect(t.changes.some((x) => x.table === 'zones')).toBe(false);
    expect(Math.abs(t.at - Date.now())).toBeLessThan(60_000);
  });

  it('names the actor an API-style writer sets for its transaction (token:NAME)', async () => {
    const txid = await inTx(`set local lbdns.actor = 'token:deploy'`, `insert into records (zone_id, name, type, content) select id, 'api.who.test', 'A', '192.0.2.7' from zones where name = 'who.test'`);
    expect(await transaction(txid)).toMatchObject({ actor: 'token:deploy', application: 'psql-audit-test' });
  });

  it('names the session actor of a store opened with one, on every connection, with no statement of its own', async () => {
    const cli = await openStore(storeConfig(db), { role: 'client', session: { actor: 'alice smith', applicationName: 'lbdns-cli' } });
    try {
      await cli.addRecord({ name: 'cli.who.test', type: 'TXT', content: '"hello"' });
      await cli.removeRecord({ name: 'cli.who.test', type: 'TXT' });
    } finally {
      await cli.close();
    }
    const h = await store.history({ target: 'who.test', limit: 2 });
    expect(h.transactions.map((t) => [t.actor, t.application, t.changes[0].op, t.changes[0].name])).toEqual([
      ['alice smith', 'lbdns-cli', 'delete', 'cli.who.test TXT "hello"'],
      ['alice smith', 'lbdns-cli', 'insert', 'cli.who.test TXT "hello"'],
    ]);
  });

  it('puts the actor in the startup options, after any the connection string has', () => {
    const c = sessionConnection('postgres://u:p%40ss@127.0.0.1:5432/db?options=-c%20statement_timeout%3D5000', { actor: 'a b\\c', applicationName: 'lbdns-cli' });
    const u = new URL(c.connectionString);
    expect(u.searchParams.get('options')).toBe('-c statement_timeout=5000 -c lbdns.actor=a\\ b\\\\c');
    expect(u.searchParams.get('application_name')).toBe('lbdns-cli');
    expect(u.password).toBe('p%40ss');
    // An application name the operator gave wins; a control character is not an actor.
    const own = new URL(sessionConnection('postgres://h/db?application_name=mine', { actor: 'x\ny' }).connectionString);
    expect(own.searchParams.get('application_name')).toBe('mine');
    expect(own.searchParams.get('options')).toBeNull();
  });
});

describe('what', () => {
  it('records nothing for an update that changes nothing, and one row per changed row of a bulk statement, paired by key', async () => {
    await store.addZone({ name: 'bulk.test' });
    await inTx(`insert into records (zone_id, name, type, ttl, content)
                select z.id, 'h' || i || '.bulk.test', 'A', i, '198.51.100.' || (i % 250 + 1) from zones z, generate_series(1, 1500) i where z.name = 'bulk.test'`);
    expect(await auditCount(await inTx(`update records set ttl = ttl where name like '%.bulk.test'`))).toBe(0);
    const txid = await inTx(`update records set ttl = ttl + 1000 where name like '%.bulk.test'`);
    const rows = (await psql.query(`select row_key, op, (old ->> 'ttl')::int as o, (new ->> 'ttl')::int as n, old ->> 'name' as oname, new ->> 'name' as nname from audit_log where txid = $1`, [txid])).rows;
    expect(rows).toHaveLength(1500);
    for (const r of rows) {
      expect(r.op).toBe('update');
      expect(r.n).toBe(r.o + 1000);
      expect(r.nname).toBe(r.oname);
    }
    expect(new Set(rows.map((r) => r.row_key)).size).toBe(1500);
  });

  it('records a zone edit, but not the serial and pool-set rewrites the nodes make', async () => {
    await store.addZone({ name: 'soa.test' });
    const total = async () => Number((await psql.query('select count(*) as n from audit_log')).rows[0].n);
    const before = await total();
    expect(await store.advancePoolSerial('soa.test', 'fingerprint-1', ['web.soa.test 30 A 192.0.2.1'])).toBeGreaterThan(1);
    expect(await store.advancePoolSerial('soa.test', 'fingerprint-2', [])).toBeGreaterThan(1);
    expect(await total()).toBe(before);
    const t = await transaction(await inTx(`update zones set ttl = 600, also_notify = '{192.0.2.53:53}' where name = 'soa.test'`));
    expect(t.changes).toHaveLength(1);
    expect(t.changes[0]).toMatchObject({ table: 'zones', op: 'update', name: 'soa.test', old: { ttl: 3600, also_notify: [] }, new: { ttl: 600, also_notify: ['192.0.2.53:53'] } });
    expect(t.changes[0].new!.serial).toBe((t.changes[0].old!.serial as number) + 1);
    expect(Object.keys(t.changes[0].new!)).not.toContain('pool_set');
  });

  it('records a changed primary key as the delete and the insert it is, and a TRUNCATE as one row', async () => {
    await store.addTsigKey({ name: 'renamed-a', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') });
    const txid = await inTx(`update tsig_keys set name = 'renamed-b' where name = 'renamed-a'`);
    const t = await transaction(txid);
    expect(t.changes.map((c) => [c.op, c.key]).sort()).toEqual([['delete', 'renamed-a'], ['insert', 'renamed-b']]);
    await store.addGeoNetwork({ network: '10.9.0.0/16', country: 'DE' });
    const trunc = await transaction(await inTx('truncate geo_networks'));
    expect(trunc.changes).toEqual([expect.objectContaining({ table: 'geo_networks', op: 'truncate', old: null, new: null })]);
  });

  it('audits every table that configures answers', async () => {
    const r = await psql.query(`select c.relname, count(t.tgname) as n from pg_class c left join pg_trigger t on t.tgrelid = c.oid and t.tgname like '%\\_audit\\_%'
                                 where c.relname in ('zones', 'records', 'pools', 'pool_members', 'geo_networks', 'maintenance_windows', 'tsig_keys', 'dnssec_keys', 'member_health', 'vantage_points')
                                 group by c.relname order by c.relname`);
    expect(Object.fromEntries(r.rows.map((x) => [x.relname, Number(x.n)]))).toEqual({
      dnssec_keys: 4, geo_networks: 4, maintenance_windows: 4, member_health: 0, pool_members: 4, pools: 4, records: 4, tsig_keys: 4, vantage_points: 0, zones: 4,
    });
  });
});

describe('secrets', () => {
  it('never stores a TSIG secret or a DNSSEC private key, and says when a secret changed', async () => {
    const secret = randomBytes(32).toString('base64');
    const rotated = randomBytes(32).toString('base64');
    await store.addZone({ name: 'secret.test' });
    await store.addTsigKey({ name: 'xfr-key', algorithm: 'hmac-sha256', secret });
    const rotation = await inTx(`update tsig_keys set secret = '${rotated}' where name = 'xfr-key'`);
    await store.enableDnssec('secret.test', 13, 'a key secret of enough length');
    const sealed = (await psql.query(`select encode(private_key, 'hex') as hex, encode(private_key, 'base64') as b64 from dnssec_keys`)).rows[0];
    await store.disableDnssec('secret.test');
    await store.removeTsigKey('xfr-key');
    const text = (await psql.query(`select string_agg(coalesce(old::text, '') || coalesce(new::text, '') || name, ' ') as t from audit_log`)).rows[0].t as string;
    for (const s of [secret, rotated, sealed.hex, sealed.b64.replace(/\n/g, ''), 'a key secret of enough length']) expect(text).not.toContain(s);
    const rows = (await psql.query(`select table_name, op, old, new from audit_log where table_name in ('tsig_keys', 'dnssec_keys') and (new ->> 'name' = 'xfr-key' or old ->> 'name' = 'xfr-key' or table_name = 'dnssec_keys') order by id`)).rows;
    expect(rows.map((r) => [r.table_name, r.op, r.old?.secret ?? r.old?.private_key ?? null, r.new?.secret ?? r.new?.private_key ?? null])).toEqual([
      ['tsig_keys', 'insert', null, '(secret)'],
      ['tsig_keys', 'update', '(secret)', '(secret, changed)'],
      ['dnssec_keys', 'insert', null, '(secret)'],
      ['dnssec_keys', 'delete', '(secret)', null],
      ['tsig_keys', 'delete', '(secret)', null],
    ]);
    expect((await transaction(rotation)).changes[0].new).toMatchObject({ secret: '(secret, changed)', algorithm: 'hmac-sha256' });
  });
});

describe('history', () => {
  let old: number;
  beforeAll(async () => {
    await store.addZone({ name: 'one.test' });
    await store.addZone({ name: 'two.test' });
    await store.addRecord({ name: 'a.one.test', type: 'A', content: '192.0.2.10' });
    await store.addRecord({ name: 'a.two.test', type: 'A', content: '192.0.2.20' });
    await store.addPool({ name: 'web.one.test' });
    await store.addMember('web.one.test', { address: '192.0.2.11' });
    await store.addMember('web.one.test', { address: '192.0.2.12' });
    await store.addPool({ name: 'web.two.test' });
    await store.addMember('web.two.test', { address: '192.0.2.21' });
    await store.addPool({ name: 'gone.one.test' });
    await store.addMember('gone.one.test', { address: '192.0.2.13' });
    await store.removePool('gone.one.test');
    // A transaction two hours old.
    old = await inTx(`update records set ttl = 99 where name = 'a.one.test'`);
    await psql.query(`update audit_entries set at = at - interval '2 hours' where txid = $1`, [old]);
  });

  it('narrows to a zone: its row, records, pools and members, removed ones included; newest first', async () => {
    const h = await store.history({ target: 'one.test', limit: 100 });
    expect(h.scope).toEqual({ kind: 'zone', name: 'one.test' });
    const lines = h.transactions.flatMap((t) => t.changes.map((c) => `${c.op} ${c.table} ${c.name}`));
    expect(lines).toEqual([
      'update records a.one.test A 192.0.2.10',
      'delete pools gone.one.test',
      'delete pool_members 192.0.2.13',
      'insert pool_members 192.0.2.13',
      'insert pools gone.one.test',
      'insert pool_members 192.0.2.12',
      'insert pool_members 192.0.2.11',
      'insert pools web.one.test',
      'insert records a.one.test A 192.0.2.10',
      'insert zones one.test',
    ]);
    const ats = h.transactions.map((t) => t.txid);
    expect(ats[0]).toBe(old);
    expect(h.transactions[1].changes.map((c) => c.context)).toEqual([null, null]);
    expect(h.transactions.find((t) => t.changes[0].name === '192.0.2.11')!.changes[0].context).toBe('pool web.one.test');
  });

  it('narrows to a pool: its row and its members, not its zone or records', async () => {
    const h = await store.history({ target: 'web.two.test.' });
    expect(h.scope).toEqual({ kind: 'pool', name: 'web.two.test' });
    expect(h.transactions.flatMap((t) => t.changes.map((c) => `${c.op} ${c.table} ${c.name}`))).toEqual(['insert pool_members 192.0.2.21', 'insert pools web.two.test']);
  });

  it('takes --since and --limit, and says when the name is neither a zone nor a pool', async () => {
    const recent = await store.history({ target: 'one.test', since: Date.now() - 3_600_000 });
    expect(recent.transactions.some((t) => t.txid === old)).toBe(false);
    expect(recent.transactions).toHaveLength(8);
    expect((await store.history({ target: 'one.test', since: Date.now() - 3 * 3_600_000 })).transactions[0].txid).toBe(old);
    expect((await store.history({ limit: 2 })).transactions).toHaveLength(2);
    await expect(store.history({ target: 'nowhere.test' })).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: 'no zone or pool "nowhere.test", now or in the audit log' });
    await expect(store.history({ target: 'bad..name' })).rejects.toBeInstanceOf(LbdnsError);
  });

  it('lists a large transaction in part and counts the rest', async () => {
    const txid = await inTx(`update records set ttl = 7 where name like '%.bulk.test'`);
    const t = (await store.history({ target: 'bulk.test', limit: 1 })).transactions[0];
    expect(t).toMatchObject({ txid, total: 1500 });
    expect(t.changes).toHaveLength(50);
  });
});
