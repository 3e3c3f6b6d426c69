// ChooserHooks that count into prom-client, with children bound once per pool or member object, not per query.
import type { Pool, PoolMember } from '../core/snapshot.js';
import type { Metrics } from '../obs/metrics.js';
import type { ChooserHooks } from './choose.js';

interface Inc {
  inc(): void;
}

/** Snapshot objects are the keys: a reload brings new objects and new children; old ones are collected. */
export function choiceMetrics(metrics: Metrics, unknownPolicy?: ChooserHooks['unknownPolicy']): ChooserHooks {
  const failOpen = new WeakMap<Pool, Inc>();
  const answers = new WeakMap<PoolMember, Inc>();
  return {
    failOpen(pool) {
      let child = failOpen.get(pool);
      if (!child) failOpen.set(pool, (child = metrics.poolFailOpen.labels(pool.name)));
      child.inc();
    },
    answered(pool, members) {
      for (const m of members) {
        let child = answers.get(m);
        if (!child) answers.set(m, (child = metrics.poolAnswers.labels(pool.name, m.address)));
        child.inc();
      }
    },
    unknownPolicy,
  };
}
