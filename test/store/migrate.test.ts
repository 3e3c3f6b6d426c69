import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';

// Every file of migrations/, in name order: what a fresh database must end up with.
const FILES = readdirSync(join(import.meta.dirname, '../../migrations')).filter((f) => f.endsWith('.sql')).sort();

describe('migrations', () => {
  let db: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await openStore(storeConfig(db), { role: 'server', migrate: false });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('applies each file once and records it', async () => {
    expect(FILES.slice(0, 3)).toEqual(['0001_core.sql', '0002_pools.sql', '0003_bounded_locks.sql']);
    expect(await store.migrate()).toEqual(FILES);
    expect(await store.migrate()).toEqual([]);
    const c = new pg.Client(sqlUrl(db));
    await c.connect();
    try {
      const rows = (await c.query('select name, length(sha256) as len from schema_migrations order by name')).rows;
      expect(rows).toEqual(FILES.map((name) => ({ name, len: 64 })));
      const tables = (await c.query(`select table_name from information_schema.tables where table_schema = 'public' order by 1`)).rows;
      // The first version's tables; later migrations add their own.
      expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining([
        'config_version',
        'geo_networks',
        'member_health',
        'pool_members',
        'pools',
        'records',
        'schema_migrations',
        'zones',
      ]));
    } finally {
      await c.end();
    }
  });

  it('is safe when several nodes migrate at once', async (t) => {
    const other = await createTestDatabase();
    // Several processes on one PGlite directory is not a thing; this is about PostgreSQL.
    if (other.url === undefined) {
      await other.drop();
      t.skip();
    }
    const stores = await Promise.all([1, 2, 3].map(() => openStore(storeConfig(other), { role: 'client', migrate: false })));
    try {
      const applied = await Promise.all(stores.map((s) => s.migrate()));
      expect(applied.flat().sort()).toEqual(FILES);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await other.drop();
    }
  });
});
