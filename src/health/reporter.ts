// Writes this node's view of member health to the store (member_health): on a state change, else a heartbeat per member.
//
// Answers never wait on this: probes feed the in-memory view directly, and a store that is down
// only delays these rows until it is back. Writing every probe result cost members ÷ probe interval
// row writes a second per node (80,000 members every 5 s: 16,000/s) on the shared database, for rows
// only `lbdns status` reads. So a member's row is written when its state changes (within `urgentMs`)
// and otherwise at most once per `heartbeatMs`: the row's heartbeat_at then says how fresh it is.
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
}

interface Tracked {
  report: HealthReport;
  /** When the row was last written (undefined: never), and when the last probe result came. */
  writtenAt: number | undefined;
  receivedAt: number;
  /** Time between the last two results: the probe interval as seen here. */
  gap: number;
}

/**
 * A member no longer probed here (deleted, drained, moved to another pool) stops getting heartbeats once
 * its last result is older than this many heartbeats or probe gaps: its row then ages visibly.
 */
const KEEP_HEARTBEATS = 4;
const KEEP_GAPS = 3;
/** Members without a result for this long (or 10 probe gaps) are forgotten, looked for this often. */
const FORGET_MS = 3_600_000;
const PURGE_EVERY_MS = 600_000;

export class HealthReporter {
  readonly #members = new Map<number, Tracked>();
  readonly #transitions = new Map<number, number>();
  /** Members whose row goes in the next write. */
  readonly #due = new Set<number>();
  // Rows in the order written, with the time: written in batches at increasing times, so the oldest
  // are always at the head and finding the heartbeats due is a walk from there, never a scan.
  #fifoIds: number[] = [];
  #fifoTimes: number[] = [];
  #fifoHead = 0;
  readonly #opts: HealthReporterOptions;
  readonly #heartbeatMs: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  #urgent: NodeJS.Timeout | undefined;
  #writing = false;
  #again = false;
  #failing = false;
  #rowsWritten = 0;
  #lastPurge = 0;

  constructor(opts: HealthReporterOptions) {
    this.#opts = opts;
    this.#heartbeatMs = opts.heartbeatMs ?? 30_000;
    this.#now = opts.now ?? (() => Date.now());
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
    if (r.transition) this.#transitions.set(id, (this.#transitions.get(id) ?? 0) + 1);
    const report: HealthReport = {
      memberId: id,
      up: r.state.up,
      since: r.state.since,
      lastCheck: r.state.lastCheck,
      latencyMs: r.state.lastLatencyMs,
      lastError: r.state.lastError,
      transitions: this.#transitions.get(id) ?? 0,
      heartbeatSeconds: this.#heartbeatMs > 0 ? this.#heartbeatMs / 1000 : undefined,
    };
    let m = this.#members.get(id);
    if (!m) {
      m = { report, writtenAt: undefined, receivedAt: now, gap: 0 };
      this.#members.set(id, m);
    } else {
      m.report = report;
      m.gap = now - m.receivedAt;
      m.receivedAt = now;
    }
    if (r.transition || m.writtenAt === undefined) {
      this.#due.add(id);
      this.#urgent ??= setTimeout(() => {
        this.#urgent = undefined;
        void this.flush();
      }, this.#opts.urgentMs ?? 100);
      this.#urgent.unref();
    } else if (now - m.writtenAt >= this.#heartbeatMs) {
      // Probed less often than the heartbeat: its heartbeat was dropped (see flush), so this result is it.
      this.#due.add(id);
    }
  };

  /** Writes the rows due now: state changes, first results, and heartbeats whose time has come. */
  async flush(): Promise<void> {
    if (this.#writing) {
      this.#again = true;
      return;
    }
    const now = this.#now();
    this.#collectHeartbeats(now);
    if (this.#due.size === 0) return;
    const ids = [...this.#due];
    this.#due.clear();
    const batch: HealthReport[] = [];
    for (const id of ids) {
      const m = this.#members.get(id);
      if (m) batch.push(m.report);
    }
    this.#writing = true;
    try {
      await this.#opts.write(batch);
      this.#rowsWritten += batch.length;
      for (const r of batch) {
        const m = this.#members.get(r.memberId);
        if (!m) continue;
        m.writtenAt = now;
        // Heartbeat 0 writes every result as it comes: nothing to rewrite on time.
        if (this.#heartbeatMs === 0) continue;
        this.#fifoIds.push(r.memberId);
        this.#fifoTimes.push(now);
      }
      if (this.#failing) this.#opts.log.info('member health written to the store again');
      this.#failing = false;
    } catch (err) {
      // Written at the next tick, with whatever newer result has come by then.
      for (const id of ids) this.#due.add(id);
      if (!this.#failing) this.#opts.log.warn({ err: (err as Error).message }, 'cannot write member health to the store; will retry');
      this.#failing = true;
    } finally {
      this.#writing = false;
    }
    if (this.#again) {
      this.#again = false;
      await this.flush();
    }
  }

  #collectHeartbeats(now: number): void {
    const hb = this.#heartbeatMs;
    while (this.#fifoHead < this.#fifoIds.length && this.#fifoTimes[this.#fifoHead] + hb <= now) {
      const id = this.#fifoIds[this.#fifoHead];
      const at = this.#fifoTimes[this.#fifoHead];
      this.#fifoHead++;
      const m = this.#members.get(id);
      // Written again since (a later entry stands for it), or already going out.
      if (!m || m.writtenAt !== at || this.#due.has(id)) continue;
      // Its heartbeat stops; the entry stays (with the probe gap seen) so a later result is written at once.
      if (now - m.receivedAt > Math.max(KEEP_HEARTBEATS * hb, KEEP_GAPS * m.gap)) continue;
      this.#due.add(id);
    }
    if (now - this.#lastPurge >= PURGE_EVERY_MS) {
      this.#lastPurge = now;
      for (const [id, m] of this.#members) {
        if (now - m.receivedAt > Math.max(FORGET_MS, 10 * m.gap) && !this.#due.has(id)) {
          this.#members.delete(id);
          this.#transitions.delete(id);
        }
      }
    }
    // Drop the consumed head now and then, so the arrays do not grow without end.
    if (this.#fifoHead > 4096 && this.#fifoHead * 2 > this.#fifoIds.length) {
      this.#fifoIds = this.#fifoIds.slice(this.#fifoHead);
      this.#fifoTimes = this.#fifoTimes.slice(this.#fifoHead);
      this.#fifoHead = 0;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#urgent) clearTimeout(this.#urgent);
    await this.flush();
  }
}
