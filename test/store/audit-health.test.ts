// Health history and retention: transitions batched into member_transitions by TransitionHistory and read back by pool
// and time; pruning of the audit log and the history deletes only rows older than their retention, in batches.
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgreedTransition } from '../../src/health/agreement.js';
import { HistoryRetention, pruneMinute } from '../../src/health/history-retention.js';
import type { Transition } from '../../src/health/tracker.js';
import { TransitionHistory } from '../../src/health/transition-history.js';
import { PRUNE_BATCH } from '../../src/store/audit-queries.js';
import { openStore, type Store, type TransitionRecord } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;
let psql: pg.Client;
const log = pino({ level: 'silent' });
const DAY = 86_400_000;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  psql = new pg.Client(sqlUrl(db));
  await psql.connect();
});
afterAll(async () => {
  await psql?.end();
  await store?.close();
  await db?.drop();
});

const agreed = (memberId: number, pool: string, address: string, from: AgreedTransition['from'], to: AgreedTransition['to'], votes: AgreedTransition['votes']): AgreedTransition => ({
  memberId,
  poolName: pool,
  address,
  from,
  to,
  rule: 'majority',
  votes,
});
const probe = (memberId: number, pool: string, address: string, from: Transition['from'], to: Transition['to'], reason: string, at: number): Transition => ({ memberId, poolName: pool, address, from, to, reason, at });
const count = async (table: string): Promise<number> => Number((await psql.query(`select count(*) as n from ${table}`)).rows[0].n);

describe('health history', () => {
  it('writes agreed and probe transitions in one batch, skips first results that find a member up, and reads them back by pool', async () => {
    let writes = 0;
    let now = Date.parse('2026-06-01T10:00:00Z');
    const h = new TransitionHistory({ node: 'node-a', write: (rows) => (writes++, store.recordTransitions(rows)), log, now: () => now, flushMs: 60_000 });
    h.probe(probe(1, 'web.test', '192.0.2.1', 'unknown', 'up', 'HTTP 200', now));
    h.agreed(agreed(1, 'web.test', '192.0.2.1', 'unknown', 'up', { 'node-a': 'up' }));
    h.probe(probe(2, 'web.test', '192.0.2.2', 'unknown', 'down', 'connect ECONNREFUSED', now));
    now += 1000;
    h.probe(probe(1, 'web.test', '192.0.2.1', 'up', 'down', 'HTTP 503', now));
    now += 1000;
    h.agreed(agreed(1, 'web.test', '192.0.2.1', 'up', 'down', { 'node-a': 'down', 'node-b': 'down' }));
    h.probe(probe(9, 'api.test', '192.0.2.9', 'down', 'up', 'HTTP 200', now));
    expect(h.buffered).toBe(4);
    await h.stop();
    expect(writes).toBe(1);
    const rows = await store.transitionHistory({ pool: 'web.test' });
    const expected: Partial<TransitionRecord>[] = [
      { at: now, node: 'node-a', kind: 'agreed', pool: 'web.test', member: '192.0.2.1', memberId: 1, from: 'up', to: 'down', rule: 'majority', votes: { 'node-a': 'down', 'node-b': 'down' }, reason: null },
      { at: now - 1000, kind: 'probe', member: '192.0.2.1', from: 'up', to: 'down', reason: 'HTTP 503', rule: null, votes: null },
      { at: now - 2000, kind: 'probe', member: '192.0.2.2', from: 'unknown', to: 'down', reason: 'connect ECONNREFUSED' },
    ];
    expect(rows).toHaveLength(3);
    rows.forEach((r, i) => expect(r).toMatchObject(expected[i]));
    expect((await store.transitionHistory({})).map((r) => r.pool)).toEqual(['api.test', 'web.test', 'web.test', 'web.test']);
    expect(await store.transitionHistory({ since: now - 500 })).toHaveLength(2);
    expect(await store.transitionHistory({ limit: 1 })).toHaveLength(1);
  });

  it('writes a start-up burst in a few statements, and keeps what a failed write held for the next attempt', async () => {
    await psql.query('delete from member_transitions');
    const calls: number[] = [];
    let fail = true;
    const h = new TransitionHistory({
      node: 'node-b',
      write: async (rows) => {
        calls.push(rows.length);
        if (fail) throw new Error('store down');
        return store.recordTransitions(rows);
      },
      log,
      flushMs: 60_000,
      maxBuffered: 4500,
    });
    for (let i = 0; i < 5000; i++) h.probe(probe(i + 1, 'burst.test', `10.0.${i >> 8}.${i & 255}`, 'unknown', 'down', 'timeout', Date.now()));
    // The newest 4,500 are kept while the store cannot be written.
    expect(h.buffered).toBe(4500);
    await h.flush();
    expect(h.buffered).toBe(4500);
    expect(await count('member_transitions')).toBe(0);
    fail = false;
    calls.length = 0;
    await h.stop();
    expect(calls).toEqual([2000, 2000, 500]);
    expect(await count('member_transitions')).toBe(4500);
    expect((await psql.query(`select min(member_id) as m from member_transitions`)).rows[0].m).toBe(501);
  });
});

describe('retention', () => {
  it('deletes only rows older than their retention, in batches, and leaves the rest', async () => {
    await store.addZone({ name: 'prune.test' });
    // One audit entry per row (not one bulk entry for the statement, migration 0017), so that pruning takes batches.
    await psql.query(`set lbdns.audit_bulk_rows = 1000000`);
    await psql.query(`insert into records (zone_id, name, type, content) select z.id, 'p' || i || '.prune.test', 'TXT', '"x"' from zones z, generate_series(1, ${PRUNE_BATCH * 2 + 100}) i where z.name = 'prune.test'`);
    await psql.query(`reset lbdns.audit_bulk_rows`);
    await store.addRecord({ name: 'kept.prune.test', type: 'A', content: '192.0.2.1' });
    await psql.query(`update audit_entries set at = now() - interval '100 days' where name like 'p%.prune.test%'`);
    await psql.query(`update member_transitions set at = now() - interval '20 days' where member_id <= 1000`);
    const audit = await count('audit_log');
    const health = await count('member_transitions');
    const retention = new HistoryRetention({ prune: (c) => store.pruneHistory(c), auditDays: 90, healthDays: 14, node: 'node-a', log });
    try {
      expect(await retention.runOnce()).toEqual({ audit: PRUNE_BATCH * 2 + 100, health: 500 });
    } finally {
      retention.stop();
    }
    expect(await count('audit_log')).toBe(audit - (PRUNE_BATCH * 2 + 100));
    expect(await count('member_transitions')).toBe(health - 500);
    expect((await store.history({ target: 'prune.test' })).transactions.map((t) => t.changes[0].name)).toEqual(['kept.prune.test A 192.0.2.1', 'prune.test']);
    // Nothing older left: a second pass deletes nothing.
    expect(await store.pruneHistory({ auditBefore: Date.now() - 90 * DAY, healthBefore: Date.now() - 14 * DAY })).toEqual({ audit: 0, health: 0 });
  });

  it('prunes at a minute of the hour of its own, from the node name', () => {
    expect(pruneMinute('node-a')).toBe(pruneMinute('node-a'));
    expect(new Set(['node-a', 'node-b', 'node-c', 'node-d'].map(pruneMinute)).size).toBeGreaterThan(1);
    for (const n of ['a', 'lbdns-1', 'x'.repeat(255)]) {
      expect(Number.isInteger(pruneMinute(n)) && pruneMinute(n) >= 0 && pruneMinute(n) < 60).toBe(true);
    }
  });
});
