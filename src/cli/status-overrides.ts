// The override lines under `lbdns status`: what is forced on which member, by whom, why, until when (expired ones too).
import { overrideInForce } from '../core/override.js';
import type { PoolMemberStatus } from '../store/store.js';
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
