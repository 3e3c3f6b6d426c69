// RFC 2136 dynamic updates in one transaction: the key's rules, the prerequisites and the changes, all or nothing (migrations 0015, 0016).
import { sql, type Kysely, type Transaction } from 'kysely';
import { LbdnsError } from '../errors.js';
import type { Database } from './schema.js';
import { permits, type UpdateRule } from './update-pattern.js';

export type { UpdateRule } from './update-pattern.js';

/** RFC 2136 §2.4: what must hold before anything changes. Names canonical, types as stored (or SOA). */
export type Prerequisite =
  | { readonly kind: 'name-in-use'; readonly name: string }
  | { readonly kind: 'name-not-in-use'; readonly name: string }
  | { readonly kind: 'rrset-exists'; readonly name: string; readonly type: string }
  | { readonly kind: 'rrset-not-exists'; readonly name: string; readonly type: string }
  /** Value dependent (§2.4.2): the RRset holds exactly these contents (canonical; for SOA "mname rname serial refresh retry expire minimum"). */
  | { readonly kind: 'rrset-equals'; readonly name: string; readonly type: string; readonly contents: readonly string[] };

/** RFC 2136 §2.5: the changes, applied in order. */
export type UpdateOperation =
  | { readonly kind: 'add'; readonly name: string; readonly type: string; readonly ttl: number; readonly content: string }
  | { readonly kind: 'delete-rrset'; readonly name: string; readonly type: string }
  | { readonly kind: 'delete-name'; readonly name: string }
  | { readonly kind: 'delete-rr'; readonly name: string; readonly type: string; readonly content: string };

export interface UpdateRequest {
  /** The TSIG key that signed the update (verified by the caller): its rules decide, and the audit log names it. */
  readonly key: string;
  readonly zone: string;
  readonly prerequisites: readonly Prerequisite[];
  readonly operations: readonly UpdateOperation[];
}

/** How an update ended; anything but ok changed nothing. */
export type UpdateResult = 'ok' | 'notauth' | 'refused' | 'nxdomain' | 'yxdomain' | 'nxrrset' | 'yxrrset';

export interface UpdateOutcome {
  readonly result: UpdateResult;
  /** Why it was not ok, in one line (for the log; never a secret). */
  readonly reason?: string;
  /** Records inserted, changed or deleted. */
  readonly changed: number;
  /** Adds that RFC 2136 §3.4.2.2 says to ignore (a CNAME beside other data, or data beside a CNAME). */
  readonly ignored: number;
  /** The zone's serial after the update (moved only when something changed). */
  readonly serial?: number;
}

type Db = Kysely<Database>;

class Rejected extends Error {
  constructor(
    readonly result: Exclude<UpdateResult, 'ok'>,
    reason: string,
  ) {
    super(reason);
  }
}

interface ZoneSoa {
  id: number;
  name: string;
  mname: string;
  rname: string;
  serial: string | number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

function soaText(z: ZoneSoa): string {
  return `${z.mname} ${z.rname} ${Number(z.serial)} ${z.refresh} ${z.retry} ${z.expire} ${z.minimum}`;
}

/** Refuses what no rule can allow (SOA, the apex NS set) and what the key's rules do not cover. */
function checkRules(ops: readonly UpdateOperation[], rules: readonly UpdateRule[], key: string, apex: string): void {
  for (const op of ops) {
    if (op.kind === 'delete-name') continue;
    if (op.type === 'SOA') throw new Rejected('refused', `${op.name} SOA: the zone's SOA is not changed by updates (its serial moves by itself)`);
    if (op.type === 'NS' && op.name === apex) throw new Rejected('refused', `${apex} NS: the apex NS set is not changed by updates`);
    if (!permits(rules, op.name, op.type)) throw new Rejected('refused', `key ${key} may not update ${op.name} ${op.type}`);
  }
}

interface RecordRow {
  id: string | number;
  name: string;
  type: string;
  ttl: number | null;
  content: string;
}

/** Types and contents present at each name, read once before any change. */
function byName(rows: readonly RecordRow[]): Map<string, Map<string, Set<string>>> {
  const names = new Map<string, Map<string, Set<string>>>();
  for (const r of rows) {
    const types = names.get(r.name) ?? new Map<string, Set<string>>();
    names.set(r.name, types);
    types.set(r.type, (types.get(r.type) ?? new Set()).add(r.content));
  }
  return names;
}

/** RFC 2136 §3.2: the first prerequisite that fails, as its rcode; the SOA lives in the zone row, not in records. */
function checkPrerequisites(prereqs: readonly Prerequisite[], held: Map<string, Map<string, Set<string>>>, z: ZoneSoa): void {
  const rrset = (name: string, type: string): Set<string> | undefined =>
    type === 'SOA' ? (name === z.name ? new Set([soaText(z)]) : undefined) : held.get(name)?.get(type);
  for (const p of prereqs) {
    const inUse = p.name === z.name || (held.get(p.name)?.size ?? 0) > 0;
    switch (p.kind) {
      case 'name-in-use':
        if (!inUse) throw new Rejected('nxdomain', `prerequisite: ${p.name} is not in use`);
        break;
      case 'name-not-in-use':
        if (inUse) throw new Rejected('yxdomain', `prerequisite: ${p.name} is in use`);
        break;
      case 'rrset-exists':
        if (rrset(p.name, p.type) === undefined) throw new Rejected('nxrrset', `prerequisite: ${p.name} has no ${p.type} records`);
        break;
      case 'rrset-not-exists':
        if (rrset(p.name, p.type) !== undefined) throw new Rejected('yxrrset', `prerequisite: ${p.name} has ${p.type} records`);
        break;
      case 'rrset-equals': {
        const have = rrset(p.name, p.type) ?? new Set<string>();
        const want = new Set(p.contents);
        if (have.size !== want.size || [...want].some((c) => !have.has(c))) {
          throw new Rejected('nxrrset', `prerequisite: the ${p.name} ${p.type} records differ from the ones given`);
        }
        break;
      }
    }
  }
}

const affected = (r: { numAffectedRows?: bigint }): number => Number(r.numAffectedRows ?? 0n);

/** One add (RFC 2136 §3.4.2.2); returns [changed, ignored]. */
async function add(trx: Transaction<Database>, zoneId: number, op: Extract<UpdateOperation, { kind: 'add' }>): Promise<[number, number]> {
  const here = (await sql<RecordRow>`select id, name, type, ttl, content from records where zone_id = ${zoneId} and name = ${op.name}`.execute(trx)).rows;
  const cname = here.find((r) => r.type === 'CNAME');
  if (op.type === 'CNAME') {
    if (here.some((r) => r.type !== 'CNAME')) return [0, 1];
    if (cname) {
      if (cname.content === op.content && cname.ttl === op.ttl) return [0, 0];
      await sql`update records set content = ${op.content}, ttl = ${op.ttl} where id = ${cname.id}`.execute(trx);
      return [1, 0];
    }
  } else if (cname) {
    return [0, 1];
  }
  const same = here.filter((r) => r.type === op.type);
  let changed = 0;
  if (!same.some((r) => r.content === op.content)) {
    await sql`insert into records (zone_id, name, type, ttl, content) values (${zoneId}, ${op.name}, ${op.type}, ${op.ttl}, ${op.content})`.execute(trx);
    changed++;
  }
  // RFC 2181 §5.2: the records of an RRset share one TTL; the one just given wins, as in BIND.
  const retimed = same.filter((r) => r.ttl !== op.ttl).map((r) => Number(r.id));
  if (retimed.length > 0) changed += affected(await sql`update records set ttl = ${op.ttl} where id = any(${retimed}::bigint[])`.execute(trx));
  return [changed, 0];
}

/**
 * Applies an update (RFC 2136 §3) in one transaction: the key's rules for the zone must cover every change, no name
 * may be a pool, the prerequisites must hold, then the changes go in order with `lbdns.actor` set to `tsig:<key>` for
 * the audit log. Anything but ok rolls back (nothing was written). Database refusals (a record a trigger rejects)
 * throw, and roll back too.
 */
export async function applyUpdate(db: Db, req: UpdateRequest): Promise<UpdateOutcome> {
  try {
    return await db.transaction().execute(async (trx) => {
      // The zone row lock every record writer of the zone takes (records_before, the serial bump): prerequisites and
      // changes see no other writer's changes in between.
      const z = (await sql<ZoneSoa>`
        select id, name, mname, rname, serial, refresh, retry, expire, minimum from zones where name = ${req.zone} for no key update`.execute(trx)).rows[0];
      if (z === undefined) throw new Rejected('notauth', `zone ${req.zone} is not a zone of ours`);
      const rules = (await sql<{ pattern: string; types: string[] }>`
        select name as pattern, types from update_policies where key_name = ${req.key} and zone_id = ${z.id}`.execute(trx)).rows.map((r) => ({ key: req.key, zone: z.name, pattern: r.pattern, types: r.types }));
      if (rules.length === 0) throw new Rejected('refused', `key ${req.key} has no update rules for zone ${z.name}`);
      checkRules(req.operations, rules, req.key, z.name);
      const names = [...new Set([...req.prerequisites.map((p) => p.name), ...req.operations.map((o) => o.name)])];
      const pool = (await sql<{ name: string }>`select name from pools where zone_id = ${z.id} and name = any(${names}::text[]) order by name limit 1`.execute(trx)).rows[0];
      if (pool) throw new Rejected('refused', `${pool.name} is a pool: its addresses follow health checks, and updates do not touch it`);
      const held = byName((await sql<RecordRow>`
        select id, name, type, ttl, content from records where zone_id = ${z.id} and name = any(${names}::text[])`.execute(trx)).rows);
      checkPrerequisites(req.prerequisites, held, z);
      // Deleting a name deletes every type there: the rules must cover each one it holds now (the apex NS set stays).
      for (const op of req.operations) {
        if (op.kind !== 'delete-name') continue;
        for (const type of held.get(op.name)?.keys() ?? []) {
          if (op.name === z.name && type === 'NS') continue;
          if (!permits(rules, op.name, type)) throw new Rejected('refused', `key ${req.key} may not update ${op.name} ${type} (deleting the name would)`);
        }
      }
      await sql`select set_config('lbdns.actor', ${`tsig:${req.key}`}, true)`.execute(trx);
      let changed = 0;
      let ignored = 0;
      for (const op of req.operations) {
        switch (op.kind) {
          case 'add': {
            const [c, i] = await add(trx, z.id, op);
            changed += c;
            ignored += i;
            break;
          }
          case 'delete-rrset':
            changed += affected(await sql`delete from records where zone_id = ${z.id} and name = ${op.name} and type = ${op.type}`.execute(trx));
            break;
          case 'delete-name':
            // RFC 2136 §3.4.2.3: at the apex, SOA and NS stay.
            changed += affected(await sql`
              delete from records where zone_id = ${z.id} and name = ${op.name} and not (name = ${z.name} and type = 'NS')`.execute(trx));
            break;
          case 'delete-rr':
            changed += affected(await sql`
              delete from records where zone_id = ${z.id} and name = ${op.name} and type = ${op.type} and content = ${op.content}`.execute(trx));
            break;
        }
      }
      const serial = (await sql<{ serial: string | number }>`select serial from zones where id = ${z.id}`.execute(trx)).rows[0].serial;
      return { result: 'ok' as const, changed, ignored, serial: Number(serial) };
    });
  } catch (err) {
    if (err instanceof Rejected) return { result: err.result, reason: err.message, changed: 0, ignored: 0 };
    throw err;
  }
}

interface RuleRow {
  key_name: string;
  zone: string;
  pattern: string;
  types: string[];
}

const toRule = (r: RuleRow): UpdateRule => Object.freeze({ key: r.key_name, zone: r.zone, pattern: r.pattern, types: Object.freeze([...r.types]) });

/** Every rule, or one key's, by key, zone and pattern. */
export async function listUpdateRules(db: Db, key?: string): Promise<readonly UpdateRule[]> {
  const rows = await sql<RuleRow>`
    select p.key_name, z.name as zone, p.name as pattern, p.types from update_policies p join zones z on z.id = p.zone_id
     where ${key === undefined ? sql`true` : sql`p.key_name = ${key}`} order by p.key_name, z.name, p.name`.execute(db);
  return rows.rows.map(toRule);
}

/** Sets the types `rule.key` may change at `rule.pattern` in `rule.zone` (replacing the rule's earlier types). */
export async function allowUpdate(db: Db, rule: UpdateRule): Promise<UpdateRule> {
  return db.transaction().execute(async (trx) => {
    const z = (await sql<{ id: number }>`select id from zones where name = ${rule.zone}`.execute(trx)).rows[0];
    if (z === undefined) throw new LbdnsError('E_NOT_FOUND', `no zone "${rule.zone}"`);
    const k = (await sql`select 1 from tsig_keys where name = ${rule.key}`.execute(trx)).rows[0];
    if (k === undefined) throw new LbdnsError('E_NOT_FOUND', `no tsig key "${rule.key}"`);
    await sql`
      insert into update_policies (key_name, zone_id, name, types) values (${rule.key}, ${z.id}, ${rule.pattern}, ${[...rule.types]}::text[])
      on conflict (key_name, zone_id, name) do update set types = excluded.types`.execute(trx);
    return Object.freeze({ ...rule, types: Object.freeze([...rule.types]) });
  });
}

/** Removes the key's rules (of one zone, of one pattern there); throws E_NOT_FOUND when none matched. */
export async function denyUpdate(db: Db, key: string, filter: { readonly zone?: string; readonly pattern?: string }): Promise<readonly UpdateRule[]> {
  const rows = await sql<RuleRow>`
    delete from update_policies p using zones z
     where z.id = p.zone_id and p.key_name = ${key}
       and ${filter.zone === undefined ? sql`true` : sql`z.name = ${filter.zone}`}
       and ${filter.pattern === undefined ? sql`true` : sql`p.name = ${filter.pattern}`}
    returning p.key_name, z.name as zone, p.name as pattern, p.types`.execute(db);
  if (rows.rows.length === 0) {
    const where = `${filter.zone === undefined ? '' : ` in zone ${filter.zone}`}${filter.pattern === undefined ? '' : ` for ${filter.pattern}`}`;
    throw new LbdnsError('E_NOT_FOUND', `no update rule of key ${key}${where}`);
  }
  return rows.rows.map(toRule).sort((a, b) => (a.zone + a.pattern).localeCompare(b.zone + b.pattern));
}
