// The hash policy on the wire: dig with ECS gets the hashed prefix as scope, the same subnet the same members, and a
// subnet whose first member goes down moves to its second and comes back when it returns.
import http from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { dig, type DigResult } from '../helpers/dig.js';
import { startInProcess, type TestServer } from '../helpers/server.js';

const havePg = await pgAvailable();
if (!havePg && process.env.CI) throw new Error('PostgreSQL must answer on 127.0.0.1:5432 in CI');

const NAME = 'sticky.example.test';
const MEMBERS = ['127.0.0.51', '127.0.0.52', '127.0.0.53', '127.0.0.54'].map((probe, i) => ({ probe, answer: `192.0.2.5${i + 1}` }));

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

async function stop(address: string): Promise<void> {
  const s = backends.get(address)!;
  backends.delete(address);
  s.closeAllConnections();
  await new Promise((r) => s.close(r));
}

async function query(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

const ask = (subnet: string): Promise<DigResult> => dig('127.0.0.1', server.dnsPort, [NAME, 'A', `+subnet=${subnet}`]);
const addresses = (r: DigResult) => r.answer.map((a) => a.data);
const scope = (r: DigResult) => /CLIENT-SUBNET: \S+\/(\d+)\/(\d+)/.exec(r.opt.join(' '))?.slice(1).map(Number);

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  if (!havePg) return;
  for (const m of MEMBERS) await listen(m.probe);
  db = await createTestDatabase();
  server = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_RRL_RATE: '0' });
  await query(`insert into pools (zone_id, name, policy, count, hash_prefix_v4, check_kind, check_port, interval_ms, timeout_ms, rise, fall)
               select id, '${NAME}', 'hash', 2, 24, 'http', ${port}, 300, 200, 1, 1 from zones where name = 'example.test'`);
  for (const m of MEMBERS) await query(`insert into pool_members (pool_id, address, probe_address) select id, '${m.answer}', '${m.probe}' from pools where name = '${NAME}'`);
  await waitFor(async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) for (const a of addresses(await ask(`10.${i}.0.0/24`))) seen.add(a);
    return seen.size === 4;
  }, 10_000);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
  for (const address of [...backends.keys()]) await stop(address);
});

describe.skipIf(!havePg)('a hash pool through dig', { timeout: 60_000 }, () => {
  it('answers a subnet with the same two members every time, scope /24 (or the shorter source prefix)', async () => {
    const first = await ask('198.51.100.0/24');
    expect(first.status).toBe('NOERROR');
    expect(addresses(first)).toHaveLength(2);
    expect(scope(first)).toEqual([24, 24]);
    for (let i = 0; i < 5; i++) expect(addresses(await ask('198.51.100.77/32'))).toEqual(addresses(first));
    expect(scope(await ask('198.51.100.77/32'))).toEqual([32, 24]);
    expect(scope(await ask('198.51.0.0/16'))).toEqual([16, 16]);
  });

  it('moves a subnet to its second member while its first is down, and back when it returns', async () => {
    const subnet = '203.0.113.0/24';
    const [firstChoice, second] = addresses(await ask(subnet));
    const down = MEMBERS.find((m) => m.answer === firstChoice)!;
    await stop(down.probe);
    await waitFor(async () => addresses(await ask(subnet))[0] === second, 5000);
    expect(addresses(await ask(subnet))).not.toContain(firstChoice);
    await listen(down.probe);
    await waitFor(async () => addresses(await ask(subnet))[0] === firstChoice, 5000);
    expect(addresses(await ask(subnet))).toEqual([firstChoice, second]);
  });
});
