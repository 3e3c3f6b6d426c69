// Zone-transfer settings, TSIG keys and the pool-set serial bump (migration 0006), as plain SQL over kysely.
import { sql, type Kysely } from 'kysely';
import { LbdnsError } from '../errors.js';
import type { Database } from './schema.js';

export const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha512', 'hmac-sha1'] as const;
export type TsigAlgorithm = (typeof TSIG_ALGORITHMS)[number];

export interface TsigKey {
  /** Canonical domain name (lower case, no trailing dot). */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  /** Base64. */
  readonly secret: string;
}

/** Who may transfer a zone and whom it NOTIFYs. */
export interface ZoneTransferSettings {
  readonly zone: string;
  readonly serial: number;
  /** CIDR texts. */
  readonly allowTransfer: readonly string[];
  /** Key names. */
  readonly keys: readonly string[];
  /** "address:port" / "[v6]:port". */
  readonly notify: readonly string[];
}

/** Left out: unchanged; an empty list clears. */
export interface TransferSettingsChange {
  readonly allowTransfer?: readonly string[];
  readonly keys?: readonly string[];
  readonly notify?: readonly string[];
}

interface SettingsRow {
  name: string;
  serial: string | number;
  allow_transfer: string[] | string;
  transfer_keys: string[] | string;
  also_notify: string[] | string;
}

/** pg returns cidr[] as text ("{198.18.0.0/15}") since it knows no parser for it; text[] comes as arrays. */
function pgArray(v: string[] | string): string[] {
  if (Array.isArray(v)) return v;
  const inner = v.replace(/^\{|\}$/g, '');
  return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"|"$/g, ''));
}

const toSettings = (r: SettingsRow): ZoneTransferSettings =>
  Object.freeze({
    zone: r.name,
    serial: Number(r.serial),
    allowTransfer: Object.freeze(pgArray(r.allow_transfer)),
    keys: Object.freeze(pgArray(r.transfer_keys)),
    notify: Object.freeze(pgArray(r.also_notify)),
  });

type Db = Kysely<Database>;

export async function transferSettings(db: Db, zone?: string): Promise<readonly ZoneTransferSettings[]> {
  const rows = await sql<SettingsRow>`
    select name, serial, allow_transfer::text[] as allow_transfer, transfer_keys, also_notify from zones
     where ${zone === undefined ? sql`true` : sql`name = ${zone}`} order by name`.execute(db);
  return rows.rows.map(toSettings);
}

export async function setTransferSettings(db: Db, zone: string, change: TransferSettingsChange): Promise<ZoneTransferSettings> {
  const rows = await sql<SettingsRow>`
    update zones set
      allow_transfer = ${change.allowTransfer === undefined ? sql`allow_transfer` : sql`${[...change.allowTransfer]}::cidr[]`},
      transfer_keys = ${change.keys === undefined ? sql`transfer_keys` : sql`${[...change.keys]}::text[]`},
      also_notify = ${change.notify === undefined ? sql`also_notify` : sql`${[...change.notify]}::text[]`}
     where name = ${zone}
     returning name, serial, allow_transfer::text[] as allow_transfer, transfer_keys, also_notify`.execute(db);
  if (rows.rows.length === 0) throw new LbdnsError('E_NOT_FOUND', `no zone "${zone}"`);
  return toSettings(rows.rows[0]);
}

export async function tsigKeys(db: Db): Promise<readonly TsigKey[]> {
  const rows = await sql<TsigKey>`select name, algorithm, secret from tsig_keys order by name`.execute(db);
  return rows.rows.map((r) => Object.freeze({ name: r.name, algorithm: r.algorithm, secret: r.secret }));
}

export async function addTsigKey(db: Db, key: TsigKey): Promise<void> {
  await sql`insert into tsig_keys (name, algorithm, secret) values (${key.name}, ${key.algorithm}, ${key.secret})`.execute(db);
}

export async function removeTsigKey(db: Db, name: string): Promise<void> {
  const r = await sql`delete from tsig_keys where name = ${name}`.execute(db);
  if (Number(r.numAffectedRows ?? 0) === 0) throw new LbdnsError('E_NOT_FOUND', `no tsig key "${name}"`);
}

/**
 * Moves the zone's serial when its pools' answerable set differs from the one last written. The guard
 * makes it idempotent across the pair: the second node to see the same change finds its fingerprint
 * already there and changes nothing. Returns the new serial, or undefined when nothing moved.
 */
export async function advancePoolSerial(db: Db, zone: string, fingerprint: string): Promise<number | undefined> {
  const r = await sql<{ serial: string | number }>`
    update zones set serial = lbdns_next_serial(serial), pool_fingerprint = ${fingerprint}
     where name = ${zone} and pool_fingerprint is distinct from ${fingerprint}
     returning serial`.execute(db);
  return r.rows.length === 0 ? undefined : Number(r.rows[0].serial);
}
