// Where a client is: its network through geo_networks (longest prefix) and then the GeoIP database, with an LRU cache.
import type { Client } from '../core/answer.js';
import type { GeoNetworkIndex } from '../core/snapshot.js';
import { clientNetwork, formatAddress, formatNetwork, type ClientNetwork } from './address.js';
import { centroidOf } from './country-data.js';
import type { GeoIpDatabase, GeoIpRecord } from './geoip.js';
import { specialBlock } from './special-networks.js';

export type LocationSource = 'geo_networks' | 'mmdb' | 'none';

export interface ClientLocation {
  readonly country: string | null;
  readonly continent: string | null;
  /** Operator-defined label; only geo_networks rows carry one. */
  readonly region: string | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
  /** 'exact': from the deciding row or database record; 'centroid': the country's centroid. */
  readonly coordinates: 'exact' | 'centroid' | null;
  readonly source: LocationSource;
  /** The network that decided: the geo_networks row's, or the database's (for 'none': its empty network, if any). */
  readonly network: string | null;
  readonly prefix: number;
  readonly geoNetworkId: number | null;
  /**
   * ECS scope (RFC 7871 §7.2.1) this location holds for: every client of the scope network gets the same location. The
   * deciding network's prefix, lengthened past any geo_networks row nested inside it (those clients go elsewhere),
   * and never longer than the looked-up network (what lies beyond it was never looked at).
   */
  readonly scope: number;
}

export interface Locator {
  /** Where the client is; counts a miss when nothing knows. Synchronous and never throws. */
  locate(client: Client): ClientLocation;
  /** The same without counting, for explain. */
  peek(client: Client): ClientLocation;
  readonly database: GeoIpDatabase | undefined;
}

export interface LocatorOptions {
  /** The serving snapshot's geo_networks index, read once per lookup. */
  readonly networks: () => GeoNetworkIndex | undefined;
  /** undefined: geo_networks only. */
  readonly geoip: GeoIpDatabase | undefined;
  /** Database results kept, keyed by looked-up network (default 20,000; about 200 bytes each). */
  readonly cacheSize?: number;
  readonly onMiss?: () => void;
}

/** The deciding network, lengthened past nested geo_networks rows, never longer than what was looked up. */
function scopeOf(lookedUp: number, deciding: number, depth: number): number {
  return Math.min(lookedUp, Math.max(deciding, depth));
}

interface Cached {
  /** With region null, ready to be a location. */
  readonly record: (GeoIpRecord & { readonly region: null }) | null;
  readonly prefix: number;
  readonly network: string | null;
}

const NOWHERE: Cached = Object.freeze({ record: null, prefix: 0, network: null });

/** IPv4 keys are numbers (address × 64 + prefix); IPv6 keys the hex of the octets in the prefix. */
function cacheKey(net: ClientNetwork): number | string {
  const b = net.bytes;
  if (net.family === 4) return (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) * 64 + net.prefix;
  let key = '';
  for (let i = 0; i < (net.prefix + 7) >> 3; i++) key += (b[i] < 16 ? '0' : '') + b[i].toString(16);
  return `${key}/${net.prefix}`;
}

// Hot path: no closures or spreads per call (tsx wraps named closures at every creation).
function located(
  loc: { readonly country: string | null; readonly continent: string | null; readonly region: string | null; readonly latitude: number | null; readonly longitude: number | null },
  source: LocationSource,
  network: string | null,
  prefix: number,
  geoNetworkId: number | null,
  scope: number,
): ClientLocation {
  let latitude = loc.latitude;
  let longitude = loc.longitude;
  let coordinates: ClientLocation['coordinates'] = null;
  if (latitude !== null && longitude !== null) coordinates = 'exact';
  else {
    const c = centroidOf(loc.country);
    if (c !== null) {
      latitude = c.latitude;
      longitude = c.longitude;
      coordinates = 'centroid';
    }
  }
  return { country: loc.country, continent: loc.continent, region: loc.region, latitude, longitude, coordinates, source, network, prefix, geoNetworkId, scope };
}

export function createLocator(opts: LocatorOptions): Locator {
  // Two generations make a bounded cache that behaves like an LRU without reordering a Map on every hit: a hit in the
  // old generation moves to the young one; when the young one is full it becomes the old one, and the old one is
  // dropped. Entries used within the last cacheSize / 2 lookups always survive.
  const half = Math.max(1, Math.ceil((opts.cacheSize ?? 20_000) / 2));
  let young = new Map<number | string, Cached>();
  let old = new Map<number | string, Cached>();
  const geoip = opts.geoip;

  function remember(key: number | string, value: Cached): void {
    if (young.size >= half) {
      old = young;
      young = new Map();
    }
    young.set(key, value);
  }

  function fromDatabase(net: ClientNetwork): Cached {
    if (!geoip) return NOWHERE;
    const key = cacheKey(net);
    let hit = young.get(key);
    if (hit) return hit;
    hit = old.get(key);
    if (hit) {
      remember(key, hit);
      return hit;
    }
    const special = specialBlock(net);
    if (special) hit = { record: null, prefix: special.prefix, network: special.text };
    else {
      const { record, prefix } = geoip.lookup(formatAddress(net.family, net.bytes));
      hit = { record: record && { ...record, region: null }, prefix, network: formatNetwork(net.family, net.bytes, prefix) };
    }
    remember(key, hit);
    return hit;
  }

  function find(client: Client): ClientLocation {
    const net = clientNetwork(client);
    if (!net) return located(NOWHERE_LOCATION, 'none', null, 0, null, 0);
    const index = opts.networks();
    const match = index === undefined ? undefined : index.lookup(net.family, net.bytes, net.prefix);
    const depth = match === undefined ? 0 : match.depth;
    const row = match?.entry;
    if (row) return located(row.location, 'geo_networks', row.network, row.prefix, row.id, scopeOf(net.prefix, row.prefix, depth));
    const db = fromDatabase(net);
    return located(db.record ?? NOWHERE_LOCATION, db.record ? 'mmdb' : 'none', db.network, db.prefix, null, scopeOf(net.prefix, db.prefix, depth));
  }

  return {
    database: geoip,
    peek: find,
    locate(client) {
      const loc = find(client);
      if (loc.source === 'none') opts.onMiss?.();
      return loc;
    },
  };
}

const NOWHERE_LOCATION = Object.freeze({ country: null, continent: null, region: null, latitude: null, longitude: null });
