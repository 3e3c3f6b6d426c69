// Revert (lbdns_revert in migrations/0013_audit.sql): updates, inserts and deletes undone in a new, audited transaction;
// a revert that no longer applies is refused in one line naming the row, with every table exactly as it was.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase, txidOf } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;
let psql: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  await (await openStore(storeConfig(db), { role: 'server', migrate: true })).close();
  // The store as the CLI opens it: every write (and revert) names the user.
  store = await openStore(storeConfig(db), { role: db.url === undefined ? 'server' : 'client', session: { actor: 'alice', applicationName: 'lbdns-cli' } });
  psql = new pg.Client({ connectionString: sqlUrl(db), application_name: 'psql' });
  await psql.connect();
});
afterAll(async () => {
  await psql?.end();
  await store?.close();
  await db?.drop();
});

const CONFIG_TABLES = ['zones', 'records', 'pools', 'pool_members', 'geo_networks', 'maintenance_windows', 'tsig_keys', 'dnssec_keys', 'audit_log'];

/** Every row of every configuration table (and the audit log), as it is now. */
async function everything(): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of CONFIG_TABLES) out[t] = (await psql.query(`select to_jsonb(t) as r from ${t} t order by 1`)).rows.map((r) => r.r);
  return out;
}

/** The txid of the last transaction the log holds. */
const lastTxid = async (): Promise<number> => Number((await psql.query('select txid from audit_log order by id desc limit 1')).rows[0].txid);

const inTx = (...statements: string[]): Promise<number> => txidOf(psql, ...statements);

/** A refused revert: the one-line reason, and nothing changed anywhere (the audit log included). */
async function refused(txid: number, code: string, message: string | RegExp): Promise<void> {
  const before = await everything();
  const err = await store.revert(txid).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string },
  );
  expect(err, 'the revert was refused').toBeDefined();
  expect(err!.code).toBe(code);
  expect(err!.message.includes('\n')).toBe(false);
  if (typeof message === 'string') expect(err!.message).toBe(message);
  else expect(err!.message).toMatch(message);
  expect(await everything()).toEqual(before);
}

const ttlOf = async (name: string) => (await psql.query('select ttl from records where name = $1', [name])).rows.map((r) => r.ttl);

describe('revert', () => {
  beforeAll(async () => {
    await store.addZone({ name: 'rev.test' });
    await store.addRecord({ name: 'www.rev.test', type: 'A', content: '192.0.2.1', ttl: 300 });
  });

  it('restores an update, as "<actor> (revert of TXID)", itself in the log', async () => {
    const txid = await inTx(`update records set ttl = 60 where name = 'www.rev.test'`);
    expect(await ttlOf('www.rev.test')).toEqual([60]);
    const r = await store.revert(txid);
    expect(r).toMatchObject({ restored: 1, removed: 0, reinserted: 0 });
    expect(await ttlOf('www.rev.test')).toEqual([300]);
    const t = (await store.history({ limit: 1 })).transactions[0];
    expect(t).toMatchObject({ txid: r.txid, actor: `alice (revert of ${txid})`, application: 'lbdns-cli' });
    expect(t.changes.map((c) => [c.op, c.name, c.old?.ttl, c.new?.ttl])).toEqual([['update', 'www.rev.test A 192.0.2.1', 60, 300]]);
    // Reverting the revert is a change like any other.
    await store.revert(r.txid);
    expect(await ttlOf('www.rev.test')).toEqual([60]);
  });

  it('restores an insert by deleting what it added', async () => {
    await store.addRecord({ name: 'new.rev.test', type: 'TXT', content: '"x"' });
    const txid = await lastTxid();
    expect(await store.revert(txid)).toMatchObject({ removed: 1 });
    expect(await ttlOf('new.rev.test')).toEqual([]);
  });

  it('restores a delete with the same ids: a zone with its records, pools, members and maintenance windows', async () => {
    await store.addZone({ name: 'del.test' });
    await store.addRecord({ name: 'a.del.test', type: 'A', content: '192.0.2.5', ttl: 120 });
    await store.addRecord({ name: 'del.test', type: 'MX', content: '10 mail.del.test' });
    await store.addPool({ name: 'web.del.test', ttl: 20 });
    await store.addMember('web.del.test', { address: '192.0.2.50', weight: 3, country: 'DE' });
    await store.addMember('web.del.test', { address: '2001:db8::50' });
    await store.setOverride('web.del.test', '192.0.2.50', { state: 'drain', reason: 'disk swap', until: null }, { user: 'alice' });
    await store.addMaintenance('web.del.test', '2001:db8::50', { cron: '0 2 * * 0', durationMs: 3_600_000, tz: null, reason: 'patching' });
    const rows = async () => ({
      zone: (await psql.query(`select id, name, mname, rname, ttl, refresh from zones where name = 'del.test'`)).rows,
      records: (await psql.query(`select r.* from records r join zones z on z.id = r.zone_id where z.name = 'del.test' order by r.id`)).rows,
      pools: (await psql.query(`select id, zone_id, name, ttl, policy, created_at from pools where name = 'web.del.test'`)).rows,
      members: (await psql.query(`select id, pool_id, address::text, weight, country, override, override_reason, created_at from pool_members order by id`)).rows,
      windows: (await psql.query(`select id, member_id, cron, duration_s, reason from maintenance_windows order by id`)).rows,
    });
    const before = await rows();
    expect(before.records).toHaveLength(2);
    await store.removeZone('del.test');
    const txid = await lastTxid();
    expect((await rows()).records).toHaveLength(0);
    expect(await store.revert(txid)).toMatchObject({ reinserted: 7, removed: 0, restored: 0 });
    expect(await rows()).toEqual(before);
    // Who set the override is the trigger's to write: the revert put it back.
    expect((await psql.query(`select override_by from pool_members where override is not null`)).rows).toEqual([{ override_by: `alice (revert of ${txid})` }]);
  });

  it('undoes a transaction of inserts, updates and deletes, and a bulk statement, in one go', async () => {
    await inTx(`insert into records (zone_id, name, type, ttl, content)
                select z.id, 'b' || i || '.rev.test', 'A', 60, '198.51.100.' || (i % 250 + 1) from zones z, generate_series(1, 2000) i where z.name = 'rev.test'`);
    const snapshot = await everything();
    const txid = await inTx(
      `update records set ttl = ttl + 1 where name like 'b%.rev.test'`,
      `delete from records where name = 'b7.rev.test'`,
      `insert into records (zone_id, name, type, content) select id, 'extra.rev.test', 'AAAA', '2001:db8::1' from zones where name = 'rev.test'`,
      `update records set content = '198.51.100.99' where name = 'b8.rev.test'`,
    );
    expect(await store.revert(txid)).toMatchObject({ removed: 1, reinserted: 1, restored: 1999 });
    expect((await everything()).records).toEqual(snapshot.records);
  });
});

describe('a revert that no longer applies', () => {
  beforeAll(async () => {
    await store.addZone({ name: 'no.test' });
    await store.addRecord({ name: 'r.no.test', type: 'A', content: '192.0.2.9', ttl: 300 });
  });

  it('is refused when a later transaction changed the same row', async () => {
    const first = await inTx(`update records set ttl = 10 where name = 'r.no.test'`);
    const later = await inTx(`update records set ttl = 20 where name = 'r.no.test'`);
    await refused(first, 'E_CONFLICT', new RegExp(`^cannot revert transaction ${first}: record r\\.no\\.test A 192\\.0\\.2\\.9 was changed later, by transaction ${later} \\(db:\\S+, \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\)$`));
    // Twice: the revert is the later change.
    const r = await store.revert(later);
    await refused(later, 'E_CONFLICT', new RegExp(`was changed later, by transaction ${r.txid} \\(alice \\(revert of ${later}\\)`));
  });

  it('is refused when a removed row cannot be put back: its unique key taken again, or a pool now at its name', async () => {
    await store.removeRecord({ name: 'r.no.test', type: 'A' });
    const removal = await lastTxid();
    await store.addRecord({ name: 'r.no.test', type: 'A', content: '192.0.2.9' });
    await refused(removal, 'E_CONFLICT', /^cannot revert transaction \d+: record r\.no\.test A 192\.0\.2\.9 cannot be put back: duplicate key value violates unique constraint "records_unique"$/);
    await store.removeRecord({ name: 'r.no.test', type: 'A' });
    await store.addPool({ name: 'r.no.test' });
    await refused(removal, 'E_CONFLICT', /^cannot revert transaction \d+: record r\.no\.test A 192\.0\.2\.9 cannot be put back: record r\.no\.test: name is a pool, which cannot also hold A records$/);
  });

  it('is refused when undoing it would take later rows with it (a cascade)', async () => {
    await store.addZone({ name: 'cascade.test' });
    const zoneAdd = await lastTxid();
    await store.addRecord({ name: 'later.cascade.test', type: 'A', content: '192.0.2.77' });
    await refused(zoneAdd, 'E_CONFLICT', `cannot revert transaction ${zoneAdd}: undoing it would also remove record later.cascade.test A 192.0.2.77, which later changes rely on`);
  });

  it('is refused when a row was changed with the audit triggers off', async () => {
    await store.addRecord({ name: 'quiet.no.test', type: 'A', content: '192.0.2.88', ttl: 50 });
    const add = await lastTxid();
    await inTx(`set local session_replication_role = replica`, `update records set ttl = 51 where name = 'quiet.no.test'`);
    await refused(add, 'E_CONFLICT', `cannot revert transaction ${add}: record quiet.no.test A 192.0.2.88 is not as it left it (changed with the audit triggers off?)`);
  });

  it('is refused when it would need a secret the log does not keep', async () => {
    await store.addTsigKey({ name: 'gone-key', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') });
    await store.removeTsigKey('gone-key');
    const removal = await lastTxid();
    await refused(removal, 'E_CONFLICT', `cannot revert transaction ${removal}: tsig key gone-key: its secret is not kept in the audit log (add the key again with lbdns tsig add)`);
  });

  it('is refused for a transaction the log does not hold, or one that is not a transaction id', async () => {
    await refused(1, 'E_NOT_FOUND', 'no transaction 1 in the audit log');
    await refused(0, 'E_INPUT', 'transaction id 0 must be a positive whole number');
  });
});
