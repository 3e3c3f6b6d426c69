// The locator: geo_networks first, then the database; the scope each answer may be reused for; the LRU cache.
import { describe, expect, it, vi } from 'vitest';
import type { Client } from '../../src/core/answer.js';
import { parseAddress } from '../../src/geo/address.js';
import { openGeoIp, type GeoIpDatabase, type GeoIpResult } from '../../src/geo/geoip.js';
import { createLocator } from '../../src/geo/locator.js';
import { buildNetworkIndex } from '../../src/geo/network-index.js';
import type { GeoNetworkRow } from '../../src/store/rows.js';

function ecs(cidr: string, resolver = '198.51.100.53'): Client {
  const [text, len] = cidr.split('/');
  const a = parseAddress(text)!;
  return { address: resolver, ecs: { family: a.family === 4 ? 1 : 2, sourcePrefix: Number(len), address: a.bytes } };
}

const rows: GeoNetworkRow[] = [
  { id: 1, network: '203.0.113.0/24', country: 'DE', continent: null, region: 'eu-central', latitude: 50.11, longitude: 8.68 },
  { id: 2, network: '100.64.0.0/10', country: 'FR', continent: null, region: null, latitude: null, longitude: null },
  { id: 3, network: '20.0.0.0/8', country: 'JP', continent: null, region: null, latitude: null, longitude: null },
  { id: 4, network: '20.20.0.0/16', country: 'US', continent: null, region: null, latitude: null, longitude: null },
];

/** A database that places 20.0.0.0/6 (four /8s) in the US and 40.0.0.0/8 in BR, and counts its lookups. */
function fakeDb(): GeoIpDatabase & { calls: string[] } {
  const calls: string[] = [];
  return {
    path: 'fake.mmdb',
    description: 'fake',
    calls,
    lookup(address): GeoIpResult {
      calls.push(address);
      const first = Number(address.split('.')[0]);
      if (first >= 20 && first < 24) return { record: { country: 'US', continent: 'NA', latitude: null, longitude: null }, prefix: 6 };
      if (first === 40) return { record: { country: 'BR', continent: 'SA', latitude: -23.55, longitude: -46.63 }, prefix: 8 };
      return { record: null, prefix: 4 };
    },
  };
}

describe('locator', () => {
  const index = buildNetworkIndex(rows).index;

  it('geo_networks decides first, with the row and its prefix as the scope', () => {
    const loc = createLocator({ networks: () => index, geoip: fakeDb() }).locate(ecs('203.0.113.77/32'));
    expect(loc).toEqual({
      country: 'DE',
      continent: 'EU',
      region: 'eu-central',
      latitude: 50.11,
      longitude: 8.68,
      coordinates: 'exact',
      source: 'geo_networks',
      network: '203.0.113.0/24',
      prefix: 24,
      geoNetworkId: 1,
      scope: 24,
    });
  });

  it('a geo_networks row places special-purpose space; without one, the database is never asked about it', () => {
    const db = fakeDb();
    const locator = createLocator({ networks: () => index, geoip: db });
    expect(locator.locate(ecs('100.64.1.0/24'))).toMatchObject({ source: 'geo_networks', country: 'FR', coordinates: 'centroid', latitude: 46.62, longitude: 2.45 });
    expect(locator.locate(ecs('192.168.7.0/24'))).toMatchObject({ source: 'none', network: '192.168.0.0/16', prefix: 16, scope: 16 });
    expect(locator.locate({ address: '10.1.2.3', ecs: undefined })).toMatchObject({ source: 'none', network: '10.0.0.0/8', prefix: 8, scope: 8 });
    expect(db.calls).toEqual([]);
  });

  it('the database decides next, scoped to its network', () => {
    const loc = createLocator({ networks: () => index, geoip: fakeDb() }).locate(ecs('40.1.2.0/24'));
    expect(loc).toMatchObject({ source: 'mmdb', country: 'BR', continent: 'SA', coordinates: 'exact', network: '40.0.0.0/8', prefix: 8, scope: 8, geoNetworkId: null });
  });

  it('lengthens the scope past geo_networks rows nested in the deciding network', () => {
    const locator = createLocator({ networks: () => index, geoip: fakeDb() });
    // 21.0.0.0 is in the database's 20.0.0.0/6 (US), beside the 20.0.0.0/8 row: a /6 scope would cover that row's clients.
    expect(locator.locate(ecs('21.5.5.0/24'))).toMatchObject({ source: 'mmdb', country: 'US', network: '20.0.0.0/6', prefix: 6, scope: 8 });
    expect(locator.locate(ecs('22.5.5.0/24'))).toMatchObject({ source: 'mmdb', prefix: 6, scope: 7 });
    // 20.1.0.0 is placed by the /8 row, but the /16 row inside it means the answer holds for 20.0.0.0/12 at most.
    expect(locator.locate(ecs('20.1.2.0/24'))).toMatchObject({ source: 'geo_networks', country: 'JP', prefix: 8, scope: 12 });
  });

  it('never scopes wider than it looked: a /20 source is placed at most at /20', () => {
    const locator = createLocator({ networks: () => index, geoip: fakeDb() });
    expect(locator.locate(ecs('20.20.16.0/20'))).toMatchObject({ country: 'US', source: 'geo_networks', scope: 16 });
    expect(locator.locate(ecs('203.0.113.0/25'))).toMatchObject({ country: 'DE', scope: 24 });
  });

  it('unknown: no row, no record; the empty database network is the scope, and a miss is counted', () => {
    const onMiss = vi.fn();
    const locator = createLocator({ networks: () => index, geoip: fakeDb(), onMiss });
    expect(locator.locate(ecs('80.1.2.0/24'))).toMatchObject({ source: 'none', country: null, continent: null, coordinates: null, network: '80.0.0.0/4', scope: 4 });
    expect(onMiss).toHaveBeenCalledTimes(1);
    locator.peek(ecs('80.1.2.0/24'));
    expect(onMiss).toHaveBeenCalledTimes(1);
  });

  it('without a database only geo_networks places clients; the scope of "unknown" is where the rows stop', () => {
    const locator = createLocator({ networks: () => index, geoip: undefined });
    expect(locator.locate(ecs('203.0.113.0/24'))).toMatchObject({ source: 'geo_networks' });
    expect(locator.locate(ecs('40.0.0.0/24'))).toMatchObject({ source: 'none', network: null, prefix: 0, scope: 3 });
  });

  it('reads the snapshot index on every lookup, so a reload applies at once', () => {
    let current = index;
    const locator = createLocator({ networks: () => current, geoip: fakeDb() });
    expect(locator.locate(ecs('203.0.113.0/24')).country).toBe('DE');
    current = buildNetworkIndex([{ ...rows[0], country: 'FR', region: null, latitude: null, longitude: null }]).index;
    expect(locator.locate(ecs('203.0.113.0/24')).country).toBe('FR');
  });

  it('caches database answers per looked-up network, in a bounded LRU', () => {
    const db = fakeDb();
    const locator = createLocator({ networks: () => undefined, geoip: db, cacheSize: 2 });
    locator.locate(ecs('40.0.1.7/32'));
    locator.locate(ecs('40.0.1.200/32'));
    expect(db.calls).toEqual(['40.0.1.0']);
    locator.locate(ecs('40.0.2.0/24'));
    locator.locate(ecs('40.0.1.0/24'));
    locator.locate(ecs('40.0.3.0/24'));
    // 40.0.1.0 was used more recently than 40.0.2.0, so 40.0.2.0 went first.
    locator.locate(ecs('40.0.1.0/24'));
    locator.locate(ecs('40.0.2.0/24'));
    expect(db.calls).toEqual(['40.0.1.0', '40.0.2.0', '40.0.3.0', '40.0.2.0']);
    // Different prefixes are different networks; IPv6 keys work the same way.
    locator.locate(ecs('40.0.1.0/23'));
    locator.locate(ecs('2a00:1:2:3::/64'));
    locator.locate(ecs('2a00:1:2::/56'));
    expect(db.calls.slice(4)).toEqual(['40.0.0.0', '2a00:1:2::']);
  });

  it('finds the real bundled database fast enough for the answer path', async () => {
    const locator = createLocator({ networks: () => index, geoip: await openGeoIp() });
    expect(locator.locate(ecs('8.8.8.8/32'))).toMatchObject({ source: 'mmdb', country: 'US', continent: 'NA', coordinates: 'centroid', network: '8.8.0.0/15', scope: 15 });
    expect(locator.locate(ecs('2001:4860:4860::8888/128'))).toMatchObject({ source: 'mmdb', country: 'US', network: '2001:4860::/32', scope: 32 });
    const t0 = performance.now();
    for (let i = 0; i < 20_000; i++) locator.locate(ecs(`${1 + (i % 200)}.${i % 250}.0.0/24`));
    const usPerLookup = ((performance.now() - t0) * 1000) / 20_000;
    expect(usPerLookup).toBeLessThan(50);
  });
});
