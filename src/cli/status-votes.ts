// The votes under `lbdns status`: each vantage point's vote on each member, whether it counts, and the state the
// pool's quorum decides from them (computed by src/health/agreed-status.ts).
import { LIVE_HEARTBEATS, type AgreedStatus, type VantageView } from '../health/agreed-status.js';
import type { PoolMemberStatus } from '../store/store.js';
import { age, table } from './table.js';

export { agreedJson, agreedStatus, vantageState, vantageView, type AgreedStatus, type VantageState, type VantageView, type VoteStatus } from '../health/agreed-status.js';

/** The rows of the VOTES block: one per vote, or one saying there is none. */
function voteRows(s: PoolMemberStatus, a: AgreedStatus): string[][] {
  const member = s.member.enabled ? s.member.address : `${s.member.address} (drained)`;
  const rule = s.quorum === 'auto' ? `${a.rule} (auto)` : a.rule;
  const agreed = a.rule === 'local' ? `${a.state} (each node by its own probes)` : `${a.state} (${a.ups} up, ${a.downs} down)`;
  if (a.votes.length === 0) return [[s.pool, member, rule, agreed, '-', '-', '-', '-', 'no votes']];
  return a.votes.map((v) => [
    s.pool,
    member,
    rule,
    agreed,
    v.vantage,
    v.kind ?? '-',
    v.up ? 'up' : 'down',
    age(0, v.ageSeconds * 1000),
    v.counted ? (a.rule === 'local' ? `yes, on ${v.vantage}` : 'yes') : `no: ${v.ignored}`,
  ]);
}

/** A blank line, the heading with the live vantage points, and one row per vote. */
export function voteLines(status: readonly PoolMemberStatus[], agreed: readonly AgreedStatus[], view: VantageView): string[] {
  const live = view.live.names.map((name) => `${name} (${view.byName.get(name)?.kind})`).join(', ');
  const heading = `VOTES (live vantage points: ${live === '' ? 'none' : live}; live while the heartbeat is younger than ${LIVE_HEARTBEATS} intervals)`;
  const rows = status.flatMap((s, i) => voteRows(s, agreed[i]));
  return ['', heading, ...table([['POOL', 'MEMBER', 'RULE', 'AGREED', 'VANTAGE', 'KIND', 'VOTE', 'AGE', 'COUNTS'], ...rows])];
}
