// The hash policy's settings through the real CLI and plain SQL: prefix lengths stored, shown, and refused out of range.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';
import { cliHarness } from './harness.js';

let db: TestDatabase;
let store: Store;
const { lbdns, fails } = cliHarness(() => ({ db, store }));

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: db.url === undefined ? 'server' : 'client', migrate: true });
  await store.addZone({ name: 'example.test' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

describe('lbdns pool --policy hash', { timeout: 120_000 }, () => {
  it('stores the prefix lengths, shows them and puts them in the snapshot', async () => {
    const added = await lbdns(['pool', 'add', 'sticky.example.test', '--policy', 'hash', '--hash-prefix', '20,/48']);
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(/^added pool sticky\.example\.test \(zone example\.test\): hash on \/20, \/48, ttl 30, 2 per answer/);
    const set = await lbdns(['pool', 'set', 'sticky.example.test', '--hash-prefix', '22']);
    expect(set.stdout).toContain('hash on /22, /48');
    const pool = await store.getPool('sticky.example.test');
    expect(pool).toMatchObject({ policy: 'hash', hashPrefixV4: 22, hashPrefixV6: 48 });
    const snap = buildSnapshot(await store.loadContents()).snapshot;
    expect(snap.pools.find((p) => p.name === 'sticky.example.test')?.hashPrefix).toEqual({ v4: 22, v6: 48 });
  });

  it('refuses bad prefix lengths in one line, writing nothing', async () => {
    await fails(['pool', 'set', 'sticky.example.test', '--hash-prefix', '33'], 2, 'hash prefix for IPv4 33 must be a whole number from 1 to 32');
    await fails(['pool', 'set', 'sticky.example.test', '--hash-prefix', ',129'], 2, 'hash prefix for IPv6 129 must be a whole number from 1 to 128');
    await fails(['pool', 'set', 'sticky.example.test', '--hash-prefix', 'wide'], 2, /--hash-prefix/);
  });

  it('guards the columns in SQL too', async () => {
    const c = new pg.Client(sqlUrl(db));
    await c.connect();
    try {
      await expect(c.query(`update pools set hash_prefix_v6 = 0 where name = 'sticky.example.test'`)).rejects.toThrow(
        'pool sticky.example.test: hash prefix /0 is outside /1../128 for IPv6',
      );
      await expect(c.query(`update pools set policy = 'Not A Name' where name = 'sticky.example.test'`)).rejects.toThrow('must be a policy name');
      await c.query(`update pools set policy = 'wrr' where name = 'sticky.example.test'`);
      await c.query(`update pools set policy = 'hash' where name = 'sticky.example.test'`);
    } finally {
      await c.end();
    }
  });
});
