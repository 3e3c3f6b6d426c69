// `lbdns status [POOL]`: every member's health as each node reported it, from member_health, then the votes.
import { z } from 'zod';
import type { NodeHealth, PoolMemberStatus } from '../store/store.js';
import { parseCommand, withStore, type Command } from './command.js';
import { overrideInForce } from '../core/override.js';
import { maintenanceLines, overrideLines, windowsJson } from './status-overrides.js';
import { age, isoTime, table } from './table.js';
import { USAGE } from './usage.js';
import { agreedJson, agreedStatus, vantageView, voteLines } from './status-votes.js';

/** One word for a member across the nodes: unknown until some node reports it. */
function overall(nodes: readonly NodeHealth[]): 'up' | 'down' | 'mixed' | 'unknown' {
  if (nodes.length === 0) return 'unknown';
  if (nodes.every((n) => n.up)) return 'up';
  return nodes.some((n) => n.up) ? 'mixed' : 'down';
}

/**
 * A row older than twice the heartbeat its node promised (the first heartbeat after a row may take up to
 * two, src/health/reporter.ts), plus 10 s for the reporter's tick and the write, is stale: the node
 * stopped, lost the database, or no longer probes the member. Rows without a promise never are.
 */
export function isStale(n: NodeHealth): boolean {
  return n.heartbeatSeconds !== null && n.heartbeatAge > 2 * n.heartbeatSeconds + 10;
}

/** "12s ago", or "40m ago (stale)". */
function freshness(n: NodeHealth): string {
  const text = age(0, n.heartbeatAge * 1000);
  return isStale(n) ? `${text} (stale)` : text;
}

function toJson(s: PoolMemberStatus): unknown {
  const m = s.member;
  return {
    pool: s.pool,
    memberId: m.id,
    address: m.address,
    enabled: m.enabled,
    weight: m.weight,
    priority: m.priority,
    state: overall(s.nodes),
    override: m.override ? { ...m.override, at: isoTime(m.override.at), until: m.override.until === null ? null : isoTime(m.override.until), inForce: overrideInForce(m.override, Date.now()) } : null,
    nodes: s.nodes.map((n) => ({
      node: n.node,
      state: n.up ? 'up' : 'down',
      since: isoTime(n.since),
      lastCheck: n.lastCheck === null ? null : isoTime(n.lastCheck),
      latencyMs: n.latencyMs,
      lastError: n.lastError,
      transitions: n.transitions,
      heartbeatAt: isoTime(n.heartbeatAt),
      heartbeatAgeSeconds: Math.round(n.heartbeatAge),
      heartbeatIntervalSeconds: n.heartbeatSeconds,
      stale: isStale(n),
    })),
  };
}

export const statusCommand: Command = {
  ...USAGE['status'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'status',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [0, 1],
      names: '[POOL]',
    });
    const [status, windows, vantages] = await withStore(
      ctx,
      async (s) => [await s.healthStatus({ pool: positionals[0] }), await s.listMaintenance(), await s.listVantages()] as const,
    );
    const ownWindows = windows.filter((w) => status.some((s) => s.member.id === w.memberId));
    const view = vantageView(vantages);
    const agreed = status.map((s) => agreedStatus(s, view));
    if (values.json) {
      const out = status.map((s, i) => ({ ...(toJson(s) as object), agreed: agreedJson(agreed[i]), maintenance: windowsJson(ownWindows, s.member.id, Date.now()) }));
      return ctx.out(JSON.stringify(out, null, 2));
    }
    if (status.length === 0) return ctx.out(positionals[0] === undefined ? 'no pool members' : 'no members');
    const now = Date.now();
    const rows: string[][] = [];
    for (const s of status) {
      const o = s.member.override ?? undefined;
      const forced = overrideInForce(o, now) ? ` (forced ${o.state})` : '';
      const member = (s.member.enabled ? s.member.address : `${s.member.address} (drained)`) + forced;
      if (s.nodes.length === 0) rows.push([s.pool, member, '-', 'unknown', '-', '-', '-', '-', 'no node has reported it yet']);
      for (const n of s.nodes) {
        rows.push([
          s.pool,
          member,
          n.node,
          n.up ? 'up' : 'down',
          isoTime(n.since),
          n.lastCheck === null ? '-' : age(n.lastCheck, now),
          freshness(n),
          n.latencyMs === null ? '-' : `${Math.round(n.latencyMs)} ms`,
          n.lastError ?? '-',
        ]);
      }
    }
    for (const line of table([['POOL', 'MEMBER', 'NODE', 'STATE', 'SINCE', 'LAST CHECK', 'HEARTBEAT', 'LATENCY', 'LAST ERROR'], ...rows])) ctx.out(line);
    for (const line of voteLines(status, agreed, view)) ctx.out(line);
    for (const line of overrideLines(status, now)) ctx.out(line);
    for (const line of maintenanceLines(ownWindows, now)) ctx.out(line);
  },
};
