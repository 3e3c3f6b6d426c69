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
  /**
   * The pool records the serial was last advanced with ("name ttl TYPE address"), undefined when no pool bump
   * has happened: a transfer at that serial sends these, so that it matches what the journal diffs against.
   */
  readonly poolSet: readonly string[] | undefined;
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
  pool_set: string[] | null;
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
    poolSet: r.pool_set === null ? undefined : Object.freeze(r.pool_set),
  });

type Db = Kysely<Database>;

/** Every zone's settings, or those of one zone, or of several (one query for all of them). */
export async function transferSettings(db: Db, zone?: string | readonly string[], poolSet = true): Promise<readonly ZoneTransferSettings[]> {
  const where = zone === undefined ? sql`true` : typeof zone === 'string' ? sql`name = ${zone}` : sql`name = any(${[...zone]}::text[])`;
  const rows = await sql<SettingsRow>`
    select name, serial, allow_transfer::text[] as allow_transfer, transfer_keys, also_notify,
           ${poolSet ? sql`case when pool_fingerprint is null then null else pool_set end` : sql`null::text[]`} as pool_set from zones
     where ${where} order by name`.execute(db);
  return rows.rows.map(toSettings);
}

export async function setTransferSettings(db: Db, zone: string, change: TransferSettingsChange): Promise<ZoneTransferSettings> {
  const rows = await sql<SettingsRow>`
    update zones set
      allow_transfer = ${change.allowTransfer === undefined ? sql`allow_transfer` : sql`${[...change.allowTransfer]}::cidr[]`},
      transfer_keys = ${change.keys === undefined ? sql`transfer_keys` : sql`${[...change.keys]}::text[]`},
      also_notify = ${change.notify === undefined ? sql`also_notify` : sql`${[...change.notify]}::text[]`}
     where name = ${zone}
     returning name, serial, allow_transfer::text[] as allow_transfer, transfer_keys, also_notify,
               case when pool_fingerprint is null then null else pool_set end as pool_set`.execute(db);
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

/** A record as journaled: the pool set's lines and the records table's changes both come this way. */
export interface JournalRecord {
  readonly name: string;
  readonly type: string;
  /** null: the zone's default TTL. */
  readonly ttl: number | null;
  readonly content: string;
}

export interface JournalStepRow {
  readonly fromSerial: number;
  readonly toSerial: number;
  readonly removed: readonly JournalRecord[];
  readonly added: readonly JournalRecord[];
}

/** "name ttl TYPE content" → a JournalRecord (the form zones.pool_set keeps). */
function fromLine(line: string): JournalRecord {
  const [name, ttl, type, ...rest] = line.split(' ');
  return { name, type, ttl: Number(ttl), content: rest.join(' ') };
}

/**
 * Moves the zone's serial when its pools' answerable set differs from the one last written, and journals the
 * difference for IXFR in the step that the move makes (migration 0006). The guard makes it idempotent across the
 * pair: the second node to see the same change finds its fingerprint already there and changes nothing. Returns
 * the new serial, or undefined when nothing moved.
 */
export async function advancePoolSerial(db: Db, zone: string, fingerprint: string, lines: readonly string[]): Promise<number | undefined> {
  return db.transaction().execute(async (trx) => {
    const old = await sql<{ id: number; pool_set: string[] }>`
      select id, pool_set from zones where name = ${zone} and pool_fingerprint is distinct from ${fingerprint} for update`.execute(trx);
    if (old.rows.length === 0) return undefined;
    const { id, pool_set: before } = old.rows[0];
    const r = await sql<{ serial: string | number }>`
      update zones set serial = lbdns_next_serial(serial), pool_fingerprint = ${fingerprint}, pool_set = ${[...lines]}::text[]
       where id = ${id} returning serial`.execute(trx);
    const was = new Set(before);
    const now = new Set(lines);
    const changes = [
      ...before.filter((l) => !now.has(l)).map((l) => ({ op: 'del', ...fromLine(l) })),
      ...lines.filter((l) => !was.has(l)).map((l) => ({ op: 'add', ...fromLine(l) })),
    ];
    if (changes.length > 0) {
      await sql`
        insert into zone_journal_changes (journal_id, op, name, type, ttl, content)
        select (select id from zone_journal where zone_id = ${id} and xact = txid_current() order by id desc limit 1),
               c.op, c.name, c.type, c.ttl, c.content
          from jsonb_to_recordset(${JSON.stringify(changes)}::jsonb) as c(op text, name text, type text, ttl integer, content text)`.execute(trx);
    }
    return Number(r.rows[0].serial);
  });
}

/**
 * The journal steps that lead from `fromSerial` to `toSerial`, in order; undefined when the kept steps do not
 * chain from one to the other (pruned, or a serial set by hand in between).
 */
export async function journal(db: Db, zone: string, fromSerial: number, toSerial: number): Promise<readonly JournalStepRow[] | undefined> {
  const steps = await sql<{ id: string | number; serial_from: string | number; serial_to: string | number }>`
    select j.id, j.serial_from, j.serial_to from zone_journal j join zones z on z.id = j.zone_id
     where z.name = ${zone} order by j.id`.execute(db);
  const rows = steps.rows.map((r) => ({ id: Number(r.id), from: Number(r.serial_from), to: Number(r.serial_to) }));
  // The latest step that leaves fromSerial (a serial can recur after a wrap), then each following one in turn.
  let start = -1;
  for (let i = rows.length - 1; i >= 0; i--) {
    if (rows[i].from === fromSerial) {
      start = i;
      break;
    }
  }
  if (start === -1) return undefined;
  const chain: typeof rows = [];
  for (let i = start; i < rows.length; i++) {
    if (chain.length > 0 && rows[i].from !== chain[chain.length - 1].to) return undefined;
    chain.push(rows[i]);
    if (rows[i].to === toSerial) break;
  }
  if (chain.length === 0 || chain[chain.length - 1].to !== toSerial) return undefined;
  const changes = await sql<{ journal_id: string | number; op: string; name: string; type: string; ttl: number | null; content: string }>`
    select journal_id, op, name, type, ttl, content from zone_journal_changes
     where journal_id = any(${chain.map((c) => c.id)}::bigint[])`.execute(db);
  const byStep = new Map<number, { removed: JournalRecord[]; added: JournalRecord[] }>(chain.map((c) => [c.id, { removed: [], added: [] }]));
  for (const c of changes.rows) {
    const step = byStep.get(Number(c.journal_id))!;
    (c.op === 'del' ? step.removed : step.added).push({ name: c.name, type: c.type, ttl: c.ttl, content: c.content });
  }
  return chain.map((c) => ({ fromSerial: c.from, toSerial: c.to, ...byStep.get(c.id)! }));
}
