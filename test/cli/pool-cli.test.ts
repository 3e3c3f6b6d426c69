// The real CLI binary for pools, members, geo networks and status: output, and failures that write nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';
import { cliHarness } from './harness.js';

let db: TestDatabase;
let store: Store;
const { lbdns, fails } = cliHarness(() => ({ db, store }));

beforeAll(async () => {
  db = await createTestDatabase();
  // Without PostgreSQL the CLI reaches the embedded store through this server-role store's socket.
  store = await openStore(storeConfig(db), { role: db.url === undefined ? 'server' : 'client', migrate: true });
  await store.addZone({ name: 'example.test' });
  await store.addRecord({ name: 'www.example.test', type: 'A', content: '192.0.2.1' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });

// Each run starts a Node process (about a second with tsx): several checks per test.
describe('lbdns pool, member, geo and status', { timeout: 120_000 }, () => {
  it('pool add, set and list', async () => {
    expect(await lbdns(['pool', 'add', 'LB.example.test.', '--ttl', '20', '--count', '3', '--path', '/healthz', '--expect', '200-299', '--rise', '1'])).toEqual(
      ok(
        'added pool lb.example.test (zone example.test): wrr, ttl 20, 3 per answer, all down: open; ' +
          'check http :80/healthz expecting 200-299, every 5000 ms, timeout 2000 ms, rise 1, fall 3\n',
      ),
    );
    const set = await lbdns(['pool', 'set', 'lb.example.test', '--check', 'https', '--port', '8443', '--insecure', '--host', 'lb.example.test', '--all-down', 'servfail', '--policy', 'geo']);
    expect(set.stdout).toBe(
      'updated pool lb.example.test (zone example.test): geo, ttl 20, 3 per answer, all down: servfail; ' +
        'check https :8443/healthz host lb.example.test insecure expecting 200-299, every 5000 ms, timeout 2000 ms, rise 1, fall 3\n',
    );
    const list = await lbdns(['pool', 'list']);
    expect(list.stdout.split('\n')).toEqual([
      'POOL             ZONE          POLICY  TTL  COUNT  ALL-DOWN  MEMBERS  CHECK',
      'lb.example.test  example.test  geo     20   3      servfail  0        https :8443/healthz host lb.example.test insecure',
      '',
    ]);
    const json = JSON.parse((await lbdns(['pool', 'list', 'example.test', '--json'])).stdout);
    expect(json).toEqual([expect.objectContaining({ name: 'lb.example.test', zone: 'example.test', checkPort: 8443, checkInsecure: true, members: 0 })]);
  });

  it('pool input errors are one line and write nothing', async () => {
    await fails(['pool', 'add', 'lb.example.org'], 1, 'pool lb.example.org is not inside any zone');
    await fails(['pool', 'add', 'www.example.test'], 1, 'pool www.example.test: name already holds A records');
    await fails(['pool', 'add', 'lb.example.test'], 1, 'pool lb.example.test already exists');
    await fails(['pool', 'add', 'x.example.test', '--ttl', '0'], 2, 'ttl 0 must be a whole number from 1 to 3600');
    await fails(['pool', 'add', 'x.example.test', '--count', 'two'], 2, 'pool add: --count must be a number');
    await fails(['pool', 'add', 'x.example.test', '--timeout', '6000'], 2, 'pool x.example.test: timeout 6000 ms must be shorter than the interval 5000 ms');
    await fails(['pool', 'set', 'lb.example.test'], 2, 'pool lb.example.test: nothing to change');
    await fails(['pool', 'set', 'lb.example.test', '--insecure', '--secure'], 2, 'pool set: --insecure and --secure contradict each other');
    await fails(['pool', 'set', 'none.example.test', '--ttl', '5'], 1, 'no pool "none.example.test"');
  });

  it('member add, set, list and rm', async () => {
    expect(await lbdns(['member', 'add', 'lb.example.test', '192.0.2.10', '--weight', '4', '--country', 'au', '--lat', '-33.87', '--lon', '151.21'])).toEqual(
      ok('added member 192.0.2.10 to pool lb.example.test: weight 4, priority 0, enabled, AU -33.87,151.21\n'),
    );
    expect((await lbdns(['member', 'add', 'lb.example.test', '2001:DB8::0:10', '--disabled', '--priority', '1', '--probe-address', '127.0.0.1', '--continent', 'eu', '--region', 'Fra1'])).stdout).toBe(
      'added member 2001:db8::10 to pool lb.example.test: weight 1, priority 1, disabled (drained), EU fra1, probed at 127.0.0.1\n',
    );
    expect((await lbdns(['member', 'set', 'lb.example.test', '192.0.2.10', '--disable', '--weight', '0', '--lat', '', '--lon', ''])).stdout).toBe(
      'updated member 192.0.2.10 of pool lb.example.test: weight 0, priority 0, disabled (drained), AU\n',
    );
    expect((await store.listMembers('lb.example.test')).map((m) => [m.address, m.enabled, m.weight])).toEqual([
      ['192.0.2.10', false, 0],
      ['2001:db8::10', false, 1],
    ]);
    expect((await lbdns(['member', 'set', 'lb.example.test', '192.0.2.10', '--enable'])).code).toBe(0);
    expect((await lbdns(['member', 'list', 'lb.example.test'])).stdout.split('\n')).toEqual([
      'ADDRESS       WEIGHT  PRIORITY  STATE    LOCATION  PROBE',
      '192.0.2.10    0       0         enabled  AU        -',
      '2001:db8::10  1       1         drained  EU fra1   127.0.0.1',
      '',
    ]);
    expect(JSON.parse((await lbdns(['member', 'list', 'lb.example.test', '--json'])).stdout)[1]).toMatchObject({ address: '2001:db8::10', region: 'fra1', probeAddress: '127.0.0.1' });
    expect(await lbdns(['member', 'rm', 'lb.example.test', '2001:db8::10'])).toEqual(ok('removed member 2001:db8::10 from pool lb.example.test\n'));
  });

  it('member input errors are one line and write nothing', async () => {
    await fails(['member', 'add', 'lb.example.test', '192.0.2.11', '--weight=-1'], 2, 'weight -1 must be a whole number from 0 to 1000000');
    await fails(['member', 'add', 'lb.example.test', '192.0.2.11', '--lat', '52.5'], 2, 'latitude and longitude must be given together');
    await fails(['member', 'add', 'lb.example.test', '192.0.2.11', '--country', 'Germany'], 2, 'country "Germany" must be two letters (ISO 3166-1 alpha-2)');
    await fails(['member', 'add', 'lb.example.test', '192.0.2.300'], 2, 'member address "192.0.2.300" is not an IPv4 or IPv6 address');
    await fails(['member', 'add', 'lb.example.test', '192.0.2.10'], 1, 'member 192.0.2.10 is already in pool lb.example.test');
    await fails(['member', 'add', 'none.example.test', '192.0.2.11'], 1, 'no pool "none.example.test"');
    await fails(['member', 'set', 'lb.example.test', '192.0.2.10', '--enable', '--disable'], 2, 'member set: --enable and --disable contradict each other');
    await fails(['member', 'rm', 'lb.example.test', '192.0.2.99'], 1, 'no member 192.0.2.99 in pool lb.example.test');
  });

  it('geo add, list and rm', async () => {
    expect(await lbdns(['geo', 'add', '10.0.0.0/8', '--country', 'de', '--note', 'office'])).toEqual(ok('added geo network 10.0.0.0/8: DE (office)\n'));
    expect((await lbdns(['geo', 'add', '2001:DB8::/32', '--continent', 'EU', '--lat', '50', '--lon', '-8.5'])).stdout).toBe('added geo network 2001:db8::/32: EU 50,-8.5\n');
    expect((await lbdns(['geo', 'list'])).stdout.split('\n')).toEqual([
      'NETWORK        COUNTRY  CONTINENT  REGION  LAT,LON  NOTE',
      '10.0.0.0/8     DE       -          -       -        office',
      '2001:db8::/32  -        EU         -       50,-8.5',
      '',
    ]);
    await fails(['geo', 'add', '10.1.2.3/16', '--country', 'DE'], 2, 'network "10.1.2.3/16" has bits set beyond /16 (did you mean 10.1.0.0/16?)');
    await fails(['geo', 'add', '10.0.0.0/8', '--country', 'FR'], 1, 'geo network 10.0.0.0/8 already exists');
    await fails(['geo', 'add', '10.2.0.0/16'], 2, 'network 10.2.0.0/16: give at least a country, continent, region or coordinates');
    expect(await lbdns(['geo', 'rm', '2001:db8::/32'])).toEqual(ok('removed geo network 2001:db8::/32\n'));
    await fails(['geo', 'rm', '2001:db8::/32'], 1, 'no geo network 2001:db8::/32');
  });

  it('status shows each node’s view of each member, and members nobody has reported as unknown', async () => {
    await store.addMember('lb.example.test', { address: '192.0.2.20' });
    const [a] = await store.listMembers('lb.example.test');
    const t = Date.parse('2030-01-01T00:00:00Z');
    await store.reportHealth('ns1', [{ memberId: a.id, up: true, since: t, lastCheck: Date.now() - 3000, latencyMs: 2.4, lastError: null, transitions: 1 }]);
    await store.reportHealth('ns2', [{ memberId: a.id, up: false, since: t + 1000, lastCheck: Date.now() - 3000, latencyMs: null, lastError: 'HTTP 503', transitions: 2, heartbeatSeconds: 30 }]);
    const text = (await lbdns(['status'])).stdout.split('\n');
    expect(text[0]).toMatch(/^POOL\s+MEMBER\s+NODE\s+STATE\s+SINCE\s+LAST CHECK\s+HEARTBEAT\s+LATENCY\s+LAST ERROR$/);
    expect(text[1]).toMatch(/^lb\.example\.test\s+192\.0\.2\.10\s+ns1\s+up\s+2030-01-01T00:00:00Z\s+\d+s ago\s+\d+s ago\s+2 ms\s+-$/);
    expect(text[2]).toMatch(/^lb\.example\.test\s+192\.0\.2\.10\s+ns2\s+down\s+2030-01-01T00:00:01Z\s+\d+s ago\s+\d+s ago\s+-\s+HTTP 503$/);
    expect(text[3]).toMatch(/^lb\.example\.test\s+192\.0\.2\.20\s+-\s+unknown\s+-\s+-\s+-\s+-\s+no node has reported it yet$/);
    const json = JSON.parse((await lbdns(['status', 'lb.example.test', '--json'])).stdout);
    expect(json).toEqual([
      expect.objectContaining({ address: '192.0.2.10', state: 'mixed', nodes: [expect.objectContaining({ node: 'ns1', state: 'up', since: '2030-01-01T00:00:00Z', heartbeatIntervalSeconds: null, stale: false }), expect.objectContaining({ node: 'ns2', state: 'down', lastError: 'HTTP 503', heartbeatIntervalSeconds: 30, stale: false })] }),
      expect.objectContaining({ address: '192.0.2.20', state: 'unknown', nodes: [] }),
    ]);
    await fails(['status', 'none.example.test'], 1, 'no pool "none.example.test"');
    expect((await lbdns(['pool', 'rm', 'lb.example.test'])).stdout).toBe('removed pool lb.example.test and its 2 members\n');
  });
});
