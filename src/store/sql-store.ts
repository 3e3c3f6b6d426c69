// The Store over kysely: the queries for PostgreSQL (external or embedded), errors mapped to one-line LbdnsErrors.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Logger } from 'pino';
import { LbdnsError } from '../errors.js';
import { canonicalRecordType, parseContent } from '../records/content.js';
import { parseDomainName } from '../records/domain-name.js';
import { parseZoneFile, type ParsedZone } from '../zonefile/parse.js';
import { watchChanges, type Change, type FeedSource, type FeedStatus, type WatchOptions } from './change-feed.js';
import { parseHostAddress, parseNetwork } from './inet.js';
import { migrate } from './migrate.js';
import * as windows from './maintenance-queries.js';
import type { MaintenanceWindowRow, NewMaintenanceWindow } from './maintenance-queries.js';
import * as overrides from './override-queries.js';
import type { Actor, OverrideChange } from './override-queries.js';
import * as tokens from './token-queries.js';
import * as pools from './pool-queries.js';
import * as transfers from './transfer-queries.js';
import * as dnssec from './dnssec-queries.js';
import * as audit from './audit-queries.js';
import * as updates from './update-queries.js';
import { parsePattern } from './update-pattern.js';
import type { DnssecAlgorithm } from '../dnssec/keys.js';
import * as vantage from './vantage-queries.js';
import type { VantageKind, VantageRow, VoteRow } from './vantage-queries.js';
import { CONTENTS_TABLES, type ContentsPart, type ContentsTable, type PoolMemberRow, type RecordRow, type StoreContents, type ZoneRow } from './rows.js';
import type { Database, ZonesTable } from './schema.js';
import type {
  GeoNetworkSummary,
  HealthReport,
  ImportResult,
  MemberSettings,
  NewGeoNetwork,
  NewMember,
  NewPool,
  NewRecord,
  NewZone,
  PoolMemberStatus,
  PoolSettings,
  PoolSummary,
  RecordSelector,
  Store,
  ZoneSummary,
} from './store.js';
import { toStoreError, type ErrorContext } from './store-error.js';

// pg_advisory_xact_lock key for seeding ("lbdnt"): two nodes starting on an empty store seed it once.
const SEED_LOCK = 465625215604n;
const MAX_TTL = 2147483647;
const MAX_SERIAL = 4294967295;
// Rows per INSERT when importing: 5 parameters each, far below PostgreSQL's 65535.
const INSERT_CHUNK = 1000;

const ZONE_COLUMNS = ['id', 'name', 'mname', 'rname', 'serial', 'refresh', 'retry', 'expire', 'minimum', 'ttl'] as const;
const RECORD_COLUMNS = ['id', 'zone_id', 'name', 'type', 'ttl', 'content'] as const;

type ZoneSelect = Pick<Selectable<ZonesTable>, (typeof ZONE_COLUMNS)[number]>;
type RecordSelect = Pick<Selectable<Database['records']>, (typeof RECORD_COLUMNS)[number]>;

const toZone = (z: ZoneSelect): ZoneRow =>
  Object.freeze({
    id: z.id,
    name: z.name,
    mname: z.mname,
    rname: z.rname,
    serial: Number(z.serial),
    refresh: z.refresh,
    retry: z.retry,
    expire: z.expire,
    minimum: z.minimum,
    ttl: z.ttl,
  });

const toRecord = (r: RecordSelect): RecordRow =>
  Object.freeze({ id: Number(r.id), zoneId: r.zone_id, name: r.name, type: r.type, ttl: r.ttl, content: r.content });

/**
 * Every row the snapshot is built from, read in one repeatable-read transaction; undefined when the store's version
 * is still `unlessVersion` (nothing more is read then). The server's build thread reads through this too, on a
 * connection of its own (snapshot/build-worker.ts), so that the rows never pass through the answering thread.
 */
export async function readContents(db: Kysely<Database>, unlessVersion?: number, unlessStamp?: string): Promise<StoreContents | undefined> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const v = await trx.selectFrom('config_version').select(['version', sql<string>`xmin::text`.as('stamp')]).executeTakeFirstOrThrow();
      if (unlessVersion !== undefined && Number(v.version) === unlessVersion && (unlessStamp === undefined || unlessStamp === v.stamp)) return undefined;
      return Object.freeze({ version: Number(v.version), stamp: v.stamp, ...(await readTables(trx, ALL_TABLES)) }) as StoreContents;
    });
}

const ALL_TABLES: ReadonlySet<ContentsTable> = new Set(CONTENTS_TABLES);

/** The named tables of StoreContents as it holds them (frozen, windows attached), read in `trx`. */
async function readTables(trx: Transaction<Database>, tables: ReadonlySet<ContentsTable>): Promise<{ -readonly [K in ContentsTable]?: StoreContents[K] }> {
  const part: { -readonly [K in ContentsTable]?: StoreContents[K] } = {};
  if (tables.has('zones')) part.zones = Object.freeze((await trx.selectFrom('zones').select(ZONE_COLUMNS).orderBy('name').execute()).map(toZone));
  if (tables.has('records')) part.records = Object.freeze((await trx.selectFrom('records').select(RECORD_COLUMNS).orderBy('id').execute()).map(toRecord));
  if (tables.has('pools')) part.pools = Object.freeze((await trx.selectFrom('pools').select(pools.POOL_COLUMNS).orderBy('id').execute()).map(pools.toPool));
  if (tables.has('members')) part.members = Object.freeze(await windows.attachWindows(trx, (await pools.selectMembers(trx).orderBy('m.id').execute()).map(pools.toMember)));
  if (tables.has('geoNetworks')) part.geoNetworks = Object.freeze((await pools.selectGeoNetworks(trx).execute()).map((g) => pools.toGeoNetworkRow(pools.toGeoNetwork(g))));
  if (tables.has('dnssecKeys')) part.dnssecKeys = await dnssec.selectKeyRows(trx);
  return part;
}

/**
 * Only the named tables of StoreContents, read again in one repeatable-read transaction with the version they are at:
 * for a change the feed named by table (an SOA edit of every zone reads 100 zone rows, not 100,000 records). The
 * caller keeps the other tables as it last read them; no version check, since the version may have moved for them.
 */
export async function readContentsPart(db: Kysely<Database>, tables: ReadonlySet<ContentsTable>): Promise<ContentsPart> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const v = await trx.selectFrom('config_version').select(['version', sql<string>`xmin::text`.as('stamp')]).executeTakeFirstOrThrow();
      return Object.freeze({ version: Number(v.version), stamp: v.stamp, ...(await readTables(trx, tables)) });
    });
}

/** The rows of zones, records, pools, members and keys as StoreContents has them (frozen, windows attached). */
async function shapeContents(
  trx: Transaction<Database>,
  version: number | string | bigint,
  zones: readonly ZoneSelect[],
  records: readonly RecordSelect[],
  poolRows: readonly Parameters<typeof pools.toPool>[0][],
  members: readonly Parameters<typeof pools.toMember>[0][],
  keys: StoreContents['dnssecKeys'],
): Promise<StoreContents> {
  return {
    version: Number(version),
    zones: Object.freeze(zones.map(toZone)),
    records: Object.freeze(records.map(toRecord)),
    pools: Object.freeze(poolRows.map(pools.toPool)),
    members: Object.freeze(await windows.attachWindows(trx, members.map(pools.toMember))),
    dnssecKeys: keys,
  };
}

const zoneName = (text: string): string => parseDomainName(text, {}, 'zone name');
const ownerName = (text: string): string => parseDomainName(text, { wildcard: true }, 'record name');

/** The stored spelling (RFC 3597: TYPE1 is A, unknown types TYPEnnn); throws the one-line "not supported" error. */
const recordType = (text: string): string => canonicalRecordType(text);

function checkTtl(ttl: number | undefined | null, what: string): void {
  if (ttl !== undefined && ttl !== null && !(Number.isInteger(ttl) && ttl >= 0 && ttl <= MAX_TTL)) {
    throw new LbdnsError('E_INPUT', `${what} ${ttl} is not a whole number from 0 to ${MAX_TTL}`);
  }
}

/** A type an update rule may allow: a stored type spelling, or ANY; never SOA (the zone's own row). */
function updateType(text: string): string {
  const upper = text.trim().toUpperCase();
  if (upper === 'ANY') return upper;
  if (upper === 'SOA') throw new LbdnsError('E_INPUT', 'type SOA cannot be allowed: updates never change the zone\'s SOA (its serial moves by itself)');
  return canonicalRecordType(upper);
}

/** RFC 1982 section 3.2: is serial `a` greater than `b`? */
function serialGreater(a: number, b: number): boolean {
  return (a < b && b - a > 2 ** 31) || (a > b && a - b < 2 ** 31);
}
const nextSerial = (s: number): number => (s >= MAX_SERIAL ? 1 : s + 1);

/** The name and every parent of it, longest first: the zones that could hold it. */
function suffixes(name: string): string[] {
  const labels = name.split('.');
  return labels.map((_, i) => labels.slice(i).join('.'));
}

export interface SqlStoreOptions {
  readonly location: string;
  /** The connection string (with its password): for the build thread's own connection. */
  readonly url?: string;
  readonly logger?: Logger;
  readonly feed: Omit<FeedSource, 'version' | 'logger'>;
  /** Runs after the kysely instance is destroyed (e.g. stops the embedded server). */
  readonly onClose?: () => Promise<void>;
  /**
   * A connection of its own for config_version reads: the feed's deadline on them then measures the path to
   * PostgreSQL, not a queue behind the writers (at 80,000 members the first round's health rows and pool
   * serials can hold every pooled connection for seconds, which read as "store unreachable").
   */
  readonly versionDb?: Kysely<Database>;
}

export class SqlStore implements Store {
  readonly location: string;
  private readonly watchers = new Set<() => Promise<void>>();
  private closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: SqlStoreOptions,
  ) {
    this.location = opts.location;
  }

  /**
   * Runs `f` on one connection whose lbdns.actor is the actor's name, reset afterwards: every statement and
   * transaction of `f` records who wrote (override_by, created_by, the audit log's triggers). The setting is the
   * session's rather than each transaction's because the query functions open their own transactions; a connection
   * whose reset failed is a broken one, which the pool discards. Without an actor, `f` runs on the pool as usual.
   */
  private as<T>(actor: Actor | undefined, f: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const user = overrides.actorName(actor);
    if (user === undefined) return f(this.db);
    return this.db.connection().execute(async (conn) => {
      await sql`select set_config('lbdns.actor', ${user}, false)`.execute(conn);
      try {
        return await f(conn);
      } finally {
        // Back to the connection's own value: the CLI's user from its startup options, or none.
        await sql`reset lbdns.actor`.execute(conn);
      }
    });
  }

  /** Runs `f`, turning any failure into a one-line LbdnsError. */
  private async run<T>(f: () => Promise<T>, ctx: Partial<ErrorContext> = {}): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw toStoreError(err, { location: this.location, ...ctx });
    }
  }

  transferSettings(zone?: string | readonly string[], opts: { readonly poolSet?: boolean } = {}): Promise<readonly transfers.ZoneTransferSettings[]> {
    const names = zone === undefined ? undefined : typeof zone === 'string' ? zoneName(zone) : zone.map(zoneName);
    return this.run(() => transfers.transferSettings(this.db, names, opts.poolSet !== false));
  }

  setTransferSettings(zone: string, change: transfers.TransferSettingsChange): Promise<transfers.ZoneTransferSettings> {
    const n = zoneName(zone);
    const keys = change.keys?.map((k) => parseDomainName(k, {}, 'tsig key name'));
    return this.run(() => transfers.setTransferSettings(this.db, n, { ...change, keys }));
  }

  tsigKeys(): Promise<readonly transfers.TsigKey[]> {
    return this.run(() => transfers.tsigKeys(this.db));
  }

  addTsigKey(key: transfers.TsigKey): Promise<void> {
    const name = parseDomainName(key.name, {}, 'tsig key name');
    return this.run(() => transfers.addTsigKey(this.db, { ...key, name }), { conflict: `tsig key ${name} already exists` });
  }

  removeTsigKey(name: string): Promise<void> {
    return this.run(() => transfers.removeTsigKey(this.db, parseDomainName(name, {}, 'tsig key name')));
  }

  advancePoolSerial(zone: string, fingerprint: string, lines: readonly string[]): Promise<number | undefined> {
    return this.run(() => transfers.advancePoolSerial(this.db, zone, fingerprint, lines));
  }

  async listUpdateRules(key?: string): Promise<readonly updates.UpdateRule[]> {
    const k = key === undefined ? undefined : parseDomainName(key, {}, 'tsig key name');
    return this.run(() => updates.listUpdateRules(this.db, k));
  }

  async allowUpdate(rule: updates.UpdateRule): Promise<updates.UpdateRule> {
    const zone = zoneName(rule.zone);
    const key = parseDomainName(rule.key, {}, 'tsig key name');
    const pattern = parsePattern(rule.pattern, zone);
    if (rule.types.length === 0) throw new LbdnsError('E_INPUT', 'name at least one record type (or ANY)');
    const types = [...new Set(rule.types.map(updateType))];
    return this.run(() => updates.allowUpdate(this.db, { key, zone, pattern, types }));
  }

  async denyUpdate(key: string, filter: { readonly zone?: string; readonly pattern?: string } = {}): Promise<readonly updates.UpdateRule[]> {
    const k = parseDomainName(key, {}, 'tsig key name');
    const zone = filter.zone === undefined ? undefined : zoneName(filter.zone);
    if (filter.pattern !== undefined && zone === undefined) throw new LbdnsError('E_INPUT', 'a name pattern needs its zone');
    const pattern = filter.pattern === undefined || zone === undefined ? undefined : parsePattern(filter.pattern, zone);
    return this.run(() => updates.denyUpdate(this.db, k, { zone, pattern }));
  }

  applyUpdate(request: updates.UpdateRequest): Promise<updates.UpdateOutcome> {
    return this.run(() => updates.applyUpdate(this.db, request));
  }

  journal(zone: string, fromSerial: number, toSerial: number): Promise<readonly transfers.JournalStepRow[] | undefined> {
    return this.run(() => transfers.journal(this.db, zone, fromSerial, toSerial));
  }

  enableDnssec(zone: string, algorithm: DnssecAlgorithm, secret: string): Promise<dnssec.DnssecKeyInfo> {
    const n = zoneName(zone);
    return this.run(() => dnssec.enableDnssec(this.db, n, algorithm, secret), { conflict: `zone ${n} is already signed` });
  }

  disableDnssec(zone: string): Promise<dnssec.DnssecKeyInfo> {
    const n = zoneName(zone);
    return this.run(() => dnssec.disableDnssec(this.db, n));
  }

  dnssecKeys(zone?: string): Promise<readonly dnssec.DnssecKeyInfo[]> {
    const n = zone === undefined ? undefined : zoneName(zone);
    return this.run(() => dnssec.dnssecKeys(this.db, n));
  }

  history(filter: audit.HistoryFilter = {}): Promise<audit.AuditHistory> {
    return this.run(() => audit.history(this.db, filter));
  }

  revert(txid: number): Promise<audit.RevertResult> {
    return audit.revert(this.db, txid, this.location);
  }

  recordTransitions(rows: readonly audit.TransitionRecord[]): Promise<number> {
    return this.run(() => audit.recordTransitions(this.db, rows));
  }

  transitionHistory(filter: audit.TransitionFilter = {}): Promise<readonly audit.TransitionRecord[]> {
    return this.run(() => audit.transitionHistory(this.db, filter));
  }

  pruneHistory(cutoffs: { readonly auditBefore: number; readonly healthBefore: number }): Promise<audit.PruneResult> {
    return this.run(() => audit.pruneHistory(this.db, cutoffs));
  }

  migrate(): Promise<string[]> {
    return this.run(() => migrate(this.db as Kysely<unknown>, { logger: this.opts.logger }));
  }

  loadContents(): Promise<StoreContents> {
    return this.run(async () => (await readContents(this.db))!);
  }

  connectionUrl(): string | undefined {
    return this.opts.url;
  }

  loadZoneContents(names: readonly string[]): Promise<StoreContents> {
    return this.run(() =>
      this.db
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute(async (trx) => {
          const v = await trx.selectFrom('config_version').select('version').executeTakeFirstOrThrow();
          const zones = names.length ? await trx.selectFrom('zones').select(ZONE_COLUMNS).where('name', 'in', [...names]).orderBy('name').execute() : [];
          const ids = zones.map((z) => z.id);
          const records = ids.length ? await trx.selectFrom('records').select(RECORD_COLUMNS).where('zone_id', 'in', ids).orderBy('id').execute() : [];
          const poolRows = ids.length ? await trx.selectFrom('pools').select(pools.POOL_COLUMNS).where('zone_id', 'in', ids).orderBy('id').execute() : [];
          const poolIds = poolRows.map((p) => p.id);
          const members = poolIds.length ? await pools.selectMembers(trx).where('m.pool_id', 'in', poolIds).orderBy('m.id').execute() : [];
          const keys = await dnssec.selectKeyRows(trx, ids);
          return Object.freeze(await shapeContents(trx, v.version, zones, records, poolRows, members, keys));
        }),
    );
  }

  configVersion(): Promise<number> {
    return this.run(async () => {
      const v = await (this.opts.versionDb ?? this.db).selectFrom('config_version').select('version').executeTakeFirstOrThrow();
      return Number(v.version);
    });
  }

  listZones(): Promise<readonly ZoneSummary[]> {
    return this.run(async () => {
      const rows = await this.db
        .selectFrom('zones as z')
        .leftJoin('records as r', 'r.zone_id', 'z.id')
        .select(ZONE_COLUMNS.map((c) => `z.${c}` as const))
        .select((eb) => eb.fn.count<string | number>('r.id').as('records'))
        .groupBy('z.id')
        .orderBy('z.name')
        .execute();
      return rows.map((r) => Object.freeze({ ...toZone(r), records: Number(r.records) }));
    });
  }

  async getZone(name: string): Promise<ZoneRow | undefined> {
    const n = zoneName(name);
    return this.run(async () => {
      const z = await this.db.selectFrom('zones').select(ZONE_COLUMNS).where('name', '=', n).executeTakeFirst();
      return z === undefined ? undefined : toZone(z);
    });
  }

  async addZone(zone: NewZone, actor?: Actor): Promise<ZoneRow> {
    const name = zoneName(zone.name);
    const values = {
      name,
      mname: zone.mname === undefined ? undefined : parseDomainName(zone.mname, {}, 'SOA mname'),
      rname: zone.rname === undefined ? undefined : parseDomainName(zone.rname, {}, 'SOA rname'),
      serial: zone.serial,
      ttl: zone.ttl,
      refresh: zone.refresh,
      retry: zone.retry,
      expire: zone.expire,
      minimum: zone.minimum,
    };
    return this.run(
      () => this.as(actor, async (db) => toZone(await db.insertInto('zones').values(values).returning(ZONE_COLUMNS).executeTakeFirstOrThrow())),
      { conflict: `zone ${name} already exists` },
    );
  }

  async removeZone(name: string, actor?: Actor): Promise<{ readonly records: number }> {
    const n = zoneName(name);
    return this.run(() =>
      this.as(actor, (db) => db.transaction().execute(async (trx) => {
        const z = await trx.selectFrom('zones').select('id').where('name', '=', n).forUpdate().executeTakeFirst();
        if (z === undefined) throw new LbdnsError('E_NOT_FOUND', `no zone "${n}"`);
        const count = await trx.selectFrom('records').select((eb) => eb.fn.countAll<string | number>().as('n')).where('zone_id', '=', z.id).executeTakeFirstOrThrow();
        await trx.deleteFrom('zones').where('id', '=', z.id).execute();
        return { records: Number(count.n) };
      })),
    );
  }

  private async importInTx(trx: Transaction<Database>, parsed: ParsedZone, replace: boolean): Promise<ImportResult> {
    const origin = zoneName(parsed.origin);
    const soa = parsed.soa;
    for (const r of parsed.records) checkTtl(r.ttl, `record ${r.name}: ttl`);
    // Serial 0 is a valid zone-file serial but not a storable one (the column keeps 1..2^32-1).
    const fileSerial = soa.serial === 0 ? 1 : soa.serial;
    const fields = {
      mname: soa.mname,
      rname: soa.rname,
      refresh: soa.refresh,
      retry: soa.retry,
      expire: soa.expire,
      minimum: soa.minimum,
      ttl: soa.ttl,
    };
    const existing = await trx.selectFrom('zones').select(ZONE_COLUMNS).where('name', '=', origin).forUpdate().executeTakeFirst();
    if (existing !== undefined && !replace) throw new LbdnsError('E_CONFLICT', `zone ${origin} already exists`);
    let zoneId: number;
    if (existing !== undefined) {
      // The serial must still move forward for anyone who saw the old zone: the file's if greater.
      const old = Number(existing.serial);
      const serial = serialGreater(fileSerial, old) ? fileSerial : nextSerial(old);
      // Setting the serial first marks it as this transaction's bump, so the record changes keep it.
      await trx.updateTable('zones').set({ ...fields, serial }).where('id', '=', existing.id).execute();
      await trx.deleteFrom('records').where('zone_id', '=', existing.id).execute();
      zoneId = existing.id;
    } else {
      const z = await trx.insertInto('zones').values({ name: origin, ...fields, serial: fileSerial }).returning('id').executeTakeFirstOrThrow();
      zoneId = z.id;
    }
    // RFC 2181 section 5: duplicate records in a file are one record.
    const seen = new Set<string>();
    const rows = [];
    for (const r of parsed.records) {
      const type = r.type.toUpperCase();
      const key = `${r.name}\u0000${type}\u0000${r.content}`;
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push({ zone_id: zoneId, name: r.name, type, ttl: r.ttl, content: r.content });
    }
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await trx.insertInto('records').values(rows.slice(i, i + INSERT_CHUNK)).execute();
    }
    const zone = await trx.selectFrom('zones').select(ZONE_COLUMNS).where('id', '=', zoneId).executeTakeFirstOrThrow();
    return { zone: toZone(zone), records: rows.length, replaced: existing !== undefined };
  }

  importZone(parsed: ParsedZone, opts: { readonly replace: boolean }, actor?: Actor): Promise<ImportResult> {
    return this.run(() => this.as(actor, (db) => db.transaction().execute((trx) => this.importInTx(trx, parsed, opts.replace))));
  }

  async seedIfEmpty(zonesDir: string): Promise<string[]> {
    let files: string[];
    try {
      files = readdirSync(zonesDir).filter((f) => f.endsWith('.zone')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new LbdnsError('E_INPUT', `cannot read zones dir ${zonesDir}: ${(err as Error).message}`, { cause: err });
    }
    // Parsed before the transaction: a bad file fails the seed with its file:line and writes nothing.
    const zones = files.map((f) => {
      const file = join(zonesDir, f);
      return parseZoneFile(readFileSync(file, 'utf8'), { file, origin: f.slice(0, -'.zone'.length) });
    });
    return this.run(() =>
      this.db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${sql.lit(SEED_LOCK.toString())}::bigint)`.execute(trx);
        const any = await trx.selectFrom('zones').select('id').limit(1).executeTakeFirst();
        if (any !== undefined) return [];
        const names: string[] = [];
        for (const z of zones) names.push((await this.importInTx(trx, z, false)).zone.name);
        return names;
      }),
    );
  }

  async zoneForExport(name: string): Promise<{ readonly zone: ZoneRow; readonly records: readonly RecordRow[] }> {
    const n = zoneName(name);
    return this.run(() =>
      this.db
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute(async (trx) => {
          const z = await trx.selectFrom('zones').select(ZONE_COLUMNS).where('name', '=', n).executeTakeFirst();
          if (z === undefined) throw new LbdnsError('E_NOT_FOUND', `no zone "${n}"`);
          const records = await trx
            .selectFrom('records')
            .select(RECORD_COLUMNS)
            .where('zone_id', '=', z.id)
            .orderBy(['name', 'type', 'content'])
            .execute();
          return { zone: toZone(z), records: records.map(toRecord) };
        }),
    );
  }

  async listRecords(filter: { readonly zone?: string; readonly name?: string } = {}): Promise<readonly RecordRow[]> {
    const zone = filter.zone === undefined ? undefined : zoneName(filter.zone);
    const name = filter.name === undefined ? undefined : ownerName(filter.name);
    return this.run(async () => {
      let q = this.db.selectFrom('records').select(RECORD_COLUMNS);
      if (zone !== undefined) {
        const z = await this.db.selectFrom('zones').select('id').where('name', '=', zone).executeTakeFirst();
        if (z === undefined) throw new LbdnsError('E_NOT_FOUND', `no zone "${zone}"`);
        q = q.where('zone_id', '=', z.id);
      }
      if (name !== undefined) q = q.where('name', '=', name);
      const rows = await q.orderBy(['zone_id', 'name', 'type', 'content']).execute();
      return rows.map(toRecord);
    });
  }

  async addRecord(record: NewRecord, actor?: Actor): Promise<{ readonly zone: ZoneRow; readonly record: RecordRow }> {
    const name = ownerName(record.name);
    const type = recordType(record.type);
    const { content } = parseContent(type, record.content);
    checkTtl(record.ttl, 'TTL');
    return this.run(
      () =>
        this.as(actor, (db) => db.transaction().execute(async (trx) => {
          const z = await trx
            .selectFrom('zones')
            .select('id')
            .where('name', 'in', suffixes(name))
            .orderBy(sql`length(name)`, 'desc')
            .limit(1)
            .executeTakeFirst();
          if (z === undefined) throw new LbdnsError('E_NOT_FOUND', `no zone contains "${name}"`);
          const row = await trx
            .insertInto('records')
            .values({ zone_id: z.id, name, type, ttl: record.ttl ?? null, content })
            .returning(RECORD_COLUMNS)
            .executeTakeFirstOrThrow();
          const zone = await trx.selectFrom('zones').select(ZONE_COLUMNS).where('id', '=', z.id).executeTakeFirstOrThrow();
          return { zone: toZone(zone), record: toRecord(row) };
        })),
      { conflict: `record ${name} ${type} ${content} already exists` },
    );
  }

  async removeRecord(selector: RecordSelector, actor?: Actor): Promise<number> {
    const name = ownerName(selector.name);
    const type = recordType(selector.type);
    const content = selector.content === undefined ? undefined : parseContent(type, selector.content).content;
    return this.run(() => this.as(actor, async (db) => {
      let q = db.deleteFrom('records').where('name', '=', name).where('type', '=', type);
      if (content !== undefined) q = q.where('content', '=', content);
      const n = Number((await q.executeTakeFirst()).numDeletedRows);
      if (n === 0) {
        throw new LbdnsError('E_NOT_FOUND', content === undefined ? `no ${type} record at ${name}` : `no ${type} record ${JSON.stringify(content)} at ${name}`);
      }
      return n;
    }));
  }

  listPools(filter: { readonly zone?: string } = {}): Promise<readonly PoolSummary[]> {
    return this.run(() => pools.listPools(this.db, filter));
  }

  async getPool(name: string): Promise<PoolSummary | undefined> {
    const n = pools.poolName(name);
    return this.run(() => pools.getPool(this.db, n));
  }

  async addPool(pool: NewPool, actor?: Actor): Promise<PoolSummary> {
    const name = pools.poolName(pool.name);
    return this.run(() => this.as(actor, (db) => pools.addPool(db, pool)), { conflict: `pool ${name} already exists` });
  }

  setPool(name: string, changes: PoolSettings, actor?: Actor): Promise<PoolSummary> {
    return this.run(() => this.as(actor, (db) => pools.setPool(db, name, changes)));
  }

  removePool(name: string, actor?: Actor): Promise<{ readonly members: number }> {
    return this.run(() => this.as(actor, (db) => pools.removePool(db, name)));
  }

  listMembers(pool: string): Promise<readonly PoolMemberRow[]> {
    return this.run(() => pools.listMembers(this.db, pool));
  }

  async addMember(pool: string, member: NewMember, actor?: Actor): Promise<PoolMemberRow> {
    const name = pools.poolName(pool);
    const address = parseHostAddress(String(member.address), 'member address');
    return this.run(() => this.as(actor, (db) => pools.addMember(db, pool, member)), { conflict: `member ${address} is already in pool ${name}` });
  }

  setMember(pool: string, address: string, changes: MemberSettings, actor?: Actor): Promise<PoolMemberRow> {
    return this.run(() => this.as(actor, (db) => pools.setMember(db, pool, address, changes)));
  }

  setOverride(pool: string, address: string, change: OverrideChange, actor: Actor = {}): Promise<PoolMemberRow> {
    return this.run(() => overrides.setOverride(this.db, pool, address, change, actor));
  }

  clearOverride(pool: string, address: string, actor: Actor = {}): Promise<PoolMemberRow> {
    return this.run(() => overrides.clearOverride(this.db, pool, address, actor));
  }

  addMaintenance(pool: string, address: string, w: NewMaintenanceWindow, actor: Actor = {}): Promise<MaintenanceWindowRow> {
    return this.run(() => windows.addWindow(this.db, pool, address, w, actor));
  }

  listMaintenance(): Promise<readonly MaintenanceWindowRow[]> {
    return this.run(() => windows.listWindows(this.db));
  }

  removeMaintenance(id: number, actor?: Actor): Promise<MaintenanceWindowRow> {
    return this.run(() => this.as(actor, (db) => windows.removeWindow(db, id)));
  }

  removeMember(pool: string, address: string, actor?: Actor): Promise<void> {
    return this.run(() => this.as(actor, (db) => pools.removeMember(db, pool, address)));
  }

  listGeoNetworks(): Promise<readonly GeoNetworkSummary[]> {
    return this.run(() => pools.listGeoNetworks(this.db));
  }

  async addGeoNetwork(network: NewGeoNetwork, actor?: Actor): Promise<GeoNetworkSummary> {
    const n = parseNetwork(String(network.network));
    return this.run(() => this.as(actor, (db) => pools.addGeoNetwork(db, network)), { conflict: `geo network ${n} already exists` });
  }

  removeGeoNetwork(network: string, actor?: Actor): Promise<void> {
    return this.run(() => this.as(actor, (db) => pools.removeGeoNetwork(db, network)));
  }

  addToken(name: string, scopes: readonly string[], actor?: Actor): Promise<{ readonly token: string; readonly row: tokens.TokenRow }> {
    return this.run(() => this.as(actor, (db) => tokens.addToken(db, name, scopes)), { conflict: `token ${name} already exists` });
  }

  listTokens(opts: { readonly revoked?: boolean } = {}): Promise<readonly tokens.TokenRow[]> {
    return this.run(() => tokens.listTokens(this.db, opts.revoked ?? false));
  }

  revokeToken(name: string, actor?: Actor): Promise<tokens.TokenRow> {
    return this.run(() => this.as(actor, (db) => tokens.revokeToken(db, name)));
  }

  useToken(token: string): Promise<tokens.TokenRow | undefined> {
    return this.run(() => tokens.useToken(this.db, token));
  }

  async reportHealth(node: string, reports: readonly HealthReport[]): Promise<{ readonly written: number }> {
    try {
      return await pools.reportHealth(this.db, node, reports);
    } catch (err) {
      const e = toStoreError(err, { location: this.location });
      throw e.code === 'E_STORE' ? e : new LbdnsError('E_STORE', `health report not saved: ${e.message}`, { cause: err });
    }
  }

  healthStatus(filter: { readonly pool?: string } = {}): Promise<readonly PoolMemberStatus[]> {
    return this.run(() => pools.healthStatus(this.db, filter));
  }

  beatVantage(name: string, kind: VantageKind, intervalSeconds: number, clockMs: number): Promise<readonly VantageRow[]> {
    return this.run(() => vantage.beat(this.db, name, kind, intervalSeconds, clockMs));
  }

  listVantages(): Promise<readonly VantageRow[]> {
    return this.run(() => vantage.listVantages(this.db));
  }

  readVotes(sinceSeconds?: number, exceptVantage?: string): Promise<readonly VoteRow[]> {
    return this.run(() => vantage.readVotes(this.db, sinceSeconds, exceptVantage));
  }

  clearVotes(name: string): Promise<number> {
    return this.run(() => vantage.clearVotes(this.db, name));
  }

  takeVotes(name: string): Promise<readonly { readonly memberId: number; readonly up: boolean }[]> {
    return this.run(() => vantage.takeVotes(this.db, name));
  }

  voteCounts(): Promise<ReadonlyMap<string, number>> {
    return this.run(() => vantage.voteCounts(this.db));
  }

  withdrawVotes(name: string, memberIds: readonly number[]): Promise<number> {
    return this.run(() => vantage.withdrawVotes(this.db, name, memberIds));
  }

  retireVantage(name: string, by: string | null): Promise<VantageRow> {
    return this.run(() => vantage.retireVantage(this.db, name, by));
  }

  forgetVantage(name: string): Promise<{ readonly votes: number }> {
    return this.run(() => vantage.forgetVantage(this.db, name));
  }

  async watchChanges(
    onChange: (change: Change) => void,
    onStatus?: (status: FeedStatus) => void,
    opts?: WatchOptions,
  ): Promise<() => Promise<void>> {
    if (this.closed) throw new LbdnsError('E_STORE', 'the store is closed');
    const stop = await watchChanges(
      { ...this.opts.feed, version: () => this.configVersion(), logger: this.opts.logger },
      onChange,
      onStatus,
      opts,
    );
    const once = async (): Promise<void> => {
      this.watchers.delete(once);
      await stop();
    };
    this.watchers.add(once);
    return once;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.watchers].map((stop) => stop()));
    await Promise.all([this.db.destroy(), this.opts.versionDb?.destroy()]);
    await this.opts.onClose?.();
  }
}
