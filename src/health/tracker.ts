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

/** Below this many members every change is published at once (a view costs well under a millisecond). */
export const PUBLISH_THROTTLE_FROM = 1000;
/** Above it, the least time between two views per member tracked: a rebuild costs about 0.1 µs per member. */
export const PUBLISH_MS_PER_MEMBER = 0.0025;

const STATUS: readonly MemberStatus[] = ['unknown', 'up', 'down'];
const UNKNOWN = 0;
const UP = 1;
const DOWN = 2;
const orNull = (x: number): number | null => (Number.isNaN(x) ? null : x);

function f64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

function u32(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}

export class HealthTracker {
  // Every member's state as columns indexed by a slot, not an object per member: at 80,000 members an object each,
  // with its four times boxed as heap numbers, was 400,000 long-lived objects for the collector to mark.
  private readonly members = new Map<number, number>();
  private readonly free: number[] = [];
  private used = 0;
  private capacity = 0;
  private poolName: string[] = [];
  private address: string[] = [];
  private lastError: (string | null)[] = [];
  private rise: Uint32Array = new Uint32Array(0);
  private fall: Uint32Array = new Uint32Array(0);
  private okStreak: Uint32Array = new Uint32Array(0);
  private failStreak: Uint32Array = new Uint32Array(0);
  /** UNKNOWN, UP or DOWN. */
  private statusOf: Uint8Array = new Uint8Array(0);
  private since: Float64Array = new Float64Array(0);
  /** NaN: none yet. */
  private lastCheck: Float64Array = new Float64Array(0);
  private lastLatencyMs: Float64Array = new Float64Array(0);
  private lastErrorAt: Float64Array = new Float64Array(0);
  private published: HealthView = EMPTY_HEALTH;
  private dirty = false;
  private nextPublishAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts tracking a member (as unknown) or updates its labels and thresholds, keeping its state. */
  track(member: TrackedMember): void {
    let slot = this.members.get(member.memberId);
    if (slot === undefined) {
      slot = this.free.pop() ?? this.used++;
      if (slot >= this.capacity) this.grow();
      this.members.set(member.memberId, slot);
      this.statusOf[slot] = UNKNOWN;
      this.since[slot] = this.now();
      this.okStreak[slot] = 0;
      this.failStreak[slot] = 0;
      this.lastCheck[slot] = NaN;
      this.lastLatencyMs[slot] = NaN;
      this.lastError[slot] = null;
      this.lastErrorAt[slot] = NaN;
    }
    this.poolName[slot] = member.poolName;
    this.address[slot] = member.address;
    this.rise[slot] = Math.max(1, member.rise);
    this.fall[slot] = Math.max(1, member.fall);
  }

  /**
   * Starts an unknown member decided, from what this vantage point's previous run voted a few seconds ago
   * (HealthMonitor.resume): as after a first result, with no streak; its next probes move it as usual.
   */
  resume(memberId: number, up: boolean): void {
    const slot = this.members.get(memberId);
    if (slot === undefined || this.statusOf[slot] !== UNKNOWN) return;
    this.statusOf[slot] = up ? UP : DOWN;
    this.since[slot] = this.now();
    this.publish();
  }

  /** Forgets a member (removed from config); it would start as unknown if it came back. */
  forget(memberId: number): void {
    const slot = this.members.get(memberId);
    if (slot === undefined) return;
    this.members.delete(memberId);
    this.free.push(slot);
    this.lastError[slot] = null;
    if (this.statusOf[slot] !== UNKNOWN) this.publish();
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
    const slot = this.members.get(memberId);
    if (slot === undefined) return undefined;
    const at = this.now();
    this.lastCheck[slot] = at;
    this.lastLatencyMs[slot] = result.latencyMs;
    if (result.ok) {
      this.okStreak[slot]++;
      this.failStreak[slot] = 0;
    } else {
      this.failStreak[slot]++;
      this.okStreak[slot] = 0;
      this.lastError[slot] = result.reason;
      this.lastErrorAt[slot] = at;
    }
    const from = this.statusOf[slot];
    let to: typeof UP | typeof DOWN | undefined;
    if (from === UNKNOWN) to = result.ok ? UP : DOWN;
    else if (from === UP && this.failStreak[slot] >= this.fall[slot]) to = DOWN;
    else if (from === DOWN && this.okStreak[slot] >= this.rise[slot]) to = UP;
    if (to === undefined) return undefined;
    this.statusOf[slot] = to;
    this.since[slot] = at;
    this.publish();
    return { memberId, poolName: this.poolName[slot], address: this.address[slot], from: STATUS[from], to: to === UP ? 'up' : 'down', reason: result.reason, at };
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
        for (const [id, slot] of this.members) {
          const status = this.statusOf[slot];
          if (status !== UNKNOWN) next.set(id, status === UP);
        }
        this.published = freezeView(next);
        if (now > 0) this.nextPublishAt = performance.now() + size * PUBLISH_MS_PER_MEMBER;
      }
    }
    return this.published;
  }

  /** The status alone, without copying the member's state. */
  status(memberId: number): MemberStatus | undefined {
    const slot = this.members.get(memberId);
    return slot === undefined ? undefined : STATUS[this.statusOf[slot]];
  }

  state(memberId: number): MemberHealth | undefined {
    const slot = this.members.get(memberId);
    return slot === undefined ? undefined : this.stateAt(memberId, slot);
  }

  states(): MemberHealth[] {
    const out: MemberHealth[] = [];
    for (const [id, slot] of this.members) out.push(this.stateAt(id, slot));
    return out;
  }

  private stateAt(memberId: number, slot: number): MemberHealth {
    const status = STATUS[this.statusOf[slot]];
    return Object.freeze({
      memberId,
      poolName: this.poolName[slot],
      address: this.address[slot],
      status,
      up: status !== 'down',
      since: this.since[slot],
      okStreak: this.okStreak[slot],
      failStreak: this.failStreak[slot],
      lastCheck: orNull(this.lastCheck[slot]),
      lastLatencyMs: orNull(this.lastLatencyMs[slot]),
      lastError: this.lastError[slot],
      lastErrorAt: orNull(this.lastErrorAt[slot]),
    });
  }

  private grow(): void {
    const n = Math.max(1024, this.capacity * 2);
    this.rise = u32(this.rise, n);
    this.fall = u32(this.fall, n);
    this.okStreak = u32(this.okStreak, n);
    this.failStreak = u32(this.failStreak, n);
    const statusOf = new Uint8Array(n);
    statusOf.set(this.statusOf);
    this.statusOf = statusOf;
    this.since = f64(this.since, n);
    this.lastCheck = f64(this.lastCheck, n);
    this.lastLatencyMs = f64(this.lastLatencyMs, n);
    this.lastErrorAt = f64(this.lastErrorAt, n);
    this.capacity = n;
  }

  /** Marks the view stale; it is rebuilt once on the next view(), not once per change (80,000 first results at start). */
  private publish(): void {
    this.dirty = true;
  }
}
