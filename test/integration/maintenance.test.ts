// Maintenance windows end to end: two servers on one PostgreSQL drain and release a member at the same moment, a server
// started mid-window knows the window is open, status shows the next window ahead of time, bad input changes nothing.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { ROOT, startInProcess, type TestServer } from '../helpers/server.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

const run = promisify(execFile);
const havePg = await pgAvailable();
if (!havePg && process.env.CI) throw new Error('PostgreSQL must answer on 127.0.0.1:5432 in CI');

const NAME = 'mw.example.test';
const MEMBERS = [
  { probe: '127.0.0.41', answer: '192.0.2.41' },
  { probe: '127.0.0.42', answer: '192.0.2.42' },
];
const VICTIM = MEMBERS[0].answer;

let db: TestDatabase;
const servers: { a?: TestServer; b?: TestServer } = {};
const dataDirs = [mkdtempSync(join(tmpdir(), 'lbdns-mw-a-')), mkdtempSync(join(tmpdir(), 'lbdns-mw-b-'))];
let port = 0;
const backends: http.Server[] = [];

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

/** The addresses one answer to NAME holds, from `server`. */
async function answer(server: TestServer): Promise<string[]> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply')), 2000);
      sock.once('message', (m: Buffer) => {
        clearTimeout(timer);
        resolve(decodeReply(m).answers.map((a: any) => a.address));
      });
      sock.send(buildQuery({ name: NAME }), server.dnsPort, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

/** Polls every 20 ms until `ok` holds on `server`; returns the time it first did. */
async function when(server: TestServer, ok: (a: string[]) => boolean, deadline: number): Promise<number> {
  for (;;) {
    const a = await answer(server);
    if (ok(a)) return Date.now();
    if (Date.now() > deadline) throw new Error(`not seen by ${new Date(deadline).toISOString()}; last answer ${a}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const env = (node: string, dataDir: string) => ({ DATABASE_URL: db.url, LBDNS_DATA_DIR: dataDir, LBDNS_NODE_NAME: node, LBDNS_RRL_RATE: '0' });

beforeAll(async () => {
  if (!havePg) return;
  for (const m of MEMBERS) {
    const s = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => s.listen(port, m.probe, resolve));
    if (port === 0) port = (s.address() as { port: number }).port;
    backends.push(s);
  }
  db = await createTestDatabase();
  servers.a = await startInProcess(env('node-a', dataDirs[0]));
  await query(`insert into pools (zone_id, name, count, check_kind, check_port, interval_ms, timeout_ms, rise, fall)
               select id, '${NAME}', 2, 'http', ${port}, 300, 200, 1, 1 from zones where name = 'example.test'`);
  for (const m of MEMBERS) await query(`insert into pool_members (pool_id, address, probe_address) select id, '${m.answer}', '${m.probe}' from pools where name = '${NAME}'`);
  servers.b = await startInProcess(env('node-b', dataDirs[1]));
  for (const s of [servers.a, servers.b]) await when(s, (a) => a.length === 2, Date.now() + 5000);
}, 60_000);

afterAll(async () => {
  await servers.a?.stop();
  await servers.b?.stop();
  await db?.drop();
  for (const s of backends) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!havePg)('maintenance windows on a pair', { timeout: 90_000 }, () => {
  it('drains the member on both nodes when the window opens, a node started mid-window knows it, both release it at the close', async () => {
    // A cron with seconds firing once a minute, 8 s from now, with a 10 s window.
    const opens = Math.ceil((Date.now() + 8000) / 1000) * 1000;
    const closes = opens + 10_000;
    const cron = `${new Date(opens).getUTCSeconds()} * * * * *`;
    const added = await lbdns(['maintenance', 'add', NAME, VICTIM, '--cron', cron, '--duration', '10s', '--reason', 'firmware', '--tz', 'Europe/Berlin']);
    expect(added.stderr).toBe('');
    const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');
    expect(added.stdout).toContain(`next ${iso(opens)} until ${iso(closes)}`);

    // Ahead of time: in the list, in status, and in each node's /status, while the member is still answered.
    const listed = JSON.parse((await lbdns(['maintenance', 'list', '--json'])).stdout);
    expect(listed).toEqual([expect.objectContaining({ pool: NAME, address: VICTIM, cron, tz: 'Europe/Berlin', open: false, nextOpens: iso(opens), nextCloses: iso(closes), reason: 'firmware' })]);
    expect((await lbdns(['status', NAME])).stdout).toMatch(new RegExp(`MAINTENANCE\\n${NAME} ${VICTIM}: window \\d+ "${cron.replace(/\*/g, '\\*')}" Europe/Berlin for 10s, next ${iso(opens)}`));
    for (const s of [servers.a!, servers.b!]) {
      let member: any;
      for (let i = 0; i < 50 && !member?.maintenance?.length; i++) {
        const live = await (await fetch(`http://127.0.0.1:${s.httpPort}/status?pool=${NAME}`)).json();
        member = live.pools[0].members.find((m: any) => m.address === VICTIM);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(member.maintenance).toEqual([expect.objectContaining({ open: false, nextOpens: new Date(opens).toISOString() })]);
      expect(await answer(s)).toContain(VICTIM);
    }

    const drained = await Promise.all([servers.a!, servers.b!].map((s) => when(s, (a) => a.length === 1 && !a.includes(VICTIM), opens + 3000)));
    console.log(`window opened at ${iso(opens)}: drained by node-a +${drained[0] - opens} ms, node-b +${drained[1] - opens} ms (polling every 20 ms)`);
    for (const t of drained) {
      expect(t).toBeGreaterThanOrEqual(opens);
      expect(t - opens).toBeLessThan(500);
    }

    // node-b restarts inside the window: it drains from its first answer.
    await servers.b!.stop();
    servers.b = await startInProcess(env('node-b', dataDirs[1]));
    expect(Date.now()).toBeLessThan(closes - 1000);
    expect(await answer(servers.b)).toEqual([MEMBERS[1].answer]);
    expect(servers.b.logs.some((l) => l.msg === 'maintenance window open: member drained' && l.member === VICTIM && l.reason === 'firmware')).toBe(true);

    const released = await Promise.all([servers.a!, servers.b!].map((s) => when(s, (a) => a.includes(VICTIM), closes + 3000)));
    console.log(`window closed at ${iso(closes)}: released by node-a +${released[0] - closes} ms, node-b +${released[1] - closes} ms`);
    for (const t of released) {
      expect(t).toBeGreaterThanOrEqual(closes);
      expect(t - closes).toBeLessThan(500);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(servers.a!.logs.some((l) => l.msg === 'maintenance window over: member released' && l.member === VICTIM)).toBe(true);

    const id = listed[0].id;
    expect((await lbdns(['maintenance', 'rm', String(id)])).stdout).toBe(`removed maintenance window ${id} (${NAME} ${VICTIM}, "${cron}")\n`);
    expect((await lbdns(['maintenance', 'list'])).stdout).toBe('no maintenance windows\n');
  });

  it('refuses bad maintenance input in one line, changing nothing', async () => {
    await query(`insert into maintenance_windows (member_id, cron, duration_s, reason) select id, '0 3 * * *', 60, 'kept' from pool_members where host(address) = '${VICTIM}'`);
    const before = await query('select * from maintenance_windows order by id');
    const add = (...extra: string[]) => ['maintenance', 'add', NAME, VICTIM, ...extra];
    const cases: [string[], RegExp][] = [
      [add('--cron', '61 * * * *', '--duration', '1h', '--reason', 'x'), /^lbdns: cron "61 \* \* \* \*": .+\n$/],
      [add('--cron', '0 2 * * 0', '--duration', '1h', '--reason', 'x', '--tz', 'Mars/Olympus'), /^lbdns: time zone "Mars\/Olympus" is not an IANA zone name/],
      [add('--cron', '0 2 * * 0', '--duration', 'long', '--reason', 'x'), /^lbdns: maintenance add: --duration "long" must be a duration/],
      [add('--cron', '0 2 * * 0', '--duration', '8d', '--reason', 'x'), /^lbdns: duration 691200 s must be whole seconds from 1 s to 7 days\n$/],
      [add('--cron', '0 2 * * 0', '--duration', '1h'), /^lbdns: maintenance add: --cron, --duration and --reason are required\n$/],
      [['maintenance', 'add', NAME, '192.0.2.99', '--cron', '0 2 * * 0', '--duration', '1h', '--reason', 'x'], /^lbdns: no member 192.0.2.99 in pool mw.example.test\n$/],
      [['maintenance', 'rm', 'seven'], /^lbdns: maintenance rm: ID "seven" must be a window number/],
      [['maintenance', 'rm', '999999'], /^lbdns: no maintenance window 999999\n$/],
      [['maintenance', 'frob'], /^lbdns: maintenance: unknown subcommand "frob"/],
    ];
    for (const [args, line] of cases) {
      const r = await lbdns(args);
      expect({ args, stderr: r.stderr, lines: r.stderr.split('\n').length, stdout: r.stdout, failed: r.code !== 0 }).toEqual({ args, stderr: expect.stringMatching(line), lines: 2, stdout: '', failed: true });
    }
    expect(await query('select * from maintenance_windows order by id')).toEqual(before);
  });
});
