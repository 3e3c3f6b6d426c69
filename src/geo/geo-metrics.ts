// Geo hooks that count into prom-client: one child per pool and level, bound on first use, none looked up per query.
import type { Pool } from '../core/snapshot.js';
import type { Metrics } from '../obs/metrics.js';
import { GEO_LEVELS, type GeoLevel } from './geo-level.js';

interface Inc {
  inc(): void;
}

/** `placed` for the policies' environment and `onMiss` for the locator; snapshot pools are the keys, so reloads bind anew. */
export function geoMetrics(metrics: Metrics): { readonly placed: (pool: Pool, level: GeoLevel) => void; readonly onMiss: () => void } {
  const byPool = new WeakMap<Pool, Record<GeoLevel, Inc>>();
  const misses = metrics.geoLookupMisses;
  return {
    placed(pool, level) {
      let children = byPool.get(pool);
      if (!children) {
        children = Object.fromEntries(GEO_LEVELS.map((level) => [level, metrics.geoAnswers.labels(pool.name, level)])) as Record<GeoLevel, Inc>;
        byPool.set(pool, children);
      }
      children[level].inc();
    },
    onMiss: () => misses.inc(),
  };
}
