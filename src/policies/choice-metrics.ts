// ChooserHooks that count into prom-client: fail-opens directly, answered members through plain arrays flushed on read.
import type { Pool, PoolMember } from '../core/snapshot.js';
import type { Metrics } from '../obs/metrics.js';
import type { ChooserHooks } from './choose.js';

interface Inc {
  inc(value?: number): void;
}

/** Answers of one pool object not yet added to prom-client, by the member's position in pool.members. */
interface Pending {
  readonly pool: Pool;
  readonly counts: Float64Array;
  queued: boolean;
}

/** Pools with unflushed counts held before the counts are added without waiting for a metrics read. */
const MAX_QUEUED = 4096;

/**
 * Snapshot objects are the keys: a reload brings new objects; old ones are collected once their counts are
 * flushed (a pool with pending counts stays queued, and so alive, until the next read of the metrics).
 */
export function choiceMetrics(metrics: Metrics, unknownPolicy?: ChooserHooks['unknownPolicy']): ChooserHooks {
  const failOpen = new WeakMap<Pool, Inc>();
  const children = new WeakMap<PoolMember, Inc>();
  const pending = new WeakMap<Pool, Pending>();
  let queue: Pending[] = [];

  const flush = (): void => {
    const flushing = queue;
    queue = [];
    for (const p of flushing) {
      p.queued = false;
      const { pool, counts } = p;
      for (let i = 0; i < counts.length; i++) {
        const n = counts[i];
        if (n === 0) continue;
        counts[i] = 0;
        const m = pool.members[i];
        let child = children.get(m);
        if (!child) children.set(m, (child = metrics.poolAnswers.labels(pool.name, m.address)));
        child.inc(n);
      }
    }
  };
  metrics.beforePoolAnswersRead.add(flush);

  return {
    failOpen(pool) {
      let child = failOpen.get(pool);
      if (!child) failOpen.set(pool, (child = metrics.poolFailOpen.labels(pool.name)));
      child.inc();
    },
    answered(pool, members) {
      let p = pending.get(pool);
      if (p === undefined) pending.set(pool, (p = { pool, counts: new Float64Array(pool.members.length), queued: false }));
      for (let i = 0; i < members.length; i++) {
        const at = pool.members.indexOf(members[i]);
        if (at !== -1) p.counts[at]++;
      }
      if (!p.queued) {
        p.queued = true;
        queue.push(p);
        if (queue.length > MAX_QUEUED) flush();
      }
    },
    unknownPolicy,
  };
}
