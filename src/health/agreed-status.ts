// The state a pool's quorum decides for a member from the votes in the store, as every serving node computes it: for
// `lbdns status` and the API's /status.
//
// Each member_health row is its vantage point's vote (migrations/0011). The state is computed from the store alone,
// with the functions every serving node uses (./quorum.ts): the live vantage points are those whose heartbeat is
// younger than LIVE_HEARTBEATS intervals (database clock), and each one's row is its vote (a node's own probes, which
// it holds in memory, are what it last wrote there), so there is no "own" view here.
import type { PoolMemberStatus, VantageKind, VantageRow } from '../store/store.js';
import { LIVE_HEARTBEATS, MAX_AHEAD_SECONDS } from './agreement.js';
import { countedVotes, decide, probersOf, proberSet, resolveRule, type ProberSet, type QuorumRule, type QuorumSetting } from './quorum.js';

export { LIVE_HEARTBEATS };

export type VantageState = 'live' | 'not live' | 'retired';

/** As a serving node judges it (src/health/agreement.ts): retired never counts; live while younger than LIVE_HEARTBEATS intervals. */
export function vantageState(v: VantageRow): VantageState {
  if (v.retiredAt !== null) return 'retired';
  return v.heartbeatAge <= LIVE_HEARTBEATS * v.heartbeatSeconds ? 'live' : 'not live';
}

/** Why a vote does not count. */
export type VoteIgnored = 'not live' | 'retired' | 'unknown vantage point' | 'not a prober of this member' | 'clock ahead' | 'not a node (quorum local)';

export interface VoteStatus {
  readonly vantage: string;
  /** null: no vantage point of that name. */
  readonly kind: VantageKind | null;
  readonly up: boolean;
  /** Seconds since the row was last written (the database's clock). */
  readonly ageSeconds: number;
  /** Under quorum local: counts on that node alone (each node goes by its own probes). */
  readonly counted: boolean;
  readonly ignored?: VoteIgnored;
}

export interface AgreedStatus {
  readonly quorum: QuorumSetting;
  readonly probers: number | null;
  /** What the setting means now (auto: majority with probers or a live agent, else local). */
  readonly rule: QuorumRule;
  /** mixed: quorum local, and the live nodes' own probes disagree (each node answers by its own). */
  readonly state: 'up' | 'down' | 'unknown' | 'mixed';
  readonly ups: number;
  readonly downs: number;
  /** The vantage points meant to probe the member: its rendezvous top `probers`, or every live one. */
  readonly assigned: readonly string[];
  readonly votes: readonly VoteStatus[];
}

/** The vantage points as the serving nodes see them at this moment. */
export interface VantageView {
  readonly byName: ReadonlyMap<string, VantageRow>;
  readonly live: ProberSet;
  readonly agentsLive: number;
}

export function vantageView(rows: readonly VantageRow[]): VantageView {
  const live = rows.filter((v) => vantageState(v) === 'live');
  return { byName: new Map(rows.map((v) => [v.name, v])), live: proberSet(live.map((v) => v.name)), agentsLive: live.filter((v) => v.kind === 'agent').length };
}

/** One member's votes and the state its pool's quorum decides from them, as every serving node computes it. */
export function agreedStatus(s: PoolMemberStatus, view: VantageView): AgreedStatus {
  const rule = resolveRule(s.quorum, { probers: s.probers, agentsLive: view.agentsLive > 0 });
  const votes: VoteStatus[] = s.nodes.map((n) => {
    const v = view.byName.get(n.node);
    let ignored: VoteIgnored | undefined;
    if (v === undefined) ignored = 'unknown vantage point';
    else if (vantageState(v) !== 'live') ignored = vantageState(v) as 'retired' | 'not live';
    else if ((s.aheadSeconds[n.node] ?? 0) > MAX_AHEAD_SECONDS) ignored = 'clock ahead';
    else if (rule === 'local' && v.kind !== 'node') ignored = 'not a node (quorum local)';
    return { vantage: n.node, kind: v?.kind ?? null, up: n.up, ageSeconds: n.heartbeatAge, counted: ignored === undefined, ...(ignored ? { ignored } : {}) };
  });
  const base = { quorum: s.quorum, probers: s.probers, rule };
  if (rule === 'local') {
    const counted = votes.filter((v) => v.counted);
    const ups = counted.filter((v) => v.up).length;
    const downs = counted.length - ups;
    const state = counted.length === 0 ? 'unknown' : downs === 0 ? 'up' : ups === 0 ? 'down' : 'mixed';
    const nodes = view.live.names.filter((name) => view.byName.get(name)?.kind === 'node');
    return { ...base, state, ups, downs, assigned: nodes, votes };
  }
  const ballots = votes.filter((v) => v.counted).map((v) => ({ vantage: v.vantage, up: v.up }));
  const assigned = s.probers === null ? undefined : new Set(probersOf(s.member.id, view.live, s.probers));
  const counted = countedVotes(ballots, assigned);
  const names = new Set(counted.map((b) => b.vantage));
  const d = decide(rule, counted, undefined, assigned?.size ?? view.live.names.length);
  return {
    ...base,
    state: d.up === undefined ? 'unknown' : d.up ? 'up' : 'down',
    ups: d.ups,
    downs: d.downs,
    assigned: assigned ? [...assigned].sort() : view.live.names,
    votes: votes.map((v) => (v.counted && !names.has(v.vantage) ? { ...v, counted: false, ignored: 'not a prober of this member' } : v)),
  };
}

export function agreedJson(a: AgreedStatus): unknown {
  return {
    ...a,
    votes: a.votes.map((v) => ({
      vantage: v.vantage,
      kind: v.kind,
      state: v.up ? 'up' : 'down',
      ageSeconds: Math.round(v.ageSeconds),
      counted: v.counted,
      ignored: v.ignored ?? null,
    })),
  };
}
