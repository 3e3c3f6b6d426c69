// Retention of the audit log and the health history: a node-cron schedule on each serving node deletes older rows.
//
// Hourly (at a minute of the hour derived from the node's name, so the two nodes of a pair do not start together; a
// second one finds little left and skips rows the first has locked). The store deletes in batches of a few thousand
// rows, each its own short statement, so no pruning holds a lock for long or blocks an edit being audited.
import { schedule, type ScheduledTask } from 'node-cron';
import type { Logger } from '../obs/log.js';
import type { PruneResult } from '../store/store.js';

export interface HistoryRetentionOptions {
  readonly prune: (cutoffs: { readonly auditBefore: number; readonly healthBefore: number }) => Promise<PruneResult>;
  /** Days audit rows are kept (LBDNS_AUDIT_RETENTION). */
  readonly auditDays: number;
  /** Days health transitions are kept (LBDNS_HEALTH_HISTORY_RETENTION). */
  readonly healthDays: number;
  /** Spreads the nodes' minute of the hour. */
  readonly node: string;
  readonly log: Logger;
  readonly now?: () => number;
}

const DAY_MS = 86_400_000;

/** The minute of the hour a node prunes at: a stable hash of its name. */
export function pruneMinute(node: string): number {
  let h = 0;
  for (const c of node) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % 60;
}

export class HistoryRetention {
  readonly #o: HistoryRetentionOptions;
  readonly #task: ScheduledTask;

  constructor(opts: HistoryRetentionOptions) {
    this.#o = opts;
    this.#task = schedule(`${pruneMinute(opts.node)} * * * *`, () => this.runOnce().catch(() => undefined), {
      name: `lbdns-history-retention-${opts.node}`,
      noOverlap: true,
      unref: true,
    });
  }

  /** One pruning pass; failures are logged and left for the next hour. */
  async runOnce(): Promise<PruneResult | undefined> {
    const now = (this.#o.now ?? Date.now)();
    try {
      const r = await this.#o.prune({ auditBefore: now - this.#o.auditDays * DAY_MS, healthBefore: now - this.#o.healthDays * DAY_MS });
      if (r.audit > 0 || r.health > 0) this.#o.log.info({ auditRows: r.audit, healthRows: r.health }, 'history pruned');
      return r;
    } catch (err) {
      this.#o.log.warn({ err: (err as Error).message }, 'history not pruned; next attempt in an hour');
      return undefined;
    }
  }

  stop(): void {
    void this.#task.destroy();
  }
}
