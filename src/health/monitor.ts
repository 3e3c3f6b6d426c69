// Schedules a probe per enabled pool member, feeds results to the tracker, and reports transitions and results.
import { samePoolForHealth } from './same-pool.js';
import type { HealthCheck, Pool } from '../core/snapshot.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import type { HealthView } from './health-view.js';
import { DueQueue } from './due-queue.js';
import { probe as realProbe, type ProbeFn, type ProbeResult } from './probes.js';
import { HealthTracker, type MemberHealth, type Transition } from './tracker.js';

export interface HealthMonitorOptions {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Wall clock for since/last-check times (the schedule itself runs on the monotonic clock). */
  readonly now?: () => number;
  readonly probe?: ProbeFn;
}

export interface MemberReport extends MemberHealth {
  /** Where probes go: the probe address, else the answered one. */
  readonly target: string;
  readonly kind: HealthCheck['kind'];
}

export interface ProbeReport {
  readonly result: ProbeResult;
  readonly state: MemberReport;
  readonly transition: Transition | undefined;
}

interface Observer {
  observe(value: number): void;
}

interface Job {
  readonly memberId: number;
  readonly poolName: string;
  readonly address: string;
  readonly target: string;
  readonly check: HealthCheck;
  /** The pool's check as text, one string shared by the pool's jobs: the job is replaced when it changes. */
  readonly checkKey: string;
  /** Monotonic time of slot 0; slot k is due at anchor + k × interval. */
  anchor: number;
  slot: number;
  /** DueQueue's: nonzero while a probe slot is scheduled. */
  queueToken: number;
  inFlight: AbortController | undefined;
  /** The lbdns_member_up value last written (-1: none yet). */
  lastUp: number;
}

/** Whether a job can go on as it is: same probe, same pool and answered address (for logs and metrics). */
function sameJob(a: Job, b: Job): boolean {
  return a.checkKey === b.checkKey && a.target === b.target && a.poolName === b.poolName && a.address === b.address;
}

const GOLDEN = 0.6180339887498949;

/** Probes in flight at once: with tens of thousands of members the first round would exhaust file descriptors. */
export const MAX_PROBES_IN_FLIGHT = 512;

/**
 * How long the start-up round may take: each of the MAX_PROBES_IN_FLIGHT slots runs at most ⌈members ÷ slots⌉ probes
 * one after another, each ending by its timeout. The margin is the CPU the loop spends starting and ending probes, which
 * delays the next wave: 4,000 failing HTTP probes of 150 ms took 1.6–2.8 s rather than 6 × 150 ms on the 2-core
 * development machine shared with other work (0.2–0.5 ms a probe); 1 ms a member is allowed, plus 250 ms for late timers.
 * A round still receiving results at its bound goes on (logged); one that stalls is cut, its members left unknown, and
 * an unknown member is not handed out (policies/candidates.ts).
 */
export function firstRoundBoundMs(members: number, longestTimeoutMs: number): number {
  if (members === 0) return 0;
  return Math.ceil(members / MAX_PROBES_IN_FLIGHT) * longestTimeoutMs + 250 + members;
}

/**
 * Where in its interval a member's probes fall: the fractional part of id × golden ratio, a low-discrepancy spread
 * that is deterministic and does not move when other members come and go.
 */
export function probePhase(memberId: number, intervalMs: number): number {
  const x = memberId * GOLDEN;
  return (x - Math.floor(x)) * intervalMs;
}

/**
 * Timers rather than node-cron: cron's finest unit is one second and it fires every job on the same tick, while
 * checks run at sub-second intervals in tests and need their own millisecond phase each to stay staggered.
 *
 * Schedule of one member: one probe as soon as it appears (so a newly added or re-enabled member is decided within one
 * timeout, and the start-up round within ⌈members ÷ MAX_PROBES_IN_FLIGHT⌉ timeouts, first come first probed), then one
 * at every phase slot, anchor = appearance + phase. A slot whose previous probe is still in flight is skipped, never
 * doubled.
 */
export class HealthMonitor {
  private readonly log: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly probeFn: ProbeFn;
  private readonly tracker: HealthTracker;
  private readonly jobs = new Map<number, Job>();
  private readonly transitionHooks = new Set<(t: Transition) => void>();
  private readonly resultHooks = new Set<(r: ProbeReport) => void>();
  private readonly durations = new Map<string, Observer>();
  private readonly queue = new DueQueue<Job>((job) => this.tick(job));
  private stopped = false;
  private started = false;
  private firstPending: Set<number> | undefined;
  private firstTimer: NodeJS.Timeout | undefined;
  /** Logs how the first round ended, given how many members it left without a result. */
  private firstDone: ((cut: number) => void) | undefined;
  /** When a member of the first round last got its first result (monotonic ms). */
  private firstResultAt = 0;
  /** Members whose first result was up (the first round logs them as a count, not a line each). */
  private firstUp = 0;
  /** The pools of the last setPools, by id: one that is the same object again is unchanged. */
  private lastPools = new Map<number, Pool>();
  /** The previous run's votes to start from (resume()), used by the first setPools only. */
  private resumed: { readonly votes: ReadonlyMap<number, boolean>; readonly ageSeconds: number } | undefined;
  private resolveFirst!: () => void;
  private readonly first: Promise<void>;

  constructor(options: HealthMonitorOptions) {
    this.log = options.logger.child({ component: 'health' });
    this.metrics = options.metrics;
    this.probeFn = options.probe ?? realProbe;
    this.tracker = new HealthTracker(options.now ?? Date.now);
    this.first = new Promise<void>((resolve) => (this.resolveFirst = resolve));
  }

  /**
   * Before the first setPools: results this vantage point's previous run voted (HealthAgreement: a restart within a
   * few heartbeats). Those members start decided and need no result of this run before the first round is over;
   * their first probes wait for probeResumed() (see begin()).
   */
  resume(votes: ReadonlyMap<number, boolean>, ageSeconds: number): void {
    if (!this.started) this.resumed = { votes, ageSeconds };
  }

  /** Takes the pools of a new snapshot: unchanged members keep their schedule, others start, stop or restart. */
  setPools(pools: readonly Pool[]): void {
    if (this.stopped) return;
    // Jobs only for the members of pools that are new or changed: a pool that is the same object as last time, or
    // one equal to it in all that probing depends on (samePoolForHealth), keeps its jobs as they stand. A job per member of every pool (and a comparison of
    // each with its old one) cost ~12 µs a member on the answering thread: 0.9 s at 80,000 members, at every reload
    // that changed one pool.
    const wanted = new Map<number, Job>();
    const kept = new Set<number>();
    const seen = new Map<number, Pool>();
    for (const pool of pools) {
      seen.set(pool.id, pool);
      const last = this.started ? this.lastPools.get(pool.id) : undefined;
      if (last !== undefined && samePoolForHealth(last, pool)) {
        for (const m of pool.members) if (m.enabled) kept.add(m.id);
        continue;
      }
      const checkKey = JSON.stringify(pool.check);
      for (const m of pool.members) {
        if (!m.enabled) continue;
        wanted.set(m.id, {
          memberId: m.id,
          poolName: pool.name,
          address: m.address,
          target: m.probeAddress ?? m.address,
          check: pool.check,
          checkKey,
          anchor: 0,
          slot: 0,
          queueToken: 0,
          inFlight: undefined,
          lastUp: -1,
        });
      }
    }
    this.lastPools = seen;
    for (const [id, job] of this.jobs) {
      if (wanted.has(id) || kept.has(id)) continue;
      this.cancel(job);
      this.jobs.delete(id);
      this.tracker.forget(id);
      this.metrics?.memberUp.remove(id);
      this.settleFirst(id);
    }
    for (const [id, fresh] of wanted) {
      const old = this.jobs.get(id);
      if (old !== undefined && sameJob(old, fresh)) continue;
      if (old) {
        this.cancel(old);
        // Another machine behind the same member: what we knew about the old one no longer applies.
        if (old.target !== fresh.target) this.tracker.forget(id);
      }
      this.tracker.track({ memberId: id, poolName: fresh.poolName, address: fresh.address, rise: fresh.check.rise, fall: fresh.check.fall });
      const resumedUp = this.started ? undefined : this.resumed?.votes.get(id);
      if (resumedUp !== undefined) this.tracker.resume(id, resumedUp);
      // 0 until a probe says up: a member without a result is not handed out (policies/candidates.ts).
      fresh.lastUp = this.tracker.state(id)?.status === 'up' ? 1 : 0;
      this.metrics?.memberUp.set(id, fresh.poolName, fresh.address, fresh.lastUp);
      this.jobs.set(id, fresh);
      this.begin(fresh, resumedUp !== undefined);
    }
    if (!this.started) {
      this.started = true;
      this.firstPending = new Set(wanted.keys());
      const resumed = this.resumed;
      this.resumed = undefined;
      if (resumed !== undefined) {
        let members = 0;
        let up = 0;
        for (const id of wanted.keys()) {
          const v = resumed.votes.get(id);
          if (v === undefined) continue;
          this.firstPending.delete(id);
          members++;
          if (v) up++;
        }
        this.log.info({ members, up, heartbeatAgeSeconds: resumed.ageSeconds }, "resumed from the previous run's votes: these members answer as they were until their first probe");
      }
      if (this.firstPending.size === 0) this.finishFirst();
      else {
        let longest = 0;
        for (const job of wanted.values()) longest = Math.max(longest, job.check.timeoutMs);
        const boundMs = firstRoundBoundMs(wanted.size, longest);
        const startedAt = performance.now();
        this.firstResultAt = startedAt;
        this.firstDone = (cut) => {
          const line = { members: wanted.size, up: this.firstUp, boundMs, tookMs: Math.round(performance.now() - startedAt) };
          // Those left are unknown, and candidates.ts never hands out an unknown member while another has a result.
          if (cut > 0) this.log.warn({ ...line, unprobed: cut }, 'first probe round cut: no result for a whole timeout past its bound; members without one are not answered');
          else this.log.info(line, 'first probe round done');
        };
        this.log.info({ members: wanted.size, inFlight: MAX_PROBES_IN_FLIGHT, longestTimeoutMs: longest, boundMs }, 'first probe round started');
        // At the bound, a round still receiving results is CPU-bound (a loaded machine), not stuck: it goes on, said
        // once, and is cut only when a whole timeout passes without a result, which only a hung probe can cause.
        const window = Math.max(longest, 250);
        let overrun = false;
        const check = (): void => {
          if (!this.firstPending) return;
          if (performance.now() - this.firstResultAt >= window) return this.finishFirst();
          if (!overrun) this.log.warn({ members: wanted.size, boundMs, left: this.firstPending.size }, 'first probe round past its bound, results still coming in: waiting for them');
          overrun = true;
          this.firstTimer = setTimeout(check, window);
        };
        this.firstTimer = setTimeout(check, boundMs);
      }
    }
  }

  /**
   * Resolves when every enabled member of the first setPools() has one result (a timeout is one). Past
   * firstRoundBoundMs() it waits on only while results keep coming in, so a probe that outlives its own deadline ends
   * the round at most one timeout after the bound.
   */
  firstRound(): Promise<void> {
    return this.first;
  }

  /** The view answers read (published at a bounded rate with many members; `fresh`: with every change so far). */
  health(fresh = false): HealthView {
    return this.tracker.view(fresh);
  }

  /** This node's own view of one member: undefined when it does not probe it. */
  memberStatus(memberId: number): MemberHealth['status'] | undefined {
    return this.jobs.has(memberId) ? this.tracker.status(memberId) : undefined;
  }

  states(): MemberReport[] {
    const out: MemberReport[] = [];
    for (const state of this.tracker.states()) {
      const job = this.jobs.get(state.memberId);
      if (job) out.push(Object.freeze({ ...state, target: job.target, kind: job.check.kind }));
    }
    return out;
  }

  /** Called once per state change (the first result of a member included); returns an unsubscribe function. */
  onTransition(hook: (t: Transition) => void): () => void {
    this.transitionHooks.add(hook);
    return () => this.transitionHooks.delete(hook);
  }

  /** Called after every probe result, with the member's state after it. */
  onResult(hook: (r: ProbeReport) => void): () => void {
    this.resultHooks.add(hook);
    return () => this.resultHooks.delete(hook);
  }

  /** Clears every timer and aborts every probe in flight; the monitor is done. */
  stop(): void {
    this.stopped = true;
    for (const job of this.jobs.values()) this.cancel(job);
    this.queue.clear();
    this.jobs.clear();
    this.finishFirst();
  }

  /**
   * The first probe now, then one per interval at the member's phase. A member resumed from the previous run's votes
   * (at most 3 heartbeats old) is held back until probeResumed() (or its phase, if that comes first): 80,000 probes
   * at once take both cores for ~20 s at scale, the seconds in which the start-up builds the snapshot and hands it to
   * the DNS workers, while those members already answer as resumed.
   */
  private begin(job: Job, resumed = false): void {
    job.anchor = performance.now() + probePhase(job.memberId, Math.max(1, job.check.intervalMs));
    job.slot = 0;
    if (resumed) this.heldBack.add(job);
    else this.run(job);
    this.arm(job);
  }

  /** Probes now every resumed member not probed yet (main.ts: once the DNS sockets are open). */
  probeResumed(): void {
    const held = [...this.heldBack];
    this.heldBack.clear();
    for (const job of held) if (this.jobs.get(job.memberId) === job) this.run(job);
  }

  private arm(job: Job): void {
    this.queue.schedule(job, job.anchor + job.slot * Math.max(1, job.check.intervalMs));
  }

  private tick(job: Job): void {
    this.heldBack.delete(job);
    if (this.stopped || this.jobs.get(job.memberId) !== job) return;
    this.run(job);
    const interval = Math.max(1, job.check.intervalMs);
    // The next slot after now: slots missed while the loop was busy are skipped, not run in a burst.
    job.slot = Math.max(job.slot + 1, Math.floor((performance.now() - job.anchor) / interval) + 1);
    this.arm(job);
  }

  static readonly MAX_IN_FLIGHT = MAX_PROBES_IN_FLIGHT;
  private running = 0;
  private readonly waiting = new Set<Job>();
  /** Resumed members whose first probe waits for probeResumed() or their phase. */
  private readonly heldBack = new Set<Job>();

  private run(job: Job): void {
    if (job.inFlight || this.stopped) return;
    if (this.running >= HealthMonitor.MAX_IN_FLIGHT) {
      this.waiting.add(job);
      return;
    }
    this.waiting.delete(job);
    this.running++;
    const controller = new AbortController();
    job.inFlight = controller;
    this.probeFn({ address: job.target, check: job.check }, controller.signal)
      .catch((e: unknown): ProbeResult => ({ ok: false, reason: e instanceof Error ? e.message : String(e), latencyMs: 0 }))
      .then((result) => {
        this.running--;
        this.next();
        if (job.inFlight === controller) job.inFlight = undefined;
        if (controller.signal.aborted || this.stopped || this.jobs.get(job.memberId) !== job) return;
        this.report(job, result);
      })
      .catch((e: unknown) => this.log.error({ err: e, member: job.address }, 'health result handling failed'));
  }

  /** Starts the longest-waiting probe when a slot frees up. */
  private next(): void {
    for (const job of this.waiting) {
      this.waiting.delete(job);
      if (this.jobs.get(job.memberId) === job && !this.stopped) {
        this.run(job);
        return;
      }
    }
  }

  private report(job: Job, result: ProbeResult): void {
    const transition = this.tracker.record(job.memberId, result);
    const health = this.tracker.state(job.memberId);
    if (!health) return;
    const state: MemberReport = Object.freeze({ ...health, target: job.target, kind: job.check.kind });
    if (this.metrics) {
      let duration = this.durations.get(job.check.kind);
      if (!duration) this.durations.set(job.check.kind, (duration = this.metrics.probeDuration.labels(job.check.kind)));
      duration.observe(result.latencyMs / 1000);
      const up = state.up ? 1 : 0;
      // Written only when it changes: a label lookup per probe result adds up at 80,000 members.
      if (up !== job.lastUp) this.metrics.memberUp.set(job.memberId, job.poolName, job.address, up);
      job.lastUp = up;
    }
    if (transition) {
      const line = { pool: transition.poolName, member: transition.address, from: transition.from, to: transition.to, reason: transition.reason };
      if (transition.to === 'down') this.log.warn(line, 'member down');
      // A first result of up is the expected news: one debug line each (80,000 info lines at a restart at scale
      // would bury the ones that matter); the round's summary line counts them.
      else if (transition.from === 'unknown') this.log.debug(line, 'member up');
      else this.log.info(line, 'member up');
      if (transition.from === 'unknown') this.firstUp += transition.to === 'up' ? 1 : 0;
      this.metrics?.healthTransitions.labels(transition.poolName, transition.to).inc();
      for (const hook of this.transitionHooks) this.call(hook, transition);
    }
    const report: ProbeReport = { result, state, transition };
    for (const hook of this.resultHooks) this.call(hook, report);
    this.settleFirst(job.memberId);
  }

  private call<T>(hook: (value: T) => void, value: T): void {
    try {
      hook(value);
    } catch (e) {
      this.log.error({ err: e }, 'health hook failed');
    }
  }

  private cancel(job: Job): void {
    this.waiting.delete(job);
    this.heldBack.delete(job);
    this.queue.cancel(job);
    job.inFlight?.abort();
    job.inFlight = undefined;
  }

  private settleFirst(memberId: number): void {
    if (!this.firstPending?.delete(memberId)) return;
    this.firstResultAt = performance.now();
    if (this.firstPending.size === 0) this.finishFirst();
  }

  private finishFirst(): void {
    if (this.firstTimer) clearTimeout(this.firstTimer);
    if (!this.stopped) this.firstDone?.(this.firstPending?.size ?? 0);
    this.firstDone = undefined;
    this.firstTimer = undefined;
    this.firstPending = undefined;
    this.resolveFirst();
  }
}
