// The geo policy: narrow the candidates to the client's region, country, continent or nearest members, then weighted round robin.
import type { Client } from '../core/answer.js';
import type { Pool, PoolMember } from '../core/snapshot.js';
import { centroidOf, continentOf } from '../geo/country-data.js';
import { greatCircleKm } from '../geo/distance.js';
import type { ClientLocation, Locator } from '../geo/locator.js';
import type { Candidate } from './candidates.js';
import type { Policy } from './policy.js';
import { wrrSelect } from './wrr.js';

export const GEO_LEVELS = ['region', 'country', 'continent', 'nearest', 'all'] as const;
export type GeoLevel = (typeof GEO_LEVELS)[number];

/**
 * "Nearest" is a set, not one member: every candidate within 10 % or 100 km (whichever is more) of the closest, so that
 * two load balancers in one city, or a few kilometres apart, still share the load by weight.
 */
export const NEAREST_SLACK = Object.freeze({ ratio: 0.1, km: 100 });

export interface Narrowed {
  readonly level: GeoLevel;
  /** What the level matched: the region label, country or continent code, the nearest members' ids, '' for all. */
  readonly key: string;
  readonly list: readonly Candidate[];
}

/** Per-node geo memory in PolicyState: the locator (set by the composition root) and the decision hook (metrics). */
export interface GeoState {
  /** undefined: no location is known for anyone, and geo pools answer by weight alone. */
  locator: Pick<Locator, 'locate'> | undefined;
  decided: ((pool: Pool, narrowed: Narrowed, location: ClientLocation) => void) | undefined;
}

export const UNKNOWN_LOCATION: ClientLocation = Object.freeze({
  country: null,
  continent: null,
  region: null,
  latitude: null,
  longitude: null,
  coordinates: null,
  source: 'none',
  network: null,
  prefix: 0,
  geoNetworkId: null,
  scope: 0,
});

export function memberContinent(m: PoolMember): string | null {
  return m.location.continent ?? continentOf(m.location.country);
}

/** The member's own coordinates, else its country's centroid, else null. */
export function memberCoordinates(m: PoolMember): { readonly latitude: number; readonly longitude: number } | null {
  const { latitude, longitude } = m.location;
  if (latitude !== null && longitude !== null) return { latitude, longitude };
  return centroidOf(m.location.country);
}

/** Kilometres from the client to the member; null when either place has no coordinates. */
export function memberDistanceKm(m: PoolMember, loc: ClientLocation): number | null {
  if (loc.latitude === null || loc.longitude === null) return null;
  const c = memberCoordinates(m);
  return c ? greatCircleKm(loc.latitude, loc.longitude, c.latitude, c.longitude) : null;
}

function nearest(list: readonly Candidate[], loc: ClientLocation): Candidate[] {
  const distances = list.map((c) => memberDistanceKm(c.member, loc));
  let min = Infinity;
  for (const d of distances) if (d !== null && d < min) min = d;
  if (min === Infinity) return [];
  const limit = min + Math.max(min * NEAREST_SLACK.ratio, NEAREST_SLACK.km);
  return list.filter((_, i) => distances[i] !== null && distances[i]! <= limit);
}

/**
 * The first level with any candidate: region label, country, continent, nearest, else all. The candidates arrive up,
 * enabled and of the best tier, so a level whose members are all down simply has none and the next one answers.
 */
export function narrow(list: readonly Candidate[], loc: ClientLocation): Narrowed {
  if (loc.region !== null) {
    const found = list.filter((c) => c.member.location.region === loc.region);
    if (found.length) return { level: 'region', key: loc.region, list: found };
  }
  if (loc.country !== null) {
    const found = list.filter((c) => c.member.location.country === loc.country);
    if (found.length) return { level: 'country', key: loc.country, list: found };
  }
  if (loc.continent !== null) {
    const found = list.filter((c) => memberContinent(c.member) === loc.continent);
    if (found.length) return { level: 'continent', key: loc.continent, list: found };
  }
  const near = nearest(list, loc);
  if (near.length) return { level: 'nearest', key: near.map((c) => c.member.id).join(','), list: near };
  return { level: 'all', key: '', list };
}

export const geo: Policy = {
  name: 'geo',
  select(pool, candidates, client: Client, state) {
    const loc = state.geo.locator?.locate(client) ?? UNKNOWN_LOCATION;
    const narrowed = narrow(candidates.list, loc);
    state.geo.decided?.(pool, narrowed, loc);
    // One rotation per place: sets of different clients never reset each other's current weights.
    const key = `${candidates.key}/geo/${narrowed.level}/${narrowed.key}`;
    return { members: wrrSelect(state.wrr, key, narrowed.list, pool.count), scope: loc.scope };
  },
};
