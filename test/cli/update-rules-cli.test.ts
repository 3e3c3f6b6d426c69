// `lbdns tsig allow-update|deny-update|show`: which names and types a key may change by RFC 2136; bad input one line and nothing changed; secrets never shown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;
let secret = '';

async function lbdns(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env: { ...process.env, DATABASE_URL: db.url ?? '', LBDNS_DATA_DIR: db.dataDir }, stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A failure: the exit status, one stderr line, nothing on stdout, the rules and keys unchanged. */
async function fails(args: string[], code: number, line: string | RegExp): Promise<void> {
  const before = [await store.listUpdateRules(), await store.tsigKeys()];
  const r = await lbdns(args);
  expect({ code: r.code, out: r.out, lines: r.err.split('\n').length }).toEqual({ code, out: '', lines: 1 });
  if (typeof line === 'string') expect(r.err).toBe(`lbdns: ${line}`);
  else expect(r.err).toMatch(line);
  expect([await store.listUpdateRules(), await store.tsigKeys()]).toEqual(before);
}

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  await store.addZone({ name: 'cli.test' });
  secret = /secret "([^"]+)"/.exec((await lbdns(['tsig', 'add', 'acme'])).out)![1];
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
});

describe('tsig update rules', () => {
  it('allow-update sets a rule (types replaced for the same pattern), show and list --json tell them, never the secret', async () => {
    expect((await lbdns(['tsig', 'show', 'acme'])).out).toBe('key acme (hmac-sha256)\ntransfers: none\nupdates: none (an update signed with it is REFUSED)');
    expect((await lbdns(['tsig', 'allow-update', 'acme', '--zone', 'cli.test', '--name', '_acme-challenge.*', '--type', 'txt'])).out).toBe('key acme may update TXT at _acme-challenge.* in zone cli.test');
    expect((await lbdns(['tsig', 'allow-update', 'acme', '--zone', 'cli.test', '--name', '*.dyn.cli.test.', '--type', 'A'])).out).toBe('key acme may update A at *.dyn.cli.test in zone cli.test');
    expect((await lbdns(['tsig', 'allow-update', 'acme', '--zone', 'cli.test', '--name', '*.dyn.cli.test', '--type', 'A,AAAA'])).out).toBe('key acme may update A,AAAA at *.dyn.cli.test in zone cli.test');
    const show = await lbdns(['tsig', 'show', 'ACME.']);
    expect(show.out).toBe(
      ['key acme (hmac-sha256)', 'transfers: none', 'updates:', '  ZONE      NAME               TYPES', '  cli.test  *.dyn.cli.test     A,AAAA', '  cli.test  _acme-challenge.*  TXT'].join('\n'),
    );
    expect(JSON.parse((await lbdns(['tsig', 'show', 'acme', '--json'])).out)).toEqual({
      name: 'acme',
      algorithm: 'hmac-sha256',
      zones: [],
      updates: [
        { zone: 'cli.test', name: '*.dyn.cli.test', types: ['A', 'AAAA'] },
        { zone: 'cli.test', name: '_acme-challenge.*', types: ['TXT'] },
      ],
    });
    const list = await lbdns(['tsig', 'list', '--json']);
    expect(JSON.parse(list.out)[0].updates).toHaveLength(2);
    for (const out of [show.out, list.out, (await lbdns(['tsig', 'list'])).out]) expect(out).not.toContain(secret);
  });

  it('refuses bad input with one line and changes nothing', async () => {
    await fails(['tsig', 'allow-update', 'acme', '--zone', 'cli.test', '--name', 'x.cli.test'], 2, 'tsig allow-update: --zone, --name and --type are required');
    await fails(['tsig', 'allow-update', 'acme', '--zone', 'cli.test', '--name', 'www.example.org', '--type', 'TXT'], 2, 'name pattern www.example.org is not inside zone cli.test');
    await fails(['tsig', 'allow-update', 'acme', '--zone', 'cli.test', '--name', 'a.*.cli.test', '--type', 'TXT'], 2, 'name pattern "a.*.cli.test" must be a name, *.NAME, LABEL.* or *');
    await fails(['tsig', 'allow-update', 'acme', '--zone', 'cli.test', '--name', '*', '--type', 'SOA'], 2, /^lbdns: type SOA cannot be allowed/);
    await fails(['tsig', 'allow-update', 'acme', '--zone', 'cli.test', '--name', '*', '--type', ','], 2, 'name at least one record type (or ANY)');
    await fails(['tsig', 'allow-update', 'nokey', '--zone', 'cli.test', '--name', '*', '--type', 'TXT'], 1, 'no tsig key "nokey"');
    await fails(['tsig', 'allow-update', 'acme', '--zone', 'no.test', '--name', '*', '--type', 'TXT'], 1, 'no zone "no.test"');
    await fails(['tsig', 'show', 'nokey'], 1, 'no tsig key "nokey"');
    await fails(['tsig', 'rm', 'acme'], 2, 'tsig key acme may update zone cli.test (lbdns tsig deny-update acme first)');
    await fails(['tsig', 'deny-update', 'acme', '--name', '*'], 2, 'a name pattern needs its zone');
    await fails(['tsig', 'deny-update', 'acme', '--zone', 'cli.test', '--name', 'other.cli.test'], 1, 'no update rule of key acme in zone cli.test for other.cli.test');
  });

  it('deny-update removes one rule or all of them, then the key can go', async () => {
    expect((await lbdns(['tsig', 'deny-update', 'acme', '--zone', 'cli.test', '--name', '*.dyn.cli.test'])).out).toBe('key acme no longer updates A,AAAA at *.dyn.cli.test in zone cli.test');
    expect((await lbdns(['tsig', 'deny-update', 'acme'])).out).toBe('key acme no longer updates TXT at _acme-challenge.* in zone cli.test');
    expect(await store.listUpdateRules()).toEqual([]);
    expect((await lbdns(['tsig', 'rm', 'acme'])).code).toBe(0);
  });
});
