// /readyz and lbdns_store_reachable tell the store's real state through every transition: from the store, from the file, outage, recovery.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { CuttableProxy } from '../helpers/proxy.js';
import { startInProcess, type TestServer } from '../helpers/server.js';

const H = '127.0.0.1';
const havePg = await pgAvailable();
if (!havePg && process.env.CI) throw new Error('PostgreSQL must answer on 127.0.0.1:5432 in CI');

let db: TestDatabase;

async function sql(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const value = await f();
    if (ok(value) || Date.now() - t0 > ms) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** /readyz's store fields and the gauge, read together. */
async function state(s: TestServer): Promise<{ store: string; source: string; gauge: number; mode: string }> {
  const r = (await (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).json()) as any;
  const m = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
  return { store: r.store, source: r.snapshot.source, gauge: Number(/^lbdns_store_reachable (\S+)$/m.exec(m)?.[1]), mode: r.propagation.mode };
}

const reachable = { store: 'reachable', source: 'store', gauge: 1 };

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe.skipIf(!havePg)('readiness through store transitions', () => {
  it('start from the store; from the file with the store down; store back unchanged; down while running; back', async () => {
    const proxy = new CuttableProxy(5432);
    await proxy.open();
    const port = proxy.port;
    const url = new URL(db.url!);
    url.port = String(port);
    const env = { DATABASE_URL: url.toString(), LBDNS_DATA_DIR: db.dataDir, LBDNS_POLL_INTERVAL: '0.5' };

    // 1. Start from the store.
    let s = await startInProcess(env);
    try {
      expect(await state(s)).toMatchObject({ ...reachable, mode: 'listen' });
      // The snapshot file is written off the answering path: wait for it before relying on it.
      await until(async () => existsSync(join(db.dataDir, 'snapshot.json')), (x) => x, 10_000);
      expect(existsSync(join(db.dataDir, 'snapshot.json'))).toBe(true);
    } finally {
      await s.stop();
    }

    // 2. Start from the file while the store is down.
    await proxy.cut();
    s = await startInProcess(env);
    try {
      const fromFile = await state(s);
      expect(fromFile).toMatchObject({ store: 'unreachable', gauge: 0, mode: 'poll' });
      expect(fromFile.source).toMatch(/^file saved /);
      expect((await dig(H, s.dnsPort, ['www.example.test'])).status).toBe('NOERROR');
      // Stays honest for a while: polling fails, nothing flips.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await state(s)).toMatchObject({ store: 'unreachable', gauge: 0 });

      // 3. The store comes back with nothing changed: the same version, and still "reachable" in the end.
      await proxy.open(port);
      const back = await until(() => state(s), (x) => x.store === 'reachable', 15_000);
      expect(back).toMatchObject(reachable);
      expect(await until(() => state(s), (x) => x.mode === 'listen', 15_000)).toMatchObject({ ...reachable, mode: 'listen' });

      // 4. The store goes away while running.
      await proxy.cut();
      // A reload in flight may fail a moment before the LISTEN connection's end is read: both come.
      const down = await until(() => state(s), (x) => x.store === 'unreachable' && x.mode === 'poll', 5000);
      expect(down).toMatchObject({ store: 'unreachable', source: 'store', gauge: 0, mode: 'poll' });
      await sql(`insert into records (zone_id, name, type, content) select id, 'during-outage.example.test', 'A', '192.0.2.81' from zones where name = 'example.test'`);
      expect((await dig(H, s.dnsPort, ['during-outage.example.test'])).status).toBe('NXDOMAIN');

      // 5. Back: reachable, and the edit made meanwhile is served.
      await proxy.open(port);
      expect(await until(() => state(s), (x) => x.store === 'reachable', 15_000)).toMatchObject(reachable);
      const seen = await until(async () => (await dig(H, s.dnsPort, ['during-outage.example.test'])).answer.map((a) => a.data).join(','), (a) => a === '192.0.2.81', 5000);
      expect(seen).toBe('192.0.2.81');
      expect(await until(() => state(s), (x) => x.mode === 'listen', 15_000)).toMatchObject({ ...reachable, mode: 'listen' });
    } finally {
      await s.stop();
      await proxy.cut().catch(() => undefined);
    }
  });
});
