// Longest-prefix lookup of geo_networks rows (IPv4 and IPv6), the scope floor it reports, and rows it refuses.
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../src/geo/address.js';
import { buildNetworkIndex } from '../../src/geo/network-index.js';
import type { GeoNetworkRow } from '../../src/store/rows.js';

let id = 1;
function row(network: string, country: string | null, extra: Partial<GeoNetworkRow> = {}): GeoNetworkRow {
  return { id: id++, network, country, continent: null, region: null, latitude: null, longitude: null, ...extra };
}

function find(index: ReturnType<typeof buildNetworkIndex>['index'], address: string, prefix: number) {
  const a = parseAddress(address)!;
  const m = index.lookup(a.family, a.bytes, prefix);
  return { network: m.entry?.network, country: m.entry?.location.country, depth: m.depth };
}

describe('geo_networks index', () => {
  const { index, skipped } = buildNetworkIndex([
    row('10.0.0.0/8', 'DE'),
    row('10.1.0.0/16', 'FR'),
    row('10.1.2.0/24', 'JP'),
    row('10.1.2.128/25', 'US'),
    row('192.0.2.53/32', 'NL'),
    row('2001:db8::/32', 'DE'),
    row('2001:db8:1::/48', 'FR'),
    row('2001:db8:1:200::/56', 'JP'),
    row('::/0', 'AQ'),
  ]);

  it('indexes every valid row', () => {
    expect(skipped).toEqual([]);
    expect(index.size).toBe(9);
  });

  it.each([
    ['10.9.9.9', 32, '10.0.0.0/8', 'DE'],
    ['10.1.9.0', 24, '10.1.0.0/16', 'FR'],
    ['10.1.2.0', 24, '10.1.2.0/24', 'JP'],
    ['10.1.2.200', 32, '10.1.2.128/25', 'US'],
    ['10.1.2.100', 32, '10.1.2.0/24', 'JP'],
    ['192.0.2.53', 32, '192.0.2.53/32', 'NL'],
    ['2001:db8:ffff::', 56, '2001:db8::/32', 'DE'],
    ['2001:db8:1:ff00::', 56, '2001:db8:1::/48', 'FR'],
    ['2001:db8:1:200::', 56, '2001:db8:1:200::/56', 'JP'],
    ['2001:db9::', 56, '::/0', 'AQ'],
  ])('%s/%d → %s', (address, prefix, network, country) => {
    expect(find(index, address, prefix)).toMatchObject({ network, country });
  });

  it('never matches a row longer than the looked-up network: a /24 client cannot be placed by a /25 inside it', () => {
    expect(find(index, '10.1.2.0', 24)).toMatchObject({ network: '10.1.2.0/24' });
    // The resolver's own address (a /32) can.
    expect(find(index, '10.1.2.129', 32)).toMatchObject({ network: '10.1.2.128/25' });
    // A /32 row only places that resolver, never its /24 neighbours sent as ECS.
    expect(find(index, '192.0.2.0', 24).network).toBeUndefined();
  });

  it('reports how deep rows go along the path, so a scope never covers a nested row', () => {
    // 10.9 and 10.1 share their first 12 bits: 10.8.0.0/13 is the widest network around 10.9 without the 10.1 rows.
    expect(find(index, '10.9.9.0', 24).depth).toBe(13);
    // Inside 10.1.2.0/24 a /25 is nested: the scope for the /24 row's clients is the /24 only when asked at /24...
    expect(find(index, '10.1.2.0', 24).depth).toBe(24);
    // ...and a /32 in the lower half is placed by the /24 row with a /25 floor.
    expect(find(index, '10.1.2.1', 32).depth).toBe(25);
    // Far from every row: the floor is one bit past where the path left the trie (172 and 192 share their first bit).
    expect(find(index, '172.16.0.0', 24)).toEqual({ network: undefined, country: undefined, depth: 2 });
    expect(find(index, '2001:db8:1:300::', 56)).toMatchObject({ network: '2001:db8:1::/48', depth: 56 });
  });

  it('an empty index matches nothing at depth 0', () => {
    const empty = buildNetworkIndex([]).index;
    expect(find(empty, '192.0.2.1', 32)).toEqual({ network: undefined, country: undefined, depth: 0 });
  });

  it('skips unusable rows with a reason, and normalises the rest', () => {
    const { index: idx, skipped: bad } = buildNetworkIndex([
      row('10.0.0.1/8', 'DE'),
      row('nonsense', 'DE'),
      row('10.0.0.0/8', 'DEU'),
      row('10.0.0.0/8', null, { continent: 'XX' }),
      row('10.0.0.0/8', 'DE', { latitude: 50 }),
      row('10.0.0.0/8', 'DE', { latitude: 91, longitude: 0 }),
      row('10.0.0.0/8', null),
      row('10.0.0.0/8', 'de', { region: ' eu-central ' }),
      row('10.0.0.0/8', 'FR'),
    ]);
    expect(bad.map((s) => s.reason)).toEqual([
      'network "10.0.0.1/8" is not a CIDR with its host bits clear',
      'network "nonsense" is not a CIDR with its host bits clear',
      'country "DEU" is not an ISO 3166-1 alpha-2 code',
      'continent "XX" unknown',
      'latitude and longitude must be given together',
      'coordinates out of range',
      'no location given',
      'a second row for 10.0.0.0/8',
    ]);
    expect(idx.size).toBe(1);
    const a = parseAddress('10.2.3.4')!;
    expect(idx.lookup(4, a.bytes, 32).entry?.location).toEqual({ country: 'DE', continent: 'EU', region: 'eu-central', latitude: null, longitude: null });
  });

  it('looks up in a few microseconds with ten thousand rows', () => {
    const rows: GeoNetworkRow[] = [];
    for (let i = 0; i < 10_000; i++) rows.push(row(`${10 + (i >> 8)}.${i & 255}.0.0/16`, 'DE'));
    const { index: big } = buildNetworkIndex(rows);
    const a = parseAddress('20.7.1.0')!;
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) big.lookup(4, a.bytes, 24);
    const perLookupUs = ((performance.now() - t0) * 1000) / 100_000;
    expect(big.lookup(4, a.bytes, 24).entry?.network).toBe('20.7.0.0/16');
    expect(perLookupUs).toBeLessThan(5);
  });
});
