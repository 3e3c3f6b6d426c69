// The GeoIP database: lookups through the real bundled file, record layouts, and start-up errors for bad files.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LbdnsError } from '../../src/errors.js';
import { defaultGeoIpPath, openGeoIp, readRecord, type GeoIpDatabase } from '../../src/geo/geoip.js';

let db: GeoIpDatabase;

beforeAll(async () => {
  db = await openGeoIp();
});

describe('the bundled database (ip-location-db geo-whois-asn-country, as pinned in package.json)', () => {
  it('describes itself', () => {
    expect(db.path).toBe(defaultGeoIpPath());
    expect(db.description).toMatch(/^country ipvAll built \d{4}-\d{2}-\d{2}$/);
  });

  // What this database says, checked against it rather than assumed: 1.1.1.1 is APNIC's research prefix
  // (registered in Australia, run by Cloudflare), so a whois-based database places it in AU.
  it.each([
    ['8.8.8.8', 'US', 'NA', 15],
    ['1.1.1.1', 'AU', 'OC', 24],
    ['193.0.6.139', 'NL', 'EU', 20],
    ['194.0.0.53', 'DE', 'EU', 24],
    ['212.27.48.10', 'FR', 'EU', 19],
    ['202.12.27.33', 'JP', 'AS', 23],
    ['2001:4860:4860::8888', 'US', 'NA', 32],
    ['2001:67c:2e8::1', 'NL', 'EU', 48],
  ])('%s → %s (%s), network /%d', (address, country, continent, prefix) => {
    expect(db.lookup(address)).toEqual({ record: { country, continent, latitude: null, longitude: null }, prefix });
  });

  it('says how wide an empty network is', () => {
    expect(db.lookup('10.1.2.3')).toEqual({ record: null, prefix: 8 });
    expect(db.lookup('100.64.0.1')).toEqual({ record: null, prefix: 10 });
  });

  // Why the locator never asks it about special-purpose blocks (see special-networks.ts).
  it('places some private networks anyway', () => {
    expect(db.lookup('192.168.1.1').record?.country).toBe('AU');
  });
});

describe('record layouts', () => {
  it('reads MaxMind City records', () => {
    const city = { continent: { code: 'EU' }, country: { iso_code: 'DE' }, location: { latitude: 52.52, longitude: 13.4, accuracy_radius: 20 } };
    expect(readRecord(city)).toEqual({ country: 'DE', continent: 'EU', latitude: 52.52, longitude: 13.4 });
  });

  it('reads MaxMind Country records, falling back to the registered country', () => {
    expect(readRecord({ continent: { code: 'NA' }, country: { iso_code: 'US' } })).toEqual({ country: 'US', continent: 'NA', latitude: null, longitude: null });
    expect(readRecord({ registered_country: { iso_code: 'FR' } })).toEqual({ country: 'FR', continent: 'EU', latitude: null, longitude: null });
  });

  it('reads the flat ip-location-db layout and derives the continent', () => {
    expect(readRecord({ country_code: 'jp' })).toEqual({ country: 'JP', continent: 'AS', latitude: null, longitude: null });
    expect(readRecord({ country_code: 'BR', latitude: -23.5, longitude: -46.6 })).toEqual({ country: 'BR', continent: 'SA', latitude: -23.5, longitude: -46.6 });
  });

  it('says nothing for empty or unusable records', () => {
    expect(readRecord(null)).toBeNull();
    expect(readRecord({})).toBeNull();
    expect(readRecord({ country: { names: { en: 'x' } }, location: { latitude: 1 } })).toBeNull();
  });
});

describe('start-up errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lbdns-geoip-'));

  it('a missing file stops start-up with its path', async () => {
    const err = await openGeoIp({ path: join(dir, 'absent.mmdb') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LbdnsError);
    expect((err as LbdnsError).code).toBe('E_STARTUP');
    expect((err as Error).message).toBe(`GeoIP database ${join(dir, 'absent.mmdb')}: cannot read it (ENOENT); set LBDNS_GEOIP_DB to a MaxMind-format .mmdb file`);
  });

  it('a corrupt file stops start-up too', async () => {
    const bad = join(dir, 'bad.mmdb');
    writeFileSync(bad, 'this is not a MaxMind database');
    const err = await openGeoIp({ path: bad }).catch((e: unknown) => e);
    expect((err as LbdnsError).code).toBe('E_STARTUP');
    expect((err as Error).message).toMatch(new RegExp(`^GeoIP database ${bad} is not a usable MaxMind \\(mmdb\\) file: `));
  });

  it('a truncated copy of the real file is refused', async () => {
    const { readFileSync } = await import('node:fs');
    const whole = readFileSync(defaultGeoIpPath());
    const err = await openGeoIp({ path: 'cut.mmdb', readFile: async () => whole.subarray(0, 1000) }).catch((e: unknown) => e);
    expect((err as LbdnsError).code).toBe('E_STARTUP');
  });
});
