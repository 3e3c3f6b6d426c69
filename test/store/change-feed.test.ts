// LISTEN/NOTIFY on PostgreSQL: told exactly at commit, never for a rollback; polling covers a lost LISTEN.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openStore, type Change, type FeedStatus, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;
let c: pg.Client;
let changes: Change[];
let statuses: FeedStatus[];
let stop: () => Promise<void>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  // LISTEN is the PostgreSQL path; the embedded store polls and has its own test.
  if (db.url === undefined) return;
  store = await openStore(storeConfig(db), { role: 'server', migrate: true, pollIntervalMs: 100 });
  await store.addZone({ name: 'feed.test' });
  c = new pg.Client(db.url);
  await c.connect();
  changes = [];
  statuses = [];
  stop = await store.watchChanges((ch) => changes.push(ch), (s) => statuses.push(s));
});
afterAll(async () => {
  await stop?.();
  await c?.end();
  await store?.close();
  await db?.drop();
});
beforeEach((t) => {
  if (db.url === undefined) t.skip();
  changes.length = 0;
});

describe('change feed over LISTEN', () => {
  it('is listening once watchChanges resolves', () => {
    expect(statuses.at(-1)).toEqual({ via: 'listen', degraded: false, storeReachable: true });
  });

  it('reports a committed edit at commit, with table, zone and version', async () => {
    await c.query('begin');
    await c.query(`insert into records (zone_id, name, type, content) select id, 'www.feed.test', 'A', '192.0.2.1' from zones where name = 'feed.test'`);
    await sleep(300);
    expect(changes).toEqual([]);
    const t0 = Date.now();
    await c.query('commit');
    await waitFor('the notification', () => changes.some((ch) => ch.table === 'records'));
    expect(Date.now() - t0).toBeLessThan(1000);
    const version = await store.configVersion();
    expect(changes).toContainEqual({ table: 'records', zone: 'feed.test', version });
    expect(changes).toContainEqual({ table: 'zones', zone: 'feed.test', version });
  });

  it('says nothing about a rolled-back transaction', async () => {
    await c.query('begin');
    await c.query(`delete from records where name = 'www.feed.test'`);
    await c.query('rollback');
    await store.addRecord({ name: 'marker.feed.test', type: 'A', content: '192.0.2.2' });
    await waitFor('the marker', () => changes.length > 0);
    await sleep(100);
    expect(changes.every((ch) => ch.version === changes[0].version)).toBe(true);
    expect(await store.listRecords({ name: 'www.feed.test' })).toHaveLength(1);
  });

  it('reports edits made before it started when given sinceVersion', async () => {
    const seen: Change[] = [];
    const since = await store.configVersion();
    await store.addRecord({ name: 'early.feed.test', type: 'A', content: '192.0.2.3' });
    const stopOther = await store.watchChanges((ch) => seen.push(ch), undefined, { sinceVersion: since });
    try {
      expect(seen).toEqual([{ table: '*', zone: null, version: since + 1 }]);
    } finally {
      await stopOther();
    }
  });

  it('polls while the LISTEN connection is lost, and listens again when it is back', async () => {
    const killed = await c.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query = 'LISTEN lbdns_changes'`);
    expect(killed.rowCount).toBe(1);
    await waitFor('degraded status', () => statuses.at(-1)?.degraded === true);
    expect(statuses.at(-1)).toMatchObject({ via: 'poll', degraded: true });
    // An edit while degraded is noticed by polling (or by the new LISTEN, if it is already back).
    await c.query(`insert into records (zone_id, name, type, content) select id, 'lost.feed.test', 'A', '192.0.2.4' from zones where name = 'feed.test'`);
    const version = await store.configVersion();
    await waitFor('the edit', () => changes.some((ch) => ch.version === version));
    await waitFor('LISTEN again', () => statuses.at(-1)?.via === 'listen', 5000);
    changes.length = 0;
    await store.addRecord({ name: 'back.feed.test', type: 'A', content: '192.0.2.5' });
    await waitFor('a notification after reconnecting', () => changes.some((ch) => ch.table === 'records'));
  });
});
