// A served node whose LISTEN link is black-holed by a proxy (no FIN, no RST): edits still served in seconds, /readyz honest throughout.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEARTBEAT_DEADLINE_MS, HEARTBEAT_INTERVAL_MS } from '../../src/store/change-feed.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { CuttableProxy } from '../helpers/proxy.js';
import { startInProcess } from '../helpers/server.js';

const H = '127.0.0.1';
const havePg = await pgAvailable();
if (!havePg && process.env.CI) throw new Error('PostgreSQL must answer on 127.0.0.1:5432 in CI');

const POLL_S = 0.5;
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

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<{ value: T; elapsed: number }> {
  const t0 = Date.now();
  for (;;) {
    const value = await f();
    if (ok(value) || Date.now() - t0 > ms) return { value, elapsed: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe.skipIf(!havePg)('LISTEN link black-holed', () => {
  it('serves an edit within heartbeat deadline + poll interval + 1 s, says poll/degraded while black-holed, and listens again after it heals', async () => {
    const proxy = new CuttableProxy(5432);
    await proxy.open();
    const url = new URL(db.url!);
    url.port = String(proxy.port);
    const s = await startInProcess({ DATABASE_URL: url.toString(), LBDNS_DATA_DIR: db.dataDir, LBDNS_POLL_INTERVAL: String(POLL_S) });
    const ready = async () => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).json() as Promise<any>;
    const metrics = async () => (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
    const addr = async (name: string) => (await dig(H, s.dnsPort, [name])).answer.map((a) => a.data).join(',');
    try {
      expect((await ready()).propagation).toEqual({ mode: 'listen', degraded: false, error: null });

      // Only the LISTEN session is held: a pooler or NAT that lost it, while new connections still work.
      proxy.blackhole('LISTEN lbdns_changes');
      const t0 = Date.now();
      await sql(`insert into records (zone_id, name, type, content) select id, 'blackholed.example.test', 'A', '192.0.2.71' from zones where name = 'example.test'`);
      // Issue 12's bound: dead within 3 s (a heartbeat sent at most 1 s after the link died, answered
      // within its deadline), then one poll interval, then 1 s for the reload and the answer.
      const budget = Math.max(3000, HEARTBEAT_INTERVAL_MS + HEARTBEAT_DEADLINE_MS) + POLL_S * 1000 + 1000;
      const served = await until(() => addr('blackholed.example.test'), (a) => a === '192.0.2.71', budget + 2000);
      expect(served.value).toBe('192.0.2.71');
      const servedAfter = Date.now() - t0;
      expect(servedAfter).toBeLessThanOrEqual(budget);

      // Honest while it lasts: polling, degraded, the store itself reachable; the gauges say the same. (Once the link
      // is known dead: a reload under way when the link was cut, such as the pool serials' after the first probe round,
      // can serve the edit before the heartbeat has found the link dead, and until then "listen" is what is known.)
      const known = Math.max(3000, HEARTBEAT_INTERVAL_MS + HEARTBEAT_DEADLINE_MS) - (Date.now() - t0);
      if (known > 0) await new Promise((r) => setTimeout(r, known));
      for (let i = 0; i < 3; i++) {
        const r = await ready();
        expect(r.propagation).toMatchObject({ mode: 'poll', degraded: true });
        expect(r.store).toBe('reachable');
        const m = await metrics();
        expect(m).toMatch(/lbdns_propagation_mode\{mode="poll"\} 1/);
        expect(m).toMatch(/lbdns_propagation_mode\{mode="listen"\} 0/);
        expect(m).toMatch(/lbdns_store_reachable 1/);
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(await metrics()).toMatch(/lbdns_store_feed_heartbeat_failures_total 1\b/);
      expect(s.logs.filter((l) => l.msg === 'change feed heartbeat failed: polling until LISTEN is back')).toHaveLength(1);

      proxy.heal();
      // Reconnection backs off up to 10 s between attempts.
      const back = await until(ready, (r) => r.propagation.mode === 'listen', 12_000);
      expect(back.value.propagation).toEqual({ mode: 'listen', degraded: false, error: null });
      expect(await metrics()).toMatch(/lbdns_propagation_mode\{mode="listen"\} 1/);
      await sql(`insert into records (zone_id, name, type, content) select id, 'healed.example.test', 'A', '192.0.2.72' from zones where name = 'example.test'`);
      const pushed = await until(() => addr('healed.example.test'), (a) => a === '192.0.2.72', 2000);
      expect(pushed.value).toBe('192.0.2.72');
      console.log(`black-holed LISTEN: edit served after ${servedAfter} ms (budget ${budget} ms); LISTEN back ${back.elapsed} ms after healing`);
    } finally {
      await s.stop();
      await proxy.cut().catch(() => undefined);
    }
  });
});
