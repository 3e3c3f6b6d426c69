// What an operator forced on a member (down, up, drain) and its scheduled maintenance windows, as the snapshot holds them.

export const OVERRIDE_STATES = ['down', 'up', 'drain'] as const;
export type OverrideState = (typeof OVERRIDE_STATES)[number];

/** `lbdns member set --force`: a state that beats the probes until it expires or is cleared. Times are ms since the epoch. */
export interface MemberOverride {
  readonly state: OverrideState;
  readonly reason: string;
  /** The CLI's operating-system user, or the database role that wrote it in SQL. */
  readonly by: string;
  readonly at: number;
  /** null: until cleared. */
  readonly until: number | null;
}

/** `lbdns maintenance add`: the member is drained for `durationMs` from every time `cron` fires (in `tz`, else UTC). */
export interface MaintenanceWindow {
  readonly id: number;
  readonly cron: string;
  readonly durationMs: number;
  /** IANA zone name; null: UTC. */
  readonly tz: string | null;
  readonly reason: string;
  readonly by: string;
}

/** In force at `now`: set, and its expiry (if any) still ahead. An expired override is ignored, never deleted. */
export function overrideInForce(o: MemberOverride | undefined, now: number): o is MemberOverride {
  return o !== undefined && (o.until === null || now < o.until);
}
