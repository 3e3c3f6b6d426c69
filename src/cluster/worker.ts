// A DNS worker process: its own snapshot, health view and WRR state, fed by the primary; it only answers.
import { AggregatorRegistry } from 'prom-client';
import { createAnswerContext } from '../answer-context.js';
import { setUpGeo } from '../geo/setup.js';
import type { Config } from '../config.js';
import type { Snapshot } from '../core/snapshot.js';
import { EMPTY_SNAPSHOT } from '../core/snapshot.js';
import { EMPTY_HEALTH, freezeView, type HealthView } from '../health/health-view.js';
import type { Logger } from '../obs/log.js';
import { createMetrics } from '../obs/metrics.js';
import { pruneWrrState } from '../policies/wrr.js';
import { startDnsServer } from '../server/dns-server.js';
import { ResponseRateLimiter } from '../server/rrl.js';
import { buildSnapshot } from '../snapshot/build.js';
import { rebuildZones } from '../snapshot/partial.js';
import type { FromWorker, ToWorker } from './messages.js';

function send(msg: FromWorker): void {
  process.send?.(msg);
}

export async function runWorker(config: Config, workers: number, log: Logger): Promise<void> {
  const metrics = createMetrics();
  AggregatorRegistry.setRegistries([metrics.registry]);
  let snapshot: Snapshot = EMPTY_SNAPSHOT;
  let health: HealthView = EMPTY_HEALTH;
  const geo = await setUpGeo({ databasePath: config.geo.database, cacheSize: config.geo.cacheSize, metrics, snapshot: () => snapshot });
  const { context, policyState } = createAnswerContext(config, metrics, () => health, log, geo.state);
  let firstContents: (() => void) | undefined;
  const gotContents = new Promise<void>((resolve) => (firstContents = resolve));

  process.on('message', (raw: ToWorker) => {
    switch (raw.type) {
      case 'contents': {
        snapshot = buildSnapshot(raw.contents).snapshot;
        pruneWrrState(policyState.wrr, new Set(snapshot.pools.map((p) => p.id)));
        firstContents?.();
        break;
      }
      case 'zones': {
        // Full contents always come first (in answer to hello), so the other zones are already here.
        snapshot = rebuildZones(snapshot, raw.part, raw.names).snapshot;
        pruneWrrState(policyState.wrr, new Set(snapshot.pools.map((p) => p.id)));
        break;
      }
      case 'health':
        health = freezeView(new Map(raw.view));
        break;
      case 'metrics':
        void metrics.registry.getMetricsAsJSON().then((json) => send({ type: 'metrics', id: raw.id, json }));
        break;
    }
  });
  // The primary going away leaves nobody to feed this worker: stop with it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'hello' });

  await gotContents;
  // Each worker sees a share of the queries, so each limits at its share of the configured rate.
  const rrl = new ResponseRateLimiter({ ...config.dns.rrl, ratePerSecond: Math.ceil(config.dns.rrl.ratePerSecond / workers) });
  try {
    const dns = await startDnsServer({
      listen: config.dns.listen,
      tcpIdleMs: config.dns.tcpIdleMs,
      snapshot: () => snapshot,
      context,
      metrics,
      log,
      querySample: config.log.querySample,
      tcpLimits: config.dns.tcp,
      rrl,
    });
    send({ type: 'ready', addresses: dns.addresses });
    // Serve until told to stop; the CLI exits when serve() returns.
    await new Promise<void>((resolve) => process.once('SIGTERM', () => void dns.close().then(resolve)));
  } catch (err) {
    send({ type: 'fatal', error: (err as Error).message });
    process.exit(1);
  }
}
