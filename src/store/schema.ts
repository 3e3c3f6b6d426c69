// Kysely's view of the tables in migrations/*.sql; only src/store/ sees these types.
import type { ColumnType, Generated, RawBuilder } from 'kysely';
import type { PoolRow, PoolSettingField } from '../schema/pool-schema.js';
import type { ColumnName } from './column-name.js';

/** int8 columns: pg hands them over as strings; the store converts with Number(). */
type Int8 = ColumnType<string | number, number | undefined, number>;

export interface ZonesTable {
  id: Generated<number>;
  name: string;
  /** Filled in by the zones trigger when omitted. */
  mname: ColumnType<string, string | undefined, string>;
  rname: ColumnType<string, string | undefined, string>;
  serial: Int8;
  refresh: Generated<number>;
  retry: Generated<number>;
  expire: Generated<number>;
  minimum: Generated<number>;
  ttl: Generated<number>;
}

export interface RecordsTable {
  id: ColumnType<string | number, never, never>;
  zone_id: number;
  name: string;
  type: string;
  ttl: number | null;
  content: string;
}

export interface ConfigVersionTable {
  id: ColumnType<boolean, never, never>;
  version: ColumnType<string | number, never, never>;
}

/** Columns the schema fills in when an insert leaves them out. */
type Defaulted<T> = ColumnType<T, T | undefined, T>;

/** One column per field of the pool schema, its name in snake case, with its default: a new field is a column here. */
export type PoolsTable = { id: Generated<number>; zone_id: number; name: string } & {
  [K in PoolSettingField as ColumnName<K>]: Defaulted<Exclude<PoolRow[K], undefined>>;
};

/** Location columns of pool_members and geo_networks. */
interface LocationColumns {
  country: Defaulted<string | null>;
  continent: Defaulted<string | null>;
  region: Defaulted<string | null>;
  latitude: Defaulted<number | null>;
  longitude: Defaulted<number | null>;
}

export interface PoolMembersTable extends LocationColumns {
  id: Generated<number>;
  pool_id: number;
  /** inet: written as text, read through host() (see pool-queries.ts). */
  address: string;
  probe_address: Defaulted<string | null>;
  weight: Defaulted<number>;
  priority: Defaulted<number>;
  enabled: Defaulted<boolean>;
  /** Overrides (migrations/0010_member_overrides.sql): override_by and override_at are the trigger's to write. */
  override: Defaulted<string | null>;
  override_reason: Defaulted<string | null>;
  override_by: ColumnType<string | null, never, never>;
  override_at: ColumnType<Date | null, never, never>;
  override_until: ColumnType<Date | null, string | null | undefined, string | null>;
}

export interface MemberHealthTable {
  member_id: number;
  node: string;
  up: boolean;
  since: ColumnType<Date, string, string>;
  last_check: ColumnType<Date | null, string | null, string | null>;
  latency_ms: number | null;
  last_error: string | null;
  transitions: number;
  /** Set by the writing statement (now()), never by the client. */
  heartbeat_at: ColumnType<Date, never, never>;
  heartbeat_interval: Defaulted<number | null>;
}

export interface GeoNetworksTable extends LocationColumns {
  id: Generated<number>;
  /** cidr: written and read as text. */
  network: string;
  note: Defaulted<string | null>;
}

/** migrations/0009_maintenance_windows.sql: created_by and created_at are the trigger's to write. */
export interface MaintenanceWindowsTable {
  id: Generated<number>;
  member_id: number;
  cron: string;
  duration_s: number;
  tz: string | null;
  reason: string;
  created_by: ColumnType<string, never, never>;
  created_at: ColumnType<Date, never, never>;
}

/** migrations/0011_vantage_votes.sql: the serving nodes and probe agents whose member_health rows are votes. */
export interface VantagePointsTable {
  name: string;
  kind: 'node' | 'agent';
  started_at: ColumnType<Date, never, never>;
  heartbeat_at: ColumnType<Date, never, never>;
  heartbeat_interval: number;
  clock_offset: number | null;
  retired_at: ColumnType<Date | null, never, never>;
  retired_by: string | null;
}

/** migrations/0012_dnssec.sql: one sealed signing key per signed zone; bytea comes back as a Buffer. */
export interface DnssecKeysTable {
  id: Generated<number>;
  zone_id: number;
  algorithm: number;
  flags: Defaulted<number>;
  key_tag: number;
  public_key: ColumnType<Buffer, Buffer, Buffer>;
  private_key: ColumnType<Buffer, Buffer, Buffer>;
  created_at: ColumnType<Date, never, never>;
}

/** migrations/0014_api_tokens.sql: scoped API tokens, kept as the SHA-256 of their text. */
export interface ApiTokensTable {
  id: Generated<number>;
  name: string;
  token_hash: ColumnType<Buffer, Buffer, never>;
  scopes: ColumnType<string[], string[], never>;
  created_at: ColumnType<Date, never, never>;
  created_by: ColumnType<string, never, never>;
  last_used_at: ColumnType<Date | null, never, RawBuilder<unknown>>;
  revoked_at: ColumnType<Date | null, never, RawBuilder<unknown>>;
}

export interface Database {
  zones: ZonesTable;
  records: RecordsTable;
  config_version: ConfigVersionTable;
  pools: PoolsTable;
  pool_members: PoolMembersTable;
  member_health: MemberHealthTable;
  geo_networks: GeoNetworksTable;
  maintenance_windows: MaintenanceWindowsTable;
  vantage_points: VantagePointsTable;
  dnssec_keys: DnssecKeysTable;
  api_tokens: ApiTokensTable;
}
