// The GeoIP database: any MaxMind-format (mmdb) file read with the maintained `maxmind` reader, the bundled one by default.
import { readFile as fsReadFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { Reader } from 'maxmind';
import { LbdnsError } from '../errors.js';
import { continentOf } from './country-data.js';

/** What lbdns uses of a GeoIP record, whatever the database's layout. */
export interface GeoIpRecord {
  readonly country: string | null;
  readonly continent: string | null;
  /** City databases only. */
  readonly latitude: number | null;
  readonly longitude: number | null;
}

export interface GeoIpResult {
  /** null: the database has no location for the network. */
  readonly record: GeoIpRecord | null;
  /** Prefix length of the database network that holds the address (found or empty). */
  readonly prefix: number;
}

export interface GeoIpDatabase {
  readonly path: string;
  /** The file's own description: database type and build date. */
  readonly description: string;
  /** Never throws: an unreadable record is reported as no location. */
  lookup(address: string): GeoIpResult;
}

const require = createRequire(import.meta.url);

/**
 * The bundled database: ip-location-db's geo-whois-asn-country (country codes from geofeeds, RIR whois and BGP
 * origins; data CC BY 4.0, NRO). See docs/geo.md for why this one.
 */
export function defaultGeoIpPath(): string {
  return require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb');
}

type RawRecord = Record<string, unknown> | null;

function text(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v.toUpperCase() : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function field(o: unknown, key: string): unknown {
  return o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined;
}

/**
 * MaxMind GeoIP2/GeoLite2 Country and City (country.iso_code, continent.code, location.*; the registered country when
 * the country is absent, as for some anycast networks), and ip-location-db's flat layout (country_code, latitude,
 * longitude). A record without a country or coordinates is no location.
 */
export function readRecord(raw: RawRecord): GeoIpRecord | null {
  if (!raw) return null;
  const country = text(field(raw.country, 'iso_code')) ?? text(field(raw.registered_country, 'iso_code')) ?? text(raw.country_code);
  const continent = text(field(raw.continent, 'code')) ?? continentOf(country);
  let latitude = num(field(raw.location, 'latitude')) ?? num(raw.latitude);
  let longitude = num(field(raw.location, 'longitude')) ?? num(raw.longitude);
  if (latitude === null || longitude === null) latitude = longitude = null;
  if (country === null && continent === null && latitude === null) return null;
  return { country, continent, latitude, longitude };
}

export interface OpenGeoIpOptions {
  /** undefined: the bundled database. */
  readonly path?: string;
  readonly readFile?: (path: string) => Promise<Buffer>;
}

/** Opens and checks the database; a missing or corrupt file is an E_STARTUP error that names it. */
export async function openGeoIp(opts: OpenGeoIpOptions = {}): Promise<GeoIpDatabase> {
  const path = opts.path ?? defaultGeoIpPath();
  const read = opts.readFile ?? ((p: string) => fsReadFile(p));
  let buffer: Buffer;
  try {
    buffer = await read(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LbdnsError('E_STARTUP', `GeoIP database ${path}: cannot read it (${code ?? (err as Error).message}); set LBDNS_GEOIP_DB to a MaxMind-format .mmdb file`, { cause: err });
  }
  let reader: Reader<Record<string, unknown>>;
  try {
    reader = new Reader<Record<string, unknown>>(buffer);
    // The metadata can be intact in front of a broken tree: one lookup per family walks it to a leaf.
    reader.getWithPrefixLength('192.0.2.1');
    if (reader.metadata.ipVersion === 6) reader.getWithPrefixLength('2001:db8::1');
  } catch (err) {
    throw new LbdnsError('E_STARTUP', `GeoIP database ${path} is not a usable MaxMind (mmdb) file: ${(err as Error).message}`, { cause: err });
  }
  const meta = reader.metadata;
  const v6 = meta.ipVersion === 6;
  const built = meta.buildEpoch instanceof Date ? meta.buildEpoch.toISOString().slice(0, 10) : 'unknown date';
  return {
    path,
    description: `${meta.databaseType} built ${built}`,
    lookup(address) {
      // An IPv4-only database cannot place IPv6 clients; say so as "no location", not as an error.
      if (!v6 && address.includes(':')) return { record: null, prefix: 0 };
      try {
        const [raw, prefix] = reader.getWithPrefixLength(address);
        return { record: readRecord(raw), prefix };
      } catch {
        return { record: null, prefix: 0 };
      }
    },
  };
}
