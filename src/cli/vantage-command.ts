// `lbdns vantage list|retire|forget`: the vantage points (serving nodes and probe agents) whose votes decide member health.
import { z } from 'zod';
import { LIVE_HEARTBEATS } from '../health/agreement.js';
import type { VantageRow } from '../store/store.js';
import { group, parseCommand, withStore, type Command } from './command.js';
import { cliActor } from './override-options.js';
import { vantageState } from './status-votes.js';
import { age, isoTime, table } from './table.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

/** "+0.4 s", "-12.0 s", "-" when the vantage point never said. */
function offsetText(seconds: number | null): string {
  if (seconds === null) return '-';
  return `${seconds >= 0 ? '+' : ''}${seconds.toFixed(1)} s`;
}

/** How many votes each name holds in member_health. */
const list: Command = {
  ...USAGE['vantage list'],
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'vantage list',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [0, 0],
      names: 'no arguments',
    });
    const [vantages, held] = await withStore(ctx, async (s) => [await s.listVantages(), await s.voteCounts()] as const);
    const now = Date.now();
    // Names that hold votes without being vantage points (rows written by hand, a node from before migrations/0011):
    // nobody counts them, and this is where an operator finds out.
    const unregistered = [...held.keys()].filter((name) => !vantages.some((v) => v.name === name)).sort();
    if (values.json) {
      const out = [
        ...vantages.map((v) => ({
          name: v.name,
          kind: v.kind,
          state: vantageState(v),
          live: vantageState(v) === 'live',
          heartbeatAgeSeconds: Math.round(v.heartbeatAge * 10) / 10,
          heartbeatIntervalSeconds: v.heartbeatSeconds,
          liveForSeconds: LIVE_HEARTBEATS * v.heartbeatSeconds,
          clockOffsetSeconds: v.clockOffset === null ? null : Math.round(v.clockOffset * 1000) / 1000,
          startedAt: isoTime(v.startedAt),
          retiredAt: v.retiredAt === null ? null : isoTime(v.retiredAt),
          retiredBy: v.retiredBy,
          votes: held.get(v.name) ?? 0,
        })),
        ...unregistered.map((name) => ({ name, kind: null, state: 'unregistered', live: false, votes: held.get(name) ?? 0 })),
      ];
      return ctx.out(JSON.stringify(out, null, 2));
    }
    if (vantages.length === 0 && unregistered.length === 0) return ctx.out('no vantage points');
    const rows = vantages.map((v) => [
      v.name,
      v.kind,
      vantageState(v),
      age(now - v.heartbeatAge * 1000, now),
      `${v.heartbeatSeconds} s`,
      offsetText(v.clockOffset),
      isoTime(v.startedAt),
      String(held.get(v.name) ?? 0),
      v.retiredAt === null ? '-' : `${isoTime(v.retiredAt)} by ${v.retiredBy ?? 'unknown'}`,
    ]);
    for (const name of unregistered) rows.push([name, '-', 'unregistered (votes ignored)', '-', '-', '-', '-', String(held.get(name)), '-']);
    for (const line of table([['NAME', 'KIND', 'STATE', 'HEARTBEAT', 'INTERVAL', 'CLOCK OFFSET', 'STARTED', 'VOTES', 'RETIRED'], ...rows])) ctx.out(line);
  },
};

const retire: Command = {
  ...USAGE['vantage retire'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'vantage retire', options: {}, schema: z.object({}), positionals: [1, 1], names: 'NAME' });
    const v = await withStore(ctx, (s) => s.retireVantage(positionals[0], cliActor().user ?? null));
    ctx.out(
      `retired vantage point ${v.name} (${v.kind}) at ${isoTime(v.retiredAt ?? Date.now())} by ${v.retiredBy ?? 'unknown'}: ` +
        `its votes no longer count; \`lbdns vantage forget ${v.name}\` lets the name vote again`,
    );
  },
};

const forget: Command = {
  ...USAGE['vantage forget'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'vantage forget', options: {}, schema: z.object({}), positionals: [1, 1], names: 'NAME' });
    const { votes } = await withStore(ctx, (s) => s.forgetVantage(positionals[0]));
    ctx.out(`forgot vantage point ${positionals[0]} and its ${votes} vote${votes === 1 ? '' : 's'}`);
  },
};

export const vantageCommand = group('vantage', GROUP_SUMMARY.vantage, { list, retire, forget });
