// Overrides end to end: the real CLI sets them, real servers on real PostgreSQL apply and expire them, across a restart.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { userInfo } from 'node:os';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { ROOT, startInProcess, type TestServer } from '../helpers/server.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

const run = promisify(execFile);
const havePg = await pgAvailable();
if (!havePg && process.env.CI) throw new Error('PostgreSQL must answer on 127.0.0.1:5432 in CI');

const NAME = 'forced.example.test';
const MEMBERS = [
  { probe: '127.0.0.31', answer: '192.0.2.31' },
  { probe: '127.0.0.32', answer: '192.0.2.32' },
  { probe: '127.0.0.33', answer: '192.0.2.33' },
];

let db: TestDatabase;
let server: TestServer;
let port = 0;
const backends = new Map<string, http.Server>();

async function listen(address: string): Promise<void> {
  const s = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => s.listen(port, address, resolve));
  if (port === 0) port = (s.address() as { port: number }).port;
  backends.set(address, s);
}

async function stopBackend(address: string): Promise<void> {
  const s = backends.get(address)!;
  backends.delete(address);
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
}

async function query(text: string): Promise<any[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

async function lbdns(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [`${ROOT}/bin/lbdns.js`, ...args], { env: { ...process.env, DATABASE_URL: db.url, LBDNS_LOG_LEVEL: 'silent' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Every address handed out in `n` answers to NAME (count 3 of 3: all answerable members in each). */
async function answered(n = 5): Promise<Set<string>> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const out = new Set<string>();
  try {
    await new Promise<void>((resolve, reject) => {
      let got = 0;
      const timer = setTimeout(() => reject(new Error('replies missing')), 3000);
      sock.on('message', (m: Buffer) => {
        for (const a of decodeReply(m).answers) out.add((a as any).address);
        if (++got === n) {
          clearTimeout(timer);
          resolve();
        }
      });
      for (let k = 0; k < n; k++) sock.send(buildQuery({ id: k, name: NAME }), server.dnsPort, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
  return out;
}

async function until(ok: (a: Set<string>) => boolean, ms: number, every = 50): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const a = await answered();
    if (ok(a)) return Date.now();
    if (Date.now() - t0 > ms) throw new Error(`condition not met in ${ms} ms; last answers ${[...a]}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

const serverEnv = () => ({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_RRL_RATE: '0', LBDNS_HTTP_EXPLAIN: '1' });

beforeAll(async () => {
  if (!havePg) return;
  for (const m of MEMBERS) await listen(m.probe);
  db = await createTestDatabase();
  server = await startInProcess(serverEnv());
  await query(`insert into pools (zone_id, name, count, check_kind, check_port, interval_ms, timeout_ms, rise, fall)
               select id, '${NAME}', 3, 'http', ${port}, 300, 200, 1, 1 from zones where name = 'example.test'`);
  for (const m of MEMBERS) {
    await query(`insert into pool_members (pool_id, address, probe_address) select id, '${m.answer}', '${m.probe}' from pools where name = '${NAME}'`);
  }
  await until((a) => a.size === 3, 5000);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
  for (const address of [...backends.keys()]) await stopBackend(address);
});

describe.skipIf(!havePg)('member overrides on a running pair member', { timeout: 60_000 }, () => {
  it('a forced-down member with an expiry is gone, stays gone across a restart, and is back at the expiry', async () => {
    const victim = MEMBERS[0].answer;
    const set = await lbdns(['member', 'set', NAME, victim, '--force', 'down', '--reason', 'disk swap', '--for', '10s']);
    expect(set.stderr).toBe('');
    expect(set.stdout).toMatch(new RegExp(`^member ${victim} of pool ${NAME}: forced down until \\S+Z by ${userInfo().username}: disk swap\\n$`));
    const [{ until: expiresText }] = await query(`select override_until as until from pool_members where host(address) = '${victim}'`);
    const expires = new Date(expiresText).getTime();
    await until((a) => a.size === 2 && !a.has(victim), 2000, 20);
    expect(server.logs.some((l) => l.msg === 'override in force: member forced down' && l.member === victim && l.by === userInfo().username && l.reason === 'disk swap')).toBe(true);

    // What an operator sees meanwhile: status (CLI and /status) and explain.
    const status = await lbdns(['status', NAME]);
    expect(status.stdout).toContain(`${victim} (forced down)`);
    expect(status.stdout).toMatch(new RegExp(`OVERRIDES\\n${NAME} ${victim}: forced down until \\S+ by ${userInfo().username}: disk swap`));
    const live = await (await fetch(`http://127.0.0.1:${server.httpPort}/status?pool=${NAME}`)).json();
    expect(live.pools[0].members.find((m: any) => m.address === victim).override).toMatchObject({ state: 'down', source: 'override', reason: 'disk swap', by: userInfo().username });
    const why = await lbdns(['explain', NAME, '--url', `http://127.0.0.1:${server.httpPort}`, '--json']);
    expect(JSON.parse(why.stdout).pool.members.find((m: any) => m.address === victim)).toMatchObject({ candidate: false, reason: expect.stringContaining('forced down until') });

    // A restart before the expiry: the new process reads the override from the store and keeps the member out.
    await server.stop();
    expect(Date.now()).toBeLessThan(expires - 2000);
    server = await startInProcess(serverEnv());
    const after = await answered();
    expect(after.has(victim)).toBe(false);
    expect(after.size).toBe(2);

    // Back at the expiry: judged at the clock on each query, no reload or edit involved.
    const back = await until((a) => a.has(victim), expires - Date.now() + 3000, 20);
    console.log(`forced-down member answered again ${back - expires} ms after its expiry (polled every ~20 ms)`);
    expect(back).toBeGreaterThanOrEqual(expires);
    expect(back - expires).toBeLessThan(500);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.logs.some((l) => l.msg === 'override expired' && l.member === victim)).toBe(true);
    // Expired, not deleted: status says so.
    expect((await lbdns(['status', NAME])).stdout).toMatch(new RegExp(`${victim}: forced down expired \\S+Z by`));
  });

  it('force up keeps a member probed down in answers, with a warning; --clear ends it; SQL edits record the role', async () => {
    const sick = MEMBERS[1];
    await stopBackend(sick.probe);
    await until((a) => !a.has(sick.answer), 5000);
    await lbdns(['member', 'set', NAME, sick.answer, '--force', 'up', '--reason', 'checker is wrong, LB is fine', '--until', `${new Date(Date.now() + 3600_000).toISOString().slice(0, 16)}Z`]);
    await until((a) => a.has(sick.answer), 2000);
    const live = await (await fetch(`http://127.0.0.1:${server.httpPort}/status?pool=${NAME}`)).json();
    expect(live.pools[0].members.find((m: any) => m.address === sick.answer)).toMatchObject({ state: 'down', warning: expect.stringContaining('forced up') });
    const cleared = await lbdns(['member', 'set', NAME, sick.answer, '--clear']);
    expect(cleared.stdout).toBe(`member ${sick.answer} of pool ${NAME}: no override\n`);
    await until((a) => !a.has(sick.answer), 2000);
    expect(server.logs.some((l) => l.msg === 'override cleared' && l.member === sick.answer)).toBe(true);
    await listen(sick.probe);
    await until((a) => a.has(sick.answer), 5000);

    await query(`update pool_members set override = 'drain', override_reason = 'psql drain' where host(address) = '${MEMBERS[2].answer}'`);
    await until((a) => !a.has(MEMBERS[2].answer), 2000);
    const [row] = await query(`select override_by, current_user as me from pool_members where host(address) = '${MEMBERS[2].answer}'`);
    expect(row.override_by).toBe(row.me);
    await query(`update pool_members set override = null where host(address) = '${MEMBERS[2].answer}'`);
    await until((a) => a.size === 3, 2000);
  });

  it('refuses bad override input in one line, changing nothing', async () => {
    const before = await query(`select address, override, override_reason, override_until from pool_members order by id`);
    const cases: [string[], RegExp][] = [
      [['--force', 'sideways', '--reason', 'x'], /^lbdns: member set: --force must be one of down, up, drain\n$/],
      [['--force', 'down'], /^lbdns: member set: --force needs --reason TEXT/],
      [['--force', 'down', '--reason', 'x', '--for', 'soon'], /^lbdns: member set: --for "soon" must be a duration/],
      [['--force', 'down', '--reason', 'x', '--until', '2020-01-01T00:00Z'], /^lbdns: expiry 2020-01-01T00:00:00.000Z is not in the future\n$/],
      [['--force', 'down', '--reason', 'x', '--until', '2030-01-01 00:00'], /^lbdns: member set: --until "2030-01-01 00:00" must be HH:MM/],
      [['--force', 'down', '--reason', 'x', '--for', '1h', '--until', '23:00'], /^lbdns: member set: give --until or --for, not both\n$/],
      [['--clear', '--force', 'up'], /^lbdns: member set: --clear takes no/],
      [['--force', 'down', '--reason', 'x', '--weight', '3'], /^lbdns: member set: --force and --clear go without other settings\n$/],
      [['--reason', 'x'], /^lbdns: member set: --reason, --until and --for go with --force\n$/],
    ];
    for (const [args, line] of cases) {
      const r = await lbdns(['member', 'set', NAME, MEMBERS[0].answer, ...args]);
      expect({ args, stderr: r.stderr, lines: r.stderr.split('\n').length, stdout: r.stdout, failed: r.code !== 0 }).toEqual({ args, stderr: expect.stringMatching(line), lines: 2, stdout: '', failed: true });
    }
    const missing = await lbdns(['member', 'set', NAME, '192.0.2.99', '--force', 'down', '--reason', 'x']);
    expect(missing.stderr).toBe(`lbdns: no member 192.0.2.99 in pool ${NAME}\n`);
    expect(await query(`select address, override, override_reason, override_until from pool_members order by id`)).toEqual(before);
  });
});
