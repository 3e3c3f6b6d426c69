// SQL for member overrides (`member set --force`, `--clear`); who and when are written by the database's trigger.
import { sql, type Kysely } from 'kysely';
import { OVERRIDE_STATES, type OverrideState } from '../core/override.js';
import { LbdnsError } from '../errors.js';
import { parseHostAddress } from './inet.js';
import { poolName, selectMembers, toMember } from './pool-queries.js';
import type { PoolMemberRow } from './rows.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

export interface OverrideChange {
  readonly state: OverrideState;
  /** Why, for whoever reads status next: one line, 1 to 200 characters. */
  readonly reason: string;
  /** ms since the epoch; null: until cleared. Must lie ahead. */
  readonly until: number | null;
}

/** Recorded as override_by: the CLI's operating-system user; absent: the database role (current_user). */
export interface Actor {
  readonly user?: string;
}

const REASON = /^[^\x00-\x1f\x7f]{1,200}$/;
const ACTOR = /^[\x21-\x7e]{1,100}$/;

/** Checks before any SQL: the operator gets the field and the value, the database its CHECKs as a second guard. */
export function checkOverride(change: OverrideChange, now: number): void {
  if (!OVERRIDE_STATES.includes(change.state)) throw new LbdnsError('E_INPUT', `override "${String(change.state)}" must be one of ${OVERRIDE_STATES.join(', ')}`);
  if (typeof change.reason !== 'string' || !REASON.test(change.reason.trim())) {
    throw new LbdnsError('E_INPUT', 'reason must be one line of 1 to 200 characters');
  }
  if (change.until !== null && !(Number.isFinite(change.until) && change.until > now)) {
    throw new LbdnsError('E_INPUT', `expiry ${Number.isFinite(change.until) ? new Date(change.until).toISOString() : String(change.until)} is not in the future`);
  }
}

/** The name lbdns.actor is set to for this actor (undefined: none given); E_INPUT for a name the triggers cannot record. */
export function actorName(actor: Actor | undefined): string | undefined {
  if (actor?.user === undefined) return undefined;
  if (!ACTOR.test(actor.user)) throw new LbdnsError('E_INPUT', `user name ${JSON.stringify(actor.user)} cannot be recorded`);
  return actor.user;
}

/** The transaction-local setting the override trigger reads for override_by (migrations/0010_member_overrides.sql). */
async function actAs(db: Db, actor: Actor): Promise<void> {
  const user = actorName(actor);
  if (user === undefined) return;
  await sql`select set_config('lbdns.actor', ${user}, true)`.execute(db);
}

async function update(db: Db, pool: string, addressText: string, actor: Actor, set: (trx: Db, poolId: number, address: string) => Promise<bigint>): Promise<PoolMemberRow> {
  const name = poolName(pool);
  const address = parseHostAddress(addressText, 'member address');
  return db.transaction().execute(async (trx) => {
    const p = await trx.selectFrom('pools').select('id').where('name', '=', name).executeTakeFirst();
    if (p === undefined) throw new LbdnsError('E_NOT_FOUND', `no pool "${name}"`);
    await actAs(trx, actor);
    if ((await set(trx, p.id, address)) === 0n) throw new LbdnsError('E_NOT_FOUND', `no member ${address} in pool ${name}`);
    const row = await selectMembers(trx).where('m.pool_id', '=', p.id).where(sql`m.address`, '=', sql`${address}::inet`).executeTakeFirstOrThrow();
    return toMember(row);
  });
}

export function setOverride(db: Db, pool: string, address: string, change: OverrideChange, actor: Actor, now = Date.now()): Promise<PoolMemberRow> {
  checkOverride(change, now);
  return update(db, pool, address, actor, async (trx, poolId, a) => {
    const r = await trx
      .updateTable('pool_members')
      .set({ override: change.state, override_reason: change.reason.trim(), override_until: change.until === null ? null : new Date(change.until).toISOString() })
      .where('pool_id', '=', poolId)
      .where(sql`address`, '=', sql`${a}::inet`)
      .executeTakeFirst();
    return r.numUpdatedRows;
  });
}

export function clearOverride(db: Db, pool: string, address: string, actor: Actor): Promise<PoolMemberRow> {
  return update(db, pool, address, actor, async (trx, poolId, a) => {
    const r = await trx
      .updateTable('pool_members')
      .set({ override: null, override_reason: null, override_until: null })
      .where('pool_id', '=', poolId)
      .where(sql`address`, '=', sql`${a}::inet`)
      .executeTakeFirst();
    return r.numUpdatedRows;
  });
}
