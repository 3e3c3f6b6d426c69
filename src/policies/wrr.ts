// Smooth weighted round robin as nginx does it (ngx_http_upstream_get_peer), kept per pool and address family.
import type { PoolMember } from '../core/snapshot.js';
import type { Candidate } from './candidates.js';
import type { Policy } from './policy.js';

/**
 * The current weights of one rotation, in the order of the candidate list last seen. Kept as two arrays so
 * that a pick reads and writes numbers in place: the answer path does no map lookups per member. When the
 * list changes (a member goes down or comes back, a reload), the weights are carried over by member id.
 */
export class WrrRotation {
  /** The candidate list the arrays are aligned with (identity: the chooser reuses one list per health view). */
  list: readonly Candidate[] | undefined = undefined;
  ids: number[] = [];
  cur: number[] = [];

  /** Aligns the arrays with `list`: members still present keep their current weight, new ones start at 0. */
  align(list: readonly Candidate[]): void {
    this.list = list;
    const n = list.length;
    let same = this.ids.length === n;
    for (let i = 0; same && i < n; i++) same = this.ids[i] === list[i].member.id;
    if (same) return;
    const ids = new Array<number>(n);
    const cur = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const id = list[i].member.id;
      const at = this.ids.indexOf(id);
      ids[i] = id;
      cur[i] = at === -1 ? 0 : this.cur[at];
    }
    this.ids = ids;
    this.cur = cur;
  }

  get(memberId: number): number | undefined {
    const at = this.ids.indexOf(memberId);
    return at === -1 ? undefined : this.cur[at];
  }

  *entries(): IterableIterator<[number, number]> {
    for (let i = 0; i < this.ids.length; i++) yield [this.ids[i], this.cur[i]];
  }

  [Symbol.iterator](): IterableIterator<[number, number]> {
    return this.entries();
  }

  get size(): number {
    return this.ids.length;
  }

  clone(): WrrRotation {
    const copy = new WrrRotation();
    copy.ids = this.ids.slice();
    copy.cur = this.cur.slice();
    return copy;
  }
}

/** Rotations by key: `${pool.id}/${family}` (Candidates.key), or a policy's own key that starts the same way. */
export type WrrState = Map<string, WrrRotation>;

/** Above this many extra addresses per answer the rest is ordered by a sort instead of repeated scans. */
const SCAN_LIMIT = 4;

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
  let rotation = state.get(key);
  if (rotation === undefined) state.set(key, (rotation = new WrrRotation()));
  if (rotation.list !== list) rotation.align(list);
  const cur = rotation.cur;
  let total = 0;
  let best = 0;
  for (let i = 0; i < n; i++) {
    const w = list[i].weight;
    cur[i] += w;
    total += w;
    if (cur[i] > cur[best]) best = i;
  }
  cur[best] -= total;
  const out = [list[best].member];
  const extra = Math.min(count, n) - 1;
  if (extra <= 0) return out;
  if (extra <= SCAN_LIMIT) {
    // A few scans: each takes the highest current weight not yet answered (the earliest on ties).
    for (let k = 0; k < extra; k++) {
      let pick = -1;
      for (let i = 0; i < n; i++) {
        if (out.includes(list[i].member)) continue;
        if (pick === -1 || cur[i] > cur[pick]) pick = i;
      }
      out.push(list[pick].member);
    }
    return out;
  }
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (i !== best) rest.push(i);
  rest.sort((a, b) => cur[b] - cur[a] || a - b);
  for (let i = 0; i < extra; i++) out.push(list[rest[i]].member);
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
    return { members: wrrSelect(state.wrr, candidates.key, candidates.list, pool.count), scope: 0 };
  },
};
