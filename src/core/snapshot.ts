// The immutable in-memory copy of every zone, record and pool that answers are made from.
import type { MaintenanceWindow, MemberOverride } from './override.js';

export interface RRset {
  readonly type: number;
  readonly ttl: number;
  readonly rdata: readonly Uint8Array[];
  /** Names this RRset points at (NS/MX/SRV targets, a CNAME's or DNAME's target), for chasing and glue. */
  readonly targets: readonly string[];
}

export interface PoolMember {
  readonly id: number;
  readonly address: string;
  /** Where probes go when it is not the answered address (e.g. a management interface). */
  readonly probeAddress: string | null;
  readonly family: 4 | 6;
  /** Wire RDATA of the address (4 or 16 octets). */
  readonly rdata: Uint8Array;
  readonly weight: number;
  /** Lower tiers are preferred; a tier is used only when no lower tier has a healthy member. */
  readonly priority: number;
  readonly enabled: boolean;
  readonly location: MemberLocation;
  /** A forced state (down, up, drain) with its reason and expiry; absent: none was ever set, or it was cleared. */
  readonly override?: MemberOverride;
  /** Scheduled maintenance windows; absent: none. */
  readonly maintenance?: readonly MaintenanceWindow[];
}

export interface MemberLocation {
  readonly country: string | null;
  readonly continent: string | null;
  readonly region: string | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
}

/** A snapshot's pools grouped by zone name, each zone's in the order given. */
export function poolsByZone(pools: readonly Pool[]): Map<string, Pool[]> {
  const by = new Map<string, Pool[]>();
  for (const p of pools) {
    const list = by.get(p.zone);
    if (list) list.push(p);
    else by.set(p.zone, [p]);
  }
  return by;
}

const NO_LOCATION: MemberLocation = Object.freeze({ country: null, continent: null, region: null, latitude: null, longitude: null });

/** A member's location; the members without one (most, in a large fleet) share one object instead of one each. */
export function memberLocation(country: string | null, continent: string | null, region: string | null, latitude: number | null, longitude: number | null): MemberLocation {
  if (country === null && continent === null && region === null && latitude === null && longitude === null) return NO_LOCATION;
  return Object.freeze({ country, continent, region, latitude, longitude });
}

export interface HealthCheck {
  readonly kind: 'http' | 'https' | 'tcp';
  readonly port: number;
  /** HTTP(S) only. */
  readonly path: string;
  /** HTTP(S) Host header; null: the probed address. */
  readonly host: string | null;
  /** Inclusive status range that counts as up (default 200–399). */
  readonly expectStatusMin: number;
  readonly expectStatusMax: number;
  /** HTTPS: accept any certificate. */
  readonly insecure: boolean;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  /** Consecutive good probes that bring a down member up. */
  readonly rise: number;
  /** Consecutive failed probes that take an up member down. */
  readonly fall: number;
  /** How the vantage points' votes decide a member's state (src/health/quorum.ts); absent: auto. */
  readonly quorum?: 'auto' | 'local' | 'any-up' | 'majority' | 'all-down';
  /** How many vantage points probe each member; null or absent: every serving node probes every member. */
  readonly probers?: number | null;
}

export interface Pool {
  readonly id: number;
  readonly name: string;
  readonly zone: string;
  readonly policy: string;
  readonly ttl: number;
  readonly count: number;
  /** What to answer when no member is up: every enabled member ('open') or SERVFAIL. */
  readonly allDown: 'open' | 'servfail';
  readonly check: HealthCheck;
  readonly members: readonly PoolMember[];
  /** The `hash` policy's client-network prefix lengths; absent: /24 and /56. */
  readonly hashPrefix?: { readonly v4: number; readonly v6: number };
}

const NO_SETS: readonly RRset[] = Object.freeze([]);

/**
 * A node's RRsets by type, as a plain array searched in order. A node holds one to a few types, and a Map per
 * node costs about 300 bytes (its hash table) where this costs about 60: with 100,000 names that is 25 MB. A node
 * with one RRset (most names: an A, a pool) holds it in a field, without an array: two objects fewer per name for
 * the collector.
 */
export class RRsetList implements ReadonlyMap<number, RRset> {
  readonly #one: RRset | undefined;
  readonly #many: readonly RRset[];

  constructor(sets: Iterable<RRset>) {
    const all = [...sets];
    if (all.length === 1) {
      this.#one = all[0];
      this.#many = NO_SETS;
    } else {
      this.#one = undefined;
      this.#many = Object.freeze(all);
    }
  }

  get size(): number {
    return this.#one === undefined ? this.#many.length : 1;
  }

  get(type: number): RRset | undefined {
    const one = this.#one;
    if (one !== undefined) return one.type === type ? one : undefined;
    const sets = this.#many;
    for (let i = 0; i < sets.length; i++) if (sets[i].type === type) return sets[i];
    return undefined;
  }

  has(type: number): boolean {
    return this.get(type) !== undefined;
  }

  #all(): readonly RRset[] {
    return this.#one === undefined ? this.#many : [this.#one];
  }

  *keys(): MapIterator<number> {
    for (const set of this.#all()) yield set.type;
  }

  *values(): MapIterator<RRset> {
    yield* this.#all();
  }

  *entries(): MapIterator<[number, RRset]> {
    for (const set of this.#all()) yield [set.type, set];
  }

  [Symbol.iterator](): MapIterator<[number, RRset]> {
    return this.entries();
  }

  forEach(fn: (value: RRset, key: number, map: ReadonlyMap<number, RRset>) => void, thisArg?: unknown): void {
    for (const set of this.#all()) fn.call(thisArg, set, set.type, this);
  }
}

export interface ZoneNode {
  readonly name: string;
  readonly rrsets: ReadonlyMap<number, RRset>;
  readonly pool: Pool | undefined;
}

/**
 * A signed zone's key (src/dnssec/keys.ts): one combined key, flags 257. The private key stays sealed here; each
 * process that signs opens it with its own LBDNS_KEY_SECRET.
 */
export interface ZoneKey {
  /** 13 ECDSAP256SHA256, 15 ED25519. */
  readonly algorithm: 13 | 15;
  readonly flags: number;
  readonly keyTag: number;
  /** DNSKEY RDATA: flags, protocol 3, algorithm, public key. */
  readonly dnskey: Uint8Array;
  /** The sealed private key as stored (version ‖ salt ‖ check ‖ iv ‖ tag ‖ ciphertext), opened where it signs. */
  readonly privateKey: Uint8Array;
}

export interface Zone {
  readonly name: string;
  readonly serial: number;
  /**
   * The zone's SOA, the one answered: the apex node's SOA RRset may be an older one (a zone restamped with a new
   * head shares its nodes with the zone it was made from; src/snapshot/image.ts restamp).
   */
  readonly soa: RRset;
  /** TTL of the SOA in negative answers: min(SOA TTL, SOA minimum) (RFC 2308 §5). */
  readonly negativeTtl: number;
  readonly nodes: ReadonlyMap<string, ZoneNode>;
  /** Names with no data of their own but with descendants (empty non-terminals). */
  readonly emptyNonTerminals: ReadonlySet<string>;
  /** Names below the apex that hold NS records: zone cuts. */
  readonly cuts: ReadonlySet<string>;
  /** Present when the zone is signed (its dnssec_keys row was usable). */
  readonly dnssec?: ZoneKey;
}

/** One geo_networks row: a network whose clients are placed at a location, overriding GeoIP. */
export interface GeoNetwork {
  readonly id: number;
  /** Canonical CIDR text. */
  readonly network: string;
  readonly family: 4 | 6;
  readonly prefix: number;
  /** The network's octets (4 or 16), host bits clear. */
  readonly bytes: Uint8Array;
  readonly location: MemberLocation;
}

/** What a longest-prefix lookup found along a client network's path. */
export interface GeoNetworkMatch {
  /** The longest row that contains the looked-up network (its prefix at most the network's), if any. */
  readonly entry: GeoNetwork | undefined;
  /**
   * How many leading bits of the address the index had rows below: any network of this prefix length (or longer)
   * around the address holds no other row, so an answer decided here holds for all of it (the ECS scope floor).
   */
  readonly depth: number;
}

/** geo_networks indexed for longest-prefix lookup, built once per snapshot (src/geo/network-index.ts). */
export interface GeoNetworkIndex {
  readonly size: number;
  lookup(family: 4 | 6, address: Uint8Array, prefix: number): GeoNetworkMatch;
}

export interface Snapshot {
  /** The store's config version this was read at. */
  readonly version: number;
  readonly builtAt: number;
  readonly zones: ReadonlyMap<string, Zone>;
  readonly pools: readonly Pool[];
  /** Absent in snapshots built without geo_networks rows. */
  readonly geoNetworks?: GeoNetworkIndex;
}

export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  version: 0,
  builtAt: 0,
  zones: new Map(),
  pools: Object.freeze([]) as readonly Pool[],
});

/** The zone with the longest apex that contains `name`, if any. */
export function findZone(snapshot: Snapshot, name: string): Zone | undefined {
  let candidate: string | undefined = name;
  while (candidate !== undefined) {
    const zone = snapshot.zones.get(candidate);
    if (zone) return zone;
    if (candidate === '') return undefined;
    const dot = candidate.indexOf('.');
    candidate = dot === -1 ? '' : candidate.slice(dot + 1);
  }
  return undefined;
}
