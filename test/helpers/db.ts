// A throwaway database per test file: a fresh database on the local PostgreSQL when it answers, else the embedded store.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Config } from '../../src/config.js';

const ADMIN_URL = process.env.LBDNS_TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** undefined: no PostgreSQL here; use the embedded store in dataDir. */
  readonly url: string | undefined;
  /** Always set: a temp dir for the embedded store (when url is undefined) or anything else the test needs. */
  readonly dataDir: string;
  drop(): Promise<void>;
}

let available: Promise<boolean> | undefined;

/** Whether the local PostgreSQL answers (asked once per test file). */
export function pgAvailable(): Promise<boolean> {
  available ??= (async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return available;
}

async function admin<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await f(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lbdns-test-'));
  const removeDir = (): void => rmSync(dataDir, { recursive: true, force: true });
  if (!(await pgAvailable())) return { url: undefined, dataDir, drop: async () => removeDir() };
  const name = `lbdns_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`create database ${name}`));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    dataDir,
    async drop() {
      // WITH (FORCE): a connection a failed test left open must not keep the database alive.
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
      removeDir();
    },
  };
}

/** The store slice of Config for a test database; the embedded listener takes any free port. */
export function storeConfig(db: TestDatabase): Config['store'] {
  return { databaseUrl: db.url, dataDir: db.dataDir, embeddedListen: { host: '127.0.0.1', port: 0, family: 4 } };
}

/** Where plain SQL reaches the test database: its URL, or the socket of the embedded server in dataDir. */
export function sqlUrl(db: TestDatabase): string {
  if (db.url !== undefined) return db.url;
  const info = JSON.parse(readFileSync(join(db.dataDir, 'embedded.json'), 'utf8')) as { url: string };
  const url = new URL(info.url);
  url.password = encodeURIComponent(readFileSync(join(db.dataDir, 'embedded-password'), 'utf8').trim());
  return url.toString();
}

/** Runs the statements in one transaction on `client` and returns its txid (rolled back, and the error thrown, if one fails). */
export async function txidOf(client: pg.Client, ...statements: string[]): Promise<number> {
  await client.query('begin');
  try {
    for (const s of statements) await client.query(s);
    const t = Number((await client.query('select txid_current() as t')).rows[0].t);
    await client.query('commit');
    return t;
  } catch (err) {
    await client.query('rollback');
    throw err;
  }
}
