// Geo hooks that count into prom-client: one child per pool and level, bound on first use, none looked up per query.
import type { Pool } from '../core/snapshot.js';
import type { Metrics } from '../obs/metrics.js';
import { GEO_LEVELS, type GeoLevel, type GeoState } from '../policies/geo.js';

interface Inc {
  inc(): void;
}

/** `decided` for PolicyState.geo and `onMiss` for the locator; snapshot pools are the keys, so reloads bind anew. */
export function geoMetrics(metrics: Metrics): { readonly decided: NonNullable<GeoState['decided']>; readonly onMiss: () => void } {
  const byPool = new WeakMap<Pool, Record<GeoLevel, Inc>>();
  const misses = metrics.geoLookupMisses;
  return {
    decided(pool, narrowed) {
      let children = byPool.get(pool);
      if (!children) {
        children = Object.fromEntries(GEO_LEVELS.map((level) => [level, metrics.geoAnswers.labels(pool.name, level)])) as Record<GeoLevel, Inc>;
        byPool.set(pool, children);
      }
      children[narrowed.level].inc();
    },
    onMiss: () => misses.inc(),
  };
}
