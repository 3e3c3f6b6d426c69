// Great-circle distances against published city-pair figures, the antimeridian, and the country table.
import { describe, expect, it } from 'vitest';
import { centroidOf, continentOf, knownCountries } from '../../src/geo/country-data.js';
import { greatCircleKm } from '../../src/geo/distance.js';

const CITY: Record<string, [number, number]> = {
  London: [51.5074, -0.1278],
  Paris: [48.8566, 2.3522],
  'New York': [40.7128, -74.006],
  'Los Angeles': [34.0522, -118.2437],
  Sydney: [-33.8688, 151.2093],
  Tokyo: [35.6762, 139.6503],
  Frankfurt: [50.1109, 8.6821],
};

describe('greatCircleKm', () => {
  it.each([
    ['London', 'Paris', 344],
    ['New York', 'Los Angeles', 3936],
    ['Sydney', 'Tokyo', 7826],
    ['Frankfurt', 'New York', 6203],
  ])('%s – %s ≈ %d km', (a, b, km) => {
    const d = greatCircleKm(...CITY[a], ...CITY[b]);
    expect(Math.abs(d - km) / km).toBeLessThan(0.005);
    expect(greatCircleKm(...CITY[b], ...CITY[a])).toBeCloseTo(d, 6);
  });

  it('is 0 for one point, half the circumference for antipodes, short across the antimeridian', () => {
    expect(greatCircleKm(52, 13, 52, 13)).toBe(0);
    expect(greatCircleKm(0, 0, 0, 180)).toBeCloseTo(20015.1, 0);
    expect(greatCircleKm(90, 0, -90, 0)).toBeCloseTo(20015.1, 0);
    expect(greatCircleKm(10, 179.5, 10, -179.5)).toBeCloseTo(109.5, 0);
  });
});

describe('country table', () => {
  it('covers the ISO 3166-1 codes in use', () => {
    expect(knownCountries()).toBeGreaterThan(245);
  });

  it.each([
    ['DE', 'EU'],
    ['FR', 'EU'],
    ['US', 'NA'],
    ['MX', 'NA'],
    ['BR', 'SA'],
    ['JP', 'AS'],
    ['AU', 'OC'],
    ['ZA', 'AF'],
    ['RU', 'EU'],
    ['AQ', 'AN'],
    ['XK', 'EU'],
  ])('%s is in %s', (country, continent) => {
    expect(continentOf(country)).toBe(continent);
  });

  it('places centroids inside the country (within its extent)', () => {
    const de = centroidOf('DE')!;
    expect(de.latitude).toBeGreaterThan(47);
    expect(de.latitude).toBeLessThan(55);
    expect(de.longitude).toBeGreaterThan(6);
    expect(de.longitude).toBeLessThan(15);
    // Largest polygon: mainland France, not the overseas departments.
    expect(greatCircleKm(centroidOf('FR')!.latitude, centroidOf('FR')!.longitude, ...CITY.Paris)).toBeLessThan(400);
    // Fiji straddles the antimeridian: its centroid must not land in the Atlantic.
    expect(Math.abs(centroidOf('FJ')!.longitude)).toBeGreaterThan(170);
  });

  it('knows nothing of unknown codes', () => {
    expect(continentOf('ZZ')).toBeNull();
    expect(centroidOf('ZZ')).toBeNull();
    expect(continentOf(null)).toBeNull();
    expect(centroidOf('constructor')).toBeNull();
  });
});
