// geo_networks as one binary trie per address family: longest-prefix lookup in at most 32 or 128 steps, no scans.
import type { GeoNetwork, GeoNetworkIndex, GeoNetworkMatch } from '../core/snapshot.js';
import type { GeoNetworkRow } from './geo-network-row.js';
import { formatNetwork, parseNetwork } from './address.js';
import { CONTINENTS, continentOf } from './country-data.js';

/** Nodes live in parallel arrays (index 0 is the root); -1 is "no child". */
class Trie {
  readonly zero: number[] = [-1];
  readonly one: number[] = [-1];
  readonly entry: (GeoNetwork | undefined)[] = [undefined];

  insert(bytes: Uint8Array, prefix: number, value: GeoNetwork): boolean {
    let n = 0;
    for (let i = 0; i < prefix; i++) {
      const side = (bytes[i >> 3] >> (7 - (i & 7))) & 1 ? this.one : this.zero;
      let child = side[n];
      if (child < 0) {
        child = this.entry.length;
        side[n] = child;
        this.zero.push(-1);
        this.one.push(-1);
        this.entry.push(undefined);
      }
      n = child;
    }
    if (this.entry[n]) return false;
    this.entry[n] = value;
    return true;
  }

  lookup(bytes: Uint8Array, prefix: number): GeoNetworkMatch {
    let n = 0;
    let best = this.entry[0];
    let depth = 0;
    while (depth < prefix) {
      const child = (bytes[depth >> 3] >> (7 - (depth & 7))) & 1 ? this.one[n] : this.zero[n];
      if (child < 0) break;
      n = child;
      depth++;
      if (this.entry[n]) best = this.entry[n];
    }
    // Rows branch off the path here: the network one bit longer is the first that holds none of them.
    if (depth < prefix && (this.zero[n] >= 0 || this.one[n] >= 0)) depth++;
    return { entry: best, depth };
  }
}

export interface IndexResult {
  readonly index: GeoNetworkIndex;
  /** Rows left out, with the reason: the builder reports them as skipped rows. */
  readonly skipped: readonly { readonly row: GeoNetworkRow; readonly reason: string }[];
}

const COUNTRY = /^[A-Z]{2}$/;

function upper(text: string | null): string | null {
  const t = text?.trim();
  return t ? t.toUpperCase() : null;
}

/** A row as served, or why it cannot be: a location must say something, and coordinates come in valid pairs. */
function toNetwork(row: GeoNetworkRow): GeoNetwork | string {
  const parsed = parseNetwork(row.network);
  if (!parsed) return `network ${JSON.stringify(row.network)} is not a CIDR with its host bits clear`;
  const country = upper(row.country);
  if (country !== null && !COUNTRY.test(country)) return `country ${JSON.stringify(row.country)} is not an ISO 3166-1 alpha-2 code`;
  const continent = upper(row.continent) ?? continentOf(country);
  if (continent !== null && !(CONTINENTS as readonly string[]).includes(continent)) return `continent ${JSON.stringify(row.continent)} unknown`;
  const { latitude, longitude } = row;
  if ((latitude === null) !== (longitude === null)) return 'latitude and longitude must be given together';
  if (latitude !== null && longitude !== null && !(Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180)) return 'coordinates out of range';
  const region = row.region?.trim() || null;
  if (country === null && continent === null && region === null && latitude === null) return 'no location given';
  return Object.freeze({
    id: row.id,
    network: formatNetwork(parsed.family, parsed.bytes, parsed.prefix),
    family: parsed.family,
    prefix: parsed.prefix,
    bytes: parsed.bytes,
    location: Object.freeze({ country, continent, region, latitude, longitude }),
  });
}

/** Builds the index once per snapshot, from the store's rows; lookups never allocate beyond their result. */
export function buildNetworkIndex(rows: readonly GeoNetworkRow[]): IndexResult {
  const v4 = new Trie();
  const v6 = new Trie();
  const skipped: { row: GeoNetworkRow; reason: string }[] = [];
  let size = 0;
  for (const row of rows) {
    const n = toNetwork(row);
    if (typeof n === 'string') skipped.push({ row, reason: n });
    else if (!(n.family === 4 ? v4 : v6).insert(n.bytes, n.prefix, n)) skipped.push({ row, reason: `a second row for ${n.network}` });
    else size++;
  }
  const index: GeoNetworkIndex = Object.freeze({
    size,
    lookup: (family: 4 | 6, address: Uint8Array, prefix: number) => (family === 4 ? v4 : v6).lookup(address, prefix),
  });
  return { index, skipped };
}
