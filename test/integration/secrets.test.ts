// The password in DATABASE_URL never shows in logs, errors, metrics or status output.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { ROOT, startChild, type ChildServer } from '../helpers/server.js';

const run = promisify(execFile);
const SECRET = 'Sup3r-s3cret-pw';
const havePg = await pgAvailable();
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function withPassword(url: string): string {
  const u = new URL(url);
  u.password = SECRET;
  return u.toString();
}

describe('secrets', () => {
  it('a server that cannot reach its database says so without the password', async () => {
    const err = await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'serve'], {
      env: { ...process.env, DATABASE_URL: `postgresql://lbdns:${SECRET}@127.0.0.1:1/lbdns`, LBDNS_LISTEN: '127.0.0.1:0', LBDNS_HTTP_LISTEN: '127.0.0.1:0', LBDNS_DATA_DIR: db.dataDir },
      timeout: 60_000,
    }).catch((e) => e);
    expect(err.code).not.toBe(0);
    const all = `${err.stdout}${err.stderr}`;
    expect(all).toMatch(/cannot load from the store/);
    expect(all).not.toContain(SECRET);
  });

  it('the CLI reports a failed connection without the password', async () => {
    const err = await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'zone', 'list'], {
      env: { ...process.env, DATABASE_URL: `postgresql://lbdns:${SECRET}@127.0.0.1:1/lbdns` },
    }).catch((e) => e);
    expect(err.code).not.toBe(0);
    expect(err.stderr.trim().split('\n')).toHaveLength(1);
    expect(`${err.stdout}${err.stderr}`).not.toContain(SECRET);
  });

  it.skipIf(!havePg)('a running server keeps the password out of logs, metrics and readiness', async () => {
    let server: ChildServer | undefined;
    try {
      server = await startChild({ DATABASE_URL: withPassword(db.url!), LBDNS_DATA_DIR: db.dataDir, LBDNS_QUERY_LOG_SAMPLE: '1' });
      const base = `http://127.0.0.1:${server.httpPort}`;
      const texts = await Promise.all(['/metrics', '/readyz', '/healthz'].map(async (p) => (await fetch(base + p)).text()));
      for (const t of texts) expect(t).not.toContain(SECRET);
      expect(JSON.stringify(server.logs)).not.toContain(SECRET);
      expect(JSON.stringify(server.logs)).toMatch(/\*\*\*/);
    } finally {
      await server?.stop();
    }
  });
});
