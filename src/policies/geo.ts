// The geo policy: narrow the candidates to the client's region, country, continent or nearest members, then weighted round robin.
import type { Client } from '../core/answer.js';
import type { Pool } from '../core/snapshot.js';
import type { GeoLevel } from '../geo/geo-level.js';
import type { ClientLocation } from '../geo/locator.js';
import { memberContinent, memberDistanceKm, UNKNOWN_LOCATION } from '../geo/member-place.js';
import type { Candidate, Candidates } from './candidates.js';
import type { Description, Policy, PolicyEnv } from './policy.js';
import { describeRotation, forgetRotations, rotationNote, wrrSelect, type WrrState } from './wrr.js';

/**
 * "Nearest" is a set, not one member: every candidate within 10 % or 100 km (whichever is more) of the closest, so that
 * two load balancers in one city, or a few kilometres apart, still share the load by weight.
 */
export const NEAREST_SLACK = Object.freeze({ ratio: 0.1, km: 100 });

export interface Narrowed {
  readonly level: GeoLevel;
  /** What the level matched: the region label, country or continent code, the nearest members' ids, '' for all. */
  readonly key: string;
  readonly list: readonly Candidate[];
}

function nearest(list: readonly Candidate[], loc: ClientLocation): Candidate[] {
  const distances = list.map((c) => memberDistanceKm(c.member, loc));
  let min = Infinity;
  for (const d of distances) if (d !== null && d < min) min = d;
  if (min === Infinity) return [];
  const limit = min + Math.max(min * NEAREST_SLACK.ratio, NEAREST_SLACK.km);
  return list.filter((_, i) => distances[i] !== null && distances[i]! <= limit);
}

/**
 * The first level with any candidate: region label, country, continent, nearest, else all. The candidates arrive up,
 * enabled and of the best tier, so a level whose members are all down simply has none and the next one answers.
 */
export function narrow(list: readonly Candidate[], loc: ClientLocation): Narrowed {
  if (loc.region !== null) {
    const found = list.filter((c) => c.member.location.region === loc.region);
    if (found.length) return { level: 'region', key: loc.region, list: found };
  }
  if (loc.country !== null) {
    const found = list.filter((c) => c.member.location.country === loc.country);
    if (found.length) return { level: 'country', key: loc.country, list: found };
  }
  if (loc.continent !== null) {
    const found = list.filter((c) => memberContinent(c.member) === loc.continent);
    if (found.length) return { level: 'continent', key: loc.continent, list: found };
  }
  const near = nearest(list, loc);
  if (near.length) return { level: 'nearest', key: near.map((c) => c.member.id).join(','), list: near };
  return { level: 'all', key: '', list };
}

interface Placed {
  readonly narrowed: Narrowed;
  readonly scope: number;
  /** One rotation per place: sets of different clients never reset each other's current weights. */
  readonly key: string;
}

function place(pool: Pool, candidates: Candidates, client: Client, env: PolicyEnv): Placed {
  const loc = env.locator?.locate(client) ?? UNKNOWN_LOCATION;
  const narrowed = narrow(candidates.list, loc);
  env.placed?.(pool, narrowed.level);
  return { narrowed, scope: loc.scope, key: `${candidates.key}/geo/${narrowed.level}/${narrowed.key}` };
}

/** Rotations of its own, keyed `${pool.id}/${family}/geo/${level}/${key}`. */
export const geo: Policy<WrrState> = {
  name: 'geo',
  create: () => new Map(),
  select(pool, candidates, client, state, env) {
    // place() written out: the answer path allocates no Placed per query.
    const loc = env.locator?.locate(client) ?? UNKNOWN_LOCATION;
    const narrowed = narrow(candidates.list, loc);
    env.placed?.(pool, narrowed.level);
    const key = `${candidates.key}/geo/${narrowed.level}/${narrowed.key}`;
    return { members: wrrSelect(state, key, narrowed.list, pool.count), scope: loc.scope };
  },
  describe(pool, candidates, client, state, env): Description {
    const { narrowed, scope, key } = place(pool, candidates, client, env);
    const members = describeRotation(state, key, narrowed.list, pool.count);
    const n = narrowed.list.length;
    const notes = env.locator ? rotationNote(n) : ['No locator on this node: the client\'s location is unknown, so every candidate is weighed.', ...rotationNote(n)];
    const summary = `weighted round robin picks ${Math.min(pool.count, n)} of ${n}`;
    return { selection: { members, scope }, set: narrowed.list.map((c) => c.member.id), level: narrowed.level, levelKey: narrowed.key, summary, notes };
  },
  forget: forgetRotations,
};
