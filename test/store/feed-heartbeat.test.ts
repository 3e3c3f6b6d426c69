// A LISTEN link that goes silent without closing: found by the heartbeat within 3 s, polled around, and reopened.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HEARTBEAT_DEADLINE_MS, HEARTBEAT_INTERVAL_MS } from '../../src/store/change-feed.js';
import { openStore, type Change, type FeedStatus, type Store } from '../../src/store/store.js';
import { createTestDatabase, pgAvailable, storeConfig, type TestDatabase } from '../helpers/db.js';
import { CuttableProxy } from '../helpers/proxy.js';

const havePg = await pgAvailable();
if (!havePg && process.env.CI) throw new Error('PostgreSQL must answer on 127.0.0.1:5432 in CI');

const POLL_MS = 500;
/** The promise of issue 12: a dead link is declared dead within 3 s. */
const DEAD_WITHIN_MS = 3000;

let db: TestDatabase;
let proxy: CuttableProxy;
let store: Store;
let direct: pg.Client;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, ok: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
  return Date.now() - t0;
}

/** Inserts a record straight into PostgreSQL (not through the proxy); returns config_version after it. */
async function addRecord(name: string): Promise<number> {
  await direct.query(`insert into records (zone_id, name, type, content) select id, $1, 'A', '192.0.2.9' from zones where name = 'beat.test'`, [name]);
  return Number((await direct.query('select version from config_version')).rows[0].version);
}

beforeAll(async () => {
  db = await createTestDatabase();
  if (!havePg) return;
  const setup = await openStore(storeConfig(db), { role: 'server', migrate: true });
  await setup.addZone({ name: 'beat.test' });
  await setup.close();
  direct = new pg.Client(db.url);
  await direct.connect();
});
afterAll(async () => {
  await direct?.end();
  await db?.drop();
});
afterEach(async () => {
  await store?.close();
  await proxy?.cut().catch(() => undefined);
});

async function openThroughProxy(): Promise<void> {
  proxy = new CuttableProxy(5432);
  await proxy.open();
  const url = new URL(db.url!);
  url.port = String(proxy.port);
  store = await openStore({ ...storeConfig(db), databaseUrl: url.toString() }, { role: 'server', pollIntervalMs: POLL_MS });
}

describe.skipIf(!havePg)('change feed heartbeat', () => {
  it('declares a black-holed LISTEN link dead within 3 s, polls at once, and listens again once it heals', async () => {
    await openThroughProxy();
    const statuses: FeedStatus[] = [];
    const changes: Change[] = [];
    const failures: string[] = [];
    const stop = await store.watchChanges((c) => changes.push(c), (s) => statuses.push(s), { onHeartbeatFailure: (e) => failures.push(e) });
    try {
      expect(statuses.at(-1)).toEqual({ via: 'listen', degraded: false, storeReachable: true });
      // Heartbeats are answered while the link is healthy: nothing changes over several of them.
      await sleep(3 * HEARTBEAT_INTERVAL_MS);
      expect(statuses).toHaveLength(1);
      expect(failures).toEqual([]);

      // Only the LISTEN session goes silent; the pooled connections still reach PostgreSQL.
      proxy.blackhole('LISTEN lbdns_changes');
      const t0 = Date.now();
      const version = await addRecord('during.beat.test');
      const dead = await waitFor('poll mode', () => statuses.at(-1)?.via === 'poll', DEAD_WITHIN_MS + 500);
      expect(dead).toBeLessThanOrEqual(DEAD_WITHIN_MS);
      expect(statuses.at(-1)).toMatchObject({ via: 'poll', degraded: true, storeReachable: true, error: expect.stringMatching(/heartbeat/) });
      expect(failures).toHaveLength(1);
      await waitFor('the edit, by polling', () => changes.some((c) => c.version >= version), HEARTBEAT_INTERVAL_MS + HEARTBEAT_DEADLINE_MS + POLL_MS + 1000);
      const seenAfter = Date.now() - t0;
      expect(seenAfter).toBeLessThanOrEqual(DEAD_WITHIN_MS + POLL_MS + 1000);

      // Reconnections run into the same black hole: the feed stays honest about polling, and counts
      // only heartbeat failures (a LISTEN that goes unanswered is a failed reconnection, not one).
      await sleep(4000);
      expect(statuses.at(-1)).toMatchObject({ via: 'poll', degraded: true, storeReachable: true });
      expect(failures).toHaveLength(1);
      const later = await addRecord('later.beat.test');
      await waitFor('a second edit, by polling', () => changes.some((c) => c.version >= later), POLL_MS + 1500);

      proxy.heal();
      // Back-off is at most 10 s between attempts.
      await waitFor('LISTEN again', () => statuses.at(-1)?.via === 'listen', 12_000);
      changes.length = 0;
      const pushed = await addRecord('after.beat.test');
      await waitFor('a notification after healing', () => changes.some((c) => c.table === 'records' && c.version === pushed), 1000);
    } finally {
      await stop();
    }
  });

  it('says the store is unreachable when every connection is black-holed, and cuts the pooled queries left waiting', async () => {
    await openThroughProxy();
    const statuses: FeedStatus[] = [];
    const stop = await store.watchChanges(() => {}, (s) => statuses.push(s));
    try {
      // Opens a pooled connection that will be held in the black hole.
      await store.configVersion();
      proxy.blackhole();
      const waiting = store.configVersion().then(
        () => 'answered',
        (err: Error) => err.message,
      );
      const t0 = Date.now();
      await waitFor('poll mode', () => statuses.at(-1)?.via === 'poll', DEAD_WITHIN_MS + 500);
      // The pooled query held in the black hole fails once the heartbeat finds the link dead, rather than never.
      const outcome = await waiting;
      expect(outcome).not.toBe('answered');
      expect(Date.now() - t0).toBeLessThanOrEqual(DEAD_WITHIN_MS + 500);
      // New connections hang too: the poll's deadline (3 s) turns that into "unreachable".
      await waitFor('unreachable', () => statuses.at(-1)?.storeReachable === false, 3000 + POLL_MS + 1000);
      expect(statuses.at(-1)).toMatchObject({ via: 'poll', degraded: true, storeReachable: false });

      proxy.heal();
      await waitFor('LISTEN again', () => statuses.at(-1)?.via === 'listen', 15_000);
      expect(statuses.at(-1)).toEqual({ via: 'listen', degraded: false, storeReachable: true });
      expect(await store.configVersion()).toBeGreaterThan(0);
    } finally {
      await stop();
    }
  });
});
