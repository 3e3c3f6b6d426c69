// SQL for vantage points and their votes (migrations/0011_vantage_votes.sql): heartbeats, reads, retirement.
import { sql, type Kysely } from 'kysely';
import { LbdnsError } from '../errors.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

export type VantageKind = 'node' | 'agent';

/** A vantage point as the store has it; ages are by the database's clock, read at the same moment. */
export interface VantageRow {
  readonly name: string;
  readonly kind: VantageKind;
  readonly startedAt: number;
  /** Seconds since its last heartbeat. */
  readonly heartbeatAge: number;
  /** Seconds between its heartbeats, as it promised. */
  readonly heartbeatSeconds: number;
  /** Its clock minus the database's at its last heartbeat (seconds); null: not said. */
  readonly clockOffset: number | null;
  readonly retiredAt: number | null;
  readonly retiredBy: string | null;
}

/** One vote: what `vantage` last said of a member; `ahead`: seconds its last_check lies past the database's now(). */
export interface VoteRow {
  readonly memberId: number;
  readonly vantage: string;
  readonly up: boolean;
  readonly ahead: number;
}

const NAME = /^[\x21-\x7e]{1,255}$/;

export function vantageName(name: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new LbdnsError('E_INPUT', `vantage point name ${JSON.stringify(name)} must be 1 to 255 printable characters without spaces`);
  }
  return name;
}

const VANTAGE_COLUMNS = sql`name, kind, extract(epoch from started_at)::float8 * 1000 as started_ms,
  greatest(0, extract(epoch from now() - heartbeat_at))::float8 as heartbeat_age, heartbeat_interval, clock_offset,
  extract(epoch from retired_at)::float8 * 1000 as retired_ms, retired_by`;

interface RawVantage {
  name: string;
  kind: VantageKind;
  started_ms: number;
  heartbeat_age: number;
  heartbeat_interval: number;
  clock_offset: number | null;
  retired_ms: number | null;
  retired_by: string | null;
}

const toVantage = (r: RawVantage): VantageRow =>
  Object.freeze({
    name: r.name,
    kind: r.kind,
    startedAt: Number(r.started_ms),
    heartbeatAge: Number(r.heartbeat_age),
    heartbeatSeconds: Number(r.heartbeat_interval),
    clockOffset: r.clock_offset === null ? null : Number(r.clock_offset),
    retiredAt: r.retired_ms === null ? null : Number(r.retired_ms),
    retiredBy: r.retired_by,
  });

/**
 * Writes this vantage point's heartbeat (creating its row on the first) and reads every vantage point in the same
 * statement: one round trip a heartbeat. The read sees the rows as they were before this statement (a WITH that
 * writes is not visible to its own query), so this vantage point's row is absent on its first heartbeat and shows
 * the previous heartbeat's age after; a retired row keeps its retirement, and `kind` follows the latest start.
 */
export async function beat(db: Db, name: string, kind: VantageKind, intervalSeconds: number, clockMs: number): Promise<readonly VantageRow[]> {
  vantageName(name);
  const r = await sql<RawVantage>`
    with me as (
      insert into vantage_points as v (name, kind, heartbeat_interval, clock_offset)
      values (${name}, ${kind}, ${intervalSeconds}, extract(epoch from to_timestamp(${clockMs / 1000}::float8) - now()))
      on conflict (name) do update set kind = excluded.kind, heartbeat_at = now(),
        heartbeat_interval = excluded.heartbeat_interval, clock_offset = excluded.clock_offset
      returning v.name
    )
    select ${VANTAGE_COLUMNS} from vantage_points order by name`.execute(db);
  return r.rows.map(toVantage);
}

export async function listVantages(db: Db): Promise<readonly VantageRow[]> {
  const r = await sql<RawVantage>`select ${VANTAGE_COLUMNS} from vantage_points order by name`.execute(db);
  return r.rows.map(toVantage);
}

/**
 * Every vote in the store; with `sinceSeconds`, only rows written within that many seconds. Votes of a vantage point
 * silent for over an hour are left out (they could not count; a vantage point deletes its old votes when it starts
 * again), those of names without a vantage_points row are kept (the reader counts them as ignored). `ahead`: how far
 * the vote's probe time lies past the moment it was written (its clock's lead), stable across reads.
 */
export async function readVotes(db: Db, sinceSeconds?: number, exceptVantage?: string): Promise<readonly VoteRow[]> {
  const recent = sinceSeconds === undefined ? sql`true` : sql`h.heartbeat_at > now() - make_interval(secs => ${sinceSeconds}::float8)`;
  const others = exceptVantage === undefined ? sql`true` : sql`h.node <> ${exceptVantage}`;
  const r = await sql<{ member_id: number; node: string; up: boolean; ahead: number }>`
    select h.member_id, h.node, h.up,
           least(999999, greatest(0, coalesce(floor(extract(epoch from h.last_check - h.heartbeat_at)), 0)))::integer as ahead
      from member_health h left join vantage_points v on v.name = h.node
     where (v.name is null or v.heartbeat_at > now() - interval '1 hour') and ${recent} and ${others}`.execute(db);
  return r.rows.map((v) => ({ memberId: v.member_id, vantage: v.node, up: v.up, ahead: Number(v.ahead) }));
}

/** How many votes (member_health rows) each name holds, vantage point or not. */
export async function voteCounts(db: Db): Promise<ReadonlyMap<string, number>> {
  const r = await sql<{ node: string; n: string }>`select node, count(*) as n from member_health group by node`.execute(db);
  return new Map(r.rows.map((row) => [row.node, Number(row.n)]));
}

/** Deletes every vote of one vantage point (a new run of it starts without its previous run's votes). */
export async function clearVotes(db: Db, name: string): Promise<number> {
  const r = await sql`delete from member_health where node = ${name}`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/**
 * Deletes every vote of one vantage point and returns them: a new run that resumes from its previous run's votes
 * (HealthAgreement, a restart within a few heartbeats) takes them as clearVotes would delete them.
 */
export async function takeVotes(db: Db, name: string): Promise<readonly { readonly memberId: number; readonly up: boolean }[]> {
  const r = await sql<{ member_id: number; up: boolean }>`delete from member_health where node = ${name} returning member_id, up`.execute(db);
  return r.rows.map((v) => ({ memberId: v.member_id, up: v.up }));
}

/** Deletes this vantage point's votes on these members (it no longer probes them). */
export async function withdrawVotes(db: Db, name: string, memberIds: readonly number[]): Promise<number> {
  if (memberIds.length === 0) return 0;
  const r = await sql`delete from member_health where node = ${name} and member_id = any(${memberIds}::integer[])`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

/** Its votes stop counting at once, and it cannot vote again until forgotten. */
export async function retireVantage(db: Db, name: string, by: string | null): Promise<VantageRow> {
  vantageName(name);
  const r = await sql<RawVantage>`
    with done as (update vantage_points set retired_at = coalesce(retired_at, now()), retired_by = coalesce(retired_by, ${by})
                   where name = ${name} returning *)
    select ${VANTAGE_COLUMNS} from done`.execute(db);
  if (r.rows.length === 0) throw new LbdnsError('E_NOT_FOUND', `no vantage point ${name}`);
  return toVantage(r.rows[0]);
}

/** Deletes the vantage point and its votes; its name may vote again (a new start registers it anew). */
export async function forgetVantage(db: Db, name: string): Promise<{ readonly votes: number }> {
  vantageName(name);
  return db.transaction().execute(async (trx) => {
    const gone = await trx.deleteFrom('vantage_points').where('name', '=', name).executeTakeFirst();
    if (Number(gone.numDeletedRows) === 0) throw new LbdnsError('E_NOT_FOUND', `no vantage point ${name}`);
    const votes = await trx.deleteFrom('member_health').where('node', '=', name).executeTakeFirst();
    return { votes: Number(votes.numDeletedRows) };
  });
}
