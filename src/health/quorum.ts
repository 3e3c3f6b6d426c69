// How the votes of several vantage points decide one member's state, and which vantage points probe which member.
//
// Pure functions, shared by the serving node (src/health/agreement.ts), `lbdns status` and `lbdns explain`, so that
// every one of them computes the same state from the same votes.
//
// The rules (a pool's `quorum`), over the fresh votes of the vantage points that count (see countedVotes):
// - local:    this node's own probes alone, as before there were votes. A node that does not probe the member (it
//             cannot: the schema refuses local with probers) would have no view, so local is only ever own probes.
// - any-up:   up when any vote says up; down when every vote says down.
// - majority: up when at least as many votes say up as down (a tie is up: a split pair must not drop a member);
//             down when more say down.
// - all-down: down only when every vantage point expected to probe the member has a fresh vote and all say down;
//             up otherwise (while any vote says up, or while an expected voter has not voted yet). The most
//             fail-open rule: a member is removed only on unanimous, complete evidence.
// - auto:     majority when the pool has probers set or any probe agent is live; local otherwise (a pair of nodes
//             without agents behaves exactly as it did before votes existed).
// No vote at all leaves the member unknown, which answers never hand out (policies/candidates.ts).
import type { QUORUM_RULES } from '../schema/pool-constants.js';

export type QuorumSetting = (typeof QUORUM_RULES)[number];
export type QuorumRule = Exclude<QuorumSetting, 'auto'>;

/** A vote as the rules see it. */
export interface Ballot {
  readonly vantage: string;
  readonly up: boolean;
}

export interface Decision {
  /** undefined: no vote, the member is unknown. */
  readonly up: boolean | undefined;
  readonly rule: QuorumRule;
  readonly ups: number;
  readonly downs: number;
}

/** The rule a pool's setting means right now. */
export function resolveRule(setting: QuorumSetting | undefined, context: { readonly probers: number | null | undefined; readonly agentsLive: boolean }): QuorumRule {
  if (setting === undefined || setting === 'auto') return context.probers != null || context.agentsLive ? 'majority' : 'local';
  return setting;
}

/**
 * Decides from the counted ballots. `own`: this vantage point's own state (undefined: it has no result), used by
 * `local`; `expected`: how many vantage points are meant to probe the member (all-down waits for each of them).
 */
export function decide(rule: QuorumRule, ballots: readonly Ballot[], own: boolean | undefined, expected: number): Decision {
  if (rule === 'local') return { up: own, rule, ups: own === true ? 1 : 0, downs: own === false ? 1 : 0 };
  let ups = 0;
  for (const b of ballots) if (b.up) ups++;
  const downs = ballots.length - ups;
  let up: boolean | undefined;
  if (ballots.length === 0) up = undefined;
  else if (rule === 'any-up') up = ups > 0;
  else if (rule === 'majority') up = ups >= downs;
  else up = ups > 0 || ballots.length < expected;
  return { up, rule, ups, downs };
}

/**
 * The ballots that count for a member: those of the vantage points assigned to probe it; when none of them has voted
 * yet (a vantage point just joined, or the assignment just moved), those of every live vantage point, so that a
 * reassignment never leaves a member without a view while its new probers take their first look.
 */
export function countedVotes(all: readonly Ballot[], assigned: ReadonlySet<string> | undefined): readonly Ballot[] {
  if (assigned === undefined) return all;
  const mine = all.filter((b) => assigned.has(b.vantage));
  return mine.length > 0 ? mine : all;
}

/** FNV-1a over the vantage point's name, then the member id mixed in (murmur3's finaliser): a 32-bit score. */
function score(nameHash: number, memberId: number): number {
  let h = (nameHash ^ Math.imul(memberId, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Live vantage points, sorted by name, with their name hashes: built once per change of the live set. */
export interface ProberSet {
  readonly names: readonly string[];
  readonly hashes: readonly number[];
}

export function proberSet(names: Iterable<string>): ProberSet {
  const sorted = [...new Set(names)].sort();
  return { names: sorted, hashes: sorted.map(nameHash) };
}

/**
 * Rendezvous (highest random weight) hashing: the k vantage points with the highest score for this member. A vantage
 * point joining or leaving moves only the members whose top k it enters or leaves; every node that sees the same
 * live set picks the same probers. k null or ≥ the set: all of them.
 */
export function probersOf(memberId: number, set: ProberSet, k: number | null | undefined): readonly string[] {
  const n = set.names.length;
  if (k == null || k >= n) return set.names;
  const picked: { name: string; s: number }[] = [];
  for (let i = 0; i < n; i++) {
    const s = score(set.hashes[i], memberId);
    if (picked.length < k) {
      picked.push({ name: set.names[i], s });
      picked.sort((a, b) => b.s - a.s);
    } else if (s > picked[k - 1].s) {
      picked[k - 1] = { name: set.names[i], s };
      picked.sort((a, b) => b.s - a.s);
    }
  }
  return picked.map((p) => p.name);
}
