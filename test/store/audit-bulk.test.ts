// Bulk audit entries (migrations/0017_audit_bulk.sql): a statement of lbdns_audit_bulk_rows() rows or more is one
// audit_entries row, and the audit_log view reads it back as the per-row entries it replaces: the same keys, names and
// images, an update's unchanged rows left out, history and revert working on it as on any other.
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
  store = await openStore(storeConfig(db), { role: db.url === undefined ? 'server' : 'client', session: { actor: 'alice', applicationName: 'lbdns-cli' } });
  psql = new pg.Client({ connectionString: sqlUrl(db), application_name: 'psql' });
  await psql.connect();
  await store.addZone({ name: 'bulk.test' });
  await store.addZone({ name: 'rows.test' });
});
afterAll(async () => {
  await psql?.end();
  await store?.close();
  await db?.drop();
});

const inTx = (...statements: string[]): Promise<number> => txidOf(psql, ...statements);

const insertRecords = (zone: string, from: number, to: number): string =>
  `insert into records (zone_id, name, type, ttl, content)
   select z.id, 'h' || i || '.${zone}', 'A', 300, '192.0.2.' || (i % 250 + 1) from zones z, generate_series(${from}, ${to}) i where z.name = '${zone}'`;

interface Change {
  part: number;
  op: string;
  row_key: string;
  name: string;
  old: Record<string, unknown> | null;
  new: Record<string, unknown> | null;
}

/** The log's rows of one transaction, as the view shows them. */
const changes = async (txid: number): Promise<Change[]> =>
  (await psql.query(`select part, op, row_key, name, old, new from audit_log where txid = $1 order by id, part`, [txid])).rows;
/** The physical entries of one transaction. */
const entries = async (txid: number): Promise<{ op: string; name: string; bulk: boolean }[]> =>
  (await psql.query(`select op, name, bulk_old is not null or bulk_new is not null as bulk from audit_entries where txid = $1 order by id`, [txid])).rows;
/** Every record of a zone as the per-row audit path images it (to_jsonb of the row). */
const images = async (zone: string): Promise<Record<string, unknown>[]> =>
  (await psql.query(`select to_jsonb(r) as j from records r join zones z on z.id = r.zone_id where z.name = $1 order by r.id`, [zone])).rows.map((r) => r.j);
const recordCount = async (zone: string): Promise<number> =>
  Number((await psql.query(`select count(*) as n from records r join zones z on z.id = r.zone_id where z.name = $1`, [zone])).rows[0].n);

describe('bulk entries', () => {
  it('writes one entry for an insert of 64 rows or more, read back as one change per row with its key, name and image', async () => {
    const txid = await inTx(insertRecords('bulk.test', 1, 100));
    expect(await entries(txid)).toEqual([{ op: 'insert', name: '100 rows', bulk: true }]);
    const seen = await changes(txid);
    const now = await images('bulk.test');
    expect(now).toHaveLength(100);
    expect(seen.map((c) => c.part)).toEqual(now.map((_, i) => i + 1));
    expect(seen.map((c) => c.new)).toEqual(now);
    expect(seen.every((c) => c.op === 'insert' && c.old === null)).toBe(true);
    expect(seen.map((c) => c.row_key)).toEqual(now.map((r) => String(r.id)));
    expect(seen[0].name).toBe(`h1.bulk.test A 192.0.2.2`);
  });

  it('keeps a statement under 64 rows as one entry per row, and the view reads both alike', async () => {
    const txid = await inTx(insertRecords('rows.test', 1, 63));
    const physical = await entries(txid);
    expect(physical).toHaveLength(63);
    expect(physical.every((e) => !e.bulk)).toBe(true);
    const seen = await changes(txid);
    expect(seen.every((c) => c.part === 0)).toBe(true);
    expect(seen.map((c) => c.new)).toEqual(await images('rows.test'));
  });

  it('reads an update as its changed rows with both images, and shows nothing for rows it did not change', async () => {
    await psql.query(`update records set ttl = 60 where name = 'h7.bulk.test'`);
    const txid = await inTx(`update records set ttl = 60 where zone_id = (select id from zones where name = 'bulk.test')`);
    expect(await entries(txid)).toEqual([{ op: 'update', name: '100 rows', bulk: true }]);
    const seen = await changes(txid);
    expect(seen).toHaveLength(99);
    expect(seen.some((c) => c.name.startsWith('h7.bulk.test '))).toBe(false);
    expect(seen.every((c) => c.op === 'update' && c.old?.ttl === 300 && c.new?.ttl === 60 && c.old?.id === c.new?.id)).toBe(true);
    // A statement that changes nothing: an entry the view shows no row of, so no transaction in history or revert.
    const idle = await inTx(`update records set ttl = ttl where zone_id = (select id from zones where name = 'bulk.test')`);
    expect(await changes(idle)).toEqual([]);
    await expect(store.revert(idle)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('pairs an update that changes primary keys by key, row by row, as before', async () => {
    const txid = await inTx(`update records set id = id + 1000000 where zone_id = (select id from zones where name = 'rows.test')`);
    const physical = await entries(txid);
    expect(physical.every((e) => !e.bulk)).toBe(true);
    const seen = await changes(txid);
    expect(seen.filter((c) => c.op === 'delete')).toHaveLength(63);
    expect(seen.filter((c) => c.op === 'insert')).toHaveLength(63);
  });

  it('follows lbdns.audit_bulk_rows, and falls back to 64 for a value that is not a count', async () => {
    await psql.query(`set lbdns.audit_bulk_rows = 200`);
    const under = await inTx(insertRecords('bulk.test', 101, 250));
    expect(await entries(under)).toHaveLength(150);
    await psql.query(`set lbdns.audit_bulk_rows = 'many'`);
    const fallback = await inTx(insertRecords('bulk.test', 251, 320));
    expect(await entries(fallback)).toEqual([{ op: 'insert', name: '70 rows', bulk: true }]);
    await psql.query(`reset lbdns.audit_bulk_rows`);
    expect(await recordCount('bulk.test')).toBe(320);
  });

  it('keeps tsig keys row by row, so that no secret is ever in the log', async () => {
    const txid = await inTx(
      `insert into tsig_keys (name, algorithm, secret) select 'k' || i || '.keys.test', 'hmac-sha256', 'c2VjcmV0c2VjcmV0c2VjcmV0' from generate_series(1, 70) i`,
    );
    const physical = await entries(txid);
    expect(physical).toHaveLength(70);
    expect(physical.every((e) => !e.bulk)).toBe(true);
    const text = (await psql.query(`select string_agg(coalesce(new::text, ''), ' ') as t from audit_log where txid = $1`, [txid])).rows[0].t as string;
    expect(text).not.toContain('c2VjcmV0');
  });
});

describe('history and revert of bulk entries', () => {
  it('lists a bulk transaction with its count and its first rows by name', async () => {
    const txid = await inTx(`delete from records where zone_id = (select id from zones where name = 'bulk.test') and ttl = 60`);
    const t = (await store.history({ target: 'bulk.test', limit: 1 })).transactions[0];
    expect(t).toMatchObject({ txid, total: 100, actor: 'db:' + (await psql.query('select current_user as u')).rows[0].u });
    expect(t.changes).toHaveLength(50);
    expect(t.changes.every((c) => c.op === 'delete' && c.table === 'records' && / A 192\.0\.2\.\d+$/.test(c.name))).toBe(true);
    expect(new Set(t.changes.map((c) => c.key)).size).toBe(50);
  });

  it('puts back what a bulk delete removed, and takes away what a bulk insert added', async () => {
    const before = await images('bulk.test');
    const del = await inTx(`delete from records where zone_id = (select id from zones where name = 'bulk.test')`);
    expect(await recordCount('bulk.test')).toBe(0);
    expect(await store.revert(del)).toMatchObject({ reinserted: before.length, removed: 0, restored: 0 });
    expect(await images('bulk.test')).toEqual(before);

    const add = await inTx(insertRecords('bulk.test', 1001, 1200));
    expect(await recordCount('bulk.test')).toBe(before.length + 200);
    expect(await store.revert(add)).toMatchObject({ removed: 200, reinserted: 0, restored: 0 });
    expect(await images('bulk.test')).toEqual(before);
  });

  it('undoes a bulk update, and refuses when a later edit touched one of its rows, changing nothing', async () => {
    const before = await images('bulk.test');
    const upd = await inTx(`update records set ttl = 120 where zone_id = (select id from zones where name = 'bulk.test')`);
    expect(await store.revert(upd)).toMatchObject({ restored: before.length, removed: 0, reinserted: 0 });
    expect(await images('bulk.test')).toEqual(before);

    const again = await inTx(`update records set ttl = 120 where zone_id = (select id from zones where name = 'bulk.test')`);
    await psql.query(`update records set ttl = 121 where name = 'h105.bulk.test'`);
    const now = await images('bulk.test');
    const err = await store.revert(again).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err).toMatchObject({ code: 'E_CONFLICT' });
    expect(err!.message).toMatch(new RegExp(`^cannot revert transaction ${again}: record h105\\.bulk\\.test A 192\\.0\\.2\\.106 was changed later, by transaction \\d+ \\(db:`));
    expect(await images('bulk.test')).toEqual(now);
  });
});
