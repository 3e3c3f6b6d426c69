// The status page at / on the ops port, opened in a real headless Chromium (Debian's package): the pool table shows the
// live states, and a member going down shows up as down on a later load. A screenshot is kept in test-artifacts/.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { need, onPath } from '../helpers/prerequisite.js';
import { ROOT, startChild, type ChildServer } from '../helpers/server.js';

const run = promisify(execFile);
const CHROMIUM = onPath('chromium') ?? onPath('chromium-browser');
const ARTIFACTS = join(ROOT, 'test-artifacts');

let db: TestDatabase | undefined;
let server: ChildServer | undefined;
const backends: net.Server[] = [];
let profile = '';

/** The page as Chromium's DOM after loading (scripts would have run: there are none). */
async function dom(url: string): Promise<string> {
  const { stdout } = await run(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, '--dump-dom', url], { timeout: 30_000, maxBuffer: 8 << 20 });
  return stdout;
}

/** The state each member row of the members table shows, by address, read from the DOM Chromium built. */
function states(html: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of html.matchAll(/<tr class="[^"]*" data-pool="([^"]+)" data-member="([^"]+)" data-state="([^"]+)">/g)) out.set(m[2], m[3]);
  return out;
}

function listen(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => c.destroy());
    s.once('error', reject);
    s.listen(port, host, () => resolve(s));
  });
}

beforeAll(async () => {
  if (!CHROMIUM || !(await pgAvailable())) return;
  profile = join(ARTIFACTS, `.chromium-${process.pid}`);
  mkdirSync(profile, { recursive: true });
  db = await createTestDatabase();
  backends.push(await listen('127.0.0.1', 0));
  const port = (backends[0].address() as net.AddressInfo).port;
  backends.push(await listen('127.0.0.2', port));
  // The schema first (a server migrates too, but the pool must exist when it loads).
  server = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_SEED_DIR: undefined, LBDNS_WORKERS: '1' }, 60_000);
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(`insert into zones (name) values ('page.test')`);
    await c.query(
      `insert into pools (zone_id, name, check_kind, check_port, interval_ms, timeout_ms, rise, fall)
       select id, 'lb.page.test', 'tcp', $1, 300, 100, 1, 1 from zones where name = 'page.test'`,
      [port],
    );
    await c.query(`insert into pool_members (pool_id, address) select id, a::inet from pools, unnest(array['127.0.0.1', '127.0.0.2']) a`);
  } finally {
    await c.end();
  }
}, 90_000);

afterAll(async () => {
  await server?.stop();
  for (const b of backends) b.close();
  await db?.drop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('status page', () => {
  it('shows every member up in Chromium, then the one whose load balancer stops as down', async (ctx) => {
    need(ctx, CHROMIUM ? undefined : 'chromium is not installed (Debian package chromium)');
    need(ctx, db?.url ? undefined : 'no PostgreSQL on 127.0.0.1:5432');
    const url = `http://127.0.0.1:${server!.httpPort}/`;
    let seen = new Map<string, string>();
    for (const t0 = Date.now(); Date.now() - t0 < 20_000; ) {
      seen = states(await dom(url));
      if (seen.get('127.0.0.1') === 'up' && seen.get('127.0.0.2') === 'up') break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(Object.fromEntries(seen)).toEqual({ '127.0.0.1': 'up', '127.0.0.2': 'up' });

    // The second load balancer goes away: its probes fail, and the page shows it down, the other still up.
    await new Promise<void>((r) => backends[1].close(() => r()));
    let html = '';
    for (const t0 = Date.now(); Date.now() - t0 < 20_000; ) {
      html = await dom(url);
      seen = states(html);
      if (seen.get('127.0.0.2') === 'down') break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(Object.fromEntries(seen)).toEqual({ '127.0.0.1': 'up', '127.0.0.2': 'down' });
    // The change is listed with the probe's reason, and the page refreshes itself without script.
    expect(html).toMatch(/127\.0\.0\.2<\/td><td>up → down<\/td><td>probe: /);
    expect(html).toContain('http-equiv="refresh"');
    // The edits that made the pool, from the audit log: written with plain SQL here, so by the database role.
    expect(html).toMatch(/<td>db:[^<]+<\/td><td>insert pool member 127\.0\.0\.1 \(pool lb\.page\.test\)/);
    expect(html).not.toMatch(/<script/i);

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'status-page.png');
    rmSync(shot, { force: true });
    await run(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', `--user-data-dir=${profile}`, '--window-size=1280,900', `--screenshot=${shot}`, url], { timeout: 30_000 });
    expect(statSync(shot).size).toBeGreaterThan(1000);
    expect(readFileSync(shot).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  }, 90_000);
});
