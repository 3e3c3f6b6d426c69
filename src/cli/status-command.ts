// `lbdns status [POOL]`: every member's health as each node reported it, from member_health, then the votes.
import { z } from 'zod';
import type { NodeHealth } from '../store/store.js';
import { parseCommand, withStore, type Command } from './command.js';
import { overrideInForce } from '../core/override.js';
import { isStale, readStatus, statusJson } from '../health/status-report.js';
import { maintenanceLines, overrideLines } from './status-overrides.js';
import { age, isoTime, table } from './table.js';
import { USAGE } from './usage.js';
import { voteLines } from './status-votes.js';

export { isStale };

/** "12s ago", or "40m ago (stale)". */
function freshness(n: NodeHealth): string {
  const text = age(0, n.heartbeatAge * 1000);
  return isStale(n) ? `${text} (stale)` : text;
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
    const report = await withStore(ctx, (s) => readStatus(s, positionals[0]));
    const { status, windows: ownWindows, view, agreed } = report;
    if (values.json) return ctx.out(JSON.stringify(statusJson(report, Date.now()), null, 2));
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
