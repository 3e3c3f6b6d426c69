// `lbdns tsig add|list|rm` and `lbdns zone set`: BIND's key format printed once, secrets never listed, bad input one line and nothing changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;

async function lbdns(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env: { ...process.env, DATABASE_URL: db.url ?? '', LBDNS_DATA_DIR: db.dataDir }, stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A failure: the exit status, one stderr line, nothing on stdout, the settings and keys unchanged. */
async function fails(args: string[], code: number, line: string | RegExp): Promise<void> {
  const before = [await store.transferSettings(), await store.tsigKeys()];
  const r = await lbdns(args);
  expect({ code: r.code, out: r.out, lines: r.err.split('\n').length }).toEqual({ code, out: '', lines: 1 });
  if (typeof line === 'string') expect(r.err).toBe(`lbdns: ${line}`);
  else expect(r.err).toMatch(line);
  expect([await store.transferSettings(), await store.tsigKeys()]).toEqual(before);
}

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  await store.addZone({ name: 'cli.test' });
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
});

describe('tsig and zone set commands', () => {
  it('tsig add prints the key once in BIND format, with a secret as long as the hash', async () => {
    const r = await lbdns(['tsig', 'add', 'Sec1.Example.']);
    expect(r.code).toBe(0);
    const m = /^key "sec1\.example" \{\n\talgorithm hmac-sha256;\n\tsecret "([A-Za-z0-9+/=]+)";\n\};$/.exec(r.out);
    expect(m).not.toBeNull();
    expect(Buffer.from(m![1], 'base64')).toHaveLength(32);
    const r512 = await lbdns(['tsig', 'add', 'sec2', '--algorithm', 'hmac-sha512']);
    expect(Buffer.from(/secret "([^"]+)"/.exec(r512.out)![1], 'base64')).toHaveLength(64);
    const list = await lbdns(['tsig', 'list']);
    expect(list.out).toBe('NAME          ALGORITHM    ZONES\nsec1.example  hmac-sha256  -\nsec2          hmac-sha512  -');
    expect(list.out).not.toContain(m![1]);
  });

  it('zone set changes and shows the settings; "none" clears a list', async () => {
    const r = await lbdns(['zone', 'set', 'cli.test', '--allow-transfer', '198.18.0.0/15,2001:db8::/32', '--tsig-key', 'sec1.example', '--notify', '127.0.0.1:5353,[::1]:53']);
    expect(r.out).toMatch(/^zone cli\.test \(serial \d+\): allow-transfer 198\.18\.0\.0\/15, 2001:db8::\/32; tsig keys sec1\.example; notify 127\.0\.0\.1:5353, \[::1\]:53$/);
    expect((await lbdns(['zone', 'set', 'cli.test', '--notify', 'none'])).out).toMatch(/notify none$/);
    expect((await lbdns(['zone', 'set', 'cli.test'])).out).toMatch(/allow-transfer 198\.18\.0\.0\/15, 2001:db8::\/32; tsig keys sec1\.example; notify none$/);
    expect((await lbdns(['tsig', 'list'])).out).toContain('sec1.example  hmac-sha256  cli.test');
  });

  it('refuses bad input with one line and changes nothing', async () => {
    await fails(['tsig', 'add', 'sec1.example'], 1, 'tsig key sec1.example already exists');
    await fails(['tsig', 'add', 'sec3', '--algorithm', 'hmac-md5'], 2, /^lbdns: tsig add: --algorithm /);
    await fails(['tsig', 'rm', 'sec1.example'], 2, 'tsig key sec1.example is used by zone cli.test');
    await fails(['tsig', 'rm', 'nothing'], 1, 'no tsig key "nothing"');
    await fails(['zone', 'set', 'cli.test', '--tsig-key', 'nothing'], 2, 'zone cli.test: tsig key nothing does not exist');
    await fails(['zone', 'set', 'cli.test', '--notify', '127.0.0.1'], 2, 'zone set: --notify "127.0.0.1" is not address:port or [v6]:port');
    await fails(['zone', 'set', 'cli.test', '--allow-transfer', '198.18.0.1/15'], 2, /^lbdns: .*198\.18\.0\.1\/15/);
    await fails(['zone', 'set', 'nope.test', '--notify', 'none'], 1, 'no zone "nope.test"');
  });
});
