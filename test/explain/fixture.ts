// A store's contents with a geo pool (members in DE, FR, US, JP), a wrr pool and geo_networks rows, for explain and geo tests.
import type { GeoNetworkRow, PoolMemberRow, PoolRow, RecordRow, StoreContents, ZoneRow } from '../../src/store/rows.js';

export const ZONE: ZoneRow = { id: 1, name: 'example.test', mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300, ttl: 300 };

export function poolRow(id: number, name: string, policy: string, fields: Partial<PoolRow> = {}): PoolRow {
  return {
    id,
    zoneId: 1,
    name,
    policy,
    ttl: 30,
    count: 2,
    allDown: 'open',
    checkKind: 'tcp',
    checkPort: 80,
    checkPath: '/',
    checkHost: null,
    expectStatusMin: 200,
    expectStatusMax: 399,
    checkInsecure: false,
    timeoutMs: 500,
    intervalMs: 1000,
    rise: 1,
    fall: 1,
    ...fields,
  };
}

export function memberRow(id: number, poolId: number, address: string, country: string | null, fields: Partial<PoolMemberRow> = {}): PoolMemberRow {
  return { id, poolId, address, probeAddress: null, weight: 1, priority: 0, enabled: true, country, continent: null, region: null, latitude: null, longitude: null, ...fields };
}

export const MEMBERS = {
  de1: memberRow(11, 1, '192.0.2.11', 'DE', { region: 'eu-central', latitude: 50.11, longitude: 8.68 }),
  de2: memberRow(12, 1, '192.0.2.12', 'DE', { latitude: 52.52, longitude: 13.4 }),
  fr: memberRow(13, 1, '192.0.2.13', 'FR', { latitude: 48.86, longitude: 2.35 }),
  us: memberRow(14, 1, '192.0.2.14', 'US', { latitude: 39.04, longitude: -77.49 }),
  jp: memberRow(15, 1, '192.0.2.15', 'JP', { latitude: 35.68, longitude: 139.65 }),
  de6: memberRow(16, 1, '2001:db8::16', 'DE'),
  w1: memberRow(21, 2, '198.51.100.21', 'DE'),
  w2: memberRow(22, 2, '198.51.100.22', 'US'),
};

export const GEO_NETWORKS: GeoNetworkRow[] = [
  { id: 1, network: '203.0.113.0/24', country: 'DE', continent: null, region: null, latitude: null, longitude: null },
  { id: 2, network: '203.0.112.0/24', country: 'AT', continent: null, region: null, latitude: 48.21, longitude: 16.37 },
  { id: 3, network: '100.64.0.0/16', country: 'BR', continent: null, region: null, latitude: -23.55, longitude: -46.63 },
  { id: 4, network: '100.65.0.0/16', country: 'DE', continent: null, region: 'eu-central', latitude: null, longitude: null },
  { id: 5, network: '2001:db8:aa::/48', country: 'JP', continent: null, region: null, latitude: null, longitude: null },
];

const RECORDS: RecordRow[] = [
  { id: 1, zoneId: 1, name: 'example.test', type: 'NS', ttl: null, content: 'ns1.example.test' },
  { id: 2, zoneId: 1, name: 'ns1.example.test', type: 'A', ttl: null, content: '192.0.2.53' },
  { id: 3, zoneId: 1, name: 'www.example.test', type: 'CNAME', ttl: null, content: 'geo.example.test' },
  { id: 4, zoneId: 1, name: 'static.example.test', type: 'A', ttl: 60, content: '192.0.2.80' },
];

export function contents(extra: Partial<StoreContents> = {}): StoreContents {
  return {
    version: 7,
    zones: [ZONE],
    records: RECORDS,
    pools: [poolRow(1, 'geo.example.test', 'geo'), poolRow(2, 'wrr.example.test', 'wrr')],
    members: Object.values(MEMBERS),
    geoNetworks: GEO_NETWORKS,
    ...extra,
  };
}
