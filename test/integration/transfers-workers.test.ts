// LBDNS_WORKERS > 1: a worker relays AXFR/IXFR to the primary (which reads the store) and signs replies to signed queries with the keys the primary sends.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startChild, type ChildServer } from '../helpers/server.js';

const run = promisify(execFile);
let db: TestDatabase;
let server: ChildServer;
let secret = '';

async function lbdns(args: string[]): Promise<string> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env: { ...process.env, DATABASE_URL: db.url ?? '', LBDNS_DATA_DIR: db.dataDir }, stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  if (code !== 0) throw new Error(`lbdns ${args.join(' ')}: ${err.join('\n')}`);
  return out.join('\n');
}

async function digOut(args: string[]): Promise<string> {
  const r = await run('dig', ['@127.0.0.1', '-p', String(server.dnsPort), '+time=3', '+tries=1', ...args]).catch((e) => e);
  return String(r.stdout ?? '');
}

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_WORKERS: '2', LBDNS_RRL_RATE: '0' }, 90_000);
  secret = /secret "([^"]+)"/.exec(await lbdns(['tsig', 'add', 'wkey']))![1];
  await lbdns(['zone', 'set', 'example.test', '--tsig-key', 'wkey']);
}, 120_000);

afterAll(async () => {
  expect(await server?.stop()).toBe(0);
  await db?.drop();
});

describe('zone transfers with DNS workers', () => {
  it('serves signed AXFRs through the workers (each on a new connection, so both workers take some) and refuses unsigned ones', async () => {
    for (let i = 0; i < 6; i++) {
      const out = await digOut(['+tcp', 'example.test', 'AXFR', '-y', `hmac-sha256:wkey:${secret}`]);
      expect(out).not.toMatch(/Transfer failed|Couldn't verify/);
      expect(out.match(/\tSOA\t/g)).toHaveLength(2);
    }
    expect(await digOut(['+tcp', 'example.test', 'AXFR'])).toMatch(/Transfer failed/);
  }, 60_000);

  it('signs the reply to a signed SOA query over UDP once the workers have the key', async () => {
    let out = '';
    for (let i = 0; i < 50; i++) {
      out = await digOut(['example.test', 'SOA', '-y', `hmac-sha256:wkey:${secret}`]);
      if (/status: NOERROR/.test(out) && /wkey\.\s+0\s+ANY\s+TSIG/.test(out)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out).toMatch(/status: NOERROR/);
    expect(out).toMatch(/wkey\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 /);
    expect(out).not.toMatch(/Couldn't verify|tsig indicates error/);
  }, 30_000);
});
