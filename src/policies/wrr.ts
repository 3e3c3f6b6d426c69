// Weighted round robin kept per pool and address family: nginx's smooth WRR for the first address, smooth inclusion credits for the rest.
import type { PoolMember } from '../core/snapshot.js';
import type { Candidate } from './candidates.js';
import type { Description, Policy } from './policy.js';

/**
 * The state of one rotation, in the order of the candidate list last seen. Kept as parallel arrays so that a pick
 * reads and writes numbers in place: the answer path does no map lookups per member. When the list changes (a member
 * goes down or comes back, a reload), the numbers are carried over by member id.
 *
 * Two rotations share the arrays. `cur` is nginx's current weight: it picks the first address, so first places follow
 * the weights exactly. `credit` decides which members fill the other places: with `count` k, member i must be in a
 * fraction p_i = min(1, k·w_i/Σw) of the answers (the cap redistributed until Σp_i = k). Each answer adds p_i to every
 * credit and the k members handed out lose 1, so no credit strays more than a few answers from 0 and every member's
 * inclusion share stays within a few answers of p_i: a deterministic, smooth schedule, as SWRR is for first places.
 * Credits are integers scaled by `unit` (the summed weight of the uncapped members), so nothing drifts.
 */
export class WrrRotation {
  /** The candidate list the arrays are aligned with (identity: the chooser reuses one list per health view). */
  list: readonly Candidate[] | undefined = undefined;
  ids: number[] = [];
  /** The weights the plan below was made from, to notice a reload that changes a weight but no member. */
  weights: number[] = [];
  cur: number[] = [];
  credit: number[] = [];
  /** Credit added per answer, (k − capped)·w_i; -1 marks a member in every answer (p_i = 1), which keeps no credit. */
  add: number[] = [];
  /** What one inclusion costs in credit: the summed weight of the members not in every answer. */
  unit = 0;
  /** The addresses per answer the plan was made for, min(count, candidates); 0 before any plan. */
  slots = 0;

  /** Aligns the arrays with `list`: members still present keep their numbers, new ones start at 0. */
  align(list: readonly Candidate[], slots: number): void {
    this.list = list;
    const n = list.length;
    let same = this.ids.length === n && this.slots === slots;
    for (let i = 0; same && i < n; i++) same = this.ids[i] === list[i].member.id && this.weights[i] === list[i].weight;
    if (same) return;
    const ids = new Array<number>(n);
    const weights = new Array<number>(n);
    const cur = new Array<number>(n);
    const credit = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const id = list[i].member.id;
      const at = this.ids.indexOf(id);
      ids[i] = id;
      weights[i] = list[i].weight;
      cur[i] = at === -1 ? 0 : this.cur[at];
      // A credit means "owed this fraction of an inclusion": rescaled to the new unit below; none for capped members.
      credit[i] = at === -1 || this.add[at] < 0 || this.unit === 0 ? 0 : this.credit[at] / this.unit;
    }
    this.ids = ids;
    this.weights = weights;
    this.cur = cur;
    this.slots = slots;
    this.add = plan(weights, slots);
    let unit = 0;
    for (let i = 0; i < n; i++) if (this.add[i] >= 0) unit += weights[i];
    this.unit = unit;
    for (let i = 0; i < n; i++) credit[i] = this.add[i] < 0 ? 0 : Math.round(credit[i] * unit);
    this.credit = credit;
  }

  get(memberId: number): number | undefined {
    const at = this.ids.indexOf(memberId);
    return at === -1 ? undefined : this.cur[at];
  }

  /** [member id, current SWRR weight], as nginx keeps them. */
  *entries(): IterableIterator<[number, number]> {
    for (let i = 0; i < this.ids.length; i++) yield [this.ids[i], this.cur[i]];
  }

  [Symbol.iterator](): IterableIterator<[number, number]> {
    return this.entries();
  }

  /** [member id, inclusion credit in answers owed (negative: handed out ahead of its share), or null when in every answer]. */
  *credits(): IterableIterator<[number, number | null]> {
    for (let i = 0; i < this.ids.length; i++) yield [this.ids[i], this.add[i] < 0 ? null : this.credit[i] / this.unit];
  }

  get size(): number {
    return this.ids.length;
  }

  clone(): WrrRotation {
    const copy = new WrrRotation();
    copy.ids = this.ids.slice();
    copy.weights = this.weights.slice();
    copy.cur = this.cur.slice();
    copy.credit = this.credit.slice();
    copy.add = this.add.slice();
    copy.unit = this.unit;
    copy.slots = this.slots;
    return copy;
  }
}

/**
 * The credit each member earns per answer when `slots` addresses go out: (slots − c)·w_i for the members that are not
 * in every answer, -1 for the c that are. A member is in every answer when its share (slots − c)·w_i / (Σw of the
 * others) reaches 1; capping one raises the others' shares, so the test repeats until no member is newly capped. Fewer
 * than `slots` members are ever capped (each capped one outweighs the rest of the uncapped sum), so some slot is always
 * left to the credits.
 */
export function plan(weights: readonly number[], slots: number): number[] {
  const n = weights.length;
  const add = new Array<number>(n).fill(0);
  if (slots >= n || slots <= 1) return add;
  let capped = 0;
  let rest = 0;
  for (const w of weights) rest += w;
  for (let changed = true; changed; ) {
    changed = false;
    const free = slots - capped;
    let newlyCapped = 0;
    let newlyWeight = 0;
    for (let i = 0; i < n; i++) {
      if (add[i] < 0 || free * weights[i] < rest) continue;
      add[i] = -1;
      newlyCapped++;
      newlyWeight += weights[i];
    }
    if (newlyCapped > 0) {
      capped += newlyCapped;
      rest -= newlyWeight;
      changed = true;
    }
  }
  const free = slots - capped;
  for (let i = 0; i < n; i++) if (add[i] >= 0) add[i] = free * weights[i];
  return add;
}

/** Rotations by key: `${pool.id}/${family}` (Candidates.key), or a policy's own key that starts the same way. */
export type WrrState = Map<string, WrrRotation>;

/** Above this many places filled by credit, candidates are ranked by a sort instead of repeated scans. */
const SCAN_LIMIT = 4;

/**
 * One answer of `count` distinct members. The first is nginx's SWRR pick: every candidate's current weight grows by its
 * weight, the highest (ties: the earlier candidate) wins and loses the total. The other places go to the members in
 * every answer, then to the highest inclusion credits (ties: the earlier candidate); the first address counts as an
 * inclusion too, so a member often first is seldom added behind another one. Places after the first are ordered by
 * current weight, highest first: the members next in line come next. Candidates absent from the list are dropped from
 * the state; new ones start at 0.
 */
export function wrrSelect(state: WrrState, key: string, list: readonly Candidate[], count: number): PoolMember[] {
  const n = list.length;
  if (n === 0) return [];
  const slots = Math.min(count, n);
  let rotation = state.get(key);
  if (rotation === undefined) state.set(key, (rotation = new WrrRotation()));
  if (rotation.list !== list || rotation.slots !== slots) rotation.align(list, slots);
  const { cur, credit, add } = rotation;
  const share = slots < n && slots > 1;
  let total = 0;
  let best = 0;
  for (let i = 0; i < n; i++) {
    const w = list[i].weight;
    cur[i] += w;
    total += w;
    if (cur[i] > cur[best]) best = i;
    if (share && add[i] > 0) credit[i] += add[i];
  }
  cur[best] -= total;
  if (slots === 1) return [list[best].member];
  if (slots === 2 && share) return [list[best].member, list[second(rotation, best)].member];
  const picked = [best];
  if (!share) {
    for (let i = 0; i < n; i++) if (i !== best) picked.push(i);
  } else {
    const unit = rotation.unit;
    if (add[best] >= 0) credit[best] -= unit;
    for (let i = 0; i < n; i++) if (add[i] < 0 && i !== best) picked.push(i);
    const fill = slots - picked.length;
    if (fill <= SCAN_LIMIT) {
      for (let k = 0; k < fill; k++) {
        let pick = -1;
        for (let i = 0; i < n; i++) {
          if (add[i] < 0 || (pick !== -1 && credit[i] <= credit[pick]) || picked.includes(i)) continue;
          pick = i;
        }
        credit[pick] -= unit;
        picked.push(pick);
      }
    } else {
      const ranked: number[] = [];
      for (let i = 0; i < n; i++) if (add[i] >= 0 && i !== best) ranked.push(i);
      ranked.sort((a, b) => credit[b] - credit[a] || a - b);
      for (let k = 0; k < fill; k++) {
        credit[ranked[k]] -= unit;
        picked.push(ranked[k]);
      }
    }
  }
  const out = new Array<PoolMember>(slots);
  out[0] = list[best].member;
  const rest = picked.slice(1).sort((a, b) => cur[b] - cur[a] || a - b);
  for (let k = 0; k < rest.length; k++) out[k + 1] = list[rest[k]].member;
  return out;
}

/**
 * The one other place of a count-2 answer (the common case, kept free of allocations): the member in every answer
 * if there is one besides the first (at most one can be, with two places), else the highest credit.
 */
function second(rotation: WrrRotation, best: number): number {
  const { credit, add, unit } = rotation;
  if (add[best] >= 0) credit[best] -= unit;
  let pick = -1;
  for (let i = 0; i < add.length; i++) {
    if (i === best) continue;
    if (add[i] < 0) return i;
    if (pick === -1 || credit[i] > credit[pick]) pick = i;
  }
  credit[pick] -= unit;
  return pick;
}

/** Forgets the rotations of pools no longer served (keys start with `${pool.id}/`). */
export function forgetRotations(state: WrrState, livePoolIds: ReadonlySet<number>): void {
  for (const key of state.keys()) {
    const id = Number(key.slice(0, key.indexOf('/')));
    if (!livePoolIds.has(id)) state.delete(key);
  }
}

/** What wrrSelect would answer now, run on a copy of the one rotation it would move: the live state stays as it was. */
export function describeRotation(state: WrrState, key: string, list: readonly Candidate[], count: number): PoolMember[] {
  const live = state.get(key);
  const copy: WrrState = new Map(live ? [[key, live.clone()]] : []);
  return wrrSelect(copy, key, list, count);
}

/** Why the next real answer may differ from an explained one. */
export function rotationNote(setSize: number): string[] {
  return setSize > 1
    ? ['Weighted round robin rotates: the next real answer may start with another member of the same set (this explanation did not move the rotation).']
    : [];
}

/** Rotations keyed by Candidates.key (`${pool.id}/${family}`). */
export const wrr: Policy<WrrState> = {
  name: 'wrr',
  create: () => new Map(),
  select(pool, candidates, _client, state) {
    return { members: wrrSelect(state, candidates.key, candidates.list, pool.count), scope: 0 };
  },
  describe(pool, candidates, _client, state): Description {
    const members = describeRotation(state, candidates.key, candidates.list, pool.count);
    const summary = `weighted round robin over the candidates picks ${pool.count}`;
    return { selection: { members, scope: 0 }, summary, notes: rotationNote(candidates.list.length) };
  },
  forget: forgetRotations,
};
