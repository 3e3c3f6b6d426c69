// Logs overrides and maintenance windows as they take effect and end, and keeps lbdns_pool_overrides current, on a timer.
import type { Snapshot } from '../core/snapshot.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import { poolOverrides, type ActiveOverride } from './overrides.js';

/**
 * The answer path needs no timer: the chooser judges expiries at its clock on each query. This one exists so that an
 * override ending, or a window opening, is logged (and counted) at its moment rather than at the next query or reload.
 * Woken at the next change, and at least hourly, so a clock stepped by NTP cannot leave it asleep for long.
 */
const MAX_SLEEP_MS = 3600_000;

interface Entry {
  readonly pool: string;
  readonly member: string;
  readonly o: ActiveOverride;
}

const keyOf = (o: ActiveOverride): string => `${o.source}|${o.state}|${o.since}|${o.until}|${o.windowId ?? ''}|${o.by}|${o.reason}`;

export interface OverrideWatchOptions {
  readonly snapshot: () => Snapshot;
  readonly log: Logger;
  readonly metrics?: Metrics;
  readonly clock?: () => number;
}

export class OverrideWatch {
  readonly #opts: OverrideWatchOptions;
  readonly #clock: () => number;
  /** What was in force at the last look, by member id. */
  #active = new Map<number, Entry>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(opts: OverrideWatchOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? Date.now;
  }

  /** After a snapshot swap (an override set or cleared, a window added): look again now. */
  swapped(): void {
    this.evaluate();
  }

  /** Compares what is in force now with the last look, logs the differences, and sleeps until the next change. */
  evaluate(): void {
    if (this.#stopped) return;
    const now = this.#clock();
    const snapshot = this.#opts.snapshot();
    const active = new Map<number, Entry>();
    let next = Infinity;
    for (const pool of snapshot.pools) {
      const found = poolOverrides(pool, now);
      next = Math.min(next, found.next);
      for (const [id, o] of found.active) active.set(id, { pool: pool.name, member: pool.members.find((m) => m.id === id)!.address, o });
    }
    const log = this.#opts.log;
    for (const [id, e] of active) {
      const before = this.#active.get(id);
      if (before !== undefined && keyOf(before.o) === keyOf(e.o)) continue;
      const { o } = e;
      log.info(
        { pool: e.pool, member: e.member, state: o.state, source: o.source, reason: o.reason, by: o.by, until: o.until === null ? null : new Date(o.until).toISOString(), window: o.windowId },
        o.source === 'maintenance' ? 'maintenance window open: member drained' : `override in force: member forced ${o.state}`,
      );
    }
    for (const [id, e] of this.#active) {
      const after = active.get(id);
      if (after !== undefined && keyOf(after.o) === keyOf(e.o)) continue;
      if (after !== undefined && after.o.source === e.o.source) continue;
      const { o } = e;
      const why = o.until !== null && now >= o.until ? (o.source === 'maintenance' ? 'window closed' : 'expired') : 'cleared';
      log.info({ pool: e.pool, member: e.member, state: o.state, source: o.source, reason: o.reason, by: o.by, ended: why, window: o.windowId }, o.source === 'maintenance' ? 'maintenance window over: member released' : `override ${why}`);
    }
    this.#active = active;
    this.#count();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const sleep = Math.max(0, Math.min(next - now, MAX_SLEEP_MS));
    this.#timer = setTimeout(() => this.evaluate(), sleep);
    this.#timer.unref();
  }

  #count(): void {
    const gauge = this.#opts.metrics?.poolOverrides;
    if (gauge === undefined) return;
    const counts = new Map<string, { pool: string; state: string; source: string; n: number }>();
    for (const { pool, o } of this.#active.values()) {
      const k = `${pool}\0${o.state}\0${o.source}`;
      const c = counts.get(k);
      if (c) c.n++;
      else counts.set(k, { pool, state: o.state, source: o.source, n: 1 });
    }
    gauge.reset();
    for (const c of counts.values()) gauge.labels(c.pool, c.state, c.source).set(c.n);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}
