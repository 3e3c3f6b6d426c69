// The `npm start` path: no DATABASE_URL, the embedded store, edited from another process through its socket.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { ROOT, startChild, type ChildServer } from '../helpers/server.js';

const run = promisify(execFile);
let server: ChildServer;

beforeAll(async () => {
  server = await startChild({ DATABASE_URL: undefined });
}, 90_000);

afterAll(async () => {
  const code = await server?.stop();
  expect(code).toBe(0);
  rmSync(server.env.LBDNS_DATA_DIR, { recursive: true, force: true });
});

const cli = (...args: string[]) => run(process.execPath, [`${ROOT}/bin/lbdns.js`, ...args], { env: { ...process.env, DATABASE_URL: '', LBDNS_DATA_DIR: server.env.LBDNS_DATA_DIR } });

describe('embedded store', () => {
  it('serves the seeded sample zone', async () => {
    const r = await dig('127.0.0.1', server.dnsPort, ['www.example.test']);
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(r.answer.length).toBeGreaterThan(0);
  });

  it('answers a record added by the CLI in another process within a second', async () => {
    const { stdout } = await cli('record', 'add', 'embedded.example.test', 'A', '192.0.2.123', '--ttl', '30');
    expect(stdout).toMatch(/embedded\.example\.test/);
    const t0 = Date.now();
    let answer: string[] = [];
    while (Date.now() - t0 < 3000) {
      answer = (await dig('127.0.0.1', server.dnsPort, ['embedded.example.test'])).answer.map((a) => a.data);
      if (answer.length) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(answer).toEqual(['192.0.2.123']);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('refuses invalid input from the CLI with one line and no change', async () => {
    const err = await cli('record', 'add', 'bad.example.test', 'A', '300.1.1.1').catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr.trim()).toBe('lbdns: A record content "300.1.1.1" is not an IPv4 address');
    const { stdout } = await cli('record', 'list', 'example.test', '--json');
    expect(JSON.parse(stdout).some((r: any) => r.name === 'bad.example.test')).toBe(false);
  });
});
