// Where a pool member is (its continent and coordinates, its own or its country's) and how far a client is from it.
import type { PoolMember } from '../core/snapshot.js';
import { centroidOf, continentOf } from './country-data.js';
import { greatCircleKm } from './distance.js';
import type { ClientLocation } from './locator.js';

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
