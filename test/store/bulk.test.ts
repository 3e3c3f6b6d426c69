// Bulk writes: one transaction writing a large zone holds a bounded number of locks (no "out of shared memory"),
// and the name rules that those locks protect still hold between concurrent writers.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';

// Before 0003 one transaction took an advisory lock per name, and PostgreSQL's default lock table
// (64 × max_connections entries) ran out at about 15,000 names; PGlite has the same table.
const RECORDS = 30_000;
const POOLS = 2_000;
const MEMBERS = 8;

let db: TestDatabase;
let store: Store;
let c: pg.Client;
let zoneId: number;
let clients: pg.Client[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  c = await connect();
  zoneId = (await c.query(`insert into zones (name) values ('bulk.test') returning id`)).rows[0].id;
});
afterEach(async () => {
  await Promise.all(clients.filter((x) => x !== c).map((x) => x.end().catch(() => {})));
  clients = clients.filter((x) => x === c);
});
afterAll(async () => {
  await c?.end();
  await store?.close();
  await db?.drop();
});

async function connect(): Promise<pg.Client> {
  const client = new pg.Client(sqlUrl(db));
  await client.connect();
  clients.push(client);
  return client;
}

const embedded = (): boolean => db.url === undefined;
const count = async (sql: string): Promise<number> => Number((await c.query(sql)).rows[0].n);
const serial = async (): Promise<number> => Number((await c.query('select serial from zones where id = $1', [zoneId])).rows[0].serial);
const version = async (): Promise<number> => Number((await c.query('select version from config_version')).rows[0].version);

/** Resolves once the backend `pid` waits for a lock held by another transaction (PostgreSQL only). */
async function waitsForLock(pid: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const r = await c.query('select wait_event_type from pg_stat_activity where pid = $1', [pid]);
    if (r.rows[0]?.wait_event_type === 'Lock') return;
    await sleep(25);
  }
  throw new Error(`backend ${pid} never waited for a lock`);
}

const pid = async (x: pg.Client): Promise<number> => (await x.query('select pg_backend_pid() as pid')).rows[0].pid;

describe('one transaction writing a large zone', () => {
  it(`inserts ${RECORDS} records and ${POOLS} pools of ${MEMBERS} members with plain SQL, holding a bounded number of locks`, { timeout: 180_000 }, async () => {
    const before = { serial: await serial(), version: await version() };
    await c.query('begin');
    try {
      await c.query(
        `insert into records (zone_id, name, type, ttl, content)
         select $1, 'h' || i || '.bulk.test', 'A', 300, '10.' || (i / 65536) || '.' || (i / 256 % 256) || '.' || (i % 256)
           from generate_series(0, $2::int - 1) i`,
        [zoneId, RECORDS],
      );
      await c.query(
        `insert into pools (zone_id, name, ttl, interval_ms)
         select $1, 'p' || i || '.bulk.test', 30, 3600000 from generate_series(0, $2::int - 1) i`,
        [zoneId, POOLS],
      );
      await c.query(
        `insert into pool_members (pool_id, address, weight)
         select p.id, ('192.0.2.' || k)::inet, k from pools p cross join generate_series(1, $2::int) k where p.zone_id = $1`,
        [zoneId, MEMBERS],
      );
      const locks = (
        await c.query(
          `select count(*) as n, count(*) filter (where locktype = 'advisory') as advisory,
                  current_setting('max_locks_per_transaction')::int as max
             from pg_locks where pid = pg_backend_pid()`,
        )
      ).rows[0];
      expect(Number(locks.advisory)).toBe(0);
      // Relation locks and the transaction's own id: a few dozen, whatever the row count.
      expect(Number(locks.n)).toBeLessThan(locks.max);
      await c.query('commit');
    } catch (err) {
      await c.query('rollback');
      throw err;
    }
    expect(await count(`select count(*) as n from records where zone_id = ${zoneId}`)).toBe(RECORDS);
    expect(await count(`select count(*) as n from pools where zone_id = ${zoneId}`)).toBe(POOLS);
    expect(await count(`select count(*) as n from pool_members m join pools p on p.id = m.pool_id where p.zone_id = ${zoneId}`)).toBe(POOLS * MEMBERS);
    // One transaction: one serial step for the zone (pools do not move it) and one version step.
    expect(await serial()).toBe(before.serial + 1);
    expect(await version()).toBe(before.version + 1);
  });

  it('a bulk statement that breaks a name rule on its last row fails with the row message and stores nothing', async () => {
    const before = { records: await count('select count(*) as n from records'), version: await version() };
    await expect(
      c.query(
        `insert into records (zone_id, name, type, content)
         select $1::int, 'b' || i || '.bulk.test', 'A', '192.0.2.1' from generate_series(0, 999) i
         union all
         select $1, 'b999.bulk.test', 'CNAME', 'h1.bulk.test'`,
        [zoneId],
      ),
    ).rejects.toThrow(/^record b999\.bulk\.test: CNAME cannot coexist with other data$/);
    expect(await count('select count(*) as n from records')).toBe(before.records);
    expect(await version()).toBe(before.version);
  });

  it('bulk updates and deletes move the serial once', async () => {
    const before = await serial();
    await c.query(`update records set ttl = 600 where zone_id = $1 and name like 'h1%'`, [zoneId]);
    expect(await serial()).toBe(before + 1);
    await c.query(`delete from records where zone_id = $1 and name like 'h2%'`, [zoneId]);
    expect(await serial()).toBe(before + 2);
  });
});

describe('concurrent writers at one new name', () => {
  const record = (type: string, content: string) => (name: string) => `insert into records (zone_id, name, type, content) values (${zoneId}, '${name}', '${type}', '${content}')`;
  const pool = (name: string) => `insert into pools (zone_id, name) values (${zoneId}, '${name}')`;
  const races: [string, (n: string) => string, (n: string) => string, (n: string) => RegExp][] = [
    ['a CNAME, then an A', record('CNAME', 'h2.bulk.test'), record('A', '192.0.2.7'), (n) => new RegExp(`^record ${n.replaceAll('.', '\\.')}: CNAME cannot coexist with other data$`)],
    ['an A, then a CNAME', record('A', '192.0.2.7'), record('CNAME', 'h2.bulk.test'), (n) => new RegExp(`^record ${n.replaceAll('.', '\\.')}: CNAME cannot coexist with other data$`)],
    ['a CNAME, then another CNAME', record('CNAME', 'h2.bulk.test'), record('CNAME', 'h3.bulk.test'), (n) => new RegExp(`^record ${n.replaceAll('.', '\\.')}: a name holds at most one CNAME$`)],
    ['a pool, then an A', pool, record('A', '192.0.2.7'), (n) => new RegExp(`^record ${n.replaceAll('.', '\\.')}: name is a pool, which cannot also hold A records$`)],
    ['an A, then a pool', record('A', '192.0.2.7'), pool, (n) => new RegExp(`^pool ${n.replaceAll('.', '\\.')}: name already holds A records$`)],
  ];

  // On PostgreSQL the second writer is seen waiting for the first one's lock before the first commits. PGlite
  // is one session: its socket server runs one transaction at a time, so there the second writer simply
  // runs after the first commit, and only the outcome is checked.
  it.each(races.map((r, i) => [...r, i] as const))('%s: the second writer waits, then fails', async (_label, first, second, message, i) => {
    const name = `race${i}.bulk.test`;
    const a = await connect();
    const b = await connect();
    const bPid = await pid(b);
    await a.query('begin');
    await a.query(first(name));
    const late = b.query(second(name));
    late.catch(() => {});
    if (!embedded()) await waitsForLock(bPid);
    await a.query('commit');
    await expect(late).rejects.toThrow(message(name));
    const held = await c.query(
      `select type from records where zone_id = $1 and name = $2 union all select 'pool' from pools where zone_id = $1 and name = $2`,
      [zoneId, name],
    );
    expect(held.rows).toHaveLength(1);
  });

  it('a savepoint rolled back gives its zone lock back, and the next write in the transaction locks again', async (t) => {
    if (embedded()) t.skip(); // needs two transactions open at once, which PGlite's one session cannot have
    const name = 'sp.bulk.test';
    const a = await connect();
    const b = await connect();
    const aPid = await pid(a);
    await a.query('begin');
    await a.query('savepoint s');
    await a.query(record('CNAME', 'h2.bulk.test')(name));
    await a.query('rollback to savepoint s');
    // A wrong answer below would otherwise hang until the test times out.
    await b.query(`set lock_timeout = '10s'`);
    // The zone is free again: b writes at once (it would wait here if a still held the lock).
    await b.query('begin');
    await b.query(record('A', '192.0.2.8')(name));
    // a must not believe it still holds the zone: its CNAME waits for b, then sees b's A.
    const late = a.query(record('CNAME', 'h2.bulk.test')(name));
    late.catch(() => {});
    await waitsForLock(aPid);
    await b.query('commit');
    await expect(late).rejects.toThrow(/^record sp\.bulk\.test: CNAME cannot coexist with other data$/);
    await a.query('rollback');
    expect((await c.query('select type from records where name = $1', [name])).rows).toEqual([{ type: 'A' }]);
  });
});
