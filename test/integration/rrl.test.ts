// Rate limiting on the real server, from several loopback /24s: per name, per zone for NXDOMAIN, and exempt networks.
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { startInProcess, type TestServer } from '../helpers/server.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

const H = '127.0.0.1';
const RATE = 20;
// Without dig the test skips and says so; under CI it runs and fails instead.
const haveDig = spawnSync('dig', ['-v']).status === 0 || process.env.CI === 'true';

let db: TestDatabase;
let server: TestServer;

beforeAll(async () => {
  if (!haveDig) return;
  db = await createTestDatabase();
  server = await startInProcess({
    DATABASE_URL: db.url,
    LBDNS_DATA_DIR: db.dataDir,
    // One process, so that the whole rate is this process's and the counts below are exact enough.
    LBDNS_WORKERS: '1',
    LBDNS_RRL_RATE: String(RATE),
    LBDNS_RRL_SLIP: '2',
    // The pair's addresses, as the shipped env file sets them (docs/ha.md), here a loopback /24 and one address.
    LBDNS_RRL_EXEMPT: '127.0.9.0/24,127.0.8.8',
  });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

interface Tally {
  replies: number;
  truncated: number;
  rcodes: Map<number, number>;
}

/** Sends `queries` from `from` as fast as the socket takes them and counts what comes back. */
async function flood(from: string, queries: Buffer[], during?: () => Promise<void>): Promise<Tally> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, from, r));
  const tally: Tally = { replies: 0, truncated: 0, rcodes: new Map() };
  sock.on('message', (m) => {
    const reply = decodeReply(m);
    tally.replies++;
    if (reply.tc) tally.truncated++;
    else tally.rcodes.set(reply.rcode, (tally.rcodes.get(reply.rcode) ?? 0) + 1);
  });
  for (let i = 0; i < queries.length; i++) {
    sock.send(queries[i], server.dnsPort, H);
    if (during && i % 100 === 99) await during();
  }
  await new Promise((r) => setTimeout(r, 300));
  sock.close();
  return tally;
}

const many = (n: number, name: (i: number) => string) => Array.from({ length: n }, (_, i) => buildQuery({ id: i, name: name(i) }));

describe.skipIf(!haveDig)('response rate limiting keyed like BIND (skipped: dig not installed)', () => {
  it('a flood of one name from a /24 does not limit another name asked from the same /24', async () => {
    let otherAsked = 0;
    const t = await flood('127.0.0.1', many(1000, () => 'www.example.test'), async () => {
      const other = await dig(H, server.dnsPort, ['mail.example.test', '-b', '127.0.0.2']);
      expect(other.status).toBe('NOERROR');
      expect(other.flags).not.toContain('tc');
      expect(other.answer.map((a) => a.data)).toEqual(['192.0.2.25']);
      otherAsked++;
    });
    expect(otherAsked).toBe(10);
    // RATE/s with a one-second burst: full answers stay near RATE of the 1000, and about half the rest slip as TC.
    const full = t.replies - t.truncated;
    expect(full).toBeGreaterThanOrEqual(RATE);
    expect(full).toBeLessThan(RATE * 4);
    expect(t.truncated).toBeGreaterThan(100);
  });

  it('NXDOMAIN for random names shares one budget per zone', async () => {
    const t = await flood('127.0.10.1', many(600, (i) => `random-${i}-${Math.random().toString(36).slice(2)}.example.test`));
    const nx = t.rcodes.get(3) ?? 0;
    expect(nx).toBeGreaterThanOrEqual(RATE);
    expect(nx).toBeLessThan(RATE * 4);
    expect(t.truncated).toBeGreaterThan(100);
    // Positive answers to the same /24 have budgets of their own.
    const www = await dig(H, server.dnsPort, ['www.example.test', '-b', '127.0.10.2']);
    expect(www.status).toBe('NOERROR');
    expect(www.flags).not.toContain('tc');
  });

  it('never limits an exempt network, and the keepalived check from it is always answered', async () => {
    const t = await flood('127.0.9.1', many(1000, () => 'www.example.test'));
    expect(t.truncated).toBe(0);
    expect(t.replies).toBe(1000);
    const t2 = await flood('127.0.8.8', many(300, () => 'nothing.example.test'));
    expect(t2.truncated).toBe(0);
    expect(t2.rcodes.get(3)).toBe(300);
    // A flood of the check's own question from the pair's /24 (spoofed, say) leaves the check from the exempt address answered.
    const soa = Array.from({ length: 500 }, (_, i) => buildQuery({ id: i, name: 'example.test', qtype: 6 }));
    const neighbour = await flood('127.0.8.9', soa, async () => {
      const check = await dig(H, server.dnsPort, ['example.test', 'SOA', '-b', '127.0.8.8']);
      expect(check.status).toBe('NOERROR');
      expect(check.flags).not.toContain('tc');
      expect(check.answer[0]?.type).toBe('SOA');
    });
    // The neighbour itself, not exempt, was limited.
    expect(neighbour.truncated).toBeGreaterThan(50);
  });
});
