// SQL for the audit log and the health history (migrations/0013_audit.sql): history by transaction, revert, pruning.
import { sql, type Kysely } from 'kysely';
import { LbdnsError } from '../errors.js';
import { parseDomainName } from '../records/domain-name.js';
import type { Database } from './schema.js';
import { toStoreError } from './store-error.js';

type Db = Kysely<Database>;

export type AuditOp = 'insert' | 'update' | 'delete' | 'truncate';

/** One row changed, as the audit trigger recorded it (secrets already replaced by "(secret)"). */
export interface AuditChange {
  readonly id: number;
  /** The table, as in SQL: zones, records, pools, pool_members, geo_networks, maintenance_windows, tsig_keys, dnssec_keys. */
  readonly table: string;
  readonly op: AuditOp;
  /** The row's primary key as text (a TSIG key's name, else its id). */
  readonly key: string;
  /** What an operator calls it: "www.example.test A 192.0.2.1", a member's address, a pool's name. */
  readonly name: string;
  /** Where it hangs, when its name does not say: "pool web.example.test" for a member; null otherwise or when gone. */
  readonly context: string | null;
  readonly old: Readonly<Record<string, unknown>> | null;
  readonly new: Readonly<Record<string, unknown>> | null;
}

export interface AuditTransaction {
  readonly txid: number;
  /** ms since the epoch: now() of the transaction. */
  readonly at: number;
  /** The lbdns.actor the writer set (the CLI's user, "token:NAME"), else "db:<role>". */
  readonly actor: string;
  readonly application: string | null;
  /** The first changes of the transaction that match the filter, in the order made. */
  readonly changes: readonly AuditChange[];
  /** How many changes matched in all (more than `changes` holds when the transaction was large). */
  readonly total: number;
}

export interface HistoryFilter {
  /** A zone (its row, records, pools, members, keys) or, when no zone has the name, a pool (its row and members). */
  readonly target?: string;
  /** ms since the epoch; only changes at or after it. */
  readonly since?: number;
  /** Transactions, newest first (default 20). */
  readonly limit?: number;
  /** Changes listed per transaction (default 50); the rest are counted. */
  readonly perTransaction?: number;
}

export interface AuditHistory {
  /** What the target named; absent without one. */
  readonly scope?: { readonly kind: 'zone' | 'pool'; readonly name: string };
  readonly transactions: readonly AuditTransaction[];
}

export interface RevertResult {
  /** The transaction that made the revert (itself in the audit log). */
  readonly txid: number;
  readonly removed: number;
  readonly restored: number;
  readonly reinserted: number;
}

export type TransitionKind = 'agreed' | 'probe';
export type HealthState = 'unknown' | 'up' | 'down';

/** One health change a serving node saw (member_transitions). */
export interface TransitionRecord {
  /** ms since the epoch, by the node's clock. */
  readonly at: number;
  readonly node: string;
  /** agreed: the state answers follow, decided by the votes; probe: the node's own probes. */
  readonly kind: TransitionKind;
  readonly pool: string;
  readonly member: string;
  readonly memberId: number | null;
  readonly from: HealthState;
  readonly to: HealthState;
  /** agreed: the quorum rule and the counted votes by vantage point. */
  readonly rule?: string | null;
  readonly votes?: Readonly<Record<string, 'up' | 'down'>> | null;
  /** probe: the reason of the probe that decided it. */
  readonly reason?: string | null;
}

export interface TransitionFilter {
  readonly pool?: string;
  readonly since?: number;
  /** Rows, newest first (default 50). */
  readonly limit?: number;
}

export interface PruneResult {
  readonly audit: number;
  readonly health: number;
}

/** Rows deleted per statement when pruning: each batch is its own short transaction, holding row locks only. */
export const PRUNE_BATCH = 5000;
/** Batches per table per pruning run (500,000 rows); whatever is left goes at the next run. */
export const PRUNE_MAX_BATCHES = 100;
/** A probe's reason is kept to this many characters. */
const REASON_MAX = 300;

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

interface RawChange {
  id: string;
  txid: string;
  at_ms: number;
  actor: string;
  application_name: string | null;
  table_name: string;
  op: AuditOp;
  row_key: string;
  name: string;
  context: string | null;
  old: Record<string, unknown> | null;
  new: Record<string, unknown> | null;
  total: string;
}

/** Whether `name` is a zone or a pool, now or in the log (a zone wins: it holds its pools). */
async function scopeOf(db: Db, name: string): Promise<AuditHistory['scope']> {
  const r = await sql<{ zone: boolean; pool: boolean }>`
    select exists (select 1 from zones where name = ${name}) or exists (select 1 from audit_log where table_name = 'zones' and name = ${name}) as zone,
           exists (select 1 from pools where name = ${name}) or exists (select 1 from audit_log where table_name = 'pools' and name = ${name}) as pool`.execute(db);
  const row = r.rows[0];
  if (row?.zone) return { kind: 'zone', name };
  if (row?.pool) return { kind: 'pool', name };
  throw new LbdnsError('E_NOT_FOUND', `no zone or pool "${name}", now or in the audit log`);
}

export async function history(db: Db, filter: HistoryFilter): Promise<AuditHistory> {
  const limit = filter.limit ?? 20;
  const per = filter.perTransaction ?? 50;
  const scope = filter.target === undefined ? undefined : await scopeOf(db, parseDomainName(filter.target, {}, 'zone or pool name'));
  const zone = scope?.kind === 'zone' ? scope.name : null;
  const pool = scope?.kind === 'pool' ? scope.name : null;
  // Ids as text (the log's row_key), gathered from the tables and from the log, so that rows since deleted (a removed
  // pool's members) still match.
  const hits =
    scope === undefined
      ? sql`select * from scan`
      : sql`select a.* from scan a
            where case a.table_name
              when 'zones' then a.row_key in (select id from zone_ids)
              when 'records' then a.new ->> 'zone_id' in (select id from zone_ids) or a.old ->> 'zone_id' in (select id from zone_ids)
              when 'dnssec_keys' then a.new ->> 'zone_id' in (select id from zone_ids) or a.old ->> 'zone_id' in (select id from zone_ids)
              when 'pools' then a.row_key in (select id from pool_ids)
              when 'pool_members' then a.row_key in (select id from member_ids)
              when 'maintenance_windows' then a.new ->> 'member_id' in (select id from member_ids) or a.old ->> 'member_id' in (select id from member_ids)
              else false end`;
  const r = await sql<RawChange>`
    with scan as materialized (select * from audit_log where ${iso(filter.since)}::timestamptz is null or at >= ${iso(filter.since)}::timestamptz),
    zone_ids as (
      select id::text as id from zones where name = ${zone}
      union select row_key from scan where table_name = 'zones' and name = ${zone}),
    pool_ids as (
      select id::text as id from pools where name = ${pool} or zone_id::text in (select id from zone_ids)
      union select row_key from scan where table_name = 'pools'
        and (name = ${pool} or new ->> 'zone_id' in (select id from zone_ids) or old ->> 'zone_id' in (select id from zone_ids))),
    member_ids as (
      select id::text as id from pool_members where pool_id::text in (select id from pool_ids)
      union select row_key from scan where table_name = 'pool_members'
        and (new ->> 'pool_id' in (select id from pool_ids) or old ->> 'pool_id' in (select id from pool_ids))),
    hits as (${hits}),
    tx as (select txid, count(*) as total, max(id) as last from hits group by txid order by last desc limit ${limit}),
    shown as (select h.*, row_number() over (partition by h.txid order by h.id, h.part) as rn from hits h where h.txid in (select txid from tx))
    select s.id, s.txid, extract(epoch from s.at)::float8 * 1000 as at_ms, s.actor, s.application_name, s.table_name, s.op,
           s.row_key, s.name, s.old, s.new, tx.total,
           case s.table_name
             when 'pool_members' then (select 'pool ' || p.name from pools p where p.id = (coalesce(s.new, s.old) ->> 'pool_id')::int)
             when 'maintenance_windows' then (select format('member %s of pool %s', host(m.address), p.name)
                from pool_members m join pools p on p.id = m.pool_id where m.id = (coalesce(s.new, s.old) ->> 'member_id')::int)
           end as context
      from shown s join tx on tx.txid = s.txid
     where s.rn <= ${per}
     order by tx.last desc, s.id, s.part`.execute(db);
  const byTx = new Map<string, { tx: Omit<AuditTransaction, 'changes'>; changes: AuditChange[] }>();
  for (const row of r.rows) {
    let t = byTx.get(row.txid);
    if (t === undefined) {
      t = { tx: { txid: Number(row.txid), at: row.at_ms, actor: row.actor, application: row.application_name, total: Number(row.total) }, changes: [] };
      byTx.set(row.txid, t);
    }
    t.changes.push(Object.freeze({ id: Number(row.id), table: row.table_name, op: row.op, key: row.row_key, name: row.name, context: row.context, old: row.old, new: row.new }));
  }
  const transactions = [...byTx.values()].map((t) => Object.freeze({ ...t.tx, changes: Object.freeze(t.changes) }));
  return Object.freeze({ ...(scope === undefined ? {} : { scope }), transactions: Object.freeze(transactions) });
}

/** Undoes one transaction in a new one (lbdns_revert in migrations/0013_audit.sql); refusals are one line, nothing changed. */
export async function revert(db: Db, txid: number, location: string): Promise<RevertResult> {
  if (!Number.isSafeInteger(txid) || txid <= 0) throw new LbdnsError('E_INPUT', `transaction id ${String(txid)} must be a positive whole number`);
  try {
    const r = await sql<{ r: { txid: string | number; removed: number; restored: number; reinserted: number } }>`select lbdns_revert(${String(txid)}::bigint) as r`.execute(db);
    const out = r.rows[0].r;
    return Object.freeze({ txid: Number(out.txid), removed: out.removed, restored: out.restored, reinserted: out.reinserted });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const message = String((err as Error).message ?? err).split('\n', 1)[0];
    if (code === 'P0002') throw new LbdnsError('E_NOT_FOUND', message, { cause: err });
    if (code === '55000') throw new LbdnsError('E_CONFLICT', message, { cause: err });
    // A rule of the tables refused a step (a name taken by a pool since, a key a zone still names).
    if (typeof code === 'string' && /^(23|22|P0)/.test(code)) {
      throw new LbdnsError('E_CONFLICT', `cannot revert transaction ${txid}: ${message}`, { cause: err });
    }
    throw toStoreError(err, { location });
  }
}

/** Writes health transitions in one statement, whatever their number (one jsonb parameter). */
export async function recordTransitions(db: Db, rows: readonly TransitionRecord[]): Promise<number> {
  if (rows.length === 0) return 0;
  const payload = rows.map((t) => ({
    at: iso(t.at),
    node: t.node,
    kind: t.kind,
    pool: t.pool,
    member: t.member,
    member_id: t.memberId,
    from_state: t.from,
    to_state: t.to,
    rule: t.rule ?? null,
    votes: t.votes ?? null,
    reason: t.reason === undefined || t.reason === null ? null : t.reason.slice(0, REASON_MAX),
  }));
  const r = await sql`
    insert into member_transitions (at, node, kind, pool, member, member_id, from_state, to_state, rule, votes, reason)
    select x.at, x.node, x.kind, x.pool, x.member, x.member_id, x.from_state, x.to_state, x.rule, x.votes, x.reason
      from jsonb_to_recordset(${JSON.stringify(payload)}::jsonb) as x(at timestamptz, node text, kind text, pool text, member text,
        member_id integer, from_state text, to_state text, rule text, votes jsonb, reason text)`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}

interface RawTransition {
  at_ms: number;
  node: string;
  kind: TransitionKind;
  pool: string;
  member: string;
  member_id: number | null;
  from_state: HealthState;
  to_state: HealthState;
  rule: string | null;
  votes: Record<string, 'up' | 'down'> | null;
  reason: string | null;
}

export async function transitionHistory(db: Db, filter: TransitionFilter): Promise<readonly TransitionRecord[]> {
  const pool = filter.pool === undefined ? null : parseDomainName(filter.pool, {}, 'pool name');
  const r = await sql<RawTransition>`
    select extract(epoch from at)::float8 * 1000 as at_ms, node, kind, pool, member, member_id, from_state, to_state, rule, votes, reason
      from member_transitions
     where (${pool}::text is null or pool = ${pool}) and (${iso(filter.since)}::timestamptz is null or at >= ${iso(filter.since)}::timestamptz)
     order by at desc, id desc
     limit ${filter.limit ?? 50}`.execute(db);
  return r.rows.map((t) =>
    Object.freeze({
      at: t.at_ms,
      node: t.node,
      kind: t.kind,
      pool: t.pool,
      member: t.member,
      memberId: t.member_id,
      from: t.from_state,
      to: t.to_state,
      rule: t.rule,
      votes: t.votes,
      reason: t.reason,
    }),
  );
}

/** Deletes rows older than the cut-offs in batches of PRUNE_BATCH (rows another node is deleting are skipped). */
export async function pruneHistory(db: Db, cutoffs: { readonly auditBefore: number; readonly healthBefore: number }): Promise<PruneResult> {
  const prune = async (table: 'audit_entries' | 'member_transitions', before: number): Promise<number> => {
    let total = 0;
    for (let i = 0; i < PRUNE_MAX_BATCHES; i++) {
      const r = await sql`
        delete from ${sql.table(table)} where id in (
          select id from ${sql.table(table)} where at < ${iso(before)}::timestamptz order by at limit ${PRUNE_BATCH} for update skip locked)`.execute(db);
      const n = Number(r.numAffectedRows ?? 0);
      total += n;
      if (n < PRUNE_BATCH) break;
    }
    return total;
  };
  return Object.freeze({ audit: await prune('audit_entries', cutoffs.auditBefore), health: await prune('member_transitions', cutoffs.healthBefore) });
}
