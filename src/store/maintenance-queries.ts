// SQL for maintenance windows: add, list, remove, and attaching each member's windows to the rows a snapshot is built from.
import { sql, type Kysely } from 'kysely';
import type { MaintenanceWindow } from '../core/override.js';
import { LbdnsError } from '../errors.js';
import { cronProblem, MAX_DURATION_MS } from '../pools/maintenance.js';
import { parseHostAddress } from './inet.js';
import type { Actor } from './override-queries.js';
import { poolName } from './pool-queries.js';
import type { PoolMemberRow } from './rows.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

export interface NewMaintenanceWindow {
  /** node-cron syntax: 5 fields, or 6 with seconds first. */
  readonly cron: string;
  /** Whole seconds, 1 s to 7 days. */
  readonly durationMs: number;
  /** IANA zone; null: UTC. */
  readonly tz: string | null;
  readonly reason: string;
}

/** A window with the member it drains, for `maintenance list` and status. */
export interface MaintenanceWindowRow extends MaintenanceWindow {
  readonly pool: string;
  readonly address: string;
  readonly memberId: number;
  readonly createdAt: number;
}

const REASON = /^[^\x00-\x1f\x7f]{1,200}$/;

/** Checks before any SQL, with node-cron's own parser: the database cannot check the cron syntax itself. */
export function checkWindow(w: NewMaintenanceWindow): void {
  const problem = cronProblem(w.cron, w.tz);
  if (problem !== undefined) throw new LbdnsError('E_INPUT', problem);
  if (!Number.isInteger(w.durationMs / 1000) || w.durationMs < 1000 || w.durationMs > MAX_DURATION_MS) {
    throw new LbdnsError('E_INPUT', `duration ${w.durationMs / 1000} s must be whole seconds from 1 s to 7 days`);
  }
  if (!REASON.test(w.reason.trim())) throw new LbdnsError('E_INPUT', 'reason must be one line of 1 to 200 characters');
}

function selectWindows(db: Db) {
  return db
    .selectFrom('maintenance_windows as w')
    .innerJoin('pool_members as m', 'm.id', 'w.member_id')
    .innerJoin('pools as p', 'p.id', 'm.pool_id')
    .select(['w.id', 'w.member_id', 'w.cron', 'w.duration_s', 'w.tz', 'w.reason', 'w.created_by', 'p.name as pool'])
    .select([sql<string>`host(m.address)`.as('address'), sql<number>`(extract(epoch from w.created_at) * 1000)::float8`.as('created_ms')]);
}

type WindowSelect = Awaited<ReturnType<ReturnType<typeof selectWindows>['executeTakeFirstOrThrow']>>;

const toWindow = (w: WindowSelect): MaintenanceWindowRow =>
  Object.freeze({
    id: w.id,
    cron: w.cron,
    durationMs: w.duration_s * 1000,
    tz: w.tz,
    reason: w.reason,
    by: w.created_by,
    pool: w.pool,
    address: w.address,
    memberId: w.member_id,
    createdAt: Number(w.created_ms),
  });

/**
 * The members with their windows attached, for the snapshot: one query for every window of these members (few, as a
 * rule), rather than a subquery per member row (80,000 of them at scale).
 */
export async function attachWindows(db: Db, members: readonly PoolMemberRow[]): Promise<PoolMemberRow[]> {
  if (members.length === 0) return [];
  const rows = await db.selectFrom('maintenance_windows').select(['id', 'member_id', 'cron', 'duration_s', 'tz', 'reason', 'created_by']).orderBy('id').execute();
  if (rows.length === 0) return [...members];
  const byMember = new Map<number, MaintenanceWindow[]>();
  for (const w of rows) {
    let list = byMember.get(w.member_id);
    if (!list) byMember.set(w.member_id, (list = []));
    list.push(Object.freeze({ id: w.id, cron: w.cron, durationMs: w.duration_s * 1000, tz: w.tz, reason: w.reason, by: w.created_by }));
  }
  return members.map((m) => {
    const windows = byMember.get(m.id);
    return windows ? Object.freeze({ ...m, maintenance: Object.freeze(windows) }) : m;
  });
}

export function addWindow(db: Db, pool: string, addressText: string, w: NewMaintenanceWindow, actor: Actor): Promise<MaintenanceWindowRow> {
  const name = poolName(pool);
  const address = parseHostAddress(addressText, 'member address');
  checkWindow(w);
  return db.transaction().execute(async (trx) => {
    const m = await trx
      .selectFrom('pool_members as m')
      .innerJoin('pools as p', 'p.id', 'm.pool_id')
      .select('m.id')
      .where('p.name', '=', name)
      .where(sql`m.address`, '=', sql`${address}::inet`)
      .executeTakeFirst();
    if (m === undefined) throw new LbdnsError('E_NOT_FOUND', `no member ${address} in pool ${name}`);
    if (actor.user !== undefined) await sql`select set_config('lbdns.actor', ${actor.user}, true)`.execute(trx);
    const { id } = await trx
      .insertInto('maintenance_windows')
      .values({ member_id: m.id, cron: w.cron, duration_s: w.durationMs / 1000, tz: w.tz, reason: w.reason.trim() })
      .returning('id')
      .executeTakeFirstOrThrow();
    return toWindow(await selectWindows(trx).where('w.id', '=', id).executeTakeFirstOrThrow());
  });
}

export async function listWindows(db: Db): Promise<MaintenanceWindowRow[]> {
  return (await selectWindows(db).orderBy('p.name').orderBy('m.address').orderBy('w.id').execute()).map(toWindow);
}

export async function removeWindow(db: Db, id: number): Promise<MaintenanceWindowRow> {
  if (!Number.isInteger(id) || id < 1 || id > 2147483647) throw new LbdnsError('E_INPUT', `window id ${id} must be a whole number from 1`);
  return db.transaction().execute(async (trx) => {
    const row = await selectWindows(trx).where('w.id', '=', id).executeTakeFirst();
    if (row === undefined) throw new LbdnsError('E_NOT_FOUND', `no maintenance window ${id}`);
    await trx.deleteFrom('maintenance_windows').where('id', '=', id).execute();
    return toWindow(row);
  });
}
