// The answer path without sockets: decode, answer (health-aware chooser, prom-client hooks), encode, per query.
// A developer's tool for finding where the CPU goes; `npm run bench` measures the server over the wire.
//   npm run bench:core [-- --iterations N] [--pools N] [--built] [--only TEXT]   (--only: rows whose label holds TEXT)
// The snapshot is the one a server answers from: built, encoded as an image and adopted (--built: used as built).
// signed.test holds the same static names and wrr pool as bench.test, signed (ECDSA P-256): its rows ask with DO.
import { parseArgs } from 'node:util';
import type { Snapshot } from '../src/core/snapshot.js';
import { respond } from '../src/core/respond.js';
import { createAnswerContext } from '../src/answer-context.js';
import { loadConfig } from '../src/config.js';
import { setUpGeo } from '../src/geo/setup.js';
import { freezeView } from '../src/health/health-view.js';
import { createLogger } from '../src/obs/log.js';
import { createMetrics } from '../src/obs/metrics.js';
import { buildSnapshot } from '../src/snapshot/build.js';
import { adoptImage, encodeImage } from '../src/snapshot/image.js';
import { EMPTY_SNAPSHOT } from '../src/core/snapshot.js';
import type { DnssecKeyRow, GeoNetworkRow, PoolMemberRow, PoolRow, RecordRow, ZoneRow } from '../src/store/rows.js';
import { dnskeyRdata, encryptPrivateKey, generateKey, keyTag } from '../src/dnssec/keys.js';
import { buildQuery } from '../test/helpers/wire.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '300000' }, pools: { type: 'string', default: '1000' }, built: { type: 'boolean', default: false }, only: { type: 'string' } } });
const N = Number(values.iterations);
const POOLS = Number(values.pools);

const zone: ZoneRow = { id: 1, name: 'bench.test', mname: 'ns1.bench.test', rname: 'h.bench.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300, ttl: 300 };
const signedZone: ZoneRow = { ...zone, id: 2, name: 'signed.test', mname: 'ns1.signed.test', rname: 'h.signed.test' };
const records: RecordRow[] = Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, zoneId: 1, name: `host${i}.bench.test`, type: 'A', ttl: null, content: `192.0.2.${i % 250}` }));
for (let i = 0; i < 1000; i++) records.push({ id: 2001 + i, zoneId: 2, name: `host${i}.signed.test`, type: 'A', ttl: null, content: `192.0.2.${i % 250}` });
const pool = (id: number, name: string, policy: string): PoolRow => ({
  id, zoneId: 1, name, policy, ttl: 30, count: 2, allDown: 'open', checkKind: 'tcp', checkPort: 80, checkPath: '/', checkHost: null,
  expectStatusMin: 200, expectStatusMax: 399, checkInsecure: false, timeoutMs: 500, intervalMs: 1000, rise: 1, fall: 1,
});
const pools: PoolRow[] = [pool(1, 'lb.bench.test', 'wrr'), pool(2, 'geo.bench.test', 'geo'), pool(3, 'hash.bench.test', 'hash'), { ...pool(4, 'lb.signed.test', 'wrr'), zoneId: 2 }];
for (let p = 0; p < POOLS; p++) pools.push(pool(10 + p, `lb${p}.bench.test`, 'wrr'));
const countries = ['DE', 'DE', 'FR', 'US', 'US', 'JP', 'BR', 'AU'];
const members: PoolMemberRow[] = [];
let mid = 1;
for (const p of pools) {
  for (let i = 0; i < 8; i++) {
    members.push({ id: mid++, poolId: p.id, address: `198.51.100.${(mid % 250) + 1}`, probeAddress: null, weight: p.id === 1 || p.id === 4 ? i + 1 : 1, priority: 0, enabled: true,
      country: p.policy === 'geo' ? countries[i] : null, continent: null, region: null, latitude: null, longitude: null });
  }
}
const geoNetworks: GeoNetworkRow[] = [{ id: 1, network: '100.64.1.0/24', country: 'DE', continent: null, region: null, latitude: null, longitude: null }];
const SECRET = 'bench-core-secret-not-for-use';
const key = generateKey(13);
const dnskey = dnskeyRdata(257, 13, key.publicKey);
const dnssecKeys: DnssecKeyRow[] = [{ zoneId: 2, algorithm: 13, flags: 257, keyTag: keyTag(dnskey), publicKey: key.publicKey, privateKey: encryptPrivateKey(key.privateKeyDer, SECRET) }];
const built: Snapshot = buildSnapshot({ version: 1, zones: [zone, signedZone], records, pools, members, geoNetworks, dnssecKeys }).snapshot;
const snapshot: Snapshot = values.built ? built : await adoptImage(encodeImage(built, [[zone.name, ''], [signedZone.name, '']], geoNetworks), EMPTY_SNAPSHOT);

const config = loadConfig({ LBDNS_NODE_NAME: 'bench', LBDNS_KEY_SECRET: SECRET });
const metrics = createMetrics({ defaultMetrics: false });
const health = freezeView(new Map(members.map((m) => [m.id, true] as [number, boolean])));
const geo = await setUpGeo({ databasePath: undefined, snapshot: () => snapshot, metrics });
const { context, keyring } = createAnswerContext(config, metrics, () => health, createLogger('silent'), geo.env);
keyring.warm(snapshot);
if (!snapshot.zones.get('signed.test')?.dnssec) throw new Error('signed.test has no key in the snapshot');

const edns = { udpSize: 1232 };
const rows: [string, Buffer[]][] = [
  ['static A', [buildQuery({ name: 'host7.bench.test', edns })]],
  ['wrr pool', [buildQuery({ name: 'lb.bench.test', edns })]],
  ['geo + ECS', [buildQuery({ name: 'geo.bench.test', edns: { ...edns, ecs: { family: 1, source: 24, address: [100, 64, 1] } } })]],
  // 256 client subnets: the hash policy keys on each, with nothing cached between them.
  ['hash + ECS', Array.from({ length: 256 }, (_, i) => buildQuery({ name: 'hash.bench.test', edns: { ...edns, ecs: { family: 1, source: 24, address: [100, 64 + (i >> 6), i] } } }))],
  ['NXDOMAIN', [buildQuery({ name: 'nope.bench.test', edns })]],
  [`wrr over ${POOLS} pools`, Array.from({ length: POOLS }, (_, p) => buildQuery({ name: `lb${p}.bench.test`, edns }))],
  ['static A (signed, DO)', [buildQuery({ name: 'host7.signed.test', edns: { ...edns, dnssecOk: true } })]],
  ['wrr pool (signed, DO)', [buildQuery({ name: 'lb.signed.test', edns: { ...edns, dnssecOk: true } })]],
  // Compact denial: an NSEC at the asked name and its signature, the same name every time (a cache hit).
  ['NXDOMAIN (signed, DO)', [buildQuery({ name: 'nope.signed.test', edns: { ...edns, dnssecOk: true } })]],
];

console.log(`respond() without sockets, ${N.toLocaleString('en-US')} queries per row (3 rounds, best shown), snapshot ${values.built ? 'as built' : 'adopted from an image'}`);
for (const [label, packets] of rows) {
  if (values.only !== undefined && !label.includes(values.only)) continue;
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) respond(snapshot, packets[i % packets.length], '127.0.0.1', false, context);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / N);
  }
  console.log(`${label.padEnd(24)} ${best.toFixed(0).padStart(6)} ns/query`);
}
