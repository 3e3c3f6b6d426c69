// The real CLI binary against a throwaway database: each command, its output, and its failures.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { parseZoneFile } from '../../src/zonefile/parse.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';
import { cliHarness, root } from './harness.js';

const sample = join(root, 'zones/example.test.zone');

let db: TestDatabase;
let store: Store;
const { lbdns, fails } = cliHarness(() => ({ db, store }));

beforeAll(async () => {
  db = await createTestDatabase();
  // Without PostgreSQL the CLI reaches the embedded store through this server-role store's socket.
  store = await openStore(storeConfig(db), { role: db.url === undefined ? 'server' : 'client', migrate: db.url === undefined });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

// Each run starts a Node process (about a second with tsx), hence the generous timeout.
describe('lbdns CLI', { timeout: 120_000 }, () => {
  it('help prints every command; no command is a usage error', async () => {
    const r = await lbdns(['help']);
    expect(r.code).toBe(0);
    for (const u of ['lbdns serve', 'lbdns migrate', 'lbdns zone import FILE', 'lbdns record add NAME TYPE CONTENT...']) expect(r.stdout).toContain(u);
    expect((await lbdns(['--help'])).code).toBe(0);
    expect((await lbdns(['zone', 'add', '--help'])).stdout).toMatch(/^usage: lbdns zone add NAME/);
    const none = await lbdns([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('usage:');
  });

  it('migrate applies the schema, then has nothing to do', async () => {
    const first = await lbdns(['migrate']);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(db.url === undefined ? /^schema is up to date\n$/ : /^applied 0001_core\.sql, 0002_pools\.sql, 0003_bounded_locks\.sql, (0004_[a-z_]+\.sql, )?0005_record_types\.sql, 0006_zone_transfers\.sql(, 0[0-9]{3}_[a-z_]+\.sql)*\n$/);
    expect(await lbdns(['migrate'])).toEqual({ code: 0, stdout: 'schema is up to date\n', stderr: '' });
  });

  it('zone import loads the sample zone, and refuses to load it twice without --replace', async () => {
    const r = await lbdns(['zone', 'import', sample]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^imported zone example\.test: \d+ records, serial 2024010101\n$/);
    await fails(['zone', 'import', sample], 1, 'zone example.test already exists (add --replace to overwrite it)');
    const again = await lbdns(['zone', 'import', sample, '--replace']);
    expect(again.stdout).toMatch(/^replaced zone example\.test: \d+ records, serial 2024010102\n$/);
  });

  it('zone list prints a table or JSON', async () => {
    const r = await lbdns(['zone', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[1]).toMatch(/^example\.test\s+2024010102\s+3600\s+\d+$/);
    const json = JSON.parse((await lbdns(['zone', 'list', '--json'])).stdout);
    expect(json).toEqual([expect.objectContaining({ name: 'example.test', serial: 2024010102 })]);
  });

  it('zone add and zone rm', async () => {
    expect(await lbdns(['zone', 'add', 'New.Test.', '--ttl', '600', '--mname', 'ns.example.test'])).toEqual({
      code: 0,
      stdout: 'added zone new.test (serial 1)\n',
      stderr: '',
    });
    expect(await store.getZone('new.test')).toMatchObject({ ttl: 600, mname: 'ns.example.test', rname: 'hostmaster.new.test' });
    await fails(['zone', 'add', 'new.test'], 1, 'zone new.test already exists');
    expect(await lbdns(['zone', 'rm', 'new.test'])).toEqual({ code: 0, stdout: 'removed zone new.test and its 0 records\n', stderr: '' });
    await fails(['zone', 'rm', 'new.test'], 1, 'no zone "new.test"');
  });

  it('record add joins content words and confirms with the zone serial', async () => {
    const a = await lbdns(['record', 'add', 'cli.example.test', 'A', '192.0.2.200', '--ttl', '120']);
    expect(a).toEqual({ code: 0, stdout: 'added cli.example.test 120 A 192.0.2.200 (zone example.test, serial 2024010103)\n', stderr: '' });
    const mx = await lbdns(['record', 'add', 'cli.example.test', 'mx', '10', 'Mail.Example.Test.']);
    expect(mx.stdout).toBe('added cli.example.test MX 10 mail.example.test (zone example.test, serial 2024010104)\n');
    const txt = await lbdns(['record', 'add', 'cli.example.test', 'TXT', 'v=spf1 -all']);
    expect(txt.stdout).toContain('TXT "v=spf1 -all"');
    const two = await lbdns(['record', 'add', 'cli.example.test', 'TXT', '"a" "b"']);
    expect(two.stdout).toContain('TXT "a" "b"');
    expect((await store.listRecords({ name: 'cli.example.test' })).map((r) => `${r.type} ${r.content}`)).toEqual([
      'A 192.0.2.200',
      'MX 10 mail.example.test',
      'TXT "a" "b"',
      'TXT "v=spf1 -all"',
    ]);
  });

  it('record add refuses bad input in one line and writes nothing', async () => {
    await fails(['record', 'add', 'bad.example.test', 'A', '300.1.1.1'], 2, 'A record content "300.1.1.1" is not an IPv4 address');
    await fails(['record', 'add', 'x.nowhere.test', 'A', '192.0.2.1'], 1, 'no zone contains "x.nowhere.test"');
    await fails(['record', 'add', 'www.example.test', 'CNAME', 'cli.example.test'], 1, 'record www.example.test: CNAME cannot coexist with other data');
    await fails(['record', 'add', 'example.test', 'CNAME', 'cli.example.test'], 2, 'record example.test: CNAME is not allowed at the zone apex');
    await fails(['record', 'add', 'cli.example.test', 'A', '192.0.2.200'], 1, 'record cli.example.test A 192.0.2.200 already exists');
    await fails(['record', 'add', 'cli.example.test', 'A', '192.0.2.9', '--ttl', 'soon'], 2, 'record add: --ttl must be a whole number from 0 to 2147483647');
    await fails(['record', 'add', 'cli.example.test', 'A'], 2, 'record add: expected NAME TYPE CONTENT..., got "cli.example.test" "A"');
    await fails(['record', 'add', 'cli.example.test', 'SPF', 'x'], 2, /^lbdns: record type "SPF" is not supported/);
    await fails(['record', 'add', 'cli.example.test', 'TYPE65280', 'c0000247'], 2, /^lbdns: TYPE65280 record content must be RFC 3597 generic text/);
    await fails(['record', 'add', 'cli.example.test', 'A', '192.0.2.9', '--weight', '3'], 2, "record add: Unknown option '--weight'");
  });

  it('record list shows records with effective TTLs, or JSON', async () => {
    const r = await lbdns(['record', 'list', 'example.test', '--name', 'cli.example.test']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^cli\.example\.test\s+120\s+A\s+192\.0\.2\.200$/);
    expect(r.stdout).toMatch(/cli\.example\.test\s+\(3600\)\s+MX\s+10 mail\.example\.test/);
    const json = JSON.parse((await lbdns(['record', 'list', '--name', 'cli.example.test', '--json'])).stdout);
    expect(json).toHaveLength(4);
    expect(json[0]).toMatchObject({ name: 'cli.example.test', type: 'A', ttl: 120, content: '192.0.2.200' });
    await fails(['record', 'list', 'none.test'], 1, 'no zone "none.test"');
  });

  it('record rm removes one record by content, or all of a type', async () => {
    expect((await lbdns(['record', 'rm', 'cli.example.test', 'TXT', '"a" "b"'])).stdout).toBe('removed 1 TXT record at cli.example.test\n');
    expect((await lbdns(['record', 'rm', 'cli.example.test', 'a'])).stdout).toBe('removed 1 A record at cli.example.test\n');
    await fails(['record', 'rm', 'cli.example.test', 'A'], 1, 'no A record at cli.example.test');
    await fails(['record', 'rm', 'cli.example.test', 'TXT', 'nope'], 1, 'no TXT record "\\"nope\\"" at cli.example.test');
  });

  it('zone export prints a zone file that reads back to the same records', async () => {
    const r = await lbdns(['zone', 'export', 'example.test']);
    expect(r.code).toBe(0);
    const parsed = parseZoneFile(r.stdout, { file: 'export' });
    const { zone, records } = await store.zoneForExport('example.test');
    expect(parsed.soa.serial).toBe(zone.serial);
    expect(parsed.records).toHaveLength(records.length);
    const out = join(db.dataDir, 'out.zone');
    const w = await lbdns(['zone', 'export', 'example.test', '--out', out]);
    expect(w.stdout).toBe(`wrote zone example.test (${records.length} records, serial ${zone.serial}) to ${out}\n`);
    expect(readFileSync(out, 'utf8')).toBe(`${r.stdout}`);
    await fails(['zone', 'export', 'none.test'], 1, 'no zone "none.test"');
  });

  it('zone import of a broken file names the file and line, and writes nothing', async () => {
    const file = join(db.dataDir, 'broken.test.zone');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, '$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\nwww IN A 192.0.2.300\n');
    await fails(['zone', 'import', file], 1, new RegExp(`^lbdns: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: .*192\\.0\\.2\\.300.*\\n$`));
    await fails(['zone', 'import', join(db.dataDir, 'missing.zone')], 1, `cannot read ${join(db.dataDir, 'missing.zone')}: ENOENT`);
  });

  it('unknown commands and bad configuration are usage errors', async () => {
    await fails(['frobnicate'], 2, 'unknown command "frobnicate" (try: lbdns help)');
    await fails(['zone'], 2, 'zone: expected a subcommand (list, add, set, rm, import, export)');
    await fails(['zone', 'list'], 2, /^lbdns: invalid configuration: LBDNS_LOG_LEVEL: /, { LBDNS_LOG_LEVEL: 'loud' });
  });

  it('an unreachable database is one line, without the password', async () => {
    await fails(['zone', 'list'], 1, /^lbdns: cannot reach PostgreSQL at postgres:\/\/lbdns:\*\*\*@127\.0\.0\.1:1\/x: .*ECONNREFUSED/, {
      DATABASE_URL: 'postgres://lbdns:hunter2@127.0.0.1:1/x',
    });
  });
});
