// The database's CHECKs and column defaults agree with the pool schema: each range's ends pass and one past them is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { POLICY_NAMES } from '../../src/policies/registry.js';
import { MEMBER_RANGES, POOL_RANGES, poolSpecSchema } from '../../src/schema/pool-schema.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;
let c: pg.Client;
let zoneId: number;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  c = new pg.Client(sqlUrl(db));
  await c.connect();
  zoneId = (await c.query(`insert into zones (name) values ('example.test') returning id`)).rows[0].id;
});
afterAll(async () => {
  await c?.end();
  await store?.close();
  await db?.drop();
});

const column = (field: string): string => field.replace(/[A-Z0-9]+/g, (s) => `_${s.toLowerCase()}`);

/** Inserts a pool with these columns (and its own name) through plain SQL; resolves to whether the database took it. */
async function poolTaken(columns: Record<string, unknown>): Promise<boolean> {
  const all = { zone_id: zoneId, name: `p${++n}.example.test`, ...columns };
  const names = Object.keys(all);
  try {
    await c.query(`insert into pools (${names.join(', ')}) values (${names.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(all));
    return true;
  } catch {
    return false;
  }
}

let poolId: number;
async function memberTaken(columns: Record<string, unknown>): Promise<boolean> {
  poolId ??= (await c.query(`insert into pools (zone_id, name) values ($1, 'members.example.test') returning id`, [zoneId])).rows[0].id;
  const all = { pool_id: poolId, address: `192.0.2.${++n % 250}`, ...columns };
  const names = Object.keys(all);
  try {
    await c.query(`insert into pool_members (${names.join(', ')}) values (${names.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(all));
    await c.query('delete from pool_members where pool_id = $1', [poolId]);
    return true;
  } catch {
    return false;
  }
}

// Rules across fields hold the other end where a range's end would break them (timeout below interval, min ≤ max).
const COMPANIONS: Record<string, Record<string, unknown>> = {
  timeoutMs: { interval_ms: 3_600_000 },
  intervalMs: { timeout_ms: 50 },
  expectStatusMin: { expect_status_max: 599 },
  expectStatusMax: { expect_status_min: 100 },
};

describe('the pool schema and the SQL CHECKs', () => {
  it.each(Object.entries(POOL_RANGES))('pools.%s: the ends pass, one past them is refused', async (field, [min, max]) => {
    const at = (v: number) => poolTaken({ [column(field)]: v, ...COMPANIONS[field] });
    expect([await at(min), await at(max), await at(min - 1), await at(max + 1)]).toEqual([true, true, false, false]);
  });

  it.each(Object.entries(MEMBER_RANGES))('pool_members.%s: the ends pass, one past them is refused', async (field, [min, max]) => {
    const pair = field === 'latitude' ? 'longitude' : field === 'longitude' ? 'latitude' : undefined;
    const at = (v: number) => memberTaken({ [field]: v, ...(pair ? { [pair]: 0 } : {}) });
    expect([await at(min), await at(max), await at(min - 1), await at(max + 1)]).toEqual([true, true, false, false]);
  });

  it('the column defaults are the schema defaults', async () => {
    const row = (await c.query(`insert into pools (zone_id, name) values ($1, 'defaults.example.test') returning *`, [zoneId])).rows[0];
    const { check, ...spec } = poolSpecSchema.parse({});
    const want = { ...spec, checkKind: check.kind, checkPort: check.port, checkPath: check.path, checkHost: check.host, checkInsecure: check.insecure, ...check };
    for (const key of ['kind', 'port', 'path', 'host', 'insecure'] as const) delete (want as Record<string, unknown>)[key];
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, row[column(k)]]));
    expect(got).toEqual(want);
  });

  it('every registered policy name is one the database takes, and a name that is no name is refused', async () => {
    for (const policy of POLICY_NAMES) expect(await poolTaken({ policy })).toBe(true);
    expect(await poolTaken({ policy: 'fixture-rr' })).toBe(true);
    expect(await poolTaken({ policy: 'Not A Name' })).toBe(false);
    expect(await poolTaken({ policy: '' })).toBe(false);
  });
});
