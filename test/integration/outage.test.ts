// Surviving the database: LISTEN lost → polling, PostgreSQL unreachable → last good snapshot, bad rows skipped.
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

async function sql(text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return await c.query(text);
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

const ready = async (s: TestServer) => (await fetch(`http://127.0.0.1:${s.httpPort}/readyz`)).json() as Promise<any>;
const addrs = async (s: TestServer, name: string) => (await dig(H, s.dnsPort, [name])).answer.map((a) => a.data).sort().join(',');

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe.skipIf(!havePg)('propagation and outages', () => {
  it('falls back to polling when the LISTEN backend is killed, loses no edit, and LISTEN comes back', async () => {
    const s = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_POLL_INTERVAL: '0.5' });
    try {
      expect((await ready(s)).propagation.mode).toBe('listen');
      await sql(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'LISTEN%' and pid <> pg_backend_pid()`);
      await until(() => ready(s), (r) => r.propagation.mode === 'poll', 3000);
      await sql(`insert into records (zone_id, name, type, content) select id, 'while-polling.example.test', 'A', '192.0.2.61' from zones where name = 'example.test'`);
      const seen = await until(() => addrs(s, 'while-polling.example.test'), (a) => a === '192.0.2.61', 3000);
      expect(seen.value).toBe('192.0.2.61');
      const back = await until(() => ready(s), (r) => r.propagation.mode === 'listen', 15_000);
      expect(back.value.propagation.mode).toBe('listen');
      expect(s.logs.some((l) => l.msg === 'propagation mode switched')).toBe(true);
      const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/lbdns_propagation_mode\{mode="listen"\} 1/);
    } finally {
      await s.stop();
    }
  });

  it('loses no edit when the LISTEN backend is killed every second during 200 edits', async () => {
    const s = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_POLL_INTERVAL: '0.5' });
    const killer = setInterval(() => {
      void sql(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'LISTEN%' and pid <> pg_backend_pid()`).catch(() => undefined);
    }, 1000);
    try {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const t0 = Date.now();
      for (let i = 0; i < 200 && Date.now() - t0 < 60_000; i++) {
        await c.query(`insert into records (zone_id, name, type, content) select id, 'kill${i}.example.test', 'TXT', '"${i}"' from zones where name = 'example.test'`);
        await new Promise((r) => setTimeout(r, 15));
      }
      await c.end();
      clearInterval(killer);
      const missing = async () => {
        const out: number[] = [];
        for (let i = 0; i < 200; i += 20) {
          // A query that dig gives up on (a loaded machine running other suites) is asked again by until(), not a lost edit.
          const batch = await Promise.all(
            Array.from({ length: 20 }, (_, k) => dig(H, s.dnsPort, [`kill${i + k}.example.test`, 'TXT']).catch(() => ({ status: 'TIMEOUT' }))),
          );
          batch.forEach((r, k) => r.status !== 'NOERROR' && out.push(i + k));
        }
        return out;
      };
      const result = await until(missing, (m) => m.length === 0, 10_000);
      expect(result.value).toEqual([]);
    } finally {
      clearInterval(killer);
      await s.stop();
    }
  });

  it('keeps answering identically while PostgreSQL is unreachable, then serves edits made after recovery', async () => {
    const proxy = new CuttableProxy(5432);
    await proxy.open();
    const url = new URL(db.url!);
    url.port = String(proxy.port);
    const s = await startInProcess({ DATABASE_URL: url.toString(), LBDNS_DATA_DIR: db.dataDir, LBDNS_POLL_INTERVAL: '0.5' });
    try {
      const names = ['www.example.test', 'web.example.test', 'missing.example.test'];
      const before = await Promise.all(names.map((n) => dig(H, s.dnsPort, [n])));
      const port = proxy.port;
      await proxy.cut();
      await until(() => ready(s), (r) => r.store === 'unreachable', 5000);
      // Edits made while the node cannot see them change nothing it answers.
      await sql(`update records set content = '192.0.2.222' where name = 'www.example.test' and content = '192.0.2.10'`);
      const t0 = Date.now();
      let checks = 0;
      while (Date.now() - t0 < 4000) {
        const now = await Promise.all(names.map((n) => dig(H, s.dnsPort, [n])));
        for (let i = 0; i < names.length; i++) {
          expect(now[i].status).toBe(before[i].status);
          expect(now[i].answer).toEqual(before[i].answer);
        }
        checks++;
      }
      expect(checks).toBeGreaterThan(5);
      const r = await ready(s);
      expect(r.ready).toBe(true);
      expect(r.store).toBe('unreachable');
      expect(r.sinceLastSyncSeconds).toBeGreaterThan(1);
      await proxy.open(port);
      const caught = await until(() => addrs(s, 'www.example.test'), (a) => a.includes('192.0.2.222'), 15_000);
      expect(caught.value).toContain('192.0.2.222');
      await until(() => ready(s), (x) => x.store === 'reachable', 15_000);
      await sql(`insert into records (zone_id, name, type, content) select id, 'after.example.test', 'A', '192.0.2.62' from zones where name = 'example.test'`);
      const after = await until(() => addrs(s, 'after.example.test'), (a) => a === '192.0.2.62', 5000);
      expect(after.value).toBe('192.0.2.62');
    } finally {
      await s.stop();
      await proxy.cut().catch(() => undefined);
    }
  });

  it('starts from the snapshot file when PostgreSQL is down, and refuses to start with neither', async () => {
    // The earlier servers in this file saved their snapshot into db.dataDir.
    expect(existsSync(join(db.dataDir, 'snapshot.json'))).toBe(true);
    const dead = 'postgresql://postgres@127.0.0.1:1/nothing';
    const s = await startInProcess({ DATABASE_URL: dead, LBDNS_DATA_DIR: db.dataDir });
    try {
      expect(await addrs(s, 'after.example.test')).toBe('192.0.2.62');
      const r = await ready(s);
      expect(r.snapshot.source).toMatch(/^file saved /);
      expect(r.store).toBe('unreachable');
      expect(s.logs.some((l) => l.msg === 'store unreachable at start: serving the snapshot file')).toBe(true);
    } finally {
      await s.stop();
    }
    await expect(startInProcess({ DATABASE_URL: dead })).rejects.toThrow(/no usable snapshot file/);
  });

  it('skips a bad row with a log line and a counter; a zone with an unusable SOA is REFUSED, others serve', async () => {
    const s = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir });
    try {
      await sql(`alter table records drop constraint records_content_valid`);
      await sql(`alter table records disable trigger user`);
      await sql(`insert into records (zone_id, name, type, content) select id, 'broken.example.test', 'A', 'not-an-address' from zones where name = 'example.test'`);
      await sql(`alter table records enable trigger user`);
      // With triggers off nothing was announced: this ordinary edit makes the node reload both rows.
      await sql(`insert into records (zone_id, name, type, content) select id, 'fine.example.test', 'A', '192.0.2.63' from zones where name = 'example.test'`);
      const fine = await until(() => addrs(s, 'fine.example.test'), (a) => a === '192.0.2.63', 3000);
      expect(fine.value).toBe('192.0.2.63');
      expect((await dig(H, s.dnsPort, ['broken.example.test'])).status).toBe('NXDOMAIN');
      expect((await dig(H, s.dnsPort, ['www.example.test'])).status).toBe('NOERROR');
      expect(s.logs.some((l) => l.msg === 'row skipped' && l.table === 'records' && /broken\.example\.test/.test(l.key))).toBe(true);

      await sql(`insert into zones (name, mname, rname) values ('second.test', 'ns1.second.test', 'h.second.test')`);
      await sql(`insert into records (zone_id, name, type, content) select id, 'www.second.test', 'A', '192.0.2.64' from zones where name = 'second.test'`);
      await until(() => addrs(s, 'www.second.test'), (a) => a === '192.0.2.64', 3000);
      await sql(`alter table zones drop constraint zones_mname_valid`);
      // Only the validating trigger is bypassed: the change is still announced like any other.
      await sql(`alter table zones disable trigger zones_before`);
      await sql(`update zones set mname = 'not..valid' where name = 'second.test'`);
      await sql(`alter table zones enable trigger zones_before`);
      const refused = await until(() => dig(H, s.dnsPort, ['www.second.test']), (r) => r.status === 'REFUSED', 3000);
      expect(refused.value.status).toBe('REFUSED');
      expect((await dig(H, s.dnsPort, ['www.example.test'])).status).toBe('NOERROR');
      const metrics = await (await fetch(`http://127.0.0.1:${s.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/lbdns_snapshot_skipped_rows_total\{table="records"\} [1-9]/);
      expect(metrics).toMatch(/lbdns_snapshot_skipped_rows_total\{table="zones"\} [1-9]/);
    } finally {
      await s.stop();
    }
  });
});
