// The primary's side of the DNS workers: fork them, feed them snapshots and health, restart the ones that die.
//
// node:cluster shares each UDP socket and TCP listener between the workers (the kernel hands each
// packet or connection to one of them); SCHED_NONE keeps the primary out of the TCP accept path.
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';

// One registry's metrics as getMetricsAsJSON() returns them.
type MetricsJson = Parameters<typeof AggregatorRegistry.aggregate>[0][number];
import type { HealthView } from '../health/health-view.js';
import type { Logger } from '../obs/log.js';
import type { SnapshotImage } from '../snapshot/image.js';
import type { TsigKey } from '../store/transfer-queries.js';
import type { FromWorker, ToWorker } from './messages.js';
import { PrimaryTransferRelay } from './transfer-relay.js';
import { PrimaryUpdateRelay } from './update-relay.js';

export interface WorkerPoolOptions {
  readonly count: number;
  readonly log: Logger;
  /** An image of every zone served now, sent to every worker that starts; then the health view. */
  readonly completeImage: () => Promise<SnapshotImage>;
  readonly health: () => HealthView;
  /**
   * Workers get their first image only once this settles (the primary's first probe round): they are forked
   * early so that their start-up overlaps the store load and the probes, but none answers before health is known.
   */
  readonly joinAfter?: Promise<void>;
  /** Extra environment for every worker (e.g. LBDNS_LISTEN with port 0 made concrete). */
  readonly env?: Readonly<Record<string, string>>;
  /** Zone transfers the workers relay here, and the TSIG keys they sign replies with (src/xfr/zone-transfers.ts). */
  readonly transfers?: {
    readonly handle: (packet: Buffer, peer: string, write: (message: Buffer) => Promise<void>) => Promise<void> | undefined;
    readonly keys: () => readonly TsigKey[];
  };
  /** RFC 2136 updates the workers relay here (src/xfr/update-service.ts): the reply, or undefined for none. */
  readonly updates?: (packet: Buffer, peer: string) => Promise<Buffer | undefined>;
}

type Address = { host: string; port: number; transport: 'udp' | 'tcp' };

/** Restarts slow down when workers keep dying: 0.1 s, doubling to 10 s, reset after a minute of calm. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;

export class WorkerPool {
  readonly #opts: WorkerPoolOptions;
  readonly #ready = new Map<number, Worker>();
  /**
   * Workers that hold a complete snapshot and so can adopt the images of later reloads (which leave out the zones
   * they already serve). A starting worker gets none of those until its complete image has been sent.
   */
  readonly #joined = new Set<number>();
  #broadcasts = 0;
  #addresses: Address[] = [];
  #stopping = false;
  #restartDelay = RESTART_MIN_MS;
  #lastRestart = 0;
  #metricsId = 0;
  readonly #pendingMetrics = new Map<number, { left: number; parts: MetricsJson[]; resolve: (parts: MetricsJson[]) => void }>();
  #started: Promise<void> | undefined;
  restarts = 0;

  constructor(opts: WorkerPoolOptions) {
    this.#opts = opts;
  }

  get addresses(): readonly Address[] {
    return this.#addresses;
  }

  get readyCount(): number {
    return this.#ready.size;
  }

  get pids(): number[] {
    return [...this.#ready.values()].map((w) => w.process.pid!).filter(Boolean);
  }

  /** Forks every worker and resolves when all of them answer DNS. */
  async start(): Promise<void> {
    this.launch();
    await this.ready();
  }

  /** Forks every worker now; ready() tells when they all answer. */
  launch(): void {
    if (this.#started) return;
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ serialization: 'advanced' });
    cluster.on('exit', (worker, code, signal) => this.#exited(worker, code, signal));
    this.#started = Promise.all(Array.from({ length: this.#opts.count }, () => this.#fork())).then(() => undefined);
    // A start that fails elsewhere closes the pool before anyone awaits ready(): not an unhandled rejection.
    this.#started.catch(() => undefined);
  }

  ready(): Promise<void> {
    return this.#started ?? Promise.reject(new Error('the dns workers were never launched'));
  }

  #fork(): Promise<void> {
    const worker = cluster.fork({ ...this.#opts.env, LBDNS_WORKER: '1' });
    const transfers = this.#opts.transfers;
    const relay = transfers ? new PrimaryTransferRelay(transfers.handle, (m) => this.#send(worker, m)) : undefined;
    worker.once('exit', () => relay?.close());
    const updates = this.#opts.updates ? new PrimaryUpdateRelay(this.#opts.updates, (m) => this.#send(worker, m)) : undefined;
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: FromWorker) => {
        if (relay?.handle(msg) || updates?.handle(msg)) return;
        if (msg.type === 'hello' || msg.type === 'need-complete') {
          if (msg.type === 'need-complete') this.#opts.log.warn({ worker: worker.process.pid, err: msg.error }, 'dns worker could not adopt an image; sending it a complete one');
          this.#joined.delete(worker.id);
          this.#join(worker);
        } else if (msg.type === 'ready') {
          this.#ready.set(worker.id, worker);
          this.#addresses = [...msg.addresses];
          this.#opts.log.info({ worker: worker.process.pid, addresses: msg.addresses }, 'dns worker ready');
          resolve();
        } else if (msg.type === 'fatal') {
          reject(new Error(`dns worker failed: ${msg.error}`));
        } else if (msg.type === 'metrics') {
          const pending = this.#pendingMetrics.get(msg.id);
          if (pending) {
            pending.parts.push(msg.json as MetricsJson);
            if (--pending.left === 0) {
              this.#pendingMetrics.delete(msg.id);
              pending.resolve(pending.parts);
            }
          }
        }
      });
      worker.once('exit', () => reject(new Error('dns worker exited during start')));
    });
  }

  /** Sends a complete image; if a reload was broadcast meanwhile (which this worker missed), a newer one. */
  #join(worker: Worker): void {
    (this.#opts.joinAfter ?? Promise.resolve()).then(() => this.#sendComplete(worker), () => undefined);
  }

  #sendComplete(worker: Worker): void {
    const seen = this.#broadcasts;
    this.#opts.completeImage().then(
      (image) => {
        if (this.#broadcasts !== seen) return this.#sendComplete(worker);
        this.#send(worker, { type: 'image', image });
        this.#joined.add(worker.id);
        this.#send(worker, { type: 'health', view: [...this.#opts.health()] });
        if (this.#opts.transfers) this.#send(worker, { type: 'tsig-keys', keys: this.#opts.transfers.keys() });
      },
      (err: Error) => this.#opts.log.error({ worker: worker.process.pid, err: err.message }, 'no snapshot image for a dns worker'),
    );
  }

  #exited(worker: Worker, code: number | null, signal: string | null): void {
    this.#ready.delete(worker.id);
    this.#joined.delete(worker.id);
    if (this.#stopping) return;
    const now = Date.now();
    if (now - this.#lastRestart > 60_000) this.#restartDelay = RESTART_MIN_MS;
    this.#lastRestart = now;
    const delay = this.#restartDelay;
    this.#restartDelay = Math.min(this.#restartDelay * 2, RESTART_MAX_MS);
    this.#opts.log.error({ worker: worker.process.pid, code, signal, restartInMs: delay }, 'dns worker died; the others keep answering');
    setTimeout(() => {
      if (this.#stopping) return;
      this.restarts++;
      this.#fork().catch((err) => this.#opts.log.error({ err: (err as Error).message }, 'dns worker restart failed'));
    }, delay).unref();
  }

  #send(worker: Worker, msg: ToWorker): void {
    if (worker.isConnected()) worker.send(msg, (err: Error | null) => err && this.#opts.log.debug({ err: err.message }, 'ipc send failed'));
  }

  #all(msg: ToWorker): void {
    for (const w of Object.values(cluster.workers ?? {})) if (w) this.#send(w, msg);
  }

  /** Sends a reload's image to every worker that holds a complete snapshot (the others get a complete one). */
  broadcastImage(image: SnapshotImage): void {
    this.#broadcasts++;
    for (const w of Object.values(cluster.workers ?? {})) if (w && this.#joined.has(w.id)) this.#send(w, { type: 'image', image });
  }

  /** The TSIG keys changed: every worker gets the new list. */
  broadcastKeys(keys: readonly TsigKey[]): void {
    this.#all({ type: 'tsig-keys', keys });
  }

  broadcastHealth(view: HealthView): void {
    this.#all({ type: 'health', view: [...view] });
  }

  /** Every worker's metrics, merged with `own` (counters summed, gauges as each metric's aggregator says). */
  async metricsText(own: MetricsJson): Promise<string> {
    const workers = [...this.#ready.values()].filter((w) => w.isConnected());
    const id = ++this.#metricsId;
    const parts = await new Promise<MetricsJson[]>((resolve) => {
      if (workers.length === 0) return resolve([]);
      this.#pendingMetrics.set(id, { left: workers.length, parts: [], resolve });
      for (const w of workers) this.#send(w, { type: 'metrics', id });
      // A worker that does not answer in time is left out of this scrape rather than stalling it.
      setTimeout(() => {
        const p = this.#pendingMetrics.get(id);
        if (p) {
          this.#pendingMetrics.delete(id);
          resolve(p.parts);
        }
      }, 2000).unref();
    });
    return AggregatorRegistry.aggregate([own, ...parts]).metrics();
  }

  async close(): Promise<void> {
    this.#stopping = true;
    const exits = Object.values(cluster.workers ?? {}).map(
      (w) =>
        new Promise<void>((resolve) => {
          if (!w || w.isDead()) return resolve();
          w.once('exit', () => resolve());
          w.process.kill('SIGTERM');
          setTimeout(() => w.isDead() || w.process.kill('SIGKILL'), 5000).unref();
        }),
    );
    await Promise.all(exits);
  }
}
