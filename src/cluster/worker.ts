// A DNS worker process: its own snapshot, health view and policy state, fed by the primary; it only answers.
// Snapshots arrive as images built once by the primary's build thread and are adopted a chunk per event-loop turn.
import { AggregatorRegistry } from 'prom-client';
import { createAnswerContext } from '../answer-context.js';
import { setUpGeo } from '../geo/setup.js';
import type { Config } from '../config.js';
import type { Snapshot } from '../core/snapshot.js';
import { EMPTY_SNAPSHOT } from '../core/snapshot.js';
import { EMPTY_HEALTH, freezeView, type HealthView } from '../health/health-view.js';
import type { Logger } from '../obs/log.js';
import { createMetrics } from '../obs/metrics.js';
import { startDnsServer } from '../server/dns-server.js';
import { lowerHelperThreads } from '../serving-heap.js';
import { ResponseRateLimiter } from '../server/rrl.js';
import { adoptImage, imageBytes, type SnapshotImage } from '../snapshot/image.js';
import type { FromWorker, ToWorker } from './messages.js';
import { WorkerTransferRelay } from './transfer-relay.js';
import { WorkerUpdateRelay } from './update-relay.js';

function send(msg: FromWorker): void {
  process.send?.(msg);
}

export async function runWorker(config: Config, workers: number, log: Logger): Promise<void> {
  const metrics = createMetrics();
  AggregatorRegistry.setRegistries([metrics.registry]);
  let snapshot: Snapshot = EMPTY_SNAPSHOT;
  let health: HealthView = EMPTY_HEALTH;
  const geo = await setUpGeo({ databasePath: config.geo.database, cacheSize: config.geo.cacheSize, metrics, snapshot: () => snapshot });
  const { context, policies, keyring } = createAnswerContext(config, metrics, () => health, log, geo.env, 'worker');
  let firstSnapshot: (() => void) | undefined;
  const gotSnapshot = new Promise<void>((resolve) => (firstSnapshot = resolve));
  // The sockets wait for the primary's health view too: answering with none, every pool would look all-down and
  // hand out unprobed members, and a keepalived pair could move the VIP here before the first probe round counts.
  let firstHealth: (() => void) | undefined;
  const gotHealth = new Promise<void>((resolve) => (firstHealth = resolve));
  // Images are adopted one after the other, in the order sent: each may lend zones from the one before.
  let adopting = Promise.resolve();
  const adopt = (image: SnapshotImage): void => {
    adopting = adopting.then(async () => {
      const started = performance.now();
      try {
        const adopted = await adoptImage(image, snapshot);
        keyring.warm(adopted);
        snapshot = adopted;
      } catch (err) {
        log.error({ err: (err as Error).message }, 'could not adopt the snapshot image; still serving the previous one');
        send({ type: 'need-complete', error: (err as Error).message });
        return;
      }
      const ms = performance.now() - started;
      metrics.adoptDuration.observe(ms / 1000);
      policies.forget(new Set(snapshot.pools.map((p) => p.id)));
      log.info({ version: snapshot.version, zones: snapshot.zones.size, imageBytes: imageBytes(image), ms: Math.round(ms) }, 'snapshot adopted');
      firstSnapshot?.();
    });
  };

  const transfers = new WorkerTransferRelay(send, log);
  const updates = new WorkerUpdateRelay(send);
  process.on('message', (raw: ToWorker) => {
    if (transfers.handle(raw) || updates.handle(raw)) return;
    switch (raw.type) {
      case 'image':
        adopt(raw.image);
        break;
      case 'health':
        health = freezeView(new Map(raw.view));
        firstHealth?.();
        break;
      case 'metrics':
        void metrics.registry.getMetricsAsJSON().then((json) => send({ type: 'metrics', id: raw.id, json }));
        break;
    }
  });
  // The primary going away leaves nobody to feed this worker: stop with it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'hello' });

  await Promise.all([gotSnapshot, gotHealth]);
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
      transfer: transfers.transfer,
      tsig: transfers.tsig,
      update: updates.update,
    });
    // Threads started since serve() lowered the others (libuv's pool) go to nice 19 too: serving-heap.ts.
    lowerHelperThreads();
    send({ type: 'ready', addresses: dns.addresses });
    // Serve until told to stop; the CLI exits when serve() returns.
    await new Promise<void>((resolve) => process.once('SIGTERM', () => void dns.close().then(resolve)));
  } catch (err) {
    send({ type: 'fatal', error: (err as Error).message });
    process.exit(1);
  }
}
