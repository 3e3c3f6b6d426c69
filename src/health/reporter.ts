// Writes this node's view of member health to the store (member_health): on a state change, else a heartbeat per member.
//
// Answers never wait on this: probes feed the in-memory view directly, and a store that is down
// only delays these rows until it is back. Writing every probe result cost members ÷ probe interval
// row writes a second per node (80,000 members every 5 s: 16,000/s) on the shared database, for rows
// only `lbdns status` reads. So a member's row is written when its state changes (within `urgentMs`)
// and otherwise at most once per `heartbeatMs`, and only with a result newer than the row: the row's
// heartbeat_at then says how fresh it is, and heartbeat_interval what the node promised (the heartbeat,
// or the member's probe interval when that is longer). A member no longer probed here (deleted,
// drained) is simply no longer written: its row ages, and `lbdns status` calls it stale.
import type { Logger } from '../obs/log.js';
import type { HealthReport } from '../store/store.js';
import type { ProbeReport } from './monitor.js';

export interface HealthReporterOptions {
  readonly write: (reports: readonly HealthReport[]) => Promise<unknown>;
  readonly log: Logger;
  /** A member's row is written again without a state change at most this often (LBDNS_HEALTH_WRITE_INTERVAL); 0: every result. */
  readonly heartbeatMs?: number;
  /** How often due rows are written. */
  readonly tickMs?: number;
  /** A state change is written this soon (changes arriving meanwhile go in the same statement). */
  readonly urgentMs?: number;
  readonly now?: () => number;
  /** Spreads first heartbeats (0 ≤ x < 1). */
  readonly random?: () => number;
}

/**
 * Every member's state as columns indexed by a slot (a member keeps its slot while it is reported), not an object per
 * member: at 80,000 members an object for the member and one for its last report, each with its times boxed as heap
 * numbers, were ~750,000 long-lived objects for the collector to mark, made again at every probe result.
 */
class Columns {
  capacity = 0;
  /** Absent times and values are NaN. */
  since: Float64Array = new Float64Array(0);
  lastCheck: Float64Array = new Float64Array(0);
  latencyMs: Float64Array = new Float64Array(0);
  heartbeatSeconds: Float64Array = new Float64Array(0);
  /** When the row was last written (NaN: never), and when the last probe result came. */
  writtenAt: Float64Array = new Float64Array(0);
  receivedAt: Float64Array = new Float64Array(0);
  /** Time between the last two results: the probe interval as seen here. */
  gap: Float64Array = new Float64Array(0);
  transitions: Uint32Array = new Uint32Array(0);
  /** Bit 1: up; bit 2: a heartbeat is scheduled for the last write (cleared when it found no newer result). */
  flags: Uint8Array = new Uint8Array(0);
  lastError: (string | null)[] = [];

  grow(): void {
    const n = Math.max(1024, this.capacity * 2);
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.since = f64(this.since);
    this.lastCheck = f64(this.lastCheck);
    this.latencyMs = f64(this.latencyMs);
    this.heartbeatSeconds = f64(this.heartbeatSeconds);
    this.writtenAt = f64(this.writtenAt);
    this.receivedAt = f64(this.receivedAt);
    this.gap = f64(this.gap);
    const transitions = new Uint32Array(n);
    transitions.set(this.transitions);
    this.transitions = transitions;
    const flags = new Uint8Array(n);
    flags.set(this.flags);
    this.flags = flags;
    this.capacity = n;
  }
}

const UP = 1;
const BEATING = 2;
const orNull = (x: number): number | null => (Number.isNaN(x) ? null : x);

/** Members without a result for this long (or 10 probe gaps) are forgotten, looked for this often. */
const FORGET_MS = 3_600_000;
const PURGE_EVERY_MS = 600_000;
/**
 * A member's first heartbeat comes after 1 to 1 + FIRST_SPREAD intervals. Every member's first row is
 * written in the first probe round (a few seconds), and without the spread all their heartbeats would
 * come in that same few seconds of every interval: 80,000 rows in 5 s of each 30, the storm again.
 * Spread over a whole interval, the rows come evenly (members ÷ interval a second); the price is one
 * first heartbeat up to two intervals after the first row, which the stale rule of `lbdns status` allows.
 */
const FIRST_SPREAD = 1;

/**
 * Heartbeats due, earliest first: a binary min-heap over parallel arrays (no object per entry).
 * An entry carries the write time it follows; one that no longer matches the member's is skipped.
 */
class HeartbeatHeap {
  readonly #due: number[] = [];
  readonly #id: number[] = [];
  readonly #at: number[] = [];

  get size(): number {
    return this.#due.length;
  }

  peekDue(): number {
    return this.#due.length ? this.#due[0] : Infinity;
  }

  push(due: number, id: number, at: number): void {
    let i = this.#due.length;
    this.#due.push(due);
    this.#id.push(id);
    this.#at.push(at);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#due[parent] <= due) break;
      this.#move(parent, i);
      i = parent;
    }
    this.#set(i, due, id, at);
  }

  /** Removes the earliest entry and returns its member and write time. */
  pop(): { readonly id: number; readonly at: number } {
    const top = { id: this.#id[0], at: this.#at[0] };
    const lastDue = this.#due.pop()!;
    const lastId = this.#id.pop()!;
    const lastAt = this.#at.pop()!;
    const n = this.#due.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.#due[child + 1] < this.#due[child]) child++;
      if (this.#due[child] >= lastDue) break;
      this.#move(child, i);
      i = child;
    }
    this.#set(i, lastDue, lastId, lastAt);
    return top;
  }

  #move(from: number, to: number): void {
    this.#set(to, this.#due[from], this.#id[from], this.#at[from]);
  }

  #set(i: number, due: number, id: number, at: number): void {
    this.#due[i] = due;
    this.#id[i] = id;
    this.#at[i] = at;
  }
}

export class HealthReporter {
  /** A member's slot in the columns. */
  readonly #members = new Map<number, number>();
  readonly #c = new Columns();
  /** Slots given back by forgotten members, used again first. */
  readonly #free: number[] = [];
  #used = 0;
  /** Members whose row goes in the next write. */
  readonly #due = new Set<number>();
  // Finding the heartbeats due is a walk from the heap's top, never a scan of the members.
  readonly #heartbeats = new HeartbeatHeap();
  readonly #opts: HealthReporterOptions;
  readonly #heartbeatMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #timer: NodeJS.Timeout;
  #urgent: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;
  #again = false;
  #failing = false;
  #rowsWritten = 0;
  #lastPurge = 0;

  constructor(opts: HealthReporterOptions) {
    this.#opts = opts;
    this.#heartbeatMs = opts.heartbeatMs ?? 30_000;
    this.#now = opts.now ?? (() => Date.now());
    this.#random = opts.random ?? Math.random;
    const tick = opts.tickMs ?? Math.max(100, Math.min(2000, this.#heartbeatMs));
    this.#timer = setInterval(() => void this.flush(), tick);
    this.#timer.unref();
  }

  /** Rows handed to the store so far (for benchmarks and tests). */
  get rowsWritten(): number {
    return this.#rowsWritten;
  }

  /** Hook for HealthMonitor.onResult. */
  readonly record = (r: ProbeReport): void => {
    const id = r.state.memberId;
    const now = this.#now();
    const c = this.#c;
    let slot = this.#members.get(id);
    const first = slot === undefined;
    if (slot === undefined) {
      slot = this.#free.pop() ?? this.#used++;
      if (slot >= c.capacity) c.grow();
      this.#members.set(id, slot);
      c.writtenAt[slot] = NaN;
      c.transitions[slot] = 0;
      c.flags[slot] = 0;
    }
    const gap = first ? 0 : now - c.receivedAt[slot];
    if (r.transition) c.transitions[slot]++;
    c.flags[slot] = (c.flags[slot] & ~UP) | (r.state.up ? UP : 0);
    c.since[slot] = r.state.since;
    c.lastCheck[slot] = r.state.lastCheck ?? NaN;
    c.latencyMs[slot] = r.state.lastLatencyMs ?? NaN;
    c.lastError[slot] = r.state.lastError;
    // Probed less often than the heartbeat, the row is written at each result: that is the promise then.
    c.heartbeatSeconds[slot] = this.#heartbeatMs > 0 ? Math.max(this.#heartbeatMs, gap) / 1000 : NaN;
    c.gap[slot] = gap;
    c.receivedAt[slot] = now;
    const writtenAt = c.writtenAt[slot];
    if (r.transition || Number.isNaN(writtenAt)) {
      this.#due.add(id);
      this.#urgent ??= setTimeout(() => {
        this.#urgent = undefined;
        void this.flush();
      }, this.#opts.urgentMs ?? 100);
      this.#urgent.unref();
    } else if ((c.flags[slot] & BEATING) === 0 && now - writtenAt >= this.#heartbeatMs) {
      // Its heartbeat found no newer result and stopped (see #collectHeartbeats): this result restarts it.
      this.#due.add(id);
    }
  };

  /** The row a member's state makes. */
  #report(id: number, slot: number): HealthReport {
    const c = this.#c;
    const hb = c.heartbeatSeconds[slot];
    return {
      memberId: id,
      up: (c.flags[slot] & UP) !== 0,
      since: c.since[slot],
      lastCheck: orNull(c.lastCheck[slot]),
      latencyMs: orNull(c.latencyMs[slot]),
      lastError: c.lastError[slot],
      transitions: c.transitions[slot],
      heartbeatSeconds: Number.isNaN(hb) ? undefined : hb,
    };
  }

  #forgetSlot(id: number, slot: number): void {
    this.#members.delete(id);
    this.#c.lastError[slot] = null;
    this.#free.push(slot);
  }

  /**
   * Stops writing these members' rows (this node no longer probes them and is about to delete its votes on them).
   * Resolves once a write under way has finished, so that the deletion that follows cannot be undone by it.
   */
  async forget(memberIds: readonly number[]): Promise<void> {
    for (const id of memberIds) {
      const slot = this.#members.get(id);
      if (slot !== undefined) this.#forgetSlot(id, slot);
      this.#due.delete(id);
    }
    while (this.#inflight) await this.#inflight.catch(() => undefined);
  }

  /**
   * Writes every member's row again as soon as possible, as a first row: after this vantage point's rows were deleted
   * (a new run clears its previous run's votes), the results it already has become votes again at once.
   */
  rewriteAll(): void {
    for (const [id, slot] of this.#members) {
      this.#c.writtenAt[slot] = NaN;
      this.#c.flags[slot] &= ~BEATING;
      this.#due.add(id);
    }
    void this.flush();
  }

  /** Writes the rows due now: state changes, first results, and heartbeats whose time has come. */
  async flush(): Promise<void> {
    if (this.#inflight) {
      this.#again = true;
      return;
    }
    this.#inflight = this.#writeDue();
    try {
      await this.#inflight;
    } finally {
      this.#inflight = undefined;
    }
    if (this.#again) {
      this.#again = false;
      await this.flush();
    }
  }

  /** One write of what is due; never rejects (a failed write leaves its rows due). */
  async #writeDue(): Promise<void> {
    const now = this.#now();
    this.#collectHeartbeats(now);
    if (this.#due.size === 0) return;
    const ids = [...this.#due];
    this.#due.clear();
    const batch: HealthReport[] = [];
    for (const id of ids) {
      const slot = this.#members.get(id);
      if (slot !== undefined) batch.push(this.#report(id, slot));
    }
    try {
      await this.#opts.write(batch);
      this.#rowsWritten += batch.length;
      const hb = this.#heartbeatMs;
      const c = this.#c;
      for (const r of batch) {
        const slot = this.#members.get(r.memberId);
        if (slot === undefined) continue;
        const first = Number.isNaN(c.writtenAt[slot]);
        c.writtenAt[slot] = now;
        // Heartbeat 0 writes every result as it comes: nothing to rewrite on time.
        if (hb === 0) continue;
        c.flags[slot] |= BEATING;
        this.#heartbeats.push(now + hb + (first ? Math.floor(this.#random() * FIRST_SPREAD * hb) : 0), r.memberId, now);
      }
      if (this.#failing) this.#opts.log.info('member health written to the store again');
      this.#failing = false;
    } catch (err) {
      // Written at the next tick, with whatever newer result has come by then.
      for (const id of ids) this.#due.add(id);
      if (!this.#failing) this.#opts.log.warn({ err: (err as Error).message }, 'cannot write member health to the store; will retry');
      this.#failing = true;
    }
  }

  #collectHeartbeats(now: number): void {
    while (this.#heartbeats.peekDue() <= now) {
      const { id, at } = this.#heartbeats.pop();
      const slot = this.#members.get(id);
      const c = this.#c;
      // Written again since (a later entry stands for it), or already going out.
      if (slot === undefined || c.writtenAt[slot] !== at || this.#due.has(id)) continue;
      // Nothing newer than the row: the heartbeat stops until the next result, which is written then.
      if (c.receivedAt[slot] <= at) {
        c.flags[slot] &= ~BEATING;
        continue;
      }
      this.#due.add(id);
    }
    if (now - this.#lastPurge >= PURGE_EVERY_MS) {
      this.#lastPurge = now;
      const c = this.#c;
      // (A Map's iteration goes on correctly past the entries deleted during it.)
      for (const [id, slot] of this.#members) {
        if (now - c.receivedAt[slot] > Math.max(FORGET_MS, 10 * c.gap[slot]) && !this.#due.has(id)) this.#forgetSlot(id, slot);
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#urgent) clearTimeout(this.#urgent);
    // A write under way finishes first (a caller that drops the store next must not cut it off), then the rest.
    while (this.#inflight) await this.#inflight;
    await this.flush();
  }
}
