// The one place that decides member health from probe results: rise/fall, transitions, and the published view.
import { EMPTY_HEALTH, freezeView, type HealthView } from './health-view.js';
import type { ProbeResult } from './probes.js';

export type MemberStatus = 'unknown' | 'up' | 'down';

/** What the tracker needs to know about a member; rise/fall come from its pool's check. */
export interface TrackedMember {
  readonly memberId: number;
  readonly poolName: string;
  readonly address: string;
  readonly rise: number;
  readonly fall: number;
}

export interface MemberHealth {
  readonly memberId: number;
  readonly poolName: string;
  readonly address: string;
  readonly status: MemberStatus;
  /** False once down; still true while unknown (status says so), though answers hand out only members probed up. */
  readonly up: boolean;
  /** When the current status began (ms, injected clock); for unknown, when tracking began. */
  readonly since: number;
  readonly okStreak: number;
  readonly failStreak: number;
  readonly lastCheck: number | null;
  readonly lastLatencyMs: number | null;
  /** Reason of the most recent failed probe, kept after recovery for status pages. */
  readonly lastError: string | null;
  readonly lastErrorAt: number | null;
}

export interface Transition {
  readonly memberId: number;
  readonly poolName: string;
  readonly address: string;
  readonly from: MemberStatus;
  readonly to: 'up' | 'down';
  /** The reason of the probe that decided it. */
  readonly reason: string;
  readonly at: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Below this many members every change is published at once (a view costs well under a millisecond). */
export const PUBLISH_THROTTLE_FROM = 1000;
/** Above it, the least time between two views per member tracked: a rebuild costs about 0.1 µs per member. */
export const PUBLISH_MS_PER_MEMBER = 0.0025;

export class HealthTracker {
  private readonly members = new Map<number, Mutable<MemberHealth> & { rise: number; fall: number }>();
  private published: HealthView = EMPTY_HEALTH;
  private dirty = false;
  private nextPublishAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts tracking a member (as unknown) or updates its labels and thresholds, keeping its state. */
  track(member: TrackedMember): void {
    const known = this.members.get(member.memberId);
    if (known) {
      known.poolName = member.poolName;
      known.address = member.address;
      known.rise = Math.max(1, member.rise);
      known.fall = Math.max(1, member.fall);
      return;
    }
    this.members.set(member.memberId, {
      memberId: member.memberId,
      poolName: member.poolName,
      address: member.address,
      rise: Math.max(1, member.rise),
      fall: Math.max(1, member.fall),
      status: 'unknown',
      up: true,
      since: this.now(),
      okStreak: 0,
      failStreak: 0,
      lastCheck: null,
      lastLatencyMs: null,
      lastError: null,
      lastErrorAt: null,
    });
  }

  /**
   * Starts an unknown member decided, from what this vantage point's previous run voted a few seconds ago
   * (HealthMonitor.resume): as after a first result, with no streak; its next probes move it as usual.
   */
  resume(memberId: number, up: boolean): void {
    const m = this.members.get(memberId);
    if (!m || m.status !== 'unknown') return;
    m.status = up ? 'up' : 'down';
    m.up = up;
    m.since = this.now();
    this.publish();
  }

  /** Forgets a member (removed from config); it would start as unknown if it came back. */
  forget(memberId: number): void {
    const known = this.members.get(memberId);
    if (!known) return;
    this.members.delete(memberId);
    if (known.status !== 'unknown') this.publish();
  }

  /** Forgets every member not in `ids`. */
  retain(ids: ReadonlySet<number>): void {
    for (const id of [...this.members.keys()]) if (!ids.has(id)) this.forget(id);
  }

  /**
   * Applies one probe result. The first result decides outright, so a restart never hands out a dead member after
   * its first round; afterwards `fall` failures in a row take a member down and `rise` successes bring it up.
   */
  record(memberId: number, result: ProbeResult): Transition | undefined {
    const m = this.members.get(memberId);
    if (!m) return undefined;
    const at = this.now();
    m.lastCheck = at;
    m.lastLatencyMs = result.latencyMs;
    if (result.ok) {
      m.okStreak++;
      m.failStreak = 0;
    } else {
      m.failStreak++;
      m.okStreak = 0;
      m.lastError = result.reason;
      m.lastErrorAt = at;
    }
    const from = m.status;
    let to: 'up' | 'down' | undefined;
    if (from === 'unknown') to = result.ok ? 'up' : 'down';
    else if (from === 'up' && m.failStreak >= m.fall) to = 'down';
    else if (from === 'down' && m.okStreak >= m.rise) to = 'up';
    if (to === undefined) return undefined;
    m.status = to;
    m.up = to === 'up';
    m.since = at;
    this.publish();
    return { memberId, poolName: m.poolName, address: m.address, from, to, reason: result.reason, at };
  }

  /**
   * The current immutable view; a new object only after a change. Building one copies every member, so with many
   * members a burst of changes (the start-up round: every member's first result is one) is published at most once
   * per PUBLISH_MS_PER_MEMBER × members: 200 ms at 80,000 members, at once below PUBLISH_THROTTLE_FROM members.
   * `fresh` skips the wait (for a copy sent elsewhere, which must not miss the last change).
   */
  view(fresh = false): HealthView {
    if (this.dirty) {
      const size = this.members.size;
      const now = size < PUBLISH_THROTTLE_FROM ? 0 : performance.now();
      if (fresh || now >= this.nextPublishAt) {
        this.dirty = false;
        const next = new Map<number, boolean>();
        for (const m of this.members.values()) if (m.status !== 'unknown') next.set(m.memberId, m.up);
        this.published = freezeView(next);
        if (now > 0) this.nextPublishAt = performance.now() + size * PUBLISH_MS_PER_MEMBER;
      }
    }
    return this.published;
  }

  /** The status alone, without copying the member's state. */
  status(memberId: number): MemberStatus | undefined {
    return this.members.get(memberId)?.status;
  }

  state(memberId: number): MemberHealth | undefined {
    const m = this.members.get(memberId);
    return m && snapshotOf(m);
  }

  states(): MemberHealth[] {
    return [...this.members.values()].map(snapshotOf);
  }

  /** Marks the view stale; it is rebuilt once on the next view(), not once per change (80,000 first results at start). */
  private publish(): void {
    this.dirty = true;
  }
}

function snapshotOf(m: MemberHealth & { rise: number; fall: number }): MemberHealth {
  const { rise: _rise, fall: _fall, ...rest } = m;
  return Object.freeze(rest);
}
