// SQL for pools, members, geo networks and member health; SqlStore wraps each call in its error mapping.
import { sql, type Kysely, type Selectable } from 'kysely';
import { OVERRIDE_STATES, type MemberOverride } from '../core/override.js';
import { LbdnsError } from '../errors.js';
import { parseDomainName } from '../records/domain-name.js';
import { addressFromDb, networkFromDb, parseHostAddress, parseNetwork } from './inet.js';
import { POOL_SETTING_FIELDS } from '../schema/pool-schema.js';
import { columnName } from './column-name.js';
import { geoColumns, healthRows, memberColumns, poolColumns } from './pool-input.js';
import type { GeoNetworkRow, PoolMemberRow, PoolRow } from './rows.js';
import type { Database, PoolsTable } from './schema.js';
import type {
  GeoNetworkSummary,
  HealthReport,
  MemberSettings,
  NewGeoNetwork,
  NewMember,
  NewPool,
  NodeHealth,
  PoolMemberStatus,
  PoolSettings,
  PoolSummary,
} from './store.js';

type Db = Kysely<Database>;

/** The pools columns a row is read from: its identity and one column per schema field (PoolsTable is derived the same way). */
export const POOL_COLUMNS = ['id', 'zone_id', 'name', ...POOL_SETTING_FIELDS.map(columnName)] satisfies readonly (keyof PoolsTable)[];

type PoolSelect = Pick<Selectable<PoolsTable>, (typeof POOL_COLUMNS)[number]>;

/** The row mapping from SQL: each schema field from its column. The CHECKs hold the values to the schema's rules. */
export const toPool = (p: PoolSelect): PoolRow =>
  Object.freeze({ id: p.id, zoneId: p.zone_id, name: p.name, ...Object.fromEntries(POOL_SETTING_FIELDS.map((f) => [f, p[columnName(f)]])) }) as PoolRow;

interface MemberSelect {
  readonly id: number;
  readonly pool_id: number;
  readonly address: string;
  readonly probe_address: string | null;
  readonly weight: number;
  readonly priority: number;
  readonly enabled: boolean;
  readonly country: string | null;
  readonly continent: string | null;
  readonly region: string | null;
  readonly latitude: number | null;
  readonly longitude: number | null;
  readonly override: string | null;
  readonly override_reason: string | null;
  readonly override_by: string | null;
  readonly override_at_ms: number | null;
  readonly override_until_ms: number | null;
}

/** inet columns as host() text, so that a v4 address reads "192.0.2.1" and never "192.0.2.1/32". */
export function selectMembers(db: Db) {
  return db
    .selectFrom('pool_members as m')
    .select(['m.id', 'm.pool_id', 'm.weight', 'm.priority', 'm.enabled', 'm.country', 'm.continent', 'm.region', 'm.latitude', 'm.longitude'])
    .select([sql<string>`host(m.address)`.as('address'), sql<string | null>`host(m.probe_address)`.as('probe_address')])
    .select(['m.override', 'm.override_reason', 'm.override_by'])
    // Times as epoch milliseconds: the snapshot (and its file) keeps plain numbers.
    .select([
      sql<number | null>`(extract(epoch from m.override_at) * 1000)::float8`.as('override_at_ms'),
      sql<number | null>`(extract(epoch from m.override_until) * 1000)::float8`.as('override_until_ms'),
    ]);
}

/** The override columns as one value; null when none is set (or a row the trigger never saw lacks a part). */
function overrideFromRow(m: MemberSelect): MemberOverride | null {
  const state = OVERRIDE_STATES.find((s) => s === m.override);
  if (state === undefined || m.override_reason === null || m.override_by === null || m.override_at_ms === null) return null;
  return Object.freeze({ state, reason: m.override_reason, by: m.override_by, at: Number(m.override_at_ms), until: m.override_until_ms === null ? null : Number(m.override_until_ms) });
}

export const toMember = (m: MemberSelect): PoolMemberRow =>
  Object.freeze({
    id: m.id,
    poolId: m.pool_id,
    address: addressFromDb(m.address),
    probeAddress: m.probe_address === null ? null : addressFromDb(m.probe_address),
    weight: m.weight,
    priority: m.priority,
    enabled: m.enabled,
    country: m.country,
    continent: m.continent,
    region: m.region,
    latitude: m.latitude,
    longitude: m.longitude,
    override: overrideFromRow(m),
  });

export function selectGeoNetworks(db: Db) {
  return db
    .selectFrom('geo_networks')
    .select(['id', 'country', 'continent', 'region', 'latitude', 'longitude', 'note'])
    .select(sql<string>`network::text`.as('network'))
    .orderBy('network');
}

export const toGeoNetwork = (g: Omit<GeoNetworkSummary, 'network'> & { readonly network: string }): GeoNetworkSummary =>
  Object.freeze({
    id: g.id,
    network: networkFromDb(g.network),
    country: g.country,
    continent: g.continent,
    region: g.region,
    latitude: g.latitude,
    longitude: g.longitude,
    note: g.note,
  });

/** The snapshot's view of a geo network (without the operator's note). */
export const toGeoNetworkRow = ({ note: _note, ...row }: GeoNetworkSummary): GeoNetworkRow => Object.freeze(row);

export const poolName = (text: string): string => parseDomainName(text, {}, 'pool name');

/** The name and every parent of it, longest first: the zones that could hold it. */
function suffixes(name: string): string[] {
  const labels = name.split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

function summaries(db: Db) {
  return db
    .selectFrom('pools as p')
    .innerJoin('zones as z', 'z.id', 'p.zone_id')
    .leftJoin('pool_members as m', 'm.pool_id', 'p.id')
    .select(POOL_COLUMNS.map((c) => `p.${c}` as const))
    .select('z.name as zone')
    .select((eb) => eb.fn.count<string | number>('m.id').as('members'))
    .groupBy(['p.id', 'z.name'])
    .orderBy('p.name');
}

const toSummary = (r: PoolSelect & { zone: string; members: string | number }): PoolSummary =>
  Object.freeze({ ...toPool(r), zone: r.zone, members: Number(r.members) });

export async function listPools(db: Db, filter: { readonly zone?: string }): Promise<PoolSummary[]> {
  let q = summaries(db);
  if (filter.zone !== undefined) {
    const zone = parseDomainName(filter.zone, {}, 'zone name');
    const z = await db.selectFrom('zones').select('id').where('name', '=', zone).executeTakeFirst();
    if (z === undefined) throw new LbdnsError('E_NOT_FOUND', `no zone "${zone}"`);
    q = q.where('p.zone_id', '=', z.id);
  }
  return (await q.execute()).map(toSummary);
}

export async function getPool(db: Db, name: string): Promise<PoolSummary | undefined> {
  const row = await summaries(db).where('p.name', '=', name).executeTakeFirst();
  return row === undefined ? undefined : toSummary(row);
}

async function poolId(db: Db, name: string): Promise<number> {
  const p = await db.selectFrom('pools').select('id').where('name', '=', name).executeTakeFirst();
  if (p === undefined) throw new LbdnsError('E_NOT_FOUND', `no pool "${name}"`);
  return p.id;
}

/** Validates before any SQL; the insert and its read-back share one transaction. */
export function addPool(db: Db, pool: NewPool): Promise<PoolSummary> {
  const { name: text, ...settings } = pool;
  const name = poolName(text);
  const columns = poolColumns(settings);
  return db.transaction().execute(async (trx) => {
    const z = await trx
      .selectFrom('zones')
      .select('id')
      .where('name', 'in', suffixes(name))
      .orderBy(sql`length(name)`, 'desc')
      .limit(1)
      .executeTakeFirst();
    if (z === undefined) throw new LbdnsError('E_NOT_FOUND', `pool ${name} is not inside any zone`);
    await trx.insertInto('pools').values({ ...columns, zone_id: z.id, name }).execute();
    return (await getPool(trx, name)) as PoolSummary;
  });
}

export function setPool(db: Db, text: string, changes: PoolSettings): Promise<PoolSummary> {
  const name = poolName(text);
  const columns = poolColumns(changes);
  if (Object.keys(columns).length === 0) throw new LbdnsError('E_INPUT', `pool ${name}: nothing to change`);
  return db.transaction().execute(async (trx) => {
    const r = await trx.updateTable('pools').set(columns).where('name', '=', name).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new LbdnsError('E_NOT_FOUND', `no pool "${name}"`);
    return (await getPool(trx, name)) as PoolSummary;
  });
}

export function removePool(db: Db, text: string): Promise<{ readonly members: number }> {
  const name = poolName(text);
  return db.transaction().execute(async (trx) => {
    const id = await poolId(trx, name);
    const n = await trx.selectFrom('pool_members').select((eb) => eb.fn.countAll<string | number>().as('n')).where('pool_id', '=', id).executeTakeFirstOrThrow();
    await trx.deleteFrom('pools').where('id', '=', id).execute();
    return { members: Number(n.n) };
  });
}

export async function listMembers(db: Db, pool: string): Promise<PoolMemberRow[]> {
  const id = await poolId(db, poolName(pool));
  const rows = await selectMembers(db).where('m.pool_id', '=', id).orderBy('m.address').execute();
  return rows.map(toMember);
}

async function memberRow(db: Db, poolIdValue: number, address: string): Promise<PoolMemberRow | undefined> {
  const row = await selectMembers(db).where('m.pool_id', '=', poolIdValue).where(sql`m.address`, '=', sql`${address}::inet`).executeTakeFirst();
  return row === undefined ? undefined : toMember(row);
}

export function addMember(db: Db, pool: string, member: NewMember): Promise<PoolMemberRow> {
  const { address: text, ...settings } = member;
  const name = poolName(pool);
  const address = parseHostAddress(String(text), 'member address');
  const columns = memberColumns(settings, true);
  return db.transaction().execute(async (trx) => {
    const id = await poolId(trx, name);
    await trx.insertInto('pool_members').values({ ...columns, pool_id: id, address }).execute();
    return (await memberRow(trx, id, address)) as PoolMemberRow;
  });
}

export function setMember(db: Db, pool: string, addressText: string, changes: MemberSettings): Promise<PoolMemberRow> {
  const name = poolName(pool);
  const address = parseHostAddress(addressText, 'member address');
  const columns = memberColumns(changes, false);
  if (Object.keys(columns).length === 0) throw new LbdnsError('E_INPUT', `member ${address} of pool ${name}: nothing to change`);
  return db.transaction().execute(async (trx) => {
    const id = await poolId(trx, name);
    const r = await trx
      .updateTable('pool_members')
      .set(columns)
      .where('pool_id', '=', id)
      .where(sql`address`, '=', sql`${address}::inet`)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new LbdnsError('E_NOT_FOUND', `no member ${address} in pool ${name}`);
    return (await memberRow(trx, id, address)) as PoolMemberRow;
  });
}

export function removeMember(db: Db, pool: string, addressText: string): Promise<void> {
  const name = poolName(pool);
  const address = parseHostAddress(addressText, 'member address');
  return db.transaction().execute(async (trx) => {
    const id = await poolId(trx, name);
    const r = await trx.deleteFrom('pool_members').where('pool_id', '=', id).where(sql`address`, '=', sql`${address}::inet`).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new LbdnsError('E_NOT_FOUND', `no member ${address} in pool ${name}`);
  });
}

export async function listGeoNetworks(db: Db): Promise<GeoNetworkSummary[]> {
  return (await selectGeoNetworks(db).execute()).map(toGeoNetwork);
}

export function addGeoNetwork(db: Db, input: NewGeoNetwork): Promise<GeoNetworkSummary> {
  const { network, columns } = geoColumns(input);
  return db.transaction().execute(async (trx) => {
    await trx.insertInto('geo_networks').values({ ...columns, network }).execute();
    const row = await selectGeoNetworks(trx).where(sql`network`, '=', sql`${network}::cidr`).executeTakeFirstOrThrow();
    return toGeoNetwork(row);
  });
}

export async function removeGeoNetwork(db: Db, text: string): Promise<void> {
  const network = parseNetwork(text);
  const r = await db.deleteFrom('geo_networks').where(sql`network`, '=', sql`${network}::cidr`).executeTakeFirst();
  if (Number(r.numDeletedRows) === 0) throw new LbdnsError('E_NOT_FOUND', `no geo network ${network}`);
}

/**
 * One statement for the whole batch: a JSON array unpacked by jsonb_to_recordset, which pg passes as
 * one text parameter. Members deleted since the node probed them are skipped. Every row
 * written gets heartbeat_at = now(): the database's clock says how fresh it is (migrations/0004).
 */
export async function reportHealth(db: Db, node: string, reports: readonly HealthReport[]): Promise<{ readonly written: number }> {
  const rows = healthRows(node, reports);
  if (rows.length === 0) return { written: 0 };
  const r = await sql`
    insert into member_health (member_id, node, up, since, last_check, latency_ms, last_error, transitions, heartbeat_at, heartbeat_interval)
    select r.member_id, ${node}::text, r.up, r.since, r.last_check, r.latency_ms, r.last_error, r.transitions, now(), r.heartbeat_interval
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(member_id integer, up boolean, since timestamptz,
           last_check timestamptz, latency_ms double precision, last_error text, transitions integer,
           heartbeat_interval double precision)
     where exists (select 1 from pool_members m where m.id = r.member_id)
    on conflict (member_id, node) do update set
      up = excluded.up, since = excluded.since, last_check = excluded.last_check,
      latency_ms = excluded.latency_ms, last_error = excluded.last_error, transitions = excluded.transitions,
      heartbeat_at = excluded.heartbeat_at, heartbeat_interval = excluded.heartbeat_interval`.execute(db);
  return { written: Number(r.numAffectedRows ?? 0) };
}

const millis = (t: Date | string | null): number | null => (t === null ? null : new Date(t).getTime());

export async function healthStatus(db: Db, filter: { readonly pool?: string }): Promise<PoolMemberStatus[]> {
  let q = selectMembers(db).innerJoin('pools as p', 'p.id', 'm.pool_id').select(['p.name as pool', 'p.quorum', 'p.probers']);
  if (filter.pool !== undefined) {
    const name = poolName(filter.pool);
    await poolId(db, name);
    q = q.where('p.name', '=', name);
  }
  const members = await q.orderBy('p.name').orderBy('m.address').execute();
  let h = db
    .selectFrom('member_health as h')
    .innerJoin('pool_members as hm', 'hm.id', 'h.member_id')
    .innerJoin('pools as hp', 'hp.id', 'hm.pool_id')
    .select(['h.member_id', 'h.node', 'h.up', 'h.since', 'h.last_check', 'h.latency_ms', 'h.last_error', 'h.transitions', 'h.heartbeat_at', 'h.heartbeat_interval'])
    .select(sql<number>`extract(epoch from now() - h.heartbeat_at)::float8`.as('heartbeat_age'))
    // As readVotes (vantage-queries.ts) has it: whole seconds the probe time lies past the database's clock.
    .select(sql<number>`greatest(0, coalesce(floor(extract(epoch from h.last_check - h.heartbeat_at)), 0))::integer`.as('ahead'))
    .orderBy('h.node');
  if (filter.pool !== undefined) h = h.where('hp.name', '=', poolName(filter.pool));
  const health = await h.execute();
  const byMember = new Map<number, NodeHealth[]>();
  const aheadByMember = new Map<number, Record<string, number>>();
  for (const h of health) {
    let list = byMember.get(h.member_id);
    if (!list) byMember.set(h.member_id, (list = []));
    const ahead = Number(h.ahead);
    if (ahead > 0) {
      let a = aheadByMember.get(h.member_id);
      if (!a) aheadByMember.set(h.member_id, (a = {}));
      a[h.node] = ahead;
    }
    list.push(
      Object.freeze({
        node: h.node,
        up: h.up,
        since: millis(h.since) as number,
        lastCheck: millis(h.last_check),
        latencyMs: h.latency_ms,
        lastError: h.last_error,
        transitions: h.transitions,
        heartbeatAt: millis(h.heartbeat_at) as number,
        heartbeatAge: Math.max(0, Number(h.heartbeat_age)),
        heartbeatSeconds: h.heartbeat_interval,
      }),
    );
  }
  return members.map((m) =>
    Object.freeze({
      pool: m.pool,
      quorum: m.quorum,
      probers: m.probers,
      member: toMember(m),
      nodes: Object.freeze(byMember.get(m.id) ?? []),
      aheadSeconds: Object.freeze(aheadByMember.get(m.id) ?? {}),
    }),
  );
}
