// `lbdns maintenance add|list|rm`: scheduled windows that drain a member, kept in the store and evaluated by every node.
import { z } from 'zod';
import { nextWindow, windowAt } from '../pools/maintenance.js';
import type { MaintenanceWindowRow } from '../store/store.js';
import { group, parseCommand, usageError, withStore, type Command } from './command.js';
import { cliActor, parseDuration } from './override-options.js';
import { isoTime, table } from './table.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

/** "2h", "1h30m", "20s" back from milliseconds. */
export function durationText(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join('') || '0s';
}

/** "open until 2026-12-06T03:00:00Z" or "next 2026-12-13T01:00:00Z – 03:00:00Z": what status and list show. */
export function windowWhen(w: MaintenanceWindowRow, now: number): string {
  let state;
  try {
    state = windowAt(w, now);
  } catch (err) {
    return `unusable: ${(err as Error).message}`;
  }
  if (state.open) return `OPEN until ${isoTime(state.closesAt)} (then next ${isoTime(nextWindow(w, now).opensAt)})`;
  return `next ${isoTime(state.opensAt)} until ${isoTime(state.closesAt)}`;
}

function describe(w: MaintenanceWindowRow, now: number): string {
  return `window ${w.id}: ${w.pool} ${w.address} drained for ${durationText(w.durationMs)} at "${w.cron}" ${w.tz ?? 'UTC'} by ${w.by}: ${w.reason}; ${windowWhen(w, now)}`;
}

const add: Command = {
  ...USAGE['maintenance add'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'maintenance add',
      options: { cron: { type: 'string' }, duration: { type: 'string' }, reason: { type: 'string' }, tz: { type: 'string' } },
      schema: z.object({ cron: z.string().optional(), duration: z.string().optional(), reason: z.string().optional(), tz: z.string().optional() }),
      positionals: [2, 2],
      names: 'POOL ADDRESS',
    });
    if (values.cron === undefined || values.duration === undefined || values.reason === undefined) {
      throw usageError('maintenance add: --cron, --duration and --reason are required');
    }
    const durationMs = parseDuration(values.duration);
    if (durationMs === undefined) throw usageError(`maintenance add: --duration "${values.duration}" must be a duration such as 20s, 30m, 2h or 1h30m`);
    const [pool, address] = positionals;
    const w = await withStore(ctx, (s) => s.addMaintenance(pool, address, { cron: values.cron!, durationMs, tz: values.tz ?? null, reason: values.reason! }, cliActor()));
    ctx.out(`added maintenance ${describe(w, Date.now())}`);
  },
};

const list: Command = {
  ...USAGE['maintenance list'],
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'maintenance list',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [0, 0],
      names: '',
    });
    const windows = await withStore(ctx, (s) => s.listMaintenance());
    const now = Date.now();
    if (values.json) {
      return ctx.out(
        JSON.stringify(
          windows.map((w) => {
            const state = windowAt(w, now);
            const next = nextWindow(w, now);
            return { ...w, createdAt: isoTime(w.createdAt), open: state.open, openUntil: state.open ? isoTime(state.closesAt) : null, nextOpens: isoTime(next.opensAt), nextCloses: isoTime(next.closesAt) };
          }),
          null,
          2,
        ),
      );
    }
    if (windows.length === 0) return ctx.out('no maintenance windows');
    const rows = windows.map((w) => [String(w.id), w.pool, w.address, w.cron, w.tz ?? 'UTC', durationText(w.durationMs), windowWhen(w, now), w.by, w.reason]);
    for (const line of table([['ID', 'POOL', 'MEMBER', 'CRON', 'TZ', 'DURATION', 'WHEN', 'BY', 'REASON'], ...rows])) ctx.out(line);
  },
};

const rm: Command = {
  ...USAGE['maintenance rm'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'maintenance rm', options: {}, schema: z.object({}), positionals: [1, 1], names: 'ID' });
    if (!/^[1-9][0-9]{0,9}$/.test(positionals[0])) throw usageError(`maintenance rm: ID "${positionals[0]}" must be a window number (lbdns maintenance list)`);
    const w = await withStore(ctx, (s) => s.removeMaintenance(Number(positionals[0])));
    ctx.out(`removed maintenance window ${w.id} (${w.pool} ${w.address}, "${w.cron}")`);
  },
};

export const maintenanceCommand = group('maintenance', GROUP_SUMMARY.maintenance, { add, list, rm });
