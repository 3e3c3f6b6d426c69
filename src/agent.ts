// `lbdns probe-agent`: probes only, from another network, and publishes its votes to the store. No DNS.
//
// It is a vantage point like a serving node (src/health/agreement.ts): it beats in vantage_points, probes the members
// its share gives it (every member of a pool without probers; its rendezvous share of a pool with probers), writes
// member_health rows as its votes, and reloads the pools when they change (LISTEN lbdns_changes). An agent that goes
// silent (stopped, partitioned) stops beating, and its votes stop counting LIVE_HEARTBEATS intervals later.
import type { Config } from './config.js';
import { LbdnsError } from './errors.js';
import { HealthAgreement } from './health/agreement.js';
import { HealthMonitor } from './health/monitor.js';
import { HealthReporter } from './health/reporter.js';
import type { Logger } from './obs/log.js';
import { createMetrics } from './obs/metrics.js';
import { startOpsHttp, type OpsHttp } from './server/ops-http.js';
import { buildSnapshot } from './snapshot/build.js';
import { openStore } from './store/store.js';
import type { ListenAddress } from './config.js';

export interface AgentOptions {
  /** The vantage point's name in vantage_points and member_health.node. */
  readonly name: string;
  /** /metrics, /healthz and /readyz; undefined: none. */
  readonly http: ListenAddress | undefined;
}

export interface RunningAgent {
  readonly agreement: HealthAgreement;
  readonly monitor: HealthMonitor;
  readonly http: OpsHttp | undefined;
  stop(): Promise<void>;
}

/** Pools are read again this long after the last change notification (a burst of edits is one read). */
const RELOAD_DEBOUNCE_MS = 200;
/** While the store cannot be read at start, the pools are tried again this often. */
const RETRY_MS = 2000;

export async function startProbeAgent(config: Config, opts: AgentOptions, log: Logger): Promise<RunningAgent> {
  const metrics = createMetrics();
  if (config.store.databaseUrl === undefined) {
    throw new LbdnsError('E_STARTUP', 'a probe agent needs DATABASE_URL: it publishes its votes to the PostgreSQL the serving nodes read');
  }
  const store = await openStore(config.store, { role: 'server', logger: log.child({ component: 'store' }), pollIntervalMs: config.feed.pollIntervalMs, changeFeed: config.feed.mode });
  const monitor = new HealthMonitor({ logger: log, metrics });
  const reporter = new HealthReporter({
    write: (r) => store.reportHealth(opts.name, r),
    log: log.child({ component: 'health' }),
    heartbeatMs: config.healthRows.writeIntervalMs,
  });
  monitor.onResult(reporter.record);
  const agreement = new HealthAgreement({
    self: opts.name,
    kind: 'agent',
    monitor,
    store,
    log,
    metrics,
    heartbeatMs: config.vantage.heartbeatMs,
    onWithdrawn: (ids) => reporter.forget(ids),
    onVotesCleared: () => reporter.rewriteAll(),
  });
  let version: number | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let loading: Promise<boolean> | undefined;
  /** Reads the pools and hands them to the agreement; false when the store did not answer. */
  const load = (): Promise<boolean> =>
    (loading ??= (async () => {
      try {
        const contents = await store.loadContents();
        if (stopped) return true;
        if (contents.version !== version) {
          const { snapshot } = buildSnapshot(contents);
          version = contents.version;
          agreement.setPools(snapshot.pools);
          // No start-up to protect here (src/health/monitor.ts begin()): members resumed from the last run are probed now.
          monitor.probeResumed();
          const members = snapshot.pools.reduce((n, p) => n + p.members.length, 0);
          log.info({ version, pools: snapshot.pools.length, members }, 'pools loaded');
        }
        return true;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'cannot read the pools; trying again');
        return false;
      } finally {
        loading = undefined;
      }
    })());
  const schedule = (delay: number): void => {
    if (timer !== undefined || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void load().then((ok) => {
        if (!ok) schedule(RETRY_MS);
      });
    }, delay);
  };

  let http: OpsHttp | undefined;
  let stopFeed: (() => Promise<void>) | undefined;
  try {
    await store.migrate();
    await agreement.start();
    if (!(await load())) schedule(RETRY_MS);
    stopFeed = await store.watchChanges(
      (change) => {
        if (change.table !== 'records' && change.table !== 'zones') schedule(RELOAD_DEBOUNCE_MS);
      },
      (status) => {
        agreement.listening(status.via === 'listen' && !status.degraded);
        if (status.storeReachable) schedule(RELOAD_DEBOUNCE_MS);
      },
      { sinceVersion: version, votes: { onVotes: agreement.votesNotified, onListening: () => void agreement.resync() } },
    );
    if (opts.http) {
      http = await startOpsHttp({
        listen: opts.http,
        metrics,
        log: log.child({ component: 'http' }),
        readiness: () => {
          const votes = agreement.status();
          return { ready: version !== undefined && votes.shared, detail: { vantage: opts.name, kind: 'agent', poolsVersion: version ?? null, votes } };
        },
      });
      log.info({ port: http.port, host: opts.http.host }, 'ops http listening');
    }
  } catch (err) {
    stopped = true;
    agreement.stop();
    monitor.stop();
    await reporter.stop().catch(() => undefined);
    await stopFeed?.();
    await store.close().catch(() => undefined);
    throw err;
  }
  log.info({ vantage: opts.name }, 'probe agent running');
  return {
    agreement,
    monitor,
    http,
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      agreement.stop();
      monitor.stop();
      await reporter.stop();
      await http?.close();
      await stopFeed?.();
      await store.close();
    },
  };
}

/** Runs until SIGINT/SIGTERM. */
export async function runProbeAgent(config: Config, opts: AgentOptions, log: Logger): Promise<void> {
  let agent: RunningAgent;
  try {
    agent = await startProbeAgent(config, opts, log);
  } catch (err) {
    const message = (err as Error).message;
    log.fatal({ err: message }, 'cannot start the probe agent');
    throw err instanceof LbdnsError ? err : new LbdnsError('E_STARTUP', message, { cause: err });
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      agent.stop().then(resolve, (err: Error) => {
        log.error({ err: err.message }, 'error during shutdown');
        resolve();
      });
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}
