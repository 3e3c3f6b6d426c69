// Which members of a pool a policy may pick from: enabled, of the asked family, probed up, best tier; or the fail-open set.
import type { OverrideState } from '../core/override.js';
import type { Pool, PoolMember } from '../core/snapshot.js';

export interface Candidate {
  readonly member: PoolMember;
  /** Weight the policy uses: the member's own, or 1 for a weight-0 member standing in for absent weighted ones. */
  readonly weight: number;
}

export interface Candidates {
  readonly family: 4 | 6;
  /** `${pool.id}/${family}`: the pool's rotation key, built once per candidate set rather than per query. */
  readonly key: string;
  /** Members of the chosen tier that a probe said are up, in pool order; empty when allDown or when the family has no enabled member. */
  readonly list: readonly Candidate[];
  /** The family has enabled members and no probe says any of them is up (down, or no result yet). */
  readonly allDown: boolean;
  /** When allDown: every enabled member of the family, all of them answered (fail-open); else empty. */
  readonly failOpen: readonly PoolMember[];
}

const NONE: readonly never[] = Object.freeze([]);

function takenOut(forced: ReadonlyMap<number, { readonly state: OverrideState }> | undefined, id: number): boolean {
  const state = forced?.get(id)?.state;
  return state === 'down' || state === 'drain';
}

/**
 * The tier comes first: the lowest priority number with any up member is used, whatever the weights. Within it,
 * weight-0 members answer only when no weighted member of the tier is up, each then counting as weight 1. (SPEC's
 * "weight 0 = never picked while a weighted member is healthy" and "a tier is used only when no better tier has a
 * healthy member" disagree when a better tier holds only up weight-0 members; the tier rule wins, so traffic stays
 * in the preferred tier.)
 *
 * `health` is the member's entry in the health view: true (up), false (down) or undefined (no result yet). Only true
 * makes a candidate: a member nobody has probed ranks below every member with a result, so it is never handed out while
 * another member has one; when no member is up (every one down or unknown) the pool's all-down behaviour applies. A
 * start-up round cut short, or a member added a moment ago, thus never puts an unchecked address into answers ahead of
 * a checked one.
 *
 * `forced`: the overrides in force now (src/pools/overrides.ts, judged at the caller's time). Forced down or drained,
 * a member is out as if disabled (fail-open included: it is not "every enabled member"); forced up, it counts as up
 * whatever its probes say.
 */
export function candidates(
  pool: Pool,
  family: 4 | 6,
  health: (memberId: number) => boolean | undefined,
  forced?: ReadonlyMap<number, { readonly state: OverrideState }>,
): Candidates {
  let enabled = 0;
  let tier = Infinity;
  let weightedInTier = false;
  const up: PoolMember[] = [];
  for (const m of pool.members) {
    if (!m.enabled || m.family !== family) continue;
    const force = forced?.get(m.id)?.state;
    if (force === 'down' || force === 'drain') continue;
    enabled++;
    if (force !== 'up' && health(m.id) !== true) continue;
    up.push(m);
    if (m.priority < tier) {
      tier = m.priority;
      weightedInTier = m.weight > 0;
    } else if (m.priority === tier && m.weight > 0) {
      weightedInTier = true;
    }
  }
  const key = `${pool.id}/${family}`;
  if (enabled === 0) return { family, key, list: NONE, allDown: false, failOpen: NONE };
  if (up.length === 0) {
    return { family, key, list: NONE, allDown: true, failOpen: pool.members.filter((m) => m.enabled && m.family === family && !takenOut(forced, m.id)) };
  }
  const list: Candidate[] = [];
  for (const m of up) {
    if (m.priority !== tier) continue;
    if (weightedInTier) {
      if (m.weight > 0) list.push({ member: m, weight: m.weight });
    } else {
      list.push({ member: m, weight: 1 });
    }
  }
  return { family, key, list, allDown: false, failOpen: NONE };
}
