// A geo_networks row as a plain value: a network whose clients are placed at a location ahead of the GeoIP database.

/** CIDR → location, consulted before the GeoIP database. */
export interface GeoNetworkRow {
  readonly id: number;
  /** Canonical CIDR text, e.g. "198.51.100.0/24". */
  readonly network: string;
  readonly country: string | null;
  readonly continent: string | null;
  readonly region: string | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
}
