// Which members of a pool are forced down, up or drained at a given time (overrides and open maintenance windows), and until when.
import { overrideInForce, type MaintenanceWindow, type MemberOverride, type OverrideState } from '../core/override.js';
import type { Pool, PoolMember } from '../core/snapshot.js';

import { windowAt } from './maintenance.js';

/** What a member row carries besides its settings (set by `member set --force` and `maintenance add`, not by `member set`). */
export interface MemberTimedState {
  /** Absent or null: none. Kept after it expires (status shows it expired) until cleared. */
  readonly override?: MemberOverride | null;
  /** Absent: none. */
  readonly maintenance?: readonly MaintenanceWindow[];
}

/** What the candidate rule applies to one member now. */
export interface ActiveOverride {
  readonly state: OverrideState;
  readonly source: 'override' | 'maintenance';
  readonly reason: string;
  readonly by: string;
  /** When it took effect (set, or the window opened). */
  readonly since: number;
  /** When it ends (expiry, or the window closes); null: until cleared. */
  readonly until: number | null;
  /** The maintenance window, when that is the source. */
  readonly windowId?: number;
}

export interface PoolOverrides {
  readonly active: ReadonlyMap<number, ActiveOverride>;
  /** The next time the set changes (an expiry, a window opening or closing); Infinity: never by itself. */
  readonly next: number;
}

const NONE: PoolOverrides = Object.freeze({ active: new Map(), next: Infinity });

/** Any member with an override (in force or not) or a window: its answers depend on the time. */
export function hasTimedState(pool: Pool): boolean {
  for (const m of pool.members) if (m.override !== undefined || m.maintenance !== undefined) return true;
  return false;
}

/**
 * The member's override in force at `now`, else its open maintenance window (a drain), else undefined; `next` gets the
 * earliest time this may change. An operator's override beats a window: it is the later, explicit word. A window whose
 * expression cannot be evaluated (a row that slipped past the checks) is ignored rather than failing the pool.
 */
export function memberOverride(m: PoolMember, now: number, next: { value: number } = { value: Infinity }): ActiveOverride | undefined {
  let found: ActiveOverride | undefined;
  const o = m.override;
  if (overrideInForce(o, now)) {
    found = { state: o.state, source: 'override', reason: o.reason, by: o.by, since: o.at, until: o.until };
    if (o.until !== null) next.value = Math.min(next.value, o.until);
  }
  for (const w of m.maintenance ?? []) {
    let state;
    try {
      state = windowAt(w, now);
    } catch {
      continue;
    }
    next.value = Math.min(next.value, state.open ? state.closesAt : state.opensAt);
    if (state.open && found === undefined) {
      found = { state: 'drain', source: 'maintenance', reason: w.reason, by: w.by, since: state.opensAt, until: state.closesAt, windowId: w.id };
    }
  }
  return found;
}

/** Every member's override in force at `now`, and when to look again. Pure: the caller passes the time. */
export function poolOverrides(pool: Pool, now: number): PoolOverrides {
  if (!hasTimedState(pool)) return NONE;
  const next = { value: Infinity };
  const active = new Map<number, ActiveOverride>();
  for (const m of pool.members) {
    if (m.override === undefined && m.maintenance === undefined) continue;
    const found = memberOverride(m, now, next);
    if (found !== undefined) active.set(m.id, found);
  }
  return { active, next: next.value };
}

/** "drain until 2026-12-06T04:00:00Z by alice: kernel upgrade", "maintenance window 3 …", for status and explain. */
export function overrideText(o: ActiveOverride): string {
  const until = o.until === null ? 'until cleared' : `until ${new Date(o.until).toISOString().replace('.000Z', 'Z')}`;
  const what = o.source === 'maintenance' ? `drain (maintenance window ${o.windowId})` : `forced ${o.state}`;
  const warning = o.state === 'up' ? ' (answered whatever its probes say)' : '';
  return `${what}${warning} ${until} by ${o.by}: ${o.reason}`;
}
