// One call for a composition root: open the GeoIP database and build the locator and the geo services policies are given.
import type { Pool, Snapshot } from '../core/snapshot.js';
import type { GeoLevel } from './geo-level.js';
import type { Metrics } from '../obs/metrics.js';
import { geoMetrics } from './geo-metrics.js';
import { openGeoIp, type GeoIpDatabase } from './geoip.js';
import { createLocator, type Locator } from './locator.js';

export interface GeoSetupOptions {
  /** LBDNS_GEOIP_DB; undefined: the bundled database. */
  readonly databasePath: string | undefined;
  /** The serving snapshot (its geo_networks index is read on every lookup). */
  readonly snapshot: () => Snapshot;
  readonly metrics?: Metrics;
  readonly cacheSize?: number;
}

export interface GeoSetup {
  readonly database: GeoIpDatabase;
  readonly locator: Locator;
  /** The policies' environment: where clients are, and a count per pool and level of where they were placed. */
  readonly env: { readonly locator: Locator; readonly placed: ((pool: Pool, level: GeoLevel) => void) | undefined };
}

/** Throws E_STARTUP, naming the file, when the database is missing or unreadable. */
export async function setUpGeo(opts: GeoSetupOptions): Promise<GeoSetup> {
  const database = await openGeoIp({ path: opts.databasePath });
  const hooks = opts.metrics ? geoMetrics(opts.metrics) : undefined;
  const locator = createLocator({ networks: () => opts.snapshot().geoNetworks, geoip: database, cacheSize: opts.cacheSize, onMiss: hooks?.onMiss });
  return { database, locator, env: { locator, placed: hooks?.placed } };
}
