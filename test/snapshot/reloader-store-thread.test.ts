// Full reloads read by the build thread on its own connection (ReloaderOptions.storeInThread), against a real
// PostgreSQL: the rows never cross the answering thread, an unchanged store is not read past its version, a store
// that cannot be read keeps the serving snapshot and says so, and the build thread reconnects once it is back.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AnswerContext } from '../../src/core/answer.js';
import { respond } from '../../src/core/respond.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { Reloader } from '../../src/snapshot/reloader.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';
import { need } from '../helpers/prerequisite.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

let db: TestDatabase;
let store: Store | undefined;
beforeAll(async () => {
  db = await createTestDatabase();
  if (db.url === undefined) return;
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  await store.addZone({ name: 'thread.test' });
  await store.addRecord({ name: 'www.thread.test', type: 'A', content: '192.0.2.10' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});
beforeEach((ctx) => need(ctx, db.url === undefined ? 'no PostgreSQL on 127.0.0.1:5432' : undefined));

const ctx: AnswerContext = { nodeName: 't', choose: () => ({ members: [], scope: 0, allDown: true }) } as unknown as AnswerContext;
const ask = (r: Reloader, name: string): string[] => decodeReply(respond(r.current(), buildQuery({ name }), '127.0.0.1', false, ctx).reply!).answers.map((a: { address: string }) => a.address);

/** Nice values of this process's threads (field 19 of /proc/self/task/<tid>/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('full reloads read by the build thread', () => {
  it('the build thread runs at nice 19, the rest of the process as it was', async (ctx) => {
    if (!existsSync('/proc/thread-self')) return ctx.skip('no /proc/thread-self: thread priorities are Linux only');
    const before = threadNices();
    expect(before).not.toContain(19);
    const r = new Reloader({ load: async () => store!.loadContents(), debounceMs: 10, log: createLogger('silent'), metrics: createMetrics({ defaultMetrics: false }) });
    try {
      await r.reload();
      const after = threadNices();
      expect(after.filter((n) => n === 19)).toHaveLength(1);
      expect(after.filter((n) => n !== 19).every((n) => n === before[0])).toBe(true);
    } finally {
      r.stop();
    }
  });

  it('loads the store, skips an unchanged one, picks up an edit, and keeps serving through an unreadable store', async () => {
    const reads: boolean[] = [];
    const metrics = createMetrics({ defaultMetrics: false });
    const mainThreadLoads: number[] = [];
    const make = (url: string) =>
      new Reloader({
        // Never called: the thread reads the store itself.
        load: async () => {
          mainThreadLoads.push(1);
          return store!.loadContents();
        },
        storeInThread: { url, location: 'test store' },
        onStoreRead: (ok) => reads.push(ok),
        debounceMs: 10,
        log: createLogger('silent'),
        metrics,
      });
    const r = make(db.url!);
    try {
      await r.reload();
      expect(ask(r, 'www.thread.test')).toEqual(['192.0.2.10']);
      const version = r.current().version;
      // Nothing changed: the thread reads the version only, and the snapshot object stays.
      const before = r.current();
      await r.reload(true);
      expect(r.current()).toBe(before);
      expect((await metrics.reloads.get()).values.find((v) => v.labels.result === 'unchanged')?.value).toBe(1);
      await store!.addRecord({ name: 'new.thread.test', type: 'A', content: '192.0.2.11' });
      await r.reload(true);
      expect(r.current().version).toBeGreaterThan(version);
      expect(ask(r, 'new.thread.test')).toEqual(['192.0.2.11']);
      expect(reads).toEqual([true, true, true]);
      expect(mainThreadLoads).toEqual([]);
    } finally {
      r.stop();
    }
    // A store the thread cannot reach: the reload fails with E_STORE, the caller is told, and what was served stays.
    const url = new URL(db.url!);
    url.port = '1';
    const dead = make(url.toString());
    try {
      await expect(dead.reload()).rejects.toMatchObject({ code: 'E_STORE' });
      expect(reads.at(-1)).toBe(false);
      expect(dead.lastError).toMatch(/test store|ECONNREFUSED|connect/);
      expect(dead.loaded).toBe(false);
    } finally {
      dead.stop();
    }
  });

  it('reads again only the tables the change feed named, and reads everything at the next full reload', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) } as never);
    const r = new Reloader({
      load: async () => {
        throw new Error('the build thread reads the store');
      },
      storeInThread: { url: db.url!, location: 'test store' },
      // Reloads run when the test says: changed() schedules one too, which must not run on its own in between.
      debounceMs: 600_000,
      log,
      metrics: createMetrics({ defaultMetrics: false }),
    });
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    const loaded = () => lines.filter((l) => l.msg === 'snapshot loaded');
    const soaTimers = (name: string) => {
      const soa = decodeReply(respond(r.current(), buildQuery({ name, qtype: 6 }), '127.0.0.1', false, ctx).reply!).answers[0] as { refresh: number };
      return soa.refresh;
    };
    try {
      await r.reload();
      const refresh = soaTimers('thread.test');
      // Two edits in plain SQL; the reloader hears of the zones one only.
      await sql.query(`update zones set refresh = refresh + 7 where name = 'thread.test'`);
      await sql.query(`update records set content = '192.0.2.99' where name = 'www.thread.test'`);
      r.changed({ table: 'zones', zone: null });
      await r.reload();
      expect(loaded().at(-1)).toMatchObject({ tablesRead: ['zones'] });
      expect(soaTimers('thread.test')).toBe(refresh + 7);
      // The records were not read again: the rows the thread holds still say .10.
      expect(ask(r, 'www.thread.test')).toEqual(['192.0.2.10']);
      r.changed({ table: 'records', zone: null });
      await r.reload();
      expect(loaded().at(-1)).toMatchObject({ tablesRead: ['records'] });
      expect(ask(r, 'www.thread.test')).toEqual(['192.0.2.99']);
      // A change whose table is not known (polling says "*") reads everything.
      await sql.query(`update records set content = '192.0.2.98' where name = 'www.thread.test'`);
      r.changed({ table: '*', zone: null });
      await r.reload();
      expect(loaded().at(-1)).not.toHaveProperty('tablesRead');
      expect(ask(r, 'www.thread.test')).toEqual(['192.0.2.98']);
      // After a read of some tables, a full reload reads the store even at the version those tables were read at.
      await sql.query(`update records set content = '192.0.2.97' where name = 'www.thread.test'`);
      r.changed({ table: 'zones', zone: null });
      await r.reload();
      expect(ask(r, 'www.thread.test')).toEqual(['192.0.2.98']);
      await r.reload(true);
      expect(ask(r, 'www.thread.test')).toEqual(['192.0.2.97']);
    } finally {
      await sql.end();
      r.stop();
    }
  });
});
