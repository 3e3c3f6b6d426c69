// The blocks under `lbdns status`: overrides (what is forced, by whom, why, until when) and maintenance windows (open, or next).
import { overrideInForce } from '../core/override.js';
import type { MaintenanceWindowRow, PoolMemberStatus } from '../store/store.js';
import { durationText, windowWhen } from './maintenance-command.js';
import { overrideLine } from './override-options.js';

/** Empty when no member has an override; else a blank line, a heading and one line per member. */
export function overrideLines(status: readonly PoolMemberStatus[], now: number): string[] {
  const lines: string[] = [];
  for (const s of status) {
    const o = s.member.override;
    if (!o) continue;
    // Force-up hides what the probes say: say so where the operator looks.
    const warning = o.state === 'up' && overrideInForce(o, now) && s.nodes.some((n) => !n.up) ? ' — WARNING: probes say down, answered anyway' : '';
    lines.push(`${s.pool} ${s.member.address}: ${overrideLine(o, now)}${warning}`);
  }
  return lines.length ? ['', 'OVERRIDES', ...lines] : [];
}

/** One line per window, open ones first: seen ahead of time, so nobody is surprised by a drain at 02:00. */
export function maintenanceLines(windows: readonly MaintenanceWindowRow[], now: number): string[] {
  if (windows.length === 0) return [];
  const lines = windows.map((w) => `${w.pool} ${w.address}: window ${w.id} "${w.cron}" ${w.tz ?? 'UTC'} for ${durationText(w.durationMs)}, ${windowWhen(w, now)}; by ${w.by}: ${w.reason}`);
  return ['', 'MAINTENANCE', ...lines];
}
