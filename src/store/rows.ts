// Plain rows the store hands to the snapshot builder and the CLI: no kysely or pg types leak past here.
// Zone, record and geo network rows are defined by the layers that read them without the store (zone files, geo).
import type { GeoNetworkRow } from '../geo/geo-network-row.js';
import type { PoolMemberRow, PoolRow } from '../schema/pool-schema.js';
import type { RecordRow, ZoneRow } from '../records/record-rows.js';

export { RECORD_TYPES, type RecordType } from '../records/record-types.js';
export type { GeoNetworkRow, PoolMemberRow, PoolRow, RecordRow, ZoneRow };

/** A dnssec_keys row (migrations/0012_dnssec.sql) as the snapshot builder takes it: the private key still sealed. */
export interface DnssecKeyRow {
  readonly zoneId: number;
  /** 13 or 15 as stored; the builder checks it. */
  readonly algorithm: number;
  readonly flags: number;
  readonly keyTag: number;
  /** The DNSKEY public key field. */
  readonly publicKey: Uint8Array;
  /** Sealed with LBDNS_KEY_SECRET (src/dnssec/keys.ts encryptPrivateKey). */
  readonly privateKey: Uint8Array;
}

/** Everything a snapshot is built from, read in one transaction. */
export interface StoreContents {
  /** The config version counter at the time of reading. */
  readonly version: number;
  /**
   * The config_version row's xmin when read from the store: with the version, which database this is (a database
   * made anew reaches the same version in other transactions). Absent in rows not read from a store.
   */
  readonly stamp?: string;
  readonly zones: readonly ZoneRow[];
  readonly records: readonly RecordRow[];
  readonly pools?: readonly PoolRow[];
  readonly members?: readonly PoolMemberRow[];
  readonly geoNetworks?: readonly GeoNetworkRow[];
  /** Absent: read by a version that had no DNSSEC (an older snapshot file); no zone is signed. */
  readonly dnssecKeys?: readonly DnssecKeyRow[];
}

/** The parts of StoreContents that are tables of rows. */
export const CONTENTS_TABLES = ['zones', 'records', 'pools', 'members', 'geoNetworks', 'dnssecKeys'] as const;
export type ContentsTable = (typeof CONTENTS_TABLES)[number];

/** Some tables of StoreContents read again in one transaction, at `version` (the others as they were). */
export type ContentsPart = Pick<StoreContents, 'version' | 'stamp'> & { readonly [K in ContentsTable]?: StoreContents[K] };

/** The parts of StoreContents a change to each table (as the change feed names it: migrations' lbdns_watch_table) can alter. */
const TABLE_PARTS: Readonly<Record<string, readonly ContentsTable[]>> = {
  zones: ['zones'],
  records: ['records'],
  pools: ['pools'],
  // Windows are read with the members they belong to (maintenance-queries.ts attachWindows).
  pool_members: ['members'],
  maintenance_windows: ['members'],
  geo_networks: ['geoNetworks'],
  dnssec_keys: ['dnssecKeys'],
};

/** TABLE_PARTS of `table`; undefined for a table not listed there (or "*", a change seen by polling): any of them. */
export const contentsTablesOf = (table: string): readonly ContentsTable[] | undefined => (Object.hasOwn(TABLE_PARTS, table) ? TABLE_PARTS[table] : undefined);
