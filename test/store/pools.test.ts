// Pools, members, geo networks and member health: the schema's rules under plain SQL, and the Store methods.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { LbdnsError } from '../../src/errors.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { openStore, type Change, type Store } from '../../src/store/store.js';
import { createTestDatabase, sqlUrl, storeConfig, type TestDatabase } from '../helpers/db.js';

let db: TestDatabase;
let store: Store;
let c: pg.Client;
let zoneId: number;
let poolId: number;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true, pollIntervalMs: 100 });
  c = new pg.Client(sqlUrl(db));
  await c.connect();
  zoneId = (await c.query(`insert into zones (name) values ('example.test') returning id`)).rows[0].id;
  await c.query(`insert into records (zone_id, name, type, content) values ($1, 'www.example.test', 'A', '192.0.2.1')`, [zoneId]);
  poolId = (await c.query(`insert into pools (zone_id, name) values ($1, 'lb.example.test') returning id`, [zoneId])).rows[0].id;
  await c.query(`insert into pool_members (pool_id, address) values ($1, '192.0.2.10')`, [poolId]);
});
afterAll(async () => {
  await c?.end();
  await store?.close();
  await db?.drop();
});

async function failure(p: Promise<unknown>): Promise<LbdnsError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LbdnsError);
    return err as LbdnsError;
  }
  throw new Error('expected a failure');
}

const version = async (): Promise<number> => Number((await c.query('select version from config_version')).rows[0].version);
const serial = async (): Promise<number> => Number((await c.query('select serial from zones where id = $1', [zoneId])).rows[0].serial);

async function tables(): Promise<unknown> {
  const q = async (text: string) => (await c.query(text)).rows;
  return {
    pools: await q('select * from pools order by id'),
    members: await q('select * from pool_members order by id'),
    geo: await q('select * from geo_networks order by id'),
    records: await q('select * from records order by id'),
    version: await version(),
  };
}

describe('plain SQL cannot store an unusable pool, member or geo network', () => {
  const pool = (cols: string, vals: string) => () => c.query(`insert into pools (zone_id, name, ${cols}) values (${zoneId}, 'p.example.test', ${vals})`);
  const member = (cols: string, vals: string) => () => c.query(`insert into pool_members (pool_id, address, ${cols}) values (${poolId}, '192.0.2.20', ${vals})`);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['negative weight', member('weight', '-1'), /^member 192\.0\.2\.20 of pool lb\.example\.test: weight -1 is outside 0\.\.1000000$/],
    ['ttl 0', pool('ttl', '0'), /^pool p\.example\.test: ttl 0 is outside 1\.\.3600$/],
    ['ttl 3601', pool('ttl', '3601'), /ttl 3601 is outside 1\.\.3600/],
    ['count 0', pool('count', '0'), /count 0 is outside 1\.\.64/],
    ['a policy that is no policy name', pool('policy', `'Round Robin'`), /policy "Round Robin" must be a policy name/],
    ['timeout not below the interval', pool('timeout_ms, interval_ms', '5000, 5000'), /timeout 5000 ms must be shorter than the interval 5000 ms/],
    ['status range backwards', pool('expect_status_min, expect_status_max', '400, 200'), /expected status 400-200 runs backwards/],
    ['path with a space', pool('check_path', `'/a b'`), /check_path "\/a b" must start with "\/"/],
    ['duplicate member address', () => c.query(`insert into pool_members (pool_id, address) values ($1, '192.0.2.10/32')`, [poolId]), /pool_members_unique/],
    ['member that is a network', () => c.query(`insert into pool_members (pool_id, address) values ($1, '192.0.2.0/24')`, [poolId]), /address must be one host address/],
    ['pool name outside its zone', () => c.query(`insert into pools (zone_id, name) values ($1, 'lb.other.test')`, [zoneId]), /^pool lb\.other\.test: name is not inside zone example\.test$/],
    ['pool name merely ending like the zone', () => c.query(`insert into pools (zone_id, name) values ($1, 'badexample.test')`, [zoneId]), /not inside zone/],
    ['pool name upper case', () => c.query(`insert into pools (zone_id, name) values ($1, 'LB2.example.test')`, [zoneId]), /name must be a lower-case domain name/],
    ['pool at a name with A records', () => c.query(`insert into pools (zone_id, name) values ($1, 'www.example.test')`, [zoneId]), /^pool www\.example\.test: name already holds A records$/],
    ['pool renamed onto A records', () => c.query(`update pools set name = 'www.example.test' where id = $1`, [poolId]), /name already holds A records/],
    ['A record at a pool name', () => c.query(`insert into records (zone_id, name, type, content) values ($1, 'lb.example.test', 'A', '192.0.2.2')`, [zoneId]), /^record lb\.example\.test: name is a pool, which cannot also hold A records$/],
    ['CNAME at a pool name', () => c.query(`insert into records (zone_id, name, type, content) values ($1, 'lb.example.test', 'CNAME', 'www.example.test')`, [zoneId]), /cannot also hold CNAME records/],
    ['A record moved onto a pool name', () => c.query(`update records set name = 'lb.example.test' where name = 'www.example.test'`), /cannot also hold A records/],
    ['lower-case country', member('country', `'de'`), /country "de" must be two upper-case letters/],
    ['three-letter country', member('country', `'DEU'`), /value too long|country/],
    ['unknown continent', member('continent', `'XX'`), /continent "XX" must be one of AF, AN, AS, EU, NA, OC, SA/],
    ['latitude without longitude', member('latitude', '52.5'), /latitude and longitude must be given together/],
    ['latitude out of range', member('latitude, longitude', '91, 0'), /latitude 91 is outside -90\.\.90/],
    ['geo network with host bits', () => c.query(`insert into geo_networks (network, country) values ('10.0.0.1/8', 'DE')`), /invalid cidr value/],
    ['geo network saying nothing', () => c.query(`insert into geo_networks (network) values ('10.0.0.0/8')`), /give at least a country/],
    ['zone renamed under its pools', () => c.query(`update zones set name = 'renamed.test' where id = $1`, [zoneId]), /cannot be renamed/],
  ];

  it.each(cases)('%s', async (_label, run, message) => {
    const before = await tables();
    await expect(run()).rejects.toThrow(message);
    expect(await tables()).toEqual(before);
  });

  it('bypassing the triggers still meets the CHECK constraints', async () => {
    const before = await tables();
    await c.query('begin');
    try {
      await c.query('set local session_replication_role = replica');
      await expect(member('weight', '-1')()).rejects.toThrow(/pool_members_weight_range/);
    } finally {
      await c.query('rollback');
    }
    expect(await tables()).toEqual(before);
  });

  it('a pool may hold other data at its name, and address records may return once it is gone', async () => {
    await c.query(`insert into records (zone_id, name, type, content) values ($1, 'lb.example.test', 'TXT', '"pool"')`, [zoneId]);
    const p = await c.query(`insert into pools (zone_id, name) values ($1, 'tmp.example.test') returning id`, [zoneId]);
    await c.query('delete from pools where id = $1', [p.rows[0].id]);
    await c.query(`insert into records (zone_id, name, type, content) values ($1, 'tmp.example.test', 'A', '192.0.2.3')`, [zoneId]);
    await c.query(`delete from records where name in ('tmp.example.test', 'lb.example.test')`);
  });
});

describe('pools and members through the store', () => {
  it('adds a pool in the longest enclosing zone, with the schema defaults', async () => {
    await store.addZone({ name: 'sub.example.test' });
    const p = await store.addPool({ name: 'WWW.Sub.Example.Test.' });
    expect(p).toMatchObject({
      name: 'www.sub.example.test',
      zone: 'sub.example.test',
      members: 0,
      policy: 'wrr',
      ttl: 30,
      count: 2,
      allDown: 'open',
      checkKind: 'http',
      checkPort: 80,
      checkPath: '/',
      checkHost: null,
      expectStatusMin: 200,
      expectStatusMax: 399,
      checkInsecure: false,
      timeoutMs: 2000,
      intervalMs: 5000,
      rise: 2,
      fall: 3,
    });
    expect(await store.getPool('www.sub.example.test')).toEqual(p);
    expect(await store.getPool('absent.example.test')).toBeUndefined();
  });

  it('takes every setting, and changes some of them', async () => {
    const p = await store.addPool({
      name: 'geo.example.test',
      policy: 'geo',
      ttl: 20,
      count: 3,
      allDown: 'servfail',
      check: { kind: 'https', port: 8443, path: '/health?x=1', host: 'lb.example.test', expectStatusMin: 200, expectStatusMax: 204, insecure: true, timeoutMs: 500, intervalMs: 1000, rise: 1, fall: 5 },
    });
    expect(p).toMatchObject({ policy: 'geo', ttl: 20, count: 3, allDown: 'servfail', checkKind: 'https', checkPort: 8443, checkPath: '/health?x=1', checkHost: 'lb.example.test', expectStatusMax: 204, checkInsecure: true, timeoutMs: 500, intervalMs: 1000, rise: 1, fall: 5 });
    const q = await store.setPool('geo.example.test', { ttl: 60, check: { host: null, kind: 'tcp' } });
    expect(q).toMatchObject({ ttl: 60, checkHost: null, checkKind: 'tcp', count: 3, policy: 'geo' });
    expect((await store.listPools({ zone: 'example.test' })).map((x) => x.name)).toEqual(['geo.example.test', 'lb.example.test']);
    expect((await store.listPools()).map((x) => x.name)).toEqual(['geo.example.test', 'lb.example.test', 'www.sub.example.test']);
  });

  it('refuses bad pool input in one line, before writing', async () => {
    const before = await tables();
    expect(await failure(store.addPool({ name: 'x.example.test', ttl: 0 }))).toMatchObject({ code: 'E_INPUT', message: 'ttl 0 must be a whole number from 1 to 3600' });
    expect(await failure(store.addPool({ name: 'x.example.test', policy: 'random' }))).toMatchObject({ code: 'E_INPUT', message: 'policy "random" must be one of wrr, geo, hash' });
    expect(await failure(store.addPool({ name: 'x.example.test', check: { path: 'health' } }))).toMatchObject({ message: 'path "health" must start with "/" and hold no spaces' });
    expect(await failure(store.addPool({ name: 'lb.example.org' }))).toMatchObject({ code: 'E_NOT_FOUND', message: 'pool lb.example.org is not inside any zone' });
    expect(await failure(store.addPool({ name: 'lb.example.test' }))).toMatchObject({ code: 'E_CONFLICT', message: 'pool lb.example.test already exists' });
    expect(await failure(store.addPool({ name: 'www.example.test' }))).toMatchObject({ code: 'E_CONFLICT', message: 'pool www.example.test: name already holds A records' });
    expect(await failure(store.addPool({ name: 'x.example.test', check: { timeoutMs: 6000 } }))).toMatchObject({
      code: 'E_INPUT',
      message: 'pool x.example.test: timeout 6000 ms must be shorter than the interval 5000 ms',
    });
    expect(await failure(store.addPool({ name: 'bad..example.test' }))).toMatchObject({ code: 'E_INPUT' });
    expect(await failure(store.setPool('lb.example.test', {}))).toMatchObject({ code: 'E_INPUT', message: 'pool lb.example.test: nothing to change' });
    expect(await failure(store.setPool('none.example.test', { ttl: 5 }))).toMatchObject({ code: 'E_NOT_FOUND', message: 'no pool "none.example.test"' });
    expect(await failure(store.addRecord({ name: 'lb.example.test', type: 'AAAA', content: '2001:db8::1' }))).toMatchObject({
      code: 'E_CONFLICT',
      message: 'record lb.example.test: name is a pool, which cannot also hold AAAA records',
    });
    expect(await tables()).toEqual(before);
  });

  it('adds, changes and removes members, addresses in canonical form', async () => {
    const m = await store.addMember('geo.example.test', {
      address: '2001:DB8:0:0:0:0:0:10',
      probeAddress: '::ffff:192.0.2.99',
      weight: 4,
      priority: 1,
      country: 'de',
      continent: 'eu',
      region: 'EU-Central',
      latitude: 50.1,
      longitude: 8.7,
    });
    expect(m).toMatchObject({ address: '2001:db8::10', probeAddress: '::ffff:c000:263', weight: 4, priority: 1, enabled: true, country: 'DE', continent: 'EU', region: 'eu-central', latitude: 50.1, longitude: 8.7 });
    const v4 = await store.addMember('geo.example.test', { address: '192.0.2.30', enabled: false });
    expect(v4).toMatchObject({ address: '192.0.2.30', probeAddress: null, weight: 1, priority: 0, enabled: false, country: null, latitude: null });
    expect((await store.listMembers('geo.example.test')).map((x) => x.address)).toEqual(['192.0.2.30', '2001:db8::10']);
    const drained = await store.setMember('geo.example.test', '2001:db8::0:10', { enabled: false, weight: 0, country: null, probeAddress: null });
    expect(drained).toMatchObject({ address: '2001:db8::10', enabled: false, weight: 0, country: null, continent: 'EU', probeAddress: null });
    expect((await store.getPool('geo.example.test'))?.members).toBe(2);
    await store.removeMember('geo.example.test', '192.0.2.30');
    expect((await store.listMembers('geo.example.test')).map((x) => x.address)).toEqual(['2001:db8::10']);
  });

  it('refuses bad member input in one line, before writing', async () => {
    const before = await tables();
    const add = (m: Parameters<Store['addMember']>[1]) => failure(store.addMember('lb.example.test', m));
    expect(await add({ address: '192.0.2.40', weight: -1 })).toMatchObject({ code: 'E_INPUT', message: 'weight -1 must be a whole number from 0 to 1000000' });
    expect(await add({ address: '192.0.2.40', priority: 1.5 })).toMatchObject({ message: 'priority 1.5 must be a whole number from 0 to 1000' });
    expect(await add({ address: '192.0.2.0/24' })).toMatchObject({ message: 'member address "192.0.2.0/24" is not an IPv4 or IPv6 address (one host address, without a prefix length)' });
    expect(await add({ address: '192.0.2.40', country: 'Germany' })).toMatchObject({ message: 'country "Germany" must be two letters (ISO 3166-1 alpha-2)' });
    expect(await add({ address: '192.0.2.40', continent: 'Europe' })).toMatchObject({ message: 'continent "Europe" must be one of AF, AN, AS, EU, NA, OC, SA' });
    expect(await add({ address: '192.0.2.40', latitude: 10 })).toMatchObject({ message: 'latitude and longitude must be given together' });
    expect(await add({ address: '192.0.2.40', longitude: 181, latitude: 0 })).toMatchObject({ message: 'longitude 181 must be a number from -180 to 180' });
    expect(await add({ address: '192.0.2.10' })).toMatchObject({ code: 'E_CONFLICT', message: 'member 192.0.2.10 is already in pool lb.example.test' });
    expect(await failure(store.addMember('none.example.test', { address: '192.0.2.40' }))).toMatchObject({ code: 'E_NOT_FOUND', message: 'no pool "none.example.test"' });
    expect(await failure(store.setMember('lb.example.test', '192.0.2.99', { weight: 2 }))).toMatchObject({ code: 'E_NOT_FOUND', message: 'no member 192.0.2.99 in pool lb.example.test' });
    expect(await failure(store.setMember('lb.example.test', '192.0.2.10', { latitude: 1 }))).toMatchObject({
      code: 'E_INPUT',
      message: 'member 192.0.2.10 of pool lb.example.test: latitude and longitude must be given together',
    });
    expect(await failure(store.removeMember('lb.example.test', '192.0.2.99'))).toMatchObject({ code: 'E_NOT_FOUND' });
    expect(await tables()).toEqual(before);
  });

  it('geo networks: canonical CIDR, conflicts, host bits and removal', async () => {
    const g = await store.addGeoNetwork({ network: '2001:DB8:1::/48', country: 'fr', continent: 'EU', note: 'lab' });
    expect(g).toMatchObject({ network: '2001:db8:1::/48', country: 'FR', continent: 'EU', region: null, note: 'lab' });
    await store.addGeoNetwork({ network: '10.1.0.0/16', region: 'office', latitude: 48.1, longitude: 11.6 });
    await store.addGeoNetwork({ network: '198.51.100.7', country: 'US' });
    expect((await store.listGeoNetworks()).map((x) => x.network)).toEqual(['10.1.0.0/16', '198.51.100.7/32', '2001:db8:1::/48']);
    expect(await failure(store.addGeoNetwork({ network: '10.1.0.0/16', country: 'DE' }))).toMatchObject({ code: 'E_CONFLICT', message: 'geo network 10.1.0.0/16 already exists' });
    expect(await failure(store.addGeoNetwork({ network: '10.1.2.3/16', country: 'DE' }))).toMatchObject({
      code: 'E_INPUT',
      message: 'network "10.1.2.3/16" has bits set beyond /16 (did you mean 10.1.0.0/16?)',
    });
    expect(await failure(store.addGeoNetwork({ network: '10.2.0.0/16' }))).toMatchObject({ message: 'network 10.2.0.0/16: give at least a country, continent, region or coordinates' });
    await store.removeGeoNetwork('198.51.100.7/32');
    expect(await failure(store.removeGeoNetwork('198.51.100.7'))).toMatchObject({ code: 'E_NOT_FOUND', message: 'no geo network 198.51.100.7/32' });
  });

  it('loadContents returns pools, members and geo networks, and the snapshot serves them', async () => {
    const contents = await store.loadContents();
    const lb = contents.pools?.find((p) => p.name === 'lb.example.test');
    expect(lb).toMatchObject({ zoneId, ttl: 30, checkKind: 'http' });
    expect(contents.members?.filter((m) => m.poolId === lb?.id).map((m) => m.address)).toEqual(['192.0.2.10']);
    expect(contents.members?.find((m) => m.address === '2001:db8::10')).toMatchObject({ enabled: false, continent: 'EU' });
    expect(contents.geoNetworks?.map((g) => g.network)).toEqual(['10.1.0.0/16', '2001:db8:1::/48']);
    expect(contents.geoNetworks?.[0]).toEqual({ id: expect.any(Number), network: '10.1.0.0/16', country: null, continent: null, region: 'office', latitude: 48.1, longitude: 11.6 });
    const { snapshot, skipped } = buildSnapshot(contents);
    expect(skipped).toEqual([]);
    expect(snapshot.pools.map((p) => p.name).sort()).toEqual(['geo.example.test', 'lb.example.test', 'www.sub.example.test']);
  });

  it('removing a pool takes its members; removing a zone takes its pools', async () => {
    await store.addMember('www.sub.example.test', { address: '192.0.2.50' });
    expect(await store.removePool('geo.example.test')).toEqual({ members: 1 });
    expect(await failure(store.removePool('geo.example.test'))).toMatchObject({ code: 'E_NOT_FOUND' });
    await store.removeZone('sub.example.test');
    expect((await store.listPools()).map((p) => p.name)).toEqual(['lb.example.test']);
    expect(Number((await c.query('select count(*) from pool_members')).rows[0].count)).toBe(1);
  });
});

describe('config version and notifications', () => {
  it('pool, member and geo edits advance config_version once per transaction, and leave the SOA serial alone', async () => {
    const v = await version();
    const s = await serial();
    await store.setPool('lb.example.test', { ttl: 45 });
    expect(await version()).toBe(v + 1);
    await c.query(`update pool_members set enabled = false where pool_id = $1`, [poolId]);
    expect(await version()).toBe(v + 2);
    await c.query('begin');
    await c.query(`update pool_members set enabled = true where pool_id = $1`, [poolId]);
    await c.query(`update pools set count = 1 where id = $1`, [poolId]);
    await c.query(`insert into geo_networks (network, continent) values ('172.16.0.0/12', 'EU')`);
    await c.query('commit');
    expect(await version()).toBe(v + 3);
    expect(await serial()).toBe(s);
  });

  it('watchChanges hears a member edit made with plain SQL, naming the pool zone', async () => {
    const seen: Change[] = [];
    const stop = await store.watchChanges((ch) => seen.push(ch), undefined, { sinceVersion: await store.configVersion() });
    try {
      await c.query(`update pool_members set weight = 7 where pool_id = $1`, [poolId]);
      const target = await version();
      const until = Date.now() + 3000;
      while (!seen.some((ch) => ch.version >= target) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      // LISTEN names the table and zone; the embedded store only polls, which names neither.
      if (db.url === undefined) expect(seen).toContainEqual({ table: '*', zone: null, version: target });
      else expect(seen).toContainEqual({ table: 'pool_members', zone: 'example.test', version: target });
    } finally {
      await stop();
    }
  });

  it('health reports advance nothing', async () => {
    const v = await version();
    const [m] = await store.listMembers('lb.example.test');
    await store.reportHealth('node-a', [{ memberId: m.id, up: true, since: Date.now(), lastCheck: Date.now(), latencyMs: 1, lastError: null, transitions: 1 }]);
    expect(await version()).toBe(v);
  });
});

describe('member health', () => {
  it('upserts one node’s batch, skipping members that are gone, and shows every node per member', async () => {
    await store.addMember('lb.example.test', { address: '2001:db8::20' });
    const [a, b] = await store.listMembers('lb.example.test');
    const t0 = Date.parse('2030-01-01T00:00:00Z');
    const first = await store.reportHealth('node-a', [
      { memberId: a.id, up: true, since: t0, lastCheck: t0 + 5000, latencyMs: 3.5, lastError: null, transitions: 1 },
      { memberId: 999_999, up: true, since: t0, lastCheck: t0, latencyMs: null, lastError: null, transitions: 0 },
    ]);
    expect(first).toEqual({ written: 1 });
    await store.reportHealth('node-b', [{ memberId: a.id, up: false, since: t0 + 1000, lastCheck: t0 + 6000, latencyMs: null, lastError: 'connect ECONNREFUSED', transitions: 2 }]);
    // A later report of the same node replaces its row.
    await store.reportHealth('node-a', [
      { memberId: a.id, up: false, since: t0 + 7000, lastCheck: t0 + 7000, latencyMs: 2000, lastError: 'timeout after 2000 ms', transitions: 2 },
      { memberId: a.id, up: true, since: t0 + 8000, lastCheck: t0 + 8000, latencyMs: 4, lastError: 'timeout after 2000 ms', transitions: 3 },
    ]);
    const status = await store.healthStatus({ pool: 'LB.example.test.' });
    expect(status.map((s) => s.member.address)).toEqual([a.address, b.address]);
    expect(status[0]).toMatchObject({ pool: 'lb.example.test', member: { id: a.id } });
    const fresh = { heartbeatAt: expect.any(Number), heartbeatAge: expect.any(Number), heartbeatSeconds: null };
    expect(status[0].nodes).toEqual([
      { node: 'node-a', up: true, since: t0 + 8000, lastCheck: t0 + 8000, latencyMs: 4, lastError: 'timeout after 2000 ms', transitions: 3, ...fresh },
      { node: 'node-b', up: false, since: t0 + 1000, lastCheck: t0 + 6000, latencyMs: null, lastError: 'connect ECONNREFUSED', transitions: 2, ...fresh },
    ]);
    expect(status[1].nodes).toEqual([]);
    expect((await store.healthStatus()).length).toBe(2);
    expect(await failure(store.healthStatus({ pool: 'none.example.test' }))).toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('stamps every write with a heartbeat by the database clock, and the interval the node promised', async () => {
    const [a] = await store.listMembers('lb.example.test');
    const report = { memberId: a.id, up: true, since: Date.now(), lastCheck: Date.now(), latencyMs: 1, lastError: null, transitions: 1, heartbeatSeconds: 30 };
    await store.reportHealth('node-hb', [report]);
    const row = async () => (await store.healthStatus({ pool: 'lb.example.test' }))[0].nodes.find((n) => n.node === 'node-hb')!;
    const first = await row();
    expect(first.heartbeatSeconds).toBe(30);
    expect(first.heartbeatAge).toBeGreaterThanOrEqual(0);
    expect(first.heartbeatAge).toBeLessThan(60);
    expect(Math.abs(first.heartbeatAt - Date.now())).toBeLessThan(60_000);
    await new Promise((r) => setTimeout(r, 50));
    // The same state written again (a heartbeat): only the heartbeat moves.
    await store.reportHealth('node-hb', [{ ...report, heartbeatSeconds: 10 }]);
    const second = await row();
    expect(second.heartbeatAt).toBeGreaterThan(first.heartbeatAt);
    expect(second).toMatchObject({ up: true, since: report.since, lastCheck: report.lastCheck, transitions: 1, heartbeatSeconds: 10 });
    expect(await failure(store.reportHealth('node-hb', [{ ...report, heartbeatSeconds: 0 }]))).toMatchObject({ code: 'E_STORE' });
  });

  it('rejects a malformed report with E_STORE only, and writes nothing', async () => {
    expect(await failure(store.reportHealth('node a', []))).toMatchObject({ code: 'E_STORE' });
    expect(await failure(store.reportHealth('node-a', [{ memberId: -1 } as never]))).toMatchObject({ code: 'E_STORE' });
    expect(await store.reportHealth('node-a', [])).toEqual({ written: 0 });
  });

  it('health rows go with their member', async () => {
    await store.removeMember('lb.example.test', '192.0.2.10');
    expect(Number((await c.query(`select count(*) from member_health`)).rows[0].count)).toBe(0);
  });
});
