// PostgreSQL going away under a query in flight: the query fails, the process does not, the pool recovers.
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pgKysely } from '../../src/store/store.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { CuttableProxy } from '../helpers/proxy.js';

const havePg = await pgAvailable();
if (!havePg && process.env.CI) throw new Error('PostgreSQL must answer on 127.0.0.1:5432 in CI');

let db: TestDatabase;
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);

beforeAll(async () => {
  db = await createTestDatabase();
  process.on('uncaughtException', onUncaught);
});
afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await db?.drop();
});
afterEach(() => {
  uncaught.length = 0;
});

describe.skipIf(!havePg)('a pooled connection lost mid-query', () => {
  it('rejects the queries in flight, raises nothing uncaught, and serves the next query after recovery', async () => {
    const proxy = new CuttableProxy(5432);
    await proxy.open();
    const url = new URL(db.url!);
    url.port = String(proxy.port);
    const k = pgKysely(url.toString(), 3);
    try {
      expect((await sql<{ one: number }>`select 1 as one`.execute(k)).rows[0].one).toBe(1);
      // One plain query and one open transaction, both holding a checked-out client when the link dies.
      const sleeping = sql`select pg_sleep(5)`.execute(k);
      const inTx = k.transaction().execute(async (tx) => {
        await sql`select 1`.execute(tx);
        await sql`select pg_sleep(5)`.execute(tx);
      });
      const outcomes = Promise.allSettled([sleeping, inTx]);
      await new Promise((r) => setTimeout(r, 200));
      const port = proxy.port;
      await proxy.cut();
      const [a, b] = await outcomes;
      expect(a.status).toBe('rejected');
      expect(b.status).toBe('rejected');
      expect(String((a as PromiseRejectedResult).reason)).toMatch(/Connection terminated/);
      // Give any stray 'error' event time to surface as an uncaught exception.
      await new Promise((r) => setTimeout(r, 100));
      expect(uncaught).toEqual([]);

      await expect(sql`select 1`.execute(k)).rejects.toThrow();
      await proxy.open(port);
      expect((await sql<{ two: number }>`select 2 as two`.execute(k)).rows[0].two).toBe(2);
      expect(uncaught).toEqual([]);
    } finally {
      await k.destroy();
      await proxy.cut().catch(() => undefined);
    }
  });
});
