// Smooth weighted round robin as nginx does it (ngx_http_upstream_get_peer), kept per pool and address family.
import type { PoolMember } from '../core/snapshot.js';
import type { Candidate } from './candidates.js';
import type { Policy } from './policy.js';

/** Current weights: `${pool.id}/${family}` (or a policy's own key) → member id → current weight. */
export type WrrState = Map<string, Map<number, number>>;

/**
 * One SWRR pick, then the rest of the answer. Each pick adds every candidate's weight to its current weight; the
 * highest current wins (ties: the earlier candidate, as nginx) and loses the total. The other addresses of the answer
 * are the remaining candidates by current weight after the pick, highest first, ties in candidate order: those are the
 * members next in line, so the second address follows the weights too. Candidates absent from the list are dropped
 * from the state; new ones start at 0.
 */
export function wrrSelect(state: WrrState, key: string, list: readonly Candidate[], count: number): PoolMember[] {
  const n = list.length;
  if (n === 0) return [];
  let current = state.get(key);
  if (!current) state.set(key, (current = new Map()));
  const cur = new Array<number>(n);
  let total = 0;
  let best = 0;
  for (let i = 0; i < n; i++) {
    const c = list[i];
    cur[i] = (current.get(c.member.id) ?? 0) + c.weight;
    total += c.weight;
    if (cur[i] > cur[best]) best = i;
  }
  cur[best] -= total;
  for (let i = 0; i < n; i++) current.set(list[i].member.id, cur[i]);
  if (current.size > n) {
    const keep = new Set(list.map((c) => c.member.id));
    for (const id of current.keys()) if (!keep.has(id)) current.delete(id);
  }
  const out = [list[best].member];
  if (count <= 1 || n === 1) return out;
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (i !== best) rest.push(i);
  rest.sort((a, b) => cur[b] - cur[a] || a - b);
  for (let i = 0; i < rest.length && out.length < count; i++) out.push(list[rest[i]].member);
  return out;
}

/** Forgets state for pools no longer served (call after a snapshot swap; keys start with `${pool.id}/`). */
export function pruneWrrState(state: WrrState, livePoolIds: ReadonlySet<number>): void {
  for (const key of state.keys()) {
    const id = Number(key.slice(0, key.indexOf('/')));
    if (!livePoolIds.has(id)) state.delete(key);
  }
}

export const wrr: Policy = {
  name: 'wrr',
  select(pool, candidates, _client, state) {
    return { members: wrrSelect(state.wrr, `${pool.id}/${candidates.family}`, candidates.list, pool.count), scope: 0 };
  },
};
