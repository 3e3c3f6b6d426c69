// Operator mistakes, tried as a new user would: each is refused with one clear line and the store is left as it was.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';
import { need } from '../helpers/prerequisite.js';
import { cliHarness } from './harness.js';

let db: TestDatabase;
let store: Store;
const dir = mkdtempSync(join(tmpdir(), 'lbdns-mistakes-'));
const { fails } = cliHarness(() => ({ db, store }));

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: db.url === undefined ? 'server' : 'client', migrate: true });
  await store.addZone({ name: 'example.test' });
  await store.addRecord({ name: 'www.example.test', type: 'A', content: '192.0.2.1' });
  await store.addRecord({ name: 'web.example.test', type: 'CNAME', content: 'www.example.test' });
  await store.addPool({ name: 'lb.example.test' });
  await store.addMember('lb.example.test', { address: '192.0.2.50' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the CLI refuses mistakes and changes nothing', () => {
  it('a bad IPv4 address', () => fails(['record', 'add', 'x.example.test', 'A', '300.1.1.1'], 2, 'A record content "300.1.1.1" is not an IPv4 address'));
  it('a bad IPv6 address', () => fails(['record', 'add', 'x.example.test', 'AAAA', '2001:db8::g'], 2, /AAAA record content "2001:db8::g" is not an IPv6 address/));
  it('a name outside every zone', () => fails(['record', 'add', 'www.example.org', 'A', '192.0.2.9'], 1, /no zone contains "www\.example\.org"/));
  it('a TTL out of range', () => fails(['record', 'add', 'x.example.test', 'A', '192.0.2.9', '--ttl', '-5'], 2, /ttl/i));
  it('a pool TTL out of range', () => fails(['pool', 'add', 'lb2.example.test', '--ttl', '3601'], 2, /ttl 3601/i));
  it('a negative weight', () => fails(['member', 'add', 'lb.example.test', '192.0.2.51', '--weight=-1'], 2, 'weight -1 must be a whole number from 0 to 1000000'));
  it('a CNAME beside other data', () => fails(['record', 'add', 'www.example.test', 'CNAME', 'web.example.test'], 1, /CNAME/));
  it('data beside a CNAME', () => fails(['record', 'add', 'web.example.test', 'TXT', '"x"'], 1, /CNAME/));
  it('a pool at a name that holds static records', () => fails(['pool', 'add', 'www.example.test'], 1, /www\.example\.test/));
  it('an address record at a pool name', () => fails(['record', 'add', 'lb.example.test', 'A', '192.0.2.9'], 1, /lb\.example\.test/));
  it('an oversized TXT string', () => fails(['record', 'add', 'x.example.test', 'TXT', `"${'a'.repeat(300)}"`], 2, /TXT string of 300 octets exceeds 255/));
  it('a zone file with a syntax error on line 900', async () => {
    const lines = ['$ORIGIN big.test.', '$TTL 3600', '@ IN SOA ns1.big.test. hostmaster.big.test. ( 1 3600 600 86400 300 )', '@ IN NS ns1.big.test.', 'ns1 IN A 192.0.2.53'];
    while (lines.length < 899) lines.push(`host${lines.length} IN A 192.0.2.${lines.length % 250}`);
    lines.push('broken IN A 192.0.2');
    while (lines.length < 950) lines.push(`host${lines.length} IN A 192.0.2.${lines.length % 250}`);
    const file = join(dir, 'big.test.zone');
    writeFileSync(file, lines.join('\n') + '\n');
    await fails(['zone', 'import', file], 1, new RegExp(`^lbdns: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:900: `));
  });
});

describe('plain SQL refuses the same mistakes and changes nothing', () => {
  const cases: [string, string, RegExp][] = [
    ['bad IPv4', `insert into records (zone_id, name, type, content) select id, 'x.example.test', 'A', '300.1.1.1' from zones`, /not an IPv4 address|300\.1\.1\.1/],
    ['name outside the zone', `insert into records (zone_id, name, type, content) select id, 'www.example.org', 'A', '192.0.2.9' from zones`, /example\.org/],
    ['negative weight', `update pool_members set weight = -1`, /weight/],
    ['pool TTL 0', `update pools set ttl = 0`, /ttl/],
    ['CNAME beside other data', `insert into records (zone_id, name, type, content) select id, 'www.example.test', 'CNAME', 'web.example.test' from zones`, /CNAME/],
    ['oversized TXT', `insert into records (zone_id, name, type, content) select id, 'x.example.test', 'TXT', '"${'a'.repeat(300)}"' from zones`, /255|TXT/],
    ['A at a pool name', `insert into records (zone_id, name, type, content) select id, 'lb.example.test', 'A', '192.0.2.9' from zones`, /lb\.example\.test/],
  ];
  it.for(cases)('%s', async ([, statement, message], ctx) => {
    need(ctx, db.url === undefined ? 'no PostgreSQL on 127.0.0.1:5432: these statements go over a pg connection' : undefined);
    const before = await store.loadContents();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const err = await c.query(statement).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toMatch(message);
      expect(err.message.split('\n')).toHaveLength(1);
    } finally {
      await c.end();
    }
    expect(await store.loadContents()).toEqual(before);
  });
});
