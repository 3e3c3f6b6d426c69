// Writes this node's view of member health to the store (member_health), batched, for `lbdns status`.
//
// Answers never wait on this: probes feed the in-memory view directly, and a store that is down
// only delays these rows until it is back.
import type { Logger } from '../obs/log.js';
import type { HealthReport } from '../store/store.js';
import type { ProbeReport } from './monitor.js';

export interface HealthReporterOptions {
  readonly write: (reports: readonly HealthReport[]) => Promise<unknown>;
  readonly log: Logger;
  /** Latest states are written at most this often; a transition is written at the next tick. */
  readonly intervalMs?: number;
}

export class HealthReporter {
  readonly #pending = new Map<number, HealthReport>();
  readonly #transitions = new Map<number, number>();
  readonly #opts: HealthReporterOptions;
  readonly #timer: NodeJS.Timeout;
  #writing = false;
  #failing = false;

  constructor(opts: HealthReporterOptions) {
    this.#opts = opts;
    this.#timer = setInterval(() => void this.flush(), opts.intervalMs ?? 2000);
    this.#timer.unref();
  }

  /** Hook for HealthMonitor.onResult. */
  readonly record = (r: ProbeReport): void => {
    const id = r.state.memberId;
    if (r.transition) this.#transitions.set(id, (this.#transitions.get(id) ?? 0) + 1);
    this.#pending.set(id, {
      memberId: id,
      up: r.state.up,
      since: r.state.since,
      lastCheck: r.state.lastCheck,
      latencyMs: r.state.lastLatencyMs,
      lastError: r.state.lastError,
      transitions: this.#transitions.get(id) ?? 0,
    });
  };

  async flush(): Promise<void> {
    if (this.#writing || this.#pending.size === 0) return;
    this.#writing = true;
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    try {
      await this.#opts.write(batch);
      if (this.#failing) this.#opts.log.info('member health written to the store again');
      this.#failing = false;
    } catch (err) {
      // Keep the newest state of each member for the next try; newer reports win.
      for (const r of batch) if (!this.#pending.has(r.memberId)) this.#pending.set(r.memberId, r);
      if (!this.#failing) this.#opts.log.warn({ err: (err as Error).message }, 'cannot write member health to the store; will retry');
      this.#failing = true;
    } finally {
      this.#writing = false;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
