// What this node says about its store: reachable or not, serving the snapshot file or not, how edits reach it; one owner behind /readyz and its gauges.
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';

/** The change feed's report, as far as readiness reads it (the store's FeedStatus has this shape). */
export interface FeedState {
  readonly via: 'listen' | 'poll';
  readonly degraded: boolean;
  readonly storeReachable: boolean;
  readonly error?: string;
}

export interface StoreReadiness {
  readonly store: 'reachable' | 'unreachable';
  /** "store", or "file saved <ISO time>" while the serving snapshot came from the file and the store has not been read since. */
  readonly source: string;
  readonly propagation: { readonly mode: 'listen' | 'poll'; readonly degraded: boolean; readonly error: string | null };
  readonly lastReloadError: string | null;
}

export interface ReadinessOptions {
  /** The propagation mode configured, reported until the feed says otherwise. */
  readonly mode: 'listen' | 'poll';
  readonly metrics: Pick<Metrics, 'storeReachable' | 'propagationMode' | 'lastSync' | 'feedHeartbeatFailures'>;
  readonly log: Logger;
  /** The last reload's error (reading or building), or undefined after a good one. */
  readonly reloadError: () => string | undefined;
  /** Called whenever the feed reports the store answering: what changed while it did not is read then. */
  readonly onStoreAnswering?: () => void;
  readonly now?: () => number;
}

/**
 * The store is "reachable" only when the feed reaches it, the last read of it succeeded and the
 * snapshot served is no longer the file's. The file's mark goes with the first successful read,
 * whether or not the version moved: a store that comes back unchanged is as good as a changed one.
 */
export class ReadinessState {
  #feed: FeedState;
  #lastReadOk = true;
  #fileSavedAt: string | undefined;
  #reachable: boolean | undefined;
  readonly #opts: ReadinessOptions;

  constructor(opts: ReadinessOptions) {
    this.#opts = opts;
    this.#feed = { via: opts.mode, degraded: false, storeReachable: true };
    this.#publish(false);
  }

  /** Start-up could not read the store: the snapshot served comes from the file saved at `savedAt`. */
  servingFile(savedAt: string): void {
    this.#fileSavedAt = savedAt;
    this.#lastReadOk = false;
    this.#publish();
  }

  /** A read of the store succeeded (a reload, changed or unchanged). */
  storeRead(): void {
    this.#lastReadOk = true;
    this.#fileSavedAt = undefined;
    this.#opts.metrics.lastSync.set((this.#opts.now ?? Date.now)() / 1000);
    this.#publish();
  }

  /** A read of the store failed: what is served is the last good snapshot. */
  storeReadFailed(): void {
    this.#lastReadOk = false;
    this.#publish();
  }

  /** Wraps a store read so that its outcome is recorded here. */
  track<A extends unknown[], T>(read: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
    return async (...args) => {
      try {
        const result = await read(...args);
        this.storeRead();
        return result;
      } catch (err) {
        this.storeReadFailed();
        throw err;
      }
    };
  }

  /** The change feed's latest report. */
  readonly feed = (s: FeedState): void => {
    const before = this.#feed;
    if (s.via !== before.via || s.degraded !== before.degraded) {
      this.#opts.log.warn({ from: before.via, to: s.via, degraded: s.degraded, error: s.error }, 'propagation mode switched');
    }
    this.#feed = s;
    this.#publish();
    if (s.storeReachable) this.#opts.onStoreAnswering?.();
  };

  /** The LISTEN connection missed a heartbeat (the feed logs it; this counts it). */
  readonly heartbeatFailed = (): void => {
    this.#opts.metrics.feedHeartbeatFailures.inc();
  };

  view(): StoreReadiness {
    const f = this.#feed;
    const error = this.#opts.reloadError();
    return {
      store: this.#isReachable() ? 'reachable' : 'unreachable',
      source: this.#fileSavedAt !== undefined ? `file saved ${this.#fileSavedAt}` : 'store',
      propagation: { mode: f.via, degraded: f.degraded, error: f.error ?? null },
      lastReloadError: error ?? null,
    };
  }

  #isReachable(): boolean {
    return this.#feed.storeReachable && this.#lastReadOk && this.#fileSavedAt === undefined;
  }

  /**
   * Gauges follow every change at once, so that /metrics and /readyz never disagree. Changes are
   * logged from the first known state on: the outcome of start-up's own read is not a transition
   * (start-up logs a store it cannot read in its own words).
   */
  #publish(known = true): void {
    const { metrics, log } = this.#opts;
    const reachable = this.#isReachable();
    metrics.storeReachable.set(reachable ? 1 : 0);
    metrics.propagationMode.labels('listen').set(this.#feed.via === 'listen' ? 1 : 0);
    metrics.propagationMode.labels('poll').set(this.#feed.via === 'poll' ? 1 : 0);
    if (this.#reachable !== undefined && reachable !== this.#reachable) {
      if (reachable) log.info('store reachable again');
      else log.warn({ error: this.#feed.error ?? this.#opts.reloadError() ?? null, source: this.view().source }, 'store unreachable');
    }
    if (known) this.#reachable = reachable;
  }
}
