// Composition root of `lbdns serve`: store → snapshot → DNS sockets → ops HTTP, and an orderly shutdown.
import cluster from 'node:cluster';
import { createAnswerContext } from './answer-context.js';
import { concreteListen, listenText } from './cluster/free-port.js';
import { WorkerPool } from './cluster/worker-pool.js';
import { runWorker } from './cluster/worker.js';
import type { Api } from './api/api-server.js';
import type { Config } from './config.js';
import { redactUrl } from './config.js';
import { LbdnsError } from './errors.js';
import { createLogger, type Logger } from './obs/log.js';
import { createMetrics } from './obs/metrics.js';
import { startDnsServer, type DnsServer } from './server/dns-server.js';
import { startOpsHttp, type OpsHttp } from './server/ops-http.js';
import { ResponseRateLimiter } from './server/rrl.js';
import { statusRoute } from './server/status-route.js';
import { statusPage, TransitionRing } from './server/status-page.js';
import { seedPools } from './seed-pools.js';
import { explainRoute } from './explain/explain-route.js';
import { setUpGeo } from './geo/setup.js';
import { HA_ROLES, watchRoleFile, type HaRole } from './ha/role.js';
import { Reloader } from './snapshot/reloader.js';
import { readSnapshotFile } from './snapshot/snapshot-file.js';
import { openStore, type Store } from './store/store.js';
import { ReadinessState } from './server/readiness.js';
import { HealthMonitor } from './health/monitor.js';
import { HealthReporter } from './health/reporter.js';
import { HealthAgreement } from './health/agreement.js';
import { HistoryRetention } from './health/history-retention.js';
import { TransitionHistory } from './health/transition-history.js';
import { OverrideWatch } from './pools/override-watch.js';
import { ZoneTransfers } from './xfr/zone-transfers.js';
import { UpdateService } from './xfr/update-service.js';
import { lowerHelperThreads, tuneHeapForServing } from './serving-heap.js';

export interface Running {
  /** The DNS sockets: served here, or by worker processes (LBDNS_WORKERS > 1 under `serve`). */
  readonly dns: DnsServer;
  readonly workers: WorkerPool | undefined;
  readonly http: OpsHttp;
  readonly reloader: Reloader;
  readonly monitor: HealthMonitor;
  readonly agreement: HealthAgreement;
  stop(): Promise<void>;
}

/** The least time between two copies of the health view sent to the workers. */
const HEALTH_BROADCAST_MS = 100;

export interface StartOptions {
  /** Fork this many DNS worker processes instead of answering in this one (needs node:cluster). */
  readonly workers?: number;
}

export async function start(config: Config, log: Logger = createLogger(config.log.level), opts: StartOptions = {}): Promise<Running> {
  const metrics = createMetrics();
  const workerCount = opts.workers ?? 1;
  const storeLog = log.child({ component: 'store' });
  log.info(
    { node: config.dns.nodeName, store: config.store.databaseUrl ? redactUrl(config.store.databaseUrl) : `embedded:${config.store.dataDir}` },
    'starting lbdns',
  );
  // A missing or corrupt GeoIP file stops start-up here, before anything needs cleaning up.
  const geo = await setUpGeo({ databasePath: config.geo.database, cacheSize: config.geo.cacheSize, metrics, snapshot: () => reloader.current() });
  log.info({ geoip: geo.database.path, database: geo.database.description }, 'geoip database open');
  const store: Store = await openStore(config.store, {
    role: 'server',
    logger: storeLog,
    pollIntervalMs: config.feed.pollIntervalMs,
    changeFeed: config.feed.mode,
  });
  let dns: DnsServer | undefined;
  let http: OpsHttp | undefined;
  let api: Api | undefined;
  let stopFeed: (() => void | Promise<void>) | undefined;
  const monitor = new HealthMonitor({ logger: log, metrics });
  const reporter = new HealthReporter({
    write: (r) => store.reportHealth(config.dns.nodeName, r),
    log: log.child({ component: 'health' }),
    heartbeatMs: config.healthRows.writeIntervalMs,
  });
  monitor.onResult(reporter.record);
  // Answers use the agreed view: this node's probes and the other vantage points' votes, by each pool's quorum rule.
  const agreement = new HealthAgreement({
    self: config.dns.nodeName,
    kind: 'node',
    monitor,
    store,
    log,
    metrics,
    heartbeatMs: config.vantage.heartbeatMs,
    onWithdrawn: (ids) => reporter.forget(ids),
    onVotesCleared: () => reporter.rewriteAll(),
  });
  let agreementStarted = false;
  // Health history (member_transitions) and, hourly, the pruning of it and of the audit log (migrations/0013_audit.sql).
  const historyLog = log.child({ component: 'history' });
  const transitions = new TransitionHistory({ node: config.dns.nodeName, write: (rows) => store.recordTransitions(rows), log: historyLog });
  monitor.onTransition(transitions.probe);
  agreement.onChange(transitions.agreed);
  const retention = new HistoryRetention({
    prune: (cutoffs) => store.pruneHistory(cutoffs),
    auditDays: config.history.auditRetentionDays,
    healthDays: config.history.healthRetentionDays,
    node: config.dns.nodeName,
    log: historyLog,
  });
  const { context, policies, keyring } = createAnswerContext(config, metrics, () => agreement.view(), log, geo.env);
  let pool: WorkerPool | undefined;
  let healthBroadcast: NodeJS.Timeout | undefined;
  const readiness: ReadinessState = new ReadinessState({
    mode: config.feed.mode,
    metrics,
    log,
    reloadError: (): string | undefined => reloader.lastError,
    // Back from an outage (or LISTEN back): whatever changed meanwhile is read now.
    onStoreAnswering: () => reloader.schedule(),
  });
  const transfers = new ZoneTransfers({
    store,
    snapshot: () => reloader.current(),
    health: () => agreement.view(),
    metrics,
    log: log.child({ component: 'xfr' }),
    onKeys: (keys) => pool?.broadcastKeys(keys),
  });
  agreement.onChange((t) => transfers.healthChanged(t.memberId));
  // RFC 2136 updates are applied here, where the store is; DNS workers relay theirs (src/cluster/update-relay.ts).
  const updates = new UpdateService({ store, metrics, log: log.child({ component: 'update' }) });
  const overrideWatch = new OverrideWatch({ snapshot: () => reloader.current(), log: log.child({ component: 'overrides' }), metrics });
  const reloader = new Reloader({
    onSwap: (snapshot, poolsChanged) => {
      keyring.warm(snapshot);
      transfers.swapped(snapshot);
      // Pools lent unchanged by the old snapshot (a geo_networks edit, a poll that found other zones changed) need
      // nothing redone: setPools walks every member, 0.2-0.35 s on the answering thread at 80,000 members.
      if (!poolsChanged) return;
      overrideWatch.swapped();
      agreement.setPools(snapshot.pools);
      policies.forget(new Set(snapshot.pools.map((p) => p.id)));
    },
    load: readiness.track(() => store.loadContents()),
    // Full reloads are read by the build thread on its own connection: at 100,000 records the rows took the
    // answering thread hundreds of ms (parsing, mapping, handing them over, collecting them) at every one.
    storeInThread: (() => {
      const url = store.connectionUrl();
      return url === undefined ? undefined : { url, location: store.location };
    })(),
    onStoreRead: (ok) => (ok ? readiness.storeRead() : readiness.storeReadFailed()),
    loadZones: readiness.track((names: readonly string[]) => store.loadZoneContents(names)),
    debounceMs: config.feed.debounceMs,
    log: log.child({ component: 'snapshot' }),
    metrics,
    // The build thread saves the snapshot file; DNS workers adopt the image it built rather than building their own.
    file: { path: config.snapshotFile, node: config.dns.nodeName },
    onLoaded: (loaded) => {
      pool?.broadcastImage(loaded.image);
      pool?.broadcastHealth(agreement.view(true));
    },
  });
  let firstRoundDone!: () => void;
  const firstRoundOver = new Promise<void>((resolve) => (firstRoundDone = resolve));
  if (workerCount > 1) {
    // Forked now, so that their start (~0.4 s of module loading each) overlaps the store load and the first
    // probe round; they get the snapshot, and so open their sockets, only once that round is over.
    pool = new WorkerPool({
      count: workerCount,
      log: log.child({ component: 'workers' }),
      completeImage: () => reloader.completeImage(),
      health: () => agreement.view(true),
      joinAfter: firstRoundOver,
      env: config.dns.listen.some((l) => l.port === 0) ? { LBDNS_LISTEN: listenText(await concreteListen(config.dns.listen)) } : undefined,
      transfers: { handle: transfers.handler, keys: () => transfers.keys() },
      updates: updates.handler,
    });
    // Transitions come in bursts (at start-up every member's first result is one): the workers get a copy of
    // the whole view at most every HEALTH_BROADCAST_MS, not one per transition. The first change after a quiet
    // spell goes out on the next turn of the loop (once its burst is applied), not a whole period later.
    let lastBroadcast = -Infinity;
    agreement.onChange(() => {
      if (healthBroadcast !== undefined) return;
      const wait = Math.max(0, lastBroadcast + HEALTH_BROADCAST_MS - performance.now());
      healthBroadcast = setTimeout(() => {
        healthBroadcast = undefined;
        lastBroadcast = performance.now();
        pool?.broadcastHealth(agreement.view(true));
      }, wait);
    });
    pool.launch();
  }
  let role: HaRole | undefined;
  const statusJson = statusRoute({ nodeName: config.dns.nodeName, role: () => role ?? null, snapshot: () => reloader.current(), states: () => monitor.states(), votes: (id) => agreement.describe(id) });
  // The status page's recent state changes: what answers followed, with the probe's reason or the deciding votes.
  const recent = new TransitionRing();
  // The status page's recent edits: the audit log's newest transactions, however they were made (CLI, API, SQL).
  const recentEdits = async () =>
    (await store.history({ limit: 10, perTransaction: 3 })).transactions.map((t) => ({
      at: t.at,
      actor: t.application && t.actor.startsWith('db:') ? `${t.actor} (${t.application})` : t.actor,
      what: t.changes.map((c) => `${c.op} ${c.table.replace(/_/g, ' ').replace(/s$/, '')} ${c.name}${c.context ? ` (${c.context})` : ''}`).join('; ') + (t.total > t.changes.length ? `; and ${t.total - t.changes.length} more` : ''),
    }));
  agreement.onChange((t) => {
    if (t.from === 'unknown') return;
    const votes = Object.entries(t.votes).map(([v, s]) => `${v} ${s}`).join(', ');
    recent.add({ at: Date.now(), pool: t.poolName, member: t.address, from: t.from, to: t.to, why: t.rule === 'local' ? `probe: ${t.reason ?? 'no result'}` : `${t.rule}: ${votes}` });
  });
  const stopRole = config.roleFile
    ? watchRoleFile(config.roleFile, (r) => {
        if (r !== role) log.info({ from: role ?? null, to: r }, 'ha role');
        role = r;
        for (const known of HA_ROLES) metrics.haRole.labels(known).set(known === r ? 1 : 0);
      })
    : undefined;
  const explain = explainRoute({ nodeName: config.dns.nodeName, policies, locator: geo.locator, memberStates: () => monitor.states(), snapshot: () => reloader.current(), health: () => agreement.view(), votes: (id) => agreement.describe(id), dnssec: { signerFor: keyring.signerFor, signer: context.dnssec } });
  try {
    // The ops port opens first: probes may target it (the sample pool does), and /readyz says
    // "not ready" until a snapshot is loaded and the DNS sockets are bound.
    http = await startOpsHttp({
      listen: config.http.listen,
      metrics,
      metricsText: async () => (pool ? pool.metricsText(await metrics.registry.getMetricsAsJSON()) : metrics.registry.metrics()),
      routes: {
        ...(config.http.explain ? { '/explain': explain } : {}),
        ...(config.http.status ? { '/status': statusJson, '/': statusPage({ status: statusJson, transitions: () => recent.list(), edits: recentEdits }) } : {}),
      },
      log: log.child({ component: 'http' }),
      readiness: () => {
        const snap = reloader.current();
        const stored = readiness.view();
        return {
          ready: reloader.loaded && (dns?.addresses.length ?? 0) > 0,
          detail: {
            node: config.dns.nodeName,
            role: role ?? null,
            snapshot: {
              version: snap.version,
              zones: snap.zones.size,
              ageSeconds: snap.builtAt ? (Date.now() - snap.builtAt) / 1000 : null,
              source: stored.source,
            },
            store: stored.store,
            sinceLastSyncSeconds: reloader.lastSuccess ? (Date.now() - reloader.lastSuccess) / 1000 : null,
            propagation: stored.propagation,
            dns: dns?.addresses ?? [],
            workers: pool ? { ready: pool.readyCount, pids: pool.pids, restarts: pool.restarts } : null,
            lastReloadError: stored.lastReloadError,
            votes: agreement.status(),
          },
        };
      },
    });
    try {
      await store.migrate();
      // Only when asked (`npm start`, `serve --seed DIR`, LBDNS_SEED_DIR): an operator's empty production
      // database must stay empty rather than fill with sample zones.
      if (config.seedDir !== undefined) {
        const seeded = await store.seedIfEmpty(config.seedDir);
        if (seeded.length) {
          const pools = await seedPools(store, config.seedDir);
          log.info({ zones: seeded, pools }, 'seeded an empty store from the zones directory');
        }
      }
      // Before the first snapshot: which members this node probes depends on the live vantage points. The first
      // load is read and built meanwhile; it is swapped in (and the pools handed to the agreement) after.
      reloader.prefetch();
      await agreement.start();
      agreementStarted = true;
      await reloader.reload();
    } catch (err) {
      // The store is down (or broken): the last good snapshot on disk is better than no answers.
      const saved = await readSnapshotFile(config.snapshotFile).catch((e: Error) => {
        log.error({ err: e.message, file: config.snapshotFile }, 'snapshot file unusable');
        return undefined;
      });
      if (!saved) {
        throw new LbdnsError('E_STARTUP', `cannot load from the store (${(err as Error).message}) and there is no usable snapshot file at ${config.snapshotFile}`);
      }
      // Unreachable store: this node probes every member itself (its heartbeat retries on its timer).
      if (!agreementStarted) await agreement.start();
      await reloader.install(saved.contents);
      readiness.servingFile(saved.savedAt);
      log.warn({ err: (err as Error).message, file: config.snapshotFile, savedAt: saved.savedAt, version: saved.contents.version }, 'store unreachable at start: serving the snapshot file');
    }
    stopFeed = await store.watchChanges((change) => reloader.changed(change), (status) => {
      readiness.feed(status);
      // Off LISTEN (down, or LBDNS_CHANGE_FEED=poll): no vote is notified, so each heartbeat reads the recent ones.
      agreement.listening(status.via === 'listen' && !status.degraded);
    }, {
      sinceVersion: reloader.current().version,
      onHeartbeatFailure: readiness.heartbeatFailed,
      votes: { onVotes: agreement.votesNotified, onListening: () => void agreement.resync() },
    });
    // A restart must not hand out dead members: one probe round (bounded by the longest timeout) first.
    await monitor.firstRound();
    firstRoundDone();
    transfers.enablePoolSerials();
    if (pool) {
      dns = pool;
      await pool.ready();
    } else dns = await startDnsServer({
      listen: config.dns.listen,
      tcpIdleMs: config.dns.tcpIdleMs,
      snapshot: reloader.current,
      context,
      metrics,
      log: log.child({ component: 'dns' }),
      querySample: config.log.querySample,
      tcpLimits: config.dns.tcp,
      rrl: new ResponseRateLimiter(config.dns.rrl),
      transfer: transfers.handler,
      tsig: transfers.signer,
      update: updates.handler,
    });
    // Last: an API write is answered from a snapshot that is already served (fastify is loaded only when asked for).
    if (config.api) api = await (await import('./api/api-server.js')).startApi({ ...config.api, store, explain, log: log.child({ component: 'api' }) });
    log.info({ addresses: dns.addresses, helperThreadsLowered: lowerHelperThreads() }, 'dns listening');
    // Serving: the members resumed from the previous run's votes are probed now (held back while the start-up ran).
    monitor.probeResumed();
    log.info({ port: http.port, host: config.http.listen.host }, 'ops http listening');
  } catch (err) {
    stopRole?.();
    reloader.stop();
    overrideWatch.stop();
    agreement.stop();
    monitor.stop();
    transfers.stop();
    if (healthBroadcast !== undefined) clearTimeout(healthBroadcast);
    retention.stop();
    await transitions.stop().catch(() => undefined);
    await reporter.stop().catch(() => undefined);
    await dns?.close();
    await pool?.close();
    await http?.close();
    await stopFeed?.();
    await store.close().catch(() => undefined);
    throw err;
  }
  const running = { dns, http, reloader, monitor, agreement, workers: pool };
  return {
    ...running,
    async stop() {
      await api?.close();
      stopRole?.();
      reloader.stop();
      overrideWatch.stop();
      agreement.stop();
      monitor.stop();
      transfers.stop();
      if (healthBroadcast !== undefined) clearTimeout(healthBroadcast);
      retention.stop();
      await transitions.stop();
      await reporter.stop();
      await running.dns.close();
      await running.http.close();
      await stopFeed?.();
      await store.close();
    },
  };
}

/** `lbdns serve`: runs until SIGINT/SIGTERM. A worker process (forked by the primary) only answers DNS. */
export async function serve(config: Config): Promise<void> {
  tuneHeapForServing();
  // Every thread but this one at nice 19 (again once listening, for those started since: serving-heap.ts).
  lowerHelperThreads();
  if (cluster.isWorker) {
    const log = createLogger(config.log.level).child({ component: 'dns', worker: cluster.worker?.id });
    return runWorker(config, config.dns.workers, log);
  }
  const log = createLogger(config.log.level);
  let running: Running;
  try {
    running = await start(config, log, { workers: config.dns.workers });
  } catch (err) {
    const message = err instanceof LbdnsError ? err.message : (err as Error).message;
    log.fatal({ err: message }, 'cannot start');
    throw err instanceof LbdnsError ? err : new LbdnsError('E_STARTUP', message, { cause: err });
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down');
      running.stop().then(resolve, (err) => {
        log.error({ err: (err as Error).message }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}
