// Health agreed across vantage points: this node's own probes and the other vantage points' votes, counted by each
// pool's quorum rule (src/health/quorum.ts), make the view answers use; and which members this node probes at all.
//
// Votes live in the store (member_health, one row per vantage point per member; migrations/0011). This node:
// - beats every heartbeatMs: one statement writes its vantage_points row and reads every other one, whose heartbeat
//   age (by the database's clock) says which vantage points are live; a vote counts only while its vantage point is;
// - hears votes move through LISTEN lbdns_votes (within a second of their write) and reads them all at start, each
//   time LISTEN (re)starts, and every FULL_READ_MS as a safety net;
// - probes the members its pools give it: every member of a pool without `probers`, else those whose rendezvous top
//   k (over the live vantage points) holds it, plus, until one of their new probers has voted, the ones it probed
//   before a reassignment (make before break), after which its vote on them is withdrawn;
// - when the store is unreachable, probes every member itself, and counts the others' votes until they expire by its
//   own clock (their age at the last read plus the time since): never a vote older than the bound.
import { samePoolForHealth } from './same-pool.js';
import type { Pool } from '../core/snapshot.js';
import { yieldToLoop } from '../snapshot/image.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import type { VantageKind, VantageRow, VoteRow } from '../store/store.js';
import { EMPTY_HEALTH, freezeView, type HealthView } from './health-view.js';
import type { HealthMonitor } from './monitor.js';
import { countedVotes, decide, probersOf, proberSet, resolveRule, type Ballot, type Decision, type ProberSet, type QuorumRule } from './quorum.js';
import { PUBLISH_MS_PER_MEMBER, PUBLISH_THROTTLE_FROM } from './tracker.js';

/** The store as the agreement uses it. */
export interface VoteStore {
  beatVantage(name: string, kind: VantageKind, intervalSeconds: number, clockMs: number): Promise<readonly VantageRow[]>;
  /**
   * Every vote; with `sinceSeconds`, only rows written within that many seconds (a delta while LISTEN is down);
   * without those of `exceptVantage` (this node's own, which it knows: 80,000 rows a minute at scale otherwise).
   */
  readVotes(sinceSeconds?: number, exceptVantage?: string): Promise<readonly VoteRow[]>;
  withdrawVotes(name: string, memberIds: readonly number[]): Promise<number>;
  /** Deletes every vote of this vantage point (at the start of a process: the previous run's votes are not its). */
  clearVotes(name: string): Promise<number>;
  /** The same, returning them: a restart within LIVE_HEARTBEATS of the previous run's heartbeats resumes from them. */
  takeVotes(name: string): Promise<readonly { readonly memberId: number; readonly up: boolean }[]>;
}

export interface AgreementOptions {
  /** This vantage point's name (LBDNS_NODE_NAME, or the probe agent's --name). */
  readonly self: string;
  readonly kind: VantageKind;
  readonly monitor: HealthMonitor;
  readonly store: VoteStore;
  readonly log: Logger;
  readonly metrics?: Metrics;
  readonly heartbeatMs: number;
  /**
   * Told which members this node stops voting on, before their rows are deleted: the reporter forgets them and
   * the deletion waits for its write under way, which could otherwise put a row back after it.
   */
  readonly onWithdrawn?: (memberIds: readonly number[]) => void | Promise<void>;
  /**
   * Called after this process deleted every vote its vantage point had in the store (its first heartbeat that
   * reached the store): whatever the previous run of this vantage point voted must not count as this one's. The
   * reporter writes every member it has a result for again, as first rows (each cast, so each notified).
   */
  readonly onVotesCleared?: () => void;
}

/** A vantage point is live while its last heartbeat is younger than this many of its intervals. */
export const LIVE_HEARTBEATS = 3;
/** A vote whose probe time lies more than this many seconds past the database's clock is not counted. */
export const MAX_AHEAD_SECONDS = 30;
/** Every vote is read again this often, in case a notification was lost with a connection. */
export const FULL_READ_MS = 60_000;
/** Members decided per turn of the event loop in a full read (~1.5 µs each). */
const RECOMPUTE_SLICE = 1000;
/** A vantage point that stopped being live counts again only after this many heartbeats in a row seen fresh. */
export const REJOIN_HEARTBEATS = 3;

interface Vantage {
  readonly kind: VantageKind;
  /** Heartbeats in a row seen fresh, and whether it is in the live set (see #takeVantages: hysteresis). */
  readonly freshStreak: number;
  readonly member: boolean;
  /** Heartbeat age in seconds when read, and when that was (performance.now()). */
  readonly ageAtRead: number;
  readonly readAt: number;
  readonly intervalSeconds: number;
  readonly retired: boolean;
}

export type AgreedState = 'unknown' | 'up' | 'down';

export interface AgreedTransition {
  readonly memberId: number;
  readonly poolName: string;
  readonly address: string;
  readonly from: AgreedState;
  readonly to: AgreedState;
  readonly rule: QuorumRule;
  /** The counted votes that decided it, by vantage point. */
  readonly votes: Readonly<Record<string, 'up' | 'down'>>;
  /** This node's last probe reason for the member (what decides under `local`). */
  readonly reason?: string;
}

/** One vote as `explain` and `/status` show it. */
export interface VoteView {
  readonly vantage: string;
  readonly up: boolean;
  /** Seconds since its vantage point's last heartbeat (0 for this node's own vote). */
  readonly ageSeconds: number;
  readonly counted: boolean;
  /** Why it does not count, when it does not. */
  readonly ignored?: 'not live' | 'retired' | 'unknown vantage point' | 'not a prober of this member';
}

export interface MemberAgreement {
  readonly rule: QuorumRule;
  readonly probers: number | null;
  /** The vantage points meant to probe the member (all live ones when the pool has no probers). */
  readonly assigned: readonly string[];
  readonly probedHere: boolean;
  readonly votes: readonly VoteView[];
  readonly state: AgreedState;
  readonly ups: number;
  readonly downs: number;
}

export interface AgreementStatus {
  /** True while votes go through the store; false: own probes and unexpired votes only. */
  readonly shared: boolean;
  readonly self: string;
  readonly live: readonly string[];
  readonly agentsLive: number;
  readonly sinceLastHeartbeatSeconds: number | null;
  readonly probedHere: number;
  readonly ignoredVotes: Readonly<Record<string, number>>;
}

/** Rejects when `p` has not settled within `ms` (the timer does not keep the process alive). */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`heartbeat unanswered for ${ms} ms`)), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The vote gauges last set for a member: their labels, and each counted vantage point's vote in the same order. */
interface VoteLabels {
  readonly pool: string;
  readonly member: string;
  readonly vantages: readonly string[];
  readonly ups: readonly boolean[];
}

function sameBallots(labels: VoteLabels, counted: readonly Ballot[]): boolean {
  if (labels.vantages.length !== counted.length) return false;
  for (let i = 0; i < counted.length; i++) if (labels.vantages[i] !== counted[i].vantage || labels.ups[i] !== counted[i].up) return false;
  return true;
}

/** A member's answered address, looked up in its pool (a handful of members) when a log line or a metric needs it. */
function addressIn(pool: Pool, memberId: number): string {
  for (const m of pool.members) if (m.id === memberId) return m.address;
  return '';
}

const stateOf = (up: boolean | undefined): AgreedState => (up === undefined ? 'unknown' : up ? 'up' : 'down');

export class HealthAgreement {
  readonly #o: AgreementOptions;
  readonly #log: Logger;
  readonly #vantages = new Map<string, Vantage>();
  /** Other vantage points' votes, by member then vantage point. */
  readonly #votes = new Map<number, Map<string, boolean>>();
  /** How many votes each vantage point has in #votes (for the ignored-votes gauge without a walk). */
  readonly #votesBy = new Map<string, number>();
  /** Votes not taken because their clock is far ahead, by vantage point. */
  readonly #ahead = new Map<string, Set<number>>();
  // A member's pool, by member id (enabled members only). The pool, not an object per member: at 80,000 members an
  // entry object each was 80,000 long-lived objects more for the collector, made again at every change of pools.
  readonly #members = new Map<number, Pool>();
  /** Members of pools with probers: the vantage points assigned to each. */
  readonly #assigned = new Map<number, ReadonlySet<string>>();
  /** Members this node probes, and those of them it probes only until a new prober has voted. */
  #probed = new Set<number>();
  readonly #handover = new Set<number>();
  readonly #effective = new Map<number, boolean>();
  readonly #voteLabels = new Map<number, VoteLabels>();
  readonly #hooks = new Set<(t: AgreedTransition) => void>();
  readonly #logged = new Set<string>();
  /** The reason of this node's last own transition per member (a probe's error, or its success). */
  readonly #reasons = new Map<number, string>();
  #pools: readonly Pool[] = [];
  #poolsChanged = false;
  #live: ProberSet;
  #agentsLive = 0;
  #shared = false;
  #lastBeat: number | undefined;
  #beating: Promise<void> | undefined;
  #published: HealthView = EMPTY_HEALTH;
  #dirty = false;
  #nextPublishAt = 0;
  #timers: NodeJS.Timeout[] = [];
  #reassignTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #saidDown = false;
  /** setPools has been called: before that, the monitor is told nothing (its first setPools is the first round). */
  #havePools = false;
  /** This vantage point's own row is retired: it counts neither itself nor its own probes, as the others do. */
  #selfRetired = false;
  /** This process has deleted its vantage point's previous votes (once, at its first heartbeat that got through). */
  #cleared = false;
  /** The change feed is on LISTEN: votes arrive as notifications; otherwise each heartbeat reads the recent ones. */
  #listening = true;
  /** Members whose vote withdrawal failed: tried again at the next reassignment. */
  readonly #toWithdraw = new Set<number>();
  #reading: Promise<void> | undefined;
  #readAgain = false;
  /** Notifications that arrived during a full read: applied after it, in order. */
  #buffered: string[] | undefined;
  #beats = 0;

  constructor(opts: AgreementOptions) {
    this.#o = opts;
    this.#log = opts.log.child({ component: 'votes' });
    this.#live = proberSet([opts.self]);
    opts.monitor.onTransition((t) => {
      this.#reasons.set(t.memberId, t.reason);
      this.#recompute(t.memberId);
    });
  }

  /** The first heartbeat and read of every vote (failures leave this node on its own probes), then the timers. */
  async start(): Promise<void> {
    await this.#beat();
    if (this.#shared) await this.resync();
    const beat = setInterval(() => {
      // A heartbeat still unanswered (a half-open link) must not freeze the live set: votes expire by this clock.
      if (this.#beating) this.#refreshLive();
      void this.#beat();
    }, this.#o.heartbeatMs);
    const full = setInterval(() => void this.resync(), FULL_READ_MS);
    beat.unref();
    full.unref();
    this.#timers.push(beat, full);
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    if (this.#reassignTimer) clearTimeout(this.#reassignTimer);
  }

  /** Takes the pools of a new snapshot: decides what this node probes, and every member's state again. */
  setPools(pools: readonly Pool[]): void {
    const before = new Map(this.#pools.map((p) => [p.id, p] as [number, Pool]));
    this.#havePools = true;
    this.#pools = pools;
    this.#poolsChanged = true;
    // Only the pools that are not the same object as before are walked (a reload that lends its pools changes none).
    const now = new Map(pools.map((p) => [p.id, p] as [number, Pool]));
    for (const [id, old] of before) {
      if (now.get(id) === old) continue;
      for (const m of old.members) if (this.#members.get(m.id) === old) this.#members.delete(m.id);
    }
    for (const pool of pools) {
      if (before.get(pool.id) === pool) continue;
      for (const m of pool.members) if (m.enabled) this.#members.set(m.id, pool);
    }
    for (const id of [...this.#effective.keys()]) if (!this.#members.has(id)) this.#drop(id);
    const moved = this.#reassign();
    // Only what this change can have moved: the members of pools that are new or changed (samePoolForHealth: the
    // same object, or one equal in its rule, members and check, is the same pool), and those whose probing here started or
    // stopped. Every member again took ~11 µs each on the answering thread: 0.9 s at 80,000 members, at every
    // reload that changed one pool.
    for (const pool of pools) {
      const old = before.get(pool.id);
      if (old === undefined || !samePoolForHealth(old, pool)) for (const m of pool.members) if (m.enabled) this.#recompute(m.id);
    }
    for (const id of moved) this.#recompute(id);
  }

  /** Called once per change of a member's agreed state; returns an unsubscribe function. */
  onChange(hook: (t: AgreedTransition) => void): () => void {
    this.#hooks.add(hook);
    return () => this.#hooks.delete(hook);
  }

  /** The view answers read; published at most every PUBLISH_MS_PER_MEMBER × members with many members, as the tracker's. */
  view(fresh = false): HealthView {
    if (!this.#dirty) return this.#published;
    const size = this.#members.size;
    const now = size < PUBLISH_THROTTLE_FROM ? 0 : performance.now();
    if (fresh || now >= this.#nextPublishAt) {
      this.#dirty = false;
      this.#published = freezeView(new Map(this.#effective));
      if (now > 0) this.#nextPublishAt = performance.now() + size * PUBLISH_MS_PER_MEMBER;
    }
    return this.#published;
  }

  /** A NOTIFY lbdns_votes payload: "<vantage> <member>:<1|0|->:<ahead>,...". */
  readonly votesNotified = (payload: string): void => {
    if (this.#buffered) {
      this.#buffered.push(payload);
      return;
    }
    const space = payload.indexOf(' ');
    if (space <= 0) return;
    const vantage = payload.slice(0, space);
    if (vantage === this.#o.self) return;
    let handover = false;
    for (const item of payload.slice(space + 1).split(',')) {
      const [m, state, ahead] = item.split(':');
      const id = Number(m);
      if (!Number.isInteger(id)) continue;
      if (state === '-') this.#forgetVote(id, vantage);
      else this.#takeVote(id, vantage, state === '1', Number(ahead) || 0);
      this.#recompute(id);
      if (this.#handover.has(id)) handover = true;
    }
    if (handover) this.#scheduleReassign();
  };

  /** Whether the change feed is on LISTEN (votes are notified) or not (each heartbeat reads the recent votes). */
  listening(on: boolean): void {
    this.#listening = on;
  }

  /**
   * Reads every vote again (at start, when LISTEN (re)starts, and every FULL_READ_MS). One read at a time: a read
   * asked for during another runs once after it. Notifications that arrive meanwhile are held and applied after the
   * read, so a vote moved during the read is never overwritten by the read's older copy.
   */
  readonly resync = (): Promise<void> => {
    if (this.#reading) {
      this.#readAgain = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      do {
        this.#readAgain = false;
        await this.#readAll();
      } while (this.#readAgain && !this.#stopped);
    })().finally(() => (this.#reading = undefined));
    return this.#reading;
  };

  async #readAll(): Promise<void> {
    this.#buffered = [];
    let rows: readonly VoteRow[];
    try {
      rows = await this.#o.store.readVotes(undefined, this.#o.self);
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'votes not read; keeping those known');
      this.#replay();
      return;
    }
    if (this.#stopped) return;
    this.#votes.clear();
    this.#votesBy.clear();
    this.#ahead.clear();
    for (const r of rows) if (r.vantage !== this.#o.self) this.#takeVote(r.memberId, r.vantage, r.up, r.ahead);
    this.#replay();
    this.#countIgnored();
    await this.#recomputeAllSliced();
    if (this.#handover.size > 0) this.#scheduleReassign();
  }

  #replay(): void {
    const held = this.#buffered ?? [];
    this.#buffered = undefined;
    for (const payload of held) this.votesNotified(payload);
  }

  /** While LISTEN is down (or never used): the votes written since shortly before the last heartbeat. */
  async #readRecent(): Promise<void> {
    if (this.#reading) return;
    let rows: readonly VoteRow[];
    try {
      rows = await this.#o.store.readVotes((2 * this.#o.heartbeatMs) / 1000 + 1, this.#o.self);
    } catch {
      return;
    }
    if (this.#stopped || this.#reading) return;
    const touched = new Set<number>();
    for (const r of rows) {
      if (r.vantage === this.#o.self) continue;
      if (this.#votes.get(r.memberId)?.get(r.vantage) === r.up) continue;
      this.#takeVote(r.memberId, r.vantage, r.up, r.ahead);
      touched.add(r.memberId);
    }
    for (const id of touched) this.#recompute(id);
    if ([...touched].some((id) => this.#handover.has(id))) this.#scheduleReassign();
  }

  /** Which votes decided a member's state, as explain and /status show them. */
  describe(memberId: number): MemberAgreement | undefined {
    const pool = this.#members.get(memberId);
    if (!pool) return undefined;
    const d = this.#decide(memberId, pool, this.#rule(pool));
    const now = performance.now();
    const assigned = this.#assigned.get(memberId);
    const votes: VoteView[] = [];
    const own = this.#own(memberId);
    if (own !== undefined) votes.push({ vantage: this.#o.self, up: own, ageSeconds: 0, counted: true });
    for (const [vantage, up] of this.#votes.get(memberId) ?? []) {
      const v = this.#vantages.get(vantage);
      const ageSeconds = v ? v.ageAtRead + (now - v.readAt) / 1000 : 0;
      let ignored: VoteView['ignored'];
      if (!v) ignored = 'unknown vantage point';
      else if (v.retired) ignored = 'retired';
      else if (!this.#isLive(vantage, now)) ignored = 'not live';
      votes.push({ vantage, up, ageSeconds: Math.round(ageSeconds * 10) / 10, counted: ignored === undefined, ...(ignored ? { ignored } : {}) });
    }
    // Counted as decide() counted them: the assigned probers' votes when any of them has voted.
    if (d.rule === 'local') for (let i = 0; i < votes.length; i++) if (votes[i].vantage !== this.#o.self) votes[i] = { ...votes[i], counted: false };
    if (assigned && d.rule !== 'local' && votes.some((v) => v.counted && assigned.has(v.vantage))) {
      for (let i = 0; i < votes.length; i++) {
        if (votes[i].counted && !assigned.has(votes[i].vantage)) votes[i] = { ...votes[i], counted: false, ignored: 'not a prober of this member' };
      }
    }
    return {
      rule: d.rule,
      probers: pool.check.probers ?? null,
      assigned: assigned ? [...assigned] : this.#live.names,
      probedHere: this.#probed.has(memberId),
      votes,
      state: stateOf(d.up),
      ups: d.ups,
      downs: d.downs,
    };
  }

  status(): AgreementStatus {
    const ignored = this.#countIgnored();
    return {
      shared: this.#shared,
      self: this.#o.self,
      live: this.#live.names,
      agentsLive: this.#agentsLive,
      sinceLastHeartbeatSeconds: this.#lastBeat === undefined ? null : Math.round((performance.now() - this.#lastBeat) / 100) / 10,
      probedHere: this.#probed.size,
      ignoredVotes: ignored,
    };
  }

  // ---- heartbeat and the live set ----

  #beat(): Promise<void> {
    this.#beating ??= (async () => {
      try {
        const rows = await withDeadline(
          this.#o.store.beatVantage(this.#o.self, this.#o.kind, this.#o.heartbeatMs / 1000, Date.now()),
          Math.max(1000, 2 * this.#o.heartbeatMs),
        );
        if (this.#stopped) return;
        this.#takeVantages(rows);
        this.#lastBeat = performance.now();
        if (!this.#cleared) {
          // The previous run of this vantage point voted what it saw then: those rows go, and this run's first
          // results are written as new votes (notified, so every node counts them at once). A previous run that
          // beat within LIVE_HEARTBEATS of its intervals (a restart, as its votes would still count for every other
          // node) is resumed from: its votes are taken rather than merely deleted, and those members answer as they
          // were while their first probes run, so a restart at scale does not wait for a whole probe round. A
          // previous run silent for longer, or retired, is not trusted: every member waits for its probe.
          const before = rows.find((r) => r.name === this.#o.self);
          if (before !== undefined && before.retiredAt === null && before.heartbeatAge < LIVE_HEARTBEATS * before.heartbeatSeconds) {
            const taken = await this.#o.store.takeVotes(this.#o.self);
            const votes = new Map(taken.map((v) => [v.memberId, v.up] as [number, boolean]));
            for (const id of votes.keys()) this.#reasons.set(id, `resumed from the previous run (its heartbeat ${before.heartbeatAge.toFixed(1)} s before)`);
            this.#o.monitor.resume(votes, before.heartbeatAge);
          } else await this.#o.store.clearVotes(this.#o.self);
          this.#cleared = true;
          this.#o.onVotesCleared?.();
        }
        if (!this.#listening && this.#beats++ > 0) void this.#readRecent();
        this.#saidDown = false;
        if (!this.#shared) {
          this.#shared = true;
          this.#log.info({ vantage: this.#o.self, kind: this.#o.kind }, 'votes shared through the store');
          this.#o.metrics?.votesShared.set(1);
          // Back from an outage: votes cast meanwhile, and (through #refreshLive) probing shared again.
          this.#poolsChanged = true;
          void this.resync();
        }
      } catch (err) {
        if (!this.#saidDown) {
          this.#saidDown = true;
          this.#log.warn({ err: (err as Error).message }, 'store unreachable: deciding from own probes and votes not yet expired, probing every member');
          this.#o.metrics?.votesShared.set(0);
        }
        if (this.#shared) this.#poolsChanged = true;
        this.#shared = false;
      } finally {
        this.#beating = undefined;
      }
      if (!this.#stopped) this.#refreshLive();
    })();
    return this.#beating;
  }

  #takeVantages(rows: readonly VantageRow[]): void {
    const now = performance.now();
    const seen = new Set<string>();
    const first = this.#lastBeat === undefined;
    for (const r of rows) {
      seen.add(r.name);
      if (r.name === this.#o.self) {
        const retired = r.retiredAt !== null;
        if (retired && !this.#selfRetired) this.#log.error({ vantage: r.name }, 'this vantage point is retired: every node ignores its votes, and it counts neither itself nor its own probes, until `lbdns vantage forget` removes it');
        this.#selfRetired = retired;
      }
      const old = this.#vantages.get(r.name);
      const fresh = r.retiredAt === null && r.heartbeatAge <= LIVE_HEARTBEATS * r.heartbeatSeconds;
      const freshStreak = fresh ? (old?.freshStreak ?? 0) + 1 : 0;
      // Hysteresis: a vantage point seen at this node's first read joins at once if fresh; one that was out (or is
      // new since) joins after REJOIN_HEARTBEATS fresh heartbeats in a row, so a lossy link does not flap it in and
      // out, moving probes and switching `auto` each time. It leaves as soon as it is stale.
      const member = fresh && (first || old?.member === true || freshStreak >= REJOIN_HEARTBEATS);
      this.#vantages.set(r.name, { kind: r.kind, ageAtRead: r.heartbeatAge, readAt: now, intervalSeconds: r.heartbeatSeconds, retired: r.retiredAt !== null, freshStreak, member });
    }
    for (const name of [...this.#vantages.keys()]) if (!seen.has(name)) this.#vantages.delete(name);
  }

  #isLive(name: string, now: number): boolean {
    const v = this.#vantages.get(name);
    if (!v || v.retired || !v.member) return false;
    return v.ageAtRead + (now - v.readAt) / 1000 <= LIVE_HEARTBEATS * v.intervalSeconds;
  }

  /** Recomputes the live set; a change of it (or of the store's reachability) reassigns probes and every state. */
  #refreshLive(): void {
    const now = performance.now();
    const names = this.#selfRetired ? [] : [this.#o.self];
    let agents = this.#o.kind === 'agent' && !this.#selfRetired ? 1 : 0;
    for (const [name, v] of this.#vantages) {
      if (name === this.#o.self || !this.#isLive(name, now)) continue;
      names.push(name);
      if (v.kind === 'agent') agents++;
    }
    const next = proberSet(names);
    const changed = next.names.join('\n') !== this.#live.names.join('\n') || agents !== this.#agentsLive;
    this.#countIgnored();
    if (!changed && !this.#poolsChanged) return;
    if (changed) {
      const joined = next.names.filter((n) => !this.#live.names.includes(n));
      const left = this.#live.names.filter((n) => !next.names.includes(n));
      this.#log.info({ live: next.names, joined, left, agents }, 'vantage points changed');
      this.#live = next;
      this.#agentsLive = agents;
      this.#o.metrics?.vantagePointsLive.set({ kind: 'node' }, next.names.length - agents);
      this.#o.metrics?.vantagePointsLive.set({ kind: 'agent' }, agents);
    }
    this.#reassign();
    this.#recomputeAll();
  }

  // ---- votes ----

  #takeVote(memberId: number, vantage: string, up: boolean, ahead: number): void {
    if (ahead > MAX_AHEAD_SECONDS) {
      let set = this.#ahead.get(vantage);
      if (!set) this.#ahead.set(vantage, (set = new Set()));
      set.add(memberId);
      this.#once(`ahead:${vantage}`, () =>
        this.#log.warn({ vantage, aheadSeconds: ahead, member: memberId }, 'vote ignored: its clock is far ahead of the database; fix the vantage point\'s clock'),
      );
      // What it said before is older than what it says now: neither is counted.
      this.#forgetVote(memberId, vantage);
      return;
    }
    this.#ahead.get(vantage)?.delete(memberId);
    let byVantage = this.#votes.get(memberId);
    if (!byVantage) this.#votes.set(memberId, (byVantage = new Map()));
    if (!byVantage.has(vantage)) this.#votesBy.set(vantage, (this.#votesBy.get(vantage) ?? 0) + 1);
    byVantage.set(vantage, up);
  }

  #forgetVote(memberId: number, vantage: string): void {
    const byVantage = this.#votes.get(memberId);
    if (!byVantage?.delete(vantage)) return;
    if (byVantage.size === 0) this.#votes.delete(memberId);
    const n = (this.#votesBy.get(vantage) ?? 1) - 1;
    if (n > 0) this.#votesBy.set(vantage, n);
    else this.#votesBy.delete(vantage);
  }

  /** Votes in the book that do not count, by reason; each newly ignored vantage point logged once. */
  #countIgnored(): Record<string, number> {
    const out: Record<string, number> = { 'unknown vantage point': 0, retired: 0, 'clock ahead': 0 };
    // Only once the vantage points have been read: before that every name is unknown.
    if (this.#lastBeat !== undefined) {
      for (const [vantage, n] of this.#votesBy) {
        const v = this.#vantages.get(vantage);
        if (v && !v.retired) continue;
        const reason = v ? 'retired' : 'unknown vantage point';
        out[reason] += n;
        this.#once(`${reason}:${vantage}`, () => this.#log.warn({ vantage, votes: n, reason }, 'votes ignored'));
      }
    }
    for (const set of this.#ahead.values()) out['clock ahead'] += set.size;
    const m = this.#o.metrics;
    if (m) for (const [reason, n] of Object.entries(out)) m.votesIgnored.set({ reason }, n);
    return out;
  }

  #once(key: string, f: () => void): void {
    if (this.#logged.has(key)) return;
    this.#logged.add(key);
    f();
  }

  // ---- who probes what ----

  #scheduleReassign(): void {
    this.#reassignTimer ??= setTimeout(() => {
      this.#reassignTimer = undefined;
      if (!this.#stopped) {
        this.#reassign();
        this.#recomputeAll();
      }
    }, 500);
    this.#reassignTimer.unref();
  }

  /** Whether a vantage point (other than this one) assigned to the member has a vote counted. */
  #assigneeVoted(memberId: number, assigned: ReadonlySet<string>, now: number): boolean {
    const votes = this.#votes.get(memberId);
    if (!votes) return false;
    for (const name of assigned) if (name !== this.#o.self && votes.has(name) && this.#isLive(name, now)) return true;
    return false;
  }

  /** Whether any live vantage point other than this one has a vote on the member. */
  #anyVote(memberId: number, now: number): boolean {
    const votes = this.#votes.get(memberId);
    if (!votes) return false;
    for (const name of votes.keys()) if (this.#isLive(name, now)) return true;
    return false;
  }

  /** Decides what this node probes; returns the members whose probing here started or stopped. */
  #reassign(): readonly number[] {
    // Before the first pools the monitor is told nothing: its first setPools is the start-up round the sockets wait for.
    if (!this.#havePools) return [];
    // A node that cannot see the store probes everything itself; an agent could not publish what it found anyway.
    const probeAll = !this.#shared && this.#o.kind === 'node';
    const now = performance.now();
    const self = this.#o.self;
    const next = new Set<number>();
    const pools: Pool[] = [];
    this.#assigned.clear();
    this.#handover.clear();
    for (const pool of this.#pools) {
      const k = pool.check.probers;
      if (k == null) {
        pools.push(pool);
        for (const m of pool.members) if (m.enabled) next.add(m.id);
        continue;
      }
      const members = pool.members.filter((m) => {
        if (!m.enabled) return false;
        const assigned = new Set(probersOf(m.id, this.#live, k));
        this.#assigned.set(m.id, assigned);
        if (probeAll || assigned.has(self)) return true;
        // Make before break: still probed here until one of its new probers has voted; and a member nobody has a
        // vote on yet (a cold start of the pair, a member just added) is probed here too, until its probers vote.
        if ((this.#probed.has(m.id) || !this.#anyVote(m.id, now)) && !this.#assigneeVoted(m.id, assigned, now)) {
          this.#handover.add(m.id);
          return true;
        }
        return false;
      });
      for (const m of members) next.add(m.id);
      pools.push(members.length === pool.members.length ? pool : Object.freeze({ ...pool, members: Object.freeze(members) }));
    }
    const released = [...this.#probed].filter((id) => !next.has(id));
    const grown = [...next].filter((id) => !this.#probed.has(id));
    const grew = grown.length > 0;
    this.#probed = next;
    if (this.#poolsChanged || released.length > 0 || grew) this.#o.monitor.setPools(pools);
    this.#poolsChanged = false;
    // Votes on members it no longer probes are withdrawn (those of deleted members went with them); a withdrawal
    // that failed is tried again here, unless the member is probed here again meanwhile.
    for (const id of released) if (this.#members.has(id)) this.#toWithdraw.add(id);
    for (const id of [...this.#toWithdraw]) if (next.has(id) || !this.#members.has(id)) this.#toWithdraw.delete(id);
    if (this.#toWithdraw.size > 0 && this.#shared) {
      const withdraw = [...this.#toWithdraw];
      Promise.resolve(this.#o.onWithdrawn?.(withdraw))
        .then(() => this.#o.store.withdrawVotes(self, withdraw))
        .then(
          () => {
            for (const id of withdraw) this.#toWithdraw.delete(id);
          },
          (err: Error) => this.#log.warn({ err: err.message, members: withdraw.length }, 'could not withdraw votes on members no longer probed here; will try again'),
        );
    }
    return released.concat(grown);
  }

  // ---- deciding ----

  #own(memberId: number): boolean | undefined {
    const s = this.#o.monitor.memberStatus(memberId);
    return s === 'up' ? true : s === 'down' ? false : undefined;
  }

  #rule(pool: Pool): QuorumRule {
    return resolveRule(pool.check.quorum, { probers: pool.check.probers, agentsLive: this.#agentsLive > 0 });
  }

  #decide(memberId: number, pool: Pool, rule: QuorumRule): Decision & { counted: readonly Ballot[] } {
    const own = this.#own(memberId);
    if (rule === 'local') return { ...decide('local', [], own, 1), counted: own === undefined ? [] : [{ vantage: this.#o.self, up: own }] };
    const ballots: Ballot[] = own === undefined || this.#selfRetired ? [] : [{ vantage: this.#o.self, up: own }];
    const votes = this.#votes.get(memberId);
    if (votes) {
      const now = performance.now();
      for (const [vantage, up] of votes) if (this.#isLive(vantage, now)) ballots.push({ vantage, up });
    }
    const assigned = this.#assigned.get(memberId);
    const counted = countedVotes(ballots, assigned);
    return { ...decide(rule, counted, own, assigned?.size ?? this.#live.names.length), counted };
  }

  #recomputeAll(): void {
    for (const id of this.#members.keys()) this.#recompute(id);
  }

  /**
   * #recomputeAll a slice of members per turn of the event loop, for the full read every FULL_READ_MS: at 80,000
   * members it held the answering thread ~130 ms once a minute. Each member is decided from the votes as they are
   * when its turn comes (a vote notified meanwhile recomputes its member at once too); one dropped meanwhile is skipped.
   */
  async #recomputeAllSliced(): Promise<void> {
    const ids = [...this.#members.keys()];
    for (let i = 0; i < ids.length; i += RECOMPUTE_SLICE) {
      if (i > 0) {
        await yieldToLoop();
        if (this.#stopped) return;
      }
      const end = Math.min(ids.length, i + RECOMPUTE_SLICE);
      for (let j = i; j < end; j++) this.#recompute(ids[j]);
    }
  }

  #recompute(memberId: number): void {
    const pool = this.#members.get(memberId);
    if (!pool) return;
    const rule = this.#rule(pool);
    const before = this.#effective.get(memberId);
    // Under `local` (no probers, no agents: the common case) a member whose state stands is decided without making
    // an object: the full read decides every member each minute, and at 80,000 members the decisions' objects (a
    // few hundred bytes each) were the answering thread's largest allocation when idle, long-lived enough across the
    // read's slices for V8 to allocate them straight into the old generation, where they made every scavenge slower.
    if (rule === 'local') {
      if (this.#voteLabels.has(memberId)) this.#setVoteMetrics(memberId, pool.name, addressIn(pool, memberId), []);
      if (this.#own(memberId) === before) return;
    }
    const d = this.#decide(memberId, pool, rule);
    const address = addressIn(pool, memberId);
    if (d.rule !== 'local') this.#setVoteMetrics(memberId, pool.name, address, d.counted);
    if (d.up === before) return;
    if (d.up === undefined) this.#effective.delete(memberId);
    else this.#effective.set(memberId, d.up);
    this.#dirty = true;
    if (d.rule !== 'local') {
      if (d.up === undefined) this.#o.metrics?.memberAgreedUp.remove(memberId);
      else this.#o.metrics?.memberAgreedUp.set(memberId, pool.name, address, d.up ? 1 : 0);
    }
    const votes: Record<string, 'up' | 'down'> = {};
    for (const b of d.counted) votes[b.vantage] = b.up ? 'up' : 'down';
    const reason = this.#reasons.get(memberId);
    const t: AgreedTransition = { memberId, poolName: pool.name, address, from: stateOf(before), to: stateOf(d.up), rule: d.rule, votes, ...(reason === undefined ? {} : { reason }) };
    // Under `local` the monitor has logged the change already (its own probes are the whole story).
    if (d.rule !== 'local') {
      const line = { pool: t.poolName, member: t.address, from: t.from, to: t.to, rule: t.rule, votes };
      if (t.to === 'down') this.#log.warn(line, 'member down by the votes');
      else if (t.from === 'unknown' && t.to === 'up') this.#log.debug(line, 'member up by the votes');
      else this.#log.info(line, `member ${t.to} by the votes`);
    }
    for (const hook of this.#hooks) {
      try {
        hook(t);
      } catch (err) {
        this.#log.error({ err }, 'agreement hook failed');
      }
    }
  }

  #setVoteMetrics(memberId: number, pool: string, member: string, counted: readonly Ballot[]): void {
    const m = this.#o.metrics;
    if (!m) return;
    const old = this.#voteLabels.get(memberId);
    // The same ballots as last time (every full read, for most members): the gauges hold them already.
    if (old !== undefined && old.pool === pool && old.member === member && sameBallots(old, counted)) return;
    const names: string[] = [];
    for (const b of counted) {
      m.memberVote.set({ pool, member, vantage: b.vantage }, b.up ? 1 : 0);
      names.push(b.vantage);
    }
    if (old) for (const v of old.vantages) if (!names.includes(v) || old.pool !== pool || old.member !== member) m.memberVote.remove({ pool: old.pool, member: old.member, vantage: v });
    if (names.length > 0) this.#voteLabels.set(memberId, { pool, member, vantages: names, ups: counted.map((b) => b.up) });
    else this.#voteLabels.delete(memberId);
  }

  #drop(memberId: number): void {
    this.#reasons.delete(memberId);
    const was = this.#effective.delete(memberId);
    if (was) this.#dirty = true;
    const labels = this.#voteLabels.get(memberId);
    if (labels && this.#o.metrics) for (const v of labels.vantages) this.#o.metrics.memberVote.remove({ pool: labels.pool, member: labels.member, vantage: v });
    this.#o.metrics?.memberAgreedUp.remove(memberId);
    this.#voteLabels.delete(memberId);
  }
}
