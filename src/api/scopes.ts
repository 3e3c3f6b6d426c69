// Which scope a request needs, and whether a token's scopes cover it (the grammar is src/schema/token-schema.ts's).
import type { PoolLevel, Scope, ZoneLevel } from '../schema/token-schema.js';

/**
 * What one request needs. A pool's zone is given so that zone scopes cover the pools in it; undefined when no zone
 * holds the name. Pool `*` (geo networks, every pool's status) and zone `*` (explain of a name no zone holds) are
 * covered only by scopes on `*` (or `read`, for reading).
 */
export type Need =
  | { readonly kind: 'admin' }
  | { readonly kind: 'zone'; readonly zone: string; readonly level: ZoneLevel }
  | { readonly kind: 'pool'; readonly pool: string; readonly zone: string | undefined; readonly level: PoolLevel };

const POOL_RANK: Readonly<Record<PoolLevel, number>> = { read: 0, drain: 1, write: 2 };

function covers(s: Scope, need: Need): boolean {
  if (need.kind === 'admin') return s.kind === 'admin';
  if (s.kind === 'read') return need.level === 'read';
  if (s.kind === 'admin') return false;
  if (s.kind === 'zone') {
    // zone:Z:write covers everything in Z, its pools and members included; zone:Z:read reads them.
    const inZone = s.name === '*' || (need.kind === 'zone' ? need.zone === s.name : need.zone !== undefined && need.zone === s.name);
    return inZone && (s.level === 'write' || need.level === 'read');
  }
  // write implies drain implies read, for that pool (or every pool).
  return need.kind === 'pool' && (s.name === '*' || s.name === need.pool) && POOL_RANK[s.level] >= POOL_RANK[need.level];
}

export function allows(scopes: readonly Scope[], need: Need): boolean {
  return scopes.some((s) => covers(s, need));
}

/** "pool:lb.example.test:drain": the narrowest scope that would do, for the 403's detail. */
export function needText(need: Need): string {
  if (need.kind === 'admin') return 'admin';
  return need.kind === 'zone' ? `zone:${need.zone}:${need.level}` : `pool:${need.pool}:${need.level}`;
}

/** The other scope that would also do, if any: the zone's, for a pool in a zone. */
export function alternativeText(need: Need): string | undefined {
  if (need.kind !== 'pool' || need.zone === undefined) return undefined;
  return `zone:${need.zone}:${need.level === 'read' ? 'read' : 'write'}`;
}
