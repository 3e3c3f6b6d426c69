// /status on the ops port: every pool member as this node sees it right now (the in-memory view answers use).
import type { Snapshot } from '../core/snapshot.js';
import type { MemberAgreement } from '../health/agreement.js';
import type { MemberReport } from '../health/monitor.js';
import { nextWindow, windowAt } from '../pools/maintenance.js';
import { memberOverride, overrideText } from '../pools/overrides.js';
import type { Route } from './ops-http.js';

export interface StatusDeps {
  readonly nodeName: string;
  /** The keepalived role when the node is part of a pair. */
  readonly role?: () => string | null;
  readonly snapshot: () => Snapshot;
  readonly states: () => readonly MemberReport[];
  /** How the votes decided each member (src/health/agreement.ts). */
  readonly votes?: (memberId: number) => MemberAgreement | undefined;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function statusRoute(deps: StatusDeps): Route {
  return (url) => {
    const only = url.searchParams.get('pool')?.toLowerCase().replace(/\.$/, '');
    const states = new Map(deps.states().map((s) => [s.memberId, s]));
    const now = Date.now();
    const pools = deps
      .snapshot()
      .pools.filter((p) => !only || p.name === only)
      .map((p) => ({
        name: p.name,
        policy: p.policy,
        ttl: p.ttl,
        count: p.count,
        check: `${p.check.kind}:${p.check.port}${p.check.kind === 'tcp' ? '' : p.check.path}`,
        members: p.members.map((m) => {
          const s = states.get(m.id);
          const forced = memberOverride(m, now);
          const agreed = m.enabled ? deps.votes?.(m.id) : undefined;
          return {
            address: m.address,
            probeAddress: m.probeAddress,
            enabled: m.enabled,
            weight: m.weight,
            priority: m.priority,
            // This node's own probes; `agreed` is what answers use when the pool's rule counts votes.
            state: m.enabled ? (s?.status ?? (agreed && !agreed.probedHere ? 'not probed here' : 'unknown')) : 'drained',
            agreed: agreed && agreed.rule !== 'local' ? { state: agreed.state, rule: agreed.rule, ups: agreed.ups, downs: agreed.downs, probers: agreed.assigned, votes: agreed.votes } : null,
            since: iso(s?.since ?? null),
            lastCheck: iso(s?.lastCheck ?? null),
            latencyMs: s?.lastLatencyMs ?? null,
            lastError: s?.lastError ?? null,
            // In force now (an override, or an open maintenance window); answers follow it, not `state`.
            override: forced === undefined ? null : { ...forced, since: iso(forced.since), until: iso(forced.until), text: overrideText(forced) },
            ...(forced?.state === 'up' && s?.status === 'down' ? { warning: 'forced up: answered although its probes say down' } : {}),
            // Ahead of time: whether each window is open, and when the next one opens and closes.
            maintenance: (m.maintenance ?? []).map((w) => {
              try {
                const open = windowAt(w, now);
                const next = nextWindow(w, now);
                return { id: w.id, cron: w.cron, tz: w.tz, durationSeconds: w.durationMs / 1000, reason: w.reason, by: w.by, open: open.open, openUntil: open.open ? iso(open.closesAt) : null, nextOpens: iso(next.opensAt), nextCloses: iso(next.closesAt) };
              } catch (err) {
                return { id: w.id, cron: w.cron, tz: w.tz, error: (err as Error).message };
              }
            }),
          };
        }),
      }));
    if (only && pools.length === 0) return { status: 404, body: { error: `no pool ${only}` } };
    return { status: 200, body: { node: deps.nodeName, role: deps.role?.() ?? null, version: deps.snapshot().version, pools } };
  };
}
