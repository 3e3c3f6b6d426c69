// `lbdns history` and `lbdns revert` through the real binary: CLI edits under the operating-system user, psql edits
// under db:<role> and their application, filters, JSON, revert and its refusals (one line, store unchanged), --health.
import { userInfo } from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';
import { cliHarness } from './harness.js';

let db: TestDatabase;
let store: Store;
let psql: pg.Client;
let role: string;
const { lbdns, fails } = cliHarness(() => ({ db, store }));
const user = userInfo().username;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: db.url === undefined ? 'server' : 'client', migrate: true });
  psql = new pg.Client({ connectionString: sqlUrl(db), application_name: 'psql' });
  await psql.connect();
  role = (await psql.query('select current_user as r')).rows[0].r;
});
afterAll(async () => {
  await psql?.end();
  await store?.close();
  await db?.drop();
});

async function ok(args: readonly string[]): Promise<string> {
  const r = await lbdns(args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

/** The txids in `lbdns history` text, newest first. */
const txids = (text: string): number[] => [...text.matchAll(/ txid (\d+) /g)].map((m) => Number(m[1]));

describe('history', () => {
  beforeAll(async () => {
    await ok(['zone', 'add', 'hist.test']);
    await ok(['record', 'add', 'www.hist.test', 'A', '192.0.2.1', '--ttl', '300']);
    await ok(['pool', 'add', 'web.hist.test']);
    await ok(['member', 'add', 'web.hist.test', '192.0.2.10', '--weight', '2']);
  });

  it('shows CLI edits under the operating-system user and a psql edit under db:<role> and its application', async () => {
    await psql.query(`update records set ttl = 60 where name = 'www.hist.test'`);
    const text = await ok(['history', 'hist.test']);
    const blocks = text.trimEnd().split('\n\n');
    expect(blocks).toHaveLength(5);
    expect(blocks[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  txid \\d+  db:${role} via psql\\n  update record www\\.hist\\.test A 192\\.0\\.2\\.1: ttl 300 → 60$`));
    expect(blocks[1]).toMatch(new RegExp(`txid \\d+  ${user} via lbdns-cli\\n  insert member 192\\.0\\.2\\.10 \\(pool web\\.hist\\.test\\)$`));
    expect(blocks[2]).toMatch(/\n  insert pool web\.hist\.test$/);
    expect(blocks[3]).toMatch(/\n  insert record www\.hist\.test A 192\.0\.2\.1$/);
    expect(blocks[4]).toMatch(new RegExp(`txid \\d+  ${user} via lbdns-cli\\n  insert zone hist\\.test$`));
  });

  it('narrows to a pool, by time and count, and prints JSON with the changed fields', async () => {
    await ok(['member', 'set', 'web.hist.test', '192.0.2.10', '--weight', '5']);
    const pool = await ok(['history', 'web.hist.test']);
    expect(pool.split('\n').filter((l) => l.startsWith('  '))).toEqual([
      '  update member 192.0.2.10 (pool web.hist.test): weight 2 → 5',
      '  insert member 192.0.2.10 (pool web.hist.test)',
      '  insert pool web.hist.test',
    ]);
    const [newest, , , oldest] = txids(await ok(['history', 'hist.test', '--limit', '4']));
    await psql.query(`update audit_entries set at = at - interval '3 hours' where txid <= $1`, [oldest]);
    expect(txids(await ok(['history', 'hist.test', '--since', '2h']))).toHaveLength(3);
    expect(txids(await ok(['history', 'hist.test', '--since', new Date(Date.now() - 4 * 3_600_000).toISOString()]))).toHaveLength(6);
    const json = JSON.parse(await ok(['history', 'web.hist.test', '--json', '--limit', '1']));
    expect(json.scope).toEqual({ kind: 'pool', name: 'web.hist.test' });
    expect(json.transactions).toHaveLength(1);
    expect(json.transactions[0]).toMatchObject({ txid: newest, actor: user, application: 'lbdns-cli', total: 1 });
    expect(json.transactions[0].changes[0]).toMatchObject({ table: 'pool_members', op: 'update', name: '192.0.2.10', context: 'pool web.hist.test', changed: { weight: { old: 2, new: 5 } } });
    expect(await ok(['history', 'hist.test', '--since', '2026-01-01T00:00Z', '--limit', '1'])).toMatch(/^\S+  txid \d+  /);
  });

  it('refuses bad options and unknown names in one line, exit 2 or 1', async () => {
    await fails(['history', 'hist.test', '--since', 'yesterday'], 2, 'history: --since "yesterday" must be a duration such as 30m, 1h or 2d, or an ISO 8601 time with its zone such as 2026-12-06T04:00Z');
    await fails(['history', 'hist.test', '--limit', '0'], 2, 'history: --limit must be a whole number from 1 to 10000');
    await fails(['history', 'a.test', 'b.test'], 2, 'history: expected at most one ZONE or POOL, got "a.test" "b.test"');
    await fails(['history', 'nowhere.test'], 1, 'no zone or pool "nowhere.test", now or in the audit log');
  });

  it('never shows a TSIG secret', async () => {
    const add = await ok(['tsig', 'add', 'hist-key']);
    const secret = /secret "([^"]+)"/.exec(add)![1];
    const text = await ok(['history', '--limit', '1']);
    expect(text).toContain('insert tsig key hist-key');
    expect(text).not.toContain(secret);
    expect(await ok(['history', '--json', '--limit', '1'])).not.toContain(secret);
  });
});

describe('revert', () => {
  it('undoes a transaction in a new one recorded as the user', async () => {
    await ok(['record', 'add', 'undo.hist.test', 'A', '192.0.2.66']);
    const [added] = txids(await ok(['history', 'hist.test', '--limit', '1']));
    expect(await ok(['revert', String(added)])).toMatch(new RegExp(`^reverted transaction ${added} in transaction \\d+: 0 restored, 1 removed, 0 put back\\n$`));
    expect((await store.listRecords({ name: 'undo.hist.test' })).length).toBe(0);
    const text = await ok(['history', 'hist.test', '--limit', '1']);
    expect(text).toContain(`${user} (revert of ${added}) via lbdns-cli\n  delete record undo.hist.test A 192.0.2.66`);
  });

  it('refuses, in one line and with the store unchanged, a revert that no longer applies, an unknown TXID and a bad one', async () => {
    await ok(['record', 'add', 'twice.hist.test', 'A', '192.0.2.67', '--ttl', '100']);
    await psql.query(`update records set ttl = 200 where name = 'twice.hist.test'`);
    await psql.query(`update records set ttl = 300 where name = 'twice.hist.test'`);
    const [later, first] = txids(await ok(['history', 'hist.test', '--limit', '2']));
    await fails(['revert', String(first)], 1, new RegExp(`^lbdns: cannot revert transaction ${first}: record twice\\.hist\\.test A 192\\.0\\.2\\.67 was changed later, by transaction ${later} \\(db:${role}, [0-9TZ:-]+\\)\\n$`));
    await fails(['revert', '999999999999'], 1, 'no transaction 999999999999 in the audit log');
    await fails(['revert', 'abc'], 2, 'revert: TXID "abc" must be a transaction id as lbdns history shows it (a whole number)');
    await fails(['revert'], 2, 'revert: expected TXID, got nothing');
  });
});

describe('history --health', () => {
  it('shows the health changes of one pool, newest first, with the votes or the probe reason', async () => {
    const at = Date.parse('2026-06-01T10:00:00Z');
    await store.recordTransitions([
      { at, node: 'node-a', kind: 'probe', pool: 'web.hist.test', member: '192.0.2.10', memberId: 1, from: 'up', to: 'down', reason: 'HTTP 503' },
      { at: at + 1000, node: 'node-a', kind: 'agreed', pool: 'web.hist.test', member: '192.0.2.10', memberId: 1, from: 'up', to: 'down', rule: 'majority', votes: { 'node-a': 'down', 'node-b': 'down' } },
      { at: at + 2000, node: 'node-b', kind: 'probe', pool: 'other.hist.test', member: '192.0.2.20', memberId: 2, from: 'down', to: 'up', reason: 'HTTP 200' },
    ]);
    expect(await ok(['history', '--health', 'web.hist.test'])).toBe(
      [
        'TIME                  NODE    KIND    POOL           MEMBER      CHANGE     WHY',
        '2026-06-01T10:00:01Z  node-a  agreed  web.hist.test  192.0.2.10  up → down  majority: node-a down, node-b down',
        '2026-06-01T10:00:00Z  node-a  probe   web.hist.test  192.0.2.10  up → down  probe: HTTP 503',
        '',
      ].join('\n'),
    );
    const json = JSON.parse(await ok(['history', '--health', '--json', '--limit', '1']));
    expect(json).toEqual([{ at: '2026-06-01T10:00:02Z', node: 'node-b', kind: 'probe', pool: 'other.hist.test', member: '192.0.2.20', memberId: 2, from: 'down', to: 'up', rule: null, votes: null, reason: 'HTTP 200' }]);
    expect(await ok(['history', '--health', 'quiet.hist.test'])).toBe('no health changes of pool quiet.hist.test recorded\n');
  });
});
