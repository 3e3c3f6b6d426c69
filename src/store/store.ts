// The store as the rest of lbdns sees it: one interface, and openStore() picking PostgreSQL or the embedded one.
import net from 'node:net';
import pg from 'pg';
import { Kysely, PostgresDialect } from 'kysely';
import type { Logger } from 'pino';
import { redactUrl, type Config } from '../config.js';
import type { ParsedZone } from '../zonefile/parse.js';
import { withDeadline, type Change, type FeedStatus, type WatchOptions } from './change-feed.js';
import { passwordFile, readEmbeddedInfo, startEmbedded, withPassword } from './embedded.js';
import type { MemberSettings, PoolSettings } from '../schema/pool-schema.js';
import type { ContentsPart, ContentsTable, GeoNetworkRow, PoolMemberRow, PoolRow, RecordRow, StoreContents, ZoneRow } from './rows.js';
import type { QUORUM_RULES } from '../schema/pool-constants.js';
import type { Database } from './schema.js';
import { readContents, readContentsPart, SqlStore } from './sql-store.js';
import { toStoreError } from './store-error.js';
import type { Actor, OverrideChange } from './override-queries.js';
import type { MaintenanceWindowRow, NewMaintenanceWindow } from './maintenance-queries.js';
import type { JournalStepRow, TransferSettingsChange, TsigKey, ZoneTransferSettings } from './transfer-queries.js';
import type { VantageKind, VantageRow, VoteRow } from './vantage-queries.js';
import type { DnssecKeyInfo } from './dnssec-queries.js';
import type { TokenRow } from './token-queries.js';
import type { UpdateOutcome, UpdateRequest, UpdateRule } from './update-queries.js';
import type { DnssecAlgorithm } from '../dnssec/keys.js';
import type { AuditHistory, HistoryFilter, PruneResult, RevertResult, TransitionFilter, TransitionRecord } from './audit-queries.js';

export type { Change, FeedStatus, WatchOptions } from './change-feed.js';
export type { Actor, OverrideChange } from './override-queries.js';
export type { AuditChange, AuditHistory, AuditOp, AuditTransaction, HealthState, HistoryFilter, PruneResult, RevertResult, TransitionFilter, TransitionKind, TransitionRecord } from './audit-queries.js';
export type { TokenRow } from './token-queries.js';
export type { VantageKind, VantageRow, VoteRow } from './vantage-queries.js';
export { MIN_SECRET_LENGTH, type DnssecKeyInfo } from './dnssec-queries.js';
export type { MaintenanceWindowRow, NewMaintenanceWindow } from './maintenance-queries.js';
// A pool's and a member's settings, as an operator gives them: defined once, by the pool schema.
export type { MemberSettings, PoolCheckSettings, PoolSettings } from '../schema/pool-schema.js';
export type { Prerequisite, UpdateOperation, UpdateOutcome, UpdateRequest, UpdateResult, UpdateRule } from './update-queries.js';
export { TSIG_ALGORITHMS, type JournalRecord, type JournalStepRow, type TransferSettingsChange, type TsigAlgorithm, type TsigKey, type ZoneTransferSettings } from './transfer-queries.js';

export interface ZoneSummary extends ZoneRow {
  /** How many records the zone holds (its SOA not counted). */
  readonly records: number;
}

/** SOA fields left out take the schema defaults; mname/rname default to ns1.<zone> and hostmaster.<zone>. */
export interface NewZone {
  readonly name: string;
  readonly mname?: string;
  readonly rname?: string;
  readonly serial?: number;
  readonly ttl?: number;
  readonly refresh?: number;
  readonly retry?: number;
  readonly expire?: number;
  readonly minimum?: number;
}

/** Operator input: names with or without a trailing dot, any case; content as for parseContent. */
export interface NewRecord {
  readonly name: string;
  readonly type: string;
  /** Absent: the zone's default TTL. */
  readonly ttl?: number;
  readonly content: string;
}

export interface RecordSelector {
  readonly name: string;
  readonly type: string;
  /** Absent: every record of that name and type. */
  readonly content?: string;
}

export interface ImportResult {
  readonly zone: ZoneRow;
  readonly records: number;
  /** True when the zone existed and was replaced. */
  readonly replaced: boolean;
}

/** A pool with the zone it lives in and how many members it has. */
export interface PoolSummary extends PoolRow {
  readonly zone: string;
  readonly members: number;
}

/** The name may be given with or without a trailing dot, in any case; the pool joins the longest zone holding it. */
export interface NewPool extends PoolSettings {
  readonly name: string;
}

export interface NewMember extends MemberSettings {
  /** IPv4 or IPv6 host address, any valid text form. */
  readonly address: string;
}

export interface GeoNetworkSummary extends GeoNetworkRow {
  readonly note: string | null;
}

export interface NewGeoNetwork {
  /** CIDR ("198.51.100.0/24") or one address; host bits beyond the prefix are refused. */
  readonly network: string;
  readonly country?: string | null;
  readonly continent?: string | null;
  readonly region?: string | null;
  readonly latitude?: number | null;
  readonly longitude?: number | null;
  readonly note?: string | null;
}

/** One member's state as one node's tracker sees it. Times are ms since the epoch. */
export interface HealthReport {
  readonly memberId: number;
  readonly up: boolean;
  /** When the current up/down state began. */
  readonly since: number;
  readonly lastCheck: number | null;
  readonly latencyMs: number | null;
  readonly lastError: string | null;
  /** State changes seen so far. */
  readonly transitions: number;
  /** Seconds within which the node writes the row again while it probes the member (its heartbeat); absent: unknown. */
  readonly heartbeatSeconds?: number;
}

/** A member_health row: what one node last reported about one member. */
export interface NodeHealth {
  readonly node: string;
  readonly up: boolean;
  readonly since: number;
  readonly lastCheck: number | null;
  readonly latencyMs: number | null;
  readonly lastError: string | null;
  readonly transitions: number;
  /** When the node last wrote the row (the database's clock): how fresh this view is. */
  readonly heartbeatAt: number;
  /** Seconds since then, by the database's clock (no skew with the reader's clock). */
  readonly heartbeatAge: number;
  /** The heartbeat the node promised, in seconds; null: unknown (a row from before heartbeats). */
  readonly heartbeatSeconds: number | null;
}

export interface PoolMemberStatus {
  readonly pool: string;
  /** The pool's vote settings (migrations/0011): how the votes decide, and how many vantage points probe a member. */
  readonly quorum: (typeof QUORUM_RULES)[number];
  readonly probers: number | null;
  readonly member: PoolMemberRow;
  /** One entry per node that has reported on it, by node name; empty: unknown to every node. */
  readonly nodes: readonly NodeHealth[];
  /** By node, for rows whose last check lies past the database's clock: how many whole seconds (as readVotes says). */
  readonly aheadSeconds: Readonly<Record<string, number>>;
}

export interface Store {
  /** Where the data lives, password removed: for logs and `lbdns status`. */
  readonly location: string;
  /** Applies pending migrations; returns the files applied now. */
  migrate(): Promise<string[]>;
  /** Version, zones, records, pools, members, geo networks and DNSSEC keys, read in one REPEATABLE READ transaction. */
  loadContents(): Promise<StoreContents>;
  /** The connection string (password included) of a server's store, for the snapshot build thread's own reads. */
  connectionUrl(): string | undefined;
  /** The named zones' rows only (those that still exist), with the version, in one REPEATABLE READ transaction. */
  loadZoneContents(names: readonly string[]): Promise<StoreContents>;
  configVersion(): Promise<number>;
  listZones(): Promise<readonly ZoneSummary[]>;
  getZone(name: string): Promise<ZoneRow | undefined>;
  /**
   * Writes take an optional actor: recorded by the database's triggers (lbdns.actor) as who made the change; absent,
   * the database role.
   */
  addZone(zone: NewZone, actor?: Actor): Promise<ZoneRow>;
  /** Removes the zone and its records; returns how many records went with it. */
  removeZone(name: string, actor?: Actor): Promise<{ readonly records: number }>;
  /** Creates (or with `replace`, replaces) a zone and all its records in one transaction. */
  importZone(zone: ParsedZone, opts: { readonly replace: boolean }, actor?: Actor): Promise<ImportResult>;
  zoneForExport(name: string): Promise<{ readonly zone: ZoneRow; readonly records: readonly RecordRow[] }>;
  listRecords(filter?: { readonly zone?: string; readonly name?: string }): Promise<readonly RecordRow[]>;
  /** Adds a record to the zone that is the longest suffix of its name. */
  addRecord(record: NewRecord, actor?: Actor): Promise<{ readonly zone: ZoneRow; readonly record: RecordRow }>;
  /** Removes matching records; throws E_NOT_FOUND when none match. Returns how many went. */
  removeRecord(selector: RecordSelector, actor?: Actor): Promise<number>;
  listPools(filter?: { readonly zone?: string }): Promise<readonly PoolSummary[]>;
  getPool(name: string): Promise<PoolSummary | undefined>;
  /** Throws E_NOT_FOUND when no zone holds the name, E_CONFLICT when the pool exists or the name holds A/AAAA/CNAME. */
  addPool(pool: NewPool, actor?: Actor): Promise<PoolSummary>;
  /** Changes the given settings; throws E_INPUT when none is given. */
  setPool(name: string, changes: PoolSettings, actor?: Actor): Promise<PoolSummary>;
  /** Removes the pool and its members; returns how many members went with it. */
  removePool(name: string, actor?: Actor): Promise<{ readonly members: number }>;
  /** The pool's members, by address. */
  listMembers(pool: string): Promise<readonly PoolMemberRow[]>;
  addMember(pool: string, member: NewMember, actor?: Actor): Promise<PoolMemberRow>;
  setMember(pool: string, address: string, changes: MemberSettings, actor?: Actor): Promise<PoolMemberRow>;
  /** Forces the member down, up or drained, with a reason and an optional expiry; who and when are recorded. */
  setOverride(pool: string, address: string, change: OverrideChange, actor?: Actor): Promise<PoolMemberRow>;
  clearOverride(pool: string, address: string, actor?: Actor): Promise<PoolMemberRow>;
  /** Drains the member for `durationMs` every time `cron` fires; throws E_INPUT for a bad expression, zone or duration. */
  addMaintenance(pool: string, address: string, window: NewMaintenanceWindow, actor?: Actor): Promise<MaintenanceWindowRow>;
  listMaintenance(): Promise<readonly MaintenanceWindowRow[]>;
  /** Throws E_NOT_FOUND when no window has the id; returns the one removed. */
  removeMaintenance(id: number, actor?: Actor): Promise<MaintenanceWindowRow>;
  removeMember(pool: string, address: string, actor?: Actor): Promise<void>;
  listGeoNetworks(): Promise<readonly GeoNetworkSummary[]>;
  addGeoNetwork(network: NewGeoNetwork, actor?: Actor): Promise<GeoNetworkSummary>;
  removeGeoNetwork(network: string, actor?: Actor): Promise<void>;
  /**
   * A new API token with these scopes (src/schema/token-schema.ts): its text, returned this once, and its row; only
   * the text's SHA-256 is stored. Throws E_INPUT for a bad name or scope, E_CONFLICT when a live token has the name.
   */
  addToken(name: string, scopes: readonly string[], actor?: Actor): Promise<{ readonly token: string; readonly row: TokenRow }>;
  /** Live tokens (with `revoked`, revoked ones too); never their text or hash. */
  listTokens(opts?: { readonly revoked?: boolean }): Promise<readonly TokenRow[]>;
  /** The token stops working at once; its row stays for the audit trail. Throws E_NOT_FOUND when no live token has the name. */
  revokeToken(name: string, actor?: Actor): Promise<TokenRow>;
  /** The live token with this text, its last use recorded; undefined for an unknown, revoked or malformed one. */
  useToken(token: string): Promise<TokenRow | undefined>;
  /**
   * Upserts one node's view of many members in one statement; reports of members that no longer
   * exist are skipped. Rejects only with an E_STORE LbdnsError (malformed input included), which the
   * reporting loop catches, logs and counts; health rows never advance config_version.
   */
  reportHealth(node: string, reports: readonly HealthReport[]): Promise<{ readonly written: number }>;
  /** Every member of every pool (or of one), each with every node's last report. */
  healthStatus(filter?: { readonly pool?: string }): Promise<readonly PoolMemberStatus[]>;
  /**
   * This vantage point's heartbeat (registering it on the first), and every vantage point as it was just before:
   * one statement. Rejects with E_STORE when the store cannot be reached.
   */
  beatVantage(name: string, kind: VantageKind, intervalSeconds: number, clockMs: number): Promise<readonly VantageRow[]>;
  listVantages(): Promise<readonly VantageRow[]>;
  /** Every vote (member_health row) in the store; with `sinceSeconds`, those written within that many seconds. */
  readVotes(sinceSeconds?: number, exceptVantage?: string): Promise<readonly VoteRow[]>;
  /** Deletes every vote of one vantage point. */
  clearVotes(name: string): Promise<number>;
  /** Deletes every vote of one vantage point and returns them (a restart resuming from its previous run's). */
  takeVotes(name: string): Promise<readonly { readonly memberId: number; readonly up: boolean }[]>;
  /** How many votes each name holds (vantage point or not). */
  voteCounts(): Promise<ReadonlyMap<string, number>>;
  /** Deletes this vantage point's votes on these members (it no longer probes them). */
  withdrawVotes(name: string, memberIds: readonly number[]): Promise<number>;
  /** Its votes stop counting; throws E_NOT_FOUND for an unknown name. */
  retireVantage(name: string, by: string | null): Promise<VantageRow>;
  /** Deletes a vantage point and its votes; throws E_NOT_FOUND for an unknown name. */
  forgetVantage(name: string): Promise<{ readonly votes: number }>;
  /**
   * Transfer ACLs and NOTIFY targets of every zone, or of one or several (none for a zone that does not exist). `poolSet: false`
   * leaves out the pool records last written (poolSet undefined): hundreds of lines a zone that NOTIFY does not need.
   */
  transferSettings(zone?: string | readonly string[], opts?: { readonly poolSet?: boolean }): Promise<readonly ZoneTransferSettings[]>;
  /** Throws E_NOT_FOUND for an unknown zone, E_INPUT for a bad network or an unknown key. */
  setTransferSettings(zone: string, change: TransferSettingsChange): Promise<ZoneTransferSettings>;
  tsigKeys(): Promise<readonly TsigKey[]>;
  /** Throws E_CONFLICT when the name is taken. */
  addTsigKey(key: TsigKey): Promise<void>;
  /** Throws E_NOT_FOUND when absent, E_INPUT when a zone still names it. */
  removeTsigKey(name: string): Promise<void>;
  /**
   * Bumps the zone's serial unless `fingerprint` is already stored for it, journaling the pool records ("name ttl
   * TYPE address" lines) removed and added since the last bump; returns the new serial if it moved.
   */
  advancePoolSerial(zone: string, fingerprint: string, lines: readonly string[]): Promise<number | undefined>;
  /** RFC 2136 update rules (migrations/0015): every key's, or one key's. */
  listUpdateRules(key?: string): Promise<readonly UpdateRule[]>;
  /**
   * Sets the types the key may update at the names `pattern` matches in the zone (a rule for the same pattern is
   * replaced). Throws E_NOT_FOUND for an unknown key or zone, E_INPUT for a bad pattern or type (SOA included).
   */
  allowUpdate(rule: UpdateRule): Promise<UpdateRule>;
  /** Removes the key's rules (of one zone, of one pattern there); returns them. Throws E_NOT_FOUND when none matched. */
  denyUpdate(key: string, filter?: { readonly zone?: string; readonly pattern?: string }): Promise<readonly UpdateRule[]>;
  /**
   * Applies an RFC 2136 update signed by `request.key` in one transaction: its rules, the pools, the prerequisites,
   * then the changes. Anything but `ok` leaves the store as it was; a record the database refuses throws E_INPUT or
   * E_CONFLICT (rolled back too).
   */
  applyUpdate(request: UpdateRequest): Promise<UpdateOutcome>;
  /** IXFR: the journal steps from one serial to another, or undefined when the journal does not reach. */
  journal(zone: string, fromSerial: number, toSerial: number): Promise<readonly JournalStepRow[] | undefined>;
  /**
   * Signs the zone from now on: a new combined key (flags 257) of `algorithm`, its private key sealed with `secret`.
   * Throws E_NOT_FOUND for an unknown zone, E_CONFLICT when it is already signed, E_INPUT for a short secret or a
   * record a signed zone cannot hold (named in the message; migrations/0012_dnssec.sql says which and why).
   */
  enableDnssec(zone: string, algorithm: DnssecAlgorithm, secret: string): Promise<DnssecKeyInfo>;
  /** Removes the zone's key; returns it. Throws E_NOT_FOUND for an unknown zone or one that is not signed. */
  disableDnssec(zone: string): Promise<DnssecKeyInfo>;
  /** Signed zones' keys (public parts only), of every zone or of one (E_NOT_FOUND when it does not exist). */
  dnssecKeys(zone?: string): Promise<readonly DnssecKeyInfo[]>;
  /**
   * The audit log (migrations/0013_audit.sql) by transaction, newest first; `target` narrows it to a zone or a pool.
   * Throws E_NOT_FOUND when the target is neither, now or in the log.
   */
  history(filter?: HistoryFilter): Promise<AuditHistory>;
  /**
   * Undoes one transaction's changes in a new transaction (itself audited as "<actor> (revert of TXID)"). Throws
   * E_NOT_FOUND for a transaction the log does not hold, E_CONFLICT naming the first row in the way (nothing changed).
   */
  revert(txid: number): Promise<RevertResult>;
  /** Appends health transitions (one statement); returns how many were written. */
  recordTransitions(rows: readonly TransitionRecord[]): Promise<number>;
  /** Health transitions newest first, of every pool or of one. */
  transitionHistory(filter?: TransitionFilter): Promise<readonly TransitionRecord[]>;
  /** Deletes audit rows and health transitions older than the cut-offs (ms since the epoch), in short batches. */
  pruneHistory(cutoffs: { readonly auditBefore: number; readonly healthBefore: number }): Promise<PruneResult>;
  /** When the store holds no zone, imports every *.zone file of `zonesDir` (origin: the file name). */
  seedIfEmpty(zonesDir: string): Promise<string[]>;
  /**
   * Calls onChange after every committed edit (LISTEN), or when polling sees config_version move.
   * Resolves once watching has started; the function it resolves to stops it.
   */
  watchChanges(
    onChange: (change: Change) => void,
    onStatus?: (status: FeedStatus) => void,
    opts?: WatchOptions,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** 'server' hosts the embedded database when there is no DATABASE_URL; 'client' (the CLI) uses it. */
  readonly role: 'server' | 'client';
  readonly logger?: Logger;
  /**
   * Apply pending migrations on open. Default: yes for the client role (a first CLI command on a
   * fresh store just works), no for the server, which calls migrate() itself so that a database that
   * is down at start does not stop it from opening the store (and serving a saved snapshot).
   */
  readonly migrate?: boolean;
  /** Poll period while LISTEN is down (default 2000 ms). */
  readonly pollIntervalMs?: number;
  /** 'poll': never LISTEN, poll config_version only (measuring the fallback, or a pooler without LISTEN). */
  readonly changeFeed?: 'listen' | 'poll';
  /** Who the audit log names for this store's writes, and the application_name its connections give. */
  readonly session?: SessionSettings;
}

export interface SessionSettings {
  /** lbdns.actor for every connection (the CLI: the operating-system user); absent: the database role is recorded. */
  readonly actor?: string;
  /** application_name, unless the connection string gives one (default "lbdns"). */
  readonly applicationName?: string;
}

const SESSION_ACTOR = /^[^\x00-\x1f\x7f]{1,100}$/;

/**
 * pg settings that make every connection carry the session: lbdns.actor goes in the startup packet's options (no
 * round trip of its own, on any statement), appended to options the connection string may already have.
 */
export function sessionConnection(url: string, session: SessionSettings = {}): { connectionString: string; options?: string; application_name?: string } {
  const actor = session.actor !== undefined && SESSION_ACTOR.test(session.actor) ? `-c lbdns.actor=${session.actor.replace(/[\\ ]/g, '\\$&')}` : undefined;
  const app = session.applicationName ?? 'lbdns';
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  // A connection string pg reads some other way (a socket path): its own options cannot be merged, ours are given beside.
  if (u === undefined || !/^postgres(ql)?:$/.test(u.protocol)) return { connectionString: url, ...(actor ? { options: actor } : {}), application_name: app };
  if (actor !== undefined) u.searchParams.set('options', [u.searchParams.get('options'), actor].filter(Boolean).join(' '));
  if (!u.searchParams.has('application_name')) u.searchParams.set('application_name', app);
  return { connectionString: u.toString() };
}

const ignoreClientError = (): void => undefined;

/**
 * TCP keepalive idle time of every PostgreSQL connection: a peer that vanished without a FIN or RST
 * (a partition, a failover) is found by the kernel in seconds rather than after the OS default of 2 h.
 */
const PG_KEEPALIVE_MS = 5000;
/** A config_version poll not answered in this time means the store is unreachable (a query is ~1 ms). */
const POLL_DEADLINE_MS = 3000;

/** The sockets under a pg pool, kept so that a link found half-open can be cut by hand. */
export class PgSockets {
  readonly #open = new Set<net.Socket>();

  /** For pg's `stream` option: a new socket per connection, remembered until it closes. */
  readonly create = (): net.Socket => {
    const s = new net.Socket();
    this.#open.add(s);
    s.once('close', () => this.#open.delete(s));
    return s;
  };

  /**
   * Destroys every connection: the queries on them fail at once and the pool opens new ones. Resolves
   * once every socket has closed, when pg has told the pool to forget each idle client.
   */
  destroyAll(): Promise<void> {
    const closing = [...this.#open].map((s) => new Promise<void>((resolve) => s.once('close', () => resolve()).destroy()));
    this.#open.clear();
    return Promise.all(closing).then(() => undefined);
  }
}

/**
 * A kysely over a pg pool that survives its connections dying. pg-pool listens for 'error' only on
 * idle clients; a client checked out when PostgreSQL goes away (a query or a transaction in flight)
 * emits 'error' with no listener, which node turns into an uncaught exception. Each client gets a
 * listener of its own for its whole life: the query in flight is rejected with the same error (pg
 * rejects every pending query first), and pg-pool discards the broken client on release.
 */
export function pgKysely(url: string, max: number, sockets: PgSockets = new PgSockets(), session?: SessionSettings): Kysely<Database> {
  const pool = new pg.Pool({
    ...sessionConnection(url, session),
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 10_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: PG_KEEPALIVE_MS,
    stream: sockets.create,
  });
  pool.on('connect', (client) => client.on('error', ignoreClientError));
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', ignoreClientError);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** A connection of its own that reads the whole store (the snapshot build thread's: snapshot/build-worker.ts). */
export interface ContentsReader {
  /**
   * Every row the snapshot is built from; undefined when the store's version is still `unlessVersion` (and, given
   * `unlessStamp`, its StoreContents.stamp too). A read that takes longer than `deadlineMs` (a half-open link) is given up.
   */
  read(unlessVersion?: number, unlessStamp?: string): Promise<StoreContents | undefined>;
  /** Only these tables, at the version they are at now (readContentsPart), within the same deadline. */
  readPart(tables: ReadonlySet<ContentsTable>): Promise<ContentsPart>;
  close(): Promise<void>;
}

export function contentsReader(url: string, deadlineMs: number): ContentsReader {
  const db = pgKysely(url, 1);
  return {
    read: (unlessVersion, unlessStamp) => withDeadline(readContents(db, unlessVersion, unlessStamp), deadlineMs, 'reading the store'),
    readPart: (tables) => withDeadline(readContentsPart(db, tables), deadlineMs, 'reading the store'),
    close: () => db.destroy(),
  };
}

/**
 * Opens the store: DATABASE_URL → that PostgreSQL; otherwise the embedded PostgreSQL of dataDir, hosted
 * by the server role on cfg.embeddedListen. The client role (the CLI) uses the running server's
 * socket with the password from the data dir (embedded.json says where), and when no server runs,
 * starts the embedded PostgreSQL itself for as long as the store is open. Either way the change
 * feed LISTENs as on any PostgreSQL.
 */
export async function openStore(cfg: Config['store'], opts: OpenStoreOptions): Promise<Store> {
  const logger = opts.logger;
  const pollMs = opts.pollIntervalMs ?? 2000;
  // Every variant reaches a PostgreSQL over sockets: the feed may cut them all when it finds the path
  // silent, because a query waiting on a half-open connection would wait for ever (holding up every
  // later reload) while the feed polls around it.
  const feed = (url: string, sockets: PgSockets) => ({
    listenUrl: opts.changeFeed === 'poll' ? undefined : url,
    pollMs,
    pollDeadlineMs: POLL_DEADLINE_MS,
    keepAliveMs: PG_KEEPALIVE_MS,
    onLinkLost: () => sockets.destroyAll(),
  });
  const sockets = new PgSockets();
  let store: SqlStore;
  if (cfg.databaseUrl !== undefined) {
    const location = redactUrl(cfg.databaseUrl);
    const db = pgKysely(cfg.databaseUrl, opts.role === 'server' ? 5 : 2, sockets, opts.session);
    const versionDb = opts.role === 'server' ? pgKysely(cfg.databaseUrl, 1, sockets, opts.session) : undefined;
    store = new SqlStore(db, { location, url: cfg.databaseUrl, logger, feed: feed(cfg.databaseUrl, sockets), versionDb });
  } else {
    const running = opts.role === 'client' ? readEmbeddedInfo(cfg.dataDir) : undefined;
    if (running !== undefined) {
      const location = `${running.url} (embedded, lbdns pid ${running.pid}, password from ${passwordFile(cfg.dataDir)})`;
      const url = withPassword(running.url, cfg.dataDir);
      store = new SqlStore(pgKysely(url, 2, sockets, opts.session), { location, logger, feed: feed(url, sockets) });
    } else {
      const host = await startEmbedded(cfg.dataDir, cfg.embeddedListen, logger);
      const location = `${host.publicUrl} (embedded, in ${cfg.dataDir})`;
      const db = pgKysely(host.url, opts.role === 'server' ? 5 : 2, sockets, opts.session);
      const versionDb = opts.role === 'server' ? pgKysely(host.url, 1, sockets, opts.session) : undefined;
      store = new SqlStore(db, { location, url: host.url, logger, feed: feed(host.url, sockets), onClose: () => host.close(), versionDb });
    }
  }
  if (opts.migrate ?? opts.role === 'client') {
    try {
      await store.migrate();
    } catch (err) {
      await store.close().catch(() => {});
      throw toStoreError(err, { location: store.location });
    }
  }
  return store;
}
