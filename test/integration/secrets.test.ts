// The password in DATABASE_URL never shows in logs, errors, metrics or status output.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { need } from '../helpers/prerequisite.js';
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

  it('a running server keeps the password out of logs (query log on, queries sent), metrics, readiness and status', async (ctx) => {
    need(ctx, havePg ? undefined : 'no PostgreSQL on 127.0.0.1:5432 to give a password to');
    let server: ChildServer | undefined;
    try {
      server = await startChild({ DATABASE_URL: withPassword(db.url!), LBDNS_DATA_DIR: db.dataDir, LBDNS_QUERY_LOG_SAMPLE: '1' });
      // Every query logged (sample 1): an answer, a name outside our zones, and one over TCP.
      const asked = [
        await dig('127.0.0.1', server.dnsPort, ['www.example.test', 'A']),
        await dig('127.0.0.1', server.dnsPort, ['www.example.org', 'A']),
        await dig('127.0.0.1', server.dnsPort, ['example.test', 'SOA', '+tcp']),
      ];
      expect(asked.map((r) => r.status)).toEqual(['NOERROR', 'REFUSED', 'NOERROR']);
      const logged = () => server!.logs.filter((l) => l.event === 'query');
      for (let i = 0; i < 100 && logged().length < 3; i++) await new Promise((r) => setTimeout(r, 50));
      expect(logged().map((l) => [l.qname, l.transport])).toEqual([['www.example.test', 'udp'], ['www.example.org', 'udp'], ['example.test', 'tcp']]);
      const base = `http://127.0.0.1:${server.httpPort}`;
      const texts = await Promise.all(['/metrics', '/readyz', '/healthz', '/status'].map(async (p) => (await fetch(base + p)).text()));
      for (const t of texts) expect(t).not.toContain(SECRET);
      expect(JSON.stringify(server.logs)).not.toContain(SECRET);
      expect(JSON.stringify(server.logs)).toMatch(/\*\*\*/);
    } finally {
      await server?.stop();
    }
    expect(JSON.stringify(server.logs)).not.toContain(SECRET);
  });
});
