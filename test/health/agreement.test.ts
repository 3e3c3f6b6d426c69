// HealthAgreement over a real HealthMonitor with scripted probes and an in-memory vote store: quorum, expiry, handover.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Pool } from '../../src/core/snapshot.js';
import { HealthAgreement, LIVE_HEARTBEATS, MAX_AHEAD_SECONDS, type AgreedTransition, type VoteStore } from '../../src/health/agreement.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import type { ProbeFn } from '../../src/health/probes.js';
import { probersOf, proberSet } from '../../src/health/quorum.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics, type Metrics } from '../../src/obs/metrics.js';
import type { VantageKind, VantageRow, VoteRow } from '../../src/store/store.js';
import { CHECK, member, pool } from '../policies/pool-fixture.js';
import { until } from './servers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Probes never leave the process: a member's address only keys its scripted result. */
const addr = (id: number): string => `198.18.${id >> 8}.${id & 255}`;

interface FakeVantage {
  kind: VantageKind;
  heartbeatSeconds: number;
  /** Beating: its heartbeat is as fresh as this node's own at every read. */
  beating: boolean;
  beatAt: number;
  retiredAt: number | null;
}

/** The store as the agreement sees it, in memory: heartbeat ages by performance.now(), votes as rows. */
class FakeVoteStore implements VoteStore {
  readonly vantages = new Map<string, FakeVantage>();
  votes: VoteRow[] = [];
  readonly withdrawn: { name: string; ids: number[] }[] = [];
  failing = false;
  /** performance.now() of the last heartbeat that succeeded. */
  lastGoodBeat = 0;

  vantage(name: string, fields: Partial<FakeVantage> = {}): void {
    this.vantages.set(name, { kind: 'node', heartbeatSeconds: 0.2, beating: true, beatAt: performance.now(), retiredAt: null, ...fields });
  }

  vote(vantage: string, memberId: number, up: boolean, ahead = 0): void {
    this.votes = this.votes.filter((v) => !(v.vantage === vantage && v.memberId === memberId));
    this.votes.push({ vantage, memberId, up, ahead });
  }

  async beatVantage(name: string, kind: VantageKind, intervalSeconds: number): Promise<readonly VantageRow[]> {
    await sleep(1);
    if (this.failing) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    const now = performance.now();
    const rows: VantageRow[] = [];
    for (const [n, v] of this.vantages) {
      if (v.beating && n !== name) v.beatAt = now;
      rows.push({
        name: n,
        kind: v.kind,
        startedAt: 0,
        heartbeatAge: Math.max(0, (now - v.beatAt) / 1000),
        heartbeatSeconds: v.heartbeatSeconds,
        clockOffset: 0,
        retiredAt: v.retiredAt,
        retiredBy: v.retiredAt === null ? null : 'test',
      });
    }
    // As the real statement: this node's own row as it was before this heartbeat (absent on the first).
    const me = this.vantages.get(name);
    if (me) me.beatAt = now;
    else this.vantages.set(name, { kind, heartbeatSeconds: intervalSeconds, beating: false, beatAt: now, retiredAt: null });
    this.lastGoodBeat = now;
    return rows;
  }

  async readVotes(): Promise<readonly VoteRow[]> {
    await sleep(1);
    if (this.failing) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return this.votes.map((v) => ({ ...v }));
  }

  readonly cleared: string[] = [];

  async clearVotes(name: string): Promise<number> {
    this.cleared.push(name);
    const before = this.votes.length;
    this.votes = this.votes.filter((v) => v.vantage !== name);
    return before - this.votes.length;
  }

  readonly taken: string[] = [];

  async takeVotes(name: string): Promise<readonly { memberId: number; up: boolean }[]> {
    this.taken.push(name);
    const mine = this.votes.filter((v) => v.vantage === name);
    this.votes = this.votes.filter((v) => v.vantage !== name);
    return mine.map((v) => ({ memberId: v.memberId, up: v.up }));
  }

  async withdrawVotes(name: string, memberIds: readonly number[]): Promise<number> {
    this.withdrawn.push({ name, ids: [...memberIds].sort((a, b) => a - b) });
    const before = this.votes.length;
    this.votes = this.votes.filter((v) => !(v.vantage === name && memberIds.includes(v.memberId)));
    return before - this.votes.length;
  }
}

type Scripted = 'up' | 'down' | 'silent';

function setup(opts: { self?: string; heartbeatMs?: number; metrics?: Metrics } = {}) {
  const self = opts.self ?? 'n1';
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger('debug', stream);
  const script = new Map<string, Scripted>();
  const probed = new Map<string, number>();
  const probe: ProbeFn = (target, signal) => {
    probed.set(target.address, (probed.get(target.address) ?? 0) + 1);
    const s = script.get(target.address) ?? 'down';
    if (s === 'silent') return new Promise((resolve) => signal?.addEventListener('abort', () => resolve({ ok: false, reason: 'aborted', latencyMs: 0 })));
    return Promise.resolve(s === 'up' ? { ok: true, reason: 'HTTP 200', latencyMs: 1 } : { ok: false, reason: 'HTTP 503', latencyMs: 1 });
  };
  const monitor = new HealthMonitor({ logger: log, probe });
  const setPools = vi.spyOn(monitor, 'setPools');
  const store = new FakeVoteStore();
  const withdrawnHere: number[][] = [];
  const agreement = new HealthAgreement({
    self,
    kind: 'node',
    monitor,
    store,
    log,
    heartbeatMs: opts.heartbeatMs ?? 200,
    metrics: opts.metrics,
    onWithdrawn: (ids) => {
      withdrawnHere.push([...ids].sort((a, b) => a - b));
    },
  });
  const transitions: AgreedTransition[] = [];
  agreement.onChange((t) => transitions.push(t));
  cleanups.push(() => monitor.stop(), () => agreement.stop());
  /** The member ids of the monitor's last setPools(), sorted. */
  const monitored = (): number[] => {
    const last = setPools.mock.calls.at(-1)?.[0] ?? [];
    return last.flatMap((p) => p.members.filter((m) => m.enabled).map((m) => m.id)).sort((a, b) => a - b);
  };
  const state = (id: number): 'up' | 'down' | 'unknown' => {
    const v = agreement.view().get(id);
    return v === undefined ? 'unknown' : v ? 'up' : 'down';
  };
  return { self, lines, script, probed, monitor, store, agreement, transitions, monitored, withdrawnHere, state };
}

function poolOf(ids: readonly number[], check: Partial<Pool['check']>): Pool {
  return pool(
    ids.map((id) => member(addr(id), { id })),
    { id: 9000 + ids[0], name: 'www.example.test', check: { ...CHECK, intervalMs: 100, timeoutMs: 50, rise: 1, fall: 1, ...check } },
  );
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Member 11 under majority: n2 and n3 live and voting up, this node's own probes down (its first result in). */
async function majorityOf3On11(h: ReturnType<typeof setup>): Promise<void> {
  h.store.vantage('n2');
  h.store.vantage('n3');
  h.store.vote('n2', 11, true);
  h.store.vote('n3', 11, true);
  h.script.set(addr(11), 'down');
  await h.agreement.start();
  h.agreement.setPools([poolOf([11], { quorum: 'majority' })]);
  expect(await until(() => h.monitor.memberStatus(11) === 'down', 3000)).toBe(true);
}

describe('HealthAgreement: counting votes', () => {
  it('majority: this node down and two live others up is up; one of them turning down makes it down', async () => {
    const h = setup();
    await majorityOf3On11(h);
    expect(h.state(11)).toBe('up');
    const d = h.agreement.describe(11)!;
    expect(d).toMatchObject({ rule: 'majority', state: 'up', ups: 2, downs: 1, probedHere: true, probers: null });
    expect(d.assigned).toEqual(['n1', 'n2', 'n3']);
    expect(d.votes.map((v) => [v.vantage, v.up, v.counted]).sort()).toEqual([['n1', false, true], ['n2', true, true], ['n3', true, true]]);
    expect(h.agreement.status()).toMatchObject({ shared: true, self: 'n1', live: ['n1', 'n2', 'n3'], agentsLive: 0, probedHere: 1 });

    h.agreement.votesNotified('n3 11:0:0');
    expect(h.state(11)).toBe('down');
    expect(h.agreement.describe(11)).toMatchObject({ state: 'down', ups: 1, downs: 2 });
  });

  it('lbdns_member_vote follows the counted votes: a vote that flips, a vote withdrawn, and nothing else moved by a full read', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const h = setup({ metrics });
    const votes = async (): Promise<string[]> =>
      ((await metrics.memberVote.get()).values as { labels: Record<string, string>; value: number }[]).map((v) => `${v.labels.vantage}=${v.value}`).sort();
    await majorityOf3On11(h);
    expect(await until(() => h.agreement.describe(11)?.votes.filter((v) => v.counted).length === 3, 3000)).toBe(true);
    expect(await votes()).toEqual(['n1=0', 'n2=1', 'n3=1']);
    h.store.vote('n3', 11, false);
    h.agreement.votesNotified('n3 11:0:0');
    expect(await votes()).toEqual(['n1=0', 'n2=1', 'n3=0']);
    // The full read decides every member again from the same ballots: the gauges stay as they are.
    await h.agreement.resync();
    expect(await votes()).toEqual(['n1=0', 'n2=1', 'n3=0']);
    h.store.votes = h.store.votes.filter((v) => v.vantage !== 'n3');
    h.agreement.votesNotified('n3 11:-:0');
    expect(await votes()).toEqual(['n1=0', 'n2=1']);
    // One up, one down: a majority tie counts as up.
    expect((await metrics.memberAgreedUp.get()).values.map((v) => v.value)).toEqual([1]);
  });

  it(`others' votes stop counting once their heartbeat is older than ${LIVE_HEARTBEATS} of their intervals: own view only`, async () => {
    const h = setup({ heartbeatMs: 200 });
    h.store.vantage('n2', { heartbeatSeconds: 0.2 });
    h.store.vantage('n3', { heartbeatSeconds: 0.2 });
    h.store.vote('n2', 21, true);
    h.store.vote('n3', 21, true);
    h.script.set(addr(21), 'down');
    await h.agreement.start();
    h.agreement.setPools([poolOf([21], { quorum: 'majority' })]);
    expect(await until(() => h.monitor.memberStatus(21) === 'down', 3000)).toBe(true);
    expect(h.state(21)).toBe('up');

    // Both stop beating: their last heartbeat is when they last were read as fresh.
    h.store.vantages.get('n2')!.beating = false;
    h.store.vantages.get('n3')!.beating = false;
    const lastBeat = Math.max(h.store.vantages.get('n2')!.beatAt, h.store.vantages.get('n3')!.beatAt);
    expect(await until(() => h.state(21) === 'down', 3000)).toBe(true);
    const after = performance.now() - lastBeat;
    const bound = LIVE_HEARTBEATS * 0.2 * 1000;
    expect(after).toBeGreaterThanOrEqual(bound - 5);
    expect(after).toBeLessThan(bound + 200 + 1500);
    expect(h.agreement.status().live).toEqual(['n1']);
    const d = h.agreement.describe(21)!;
    expect(d).toMatchObject({ state: 'down', ups: 0, downs: 1 });
    expect(d.votes.filter((v) => v.vantage !== 'n1').map((v) => [v.vantage, v.counted, v.ignored]).sort()).toEqual([
      ['n2', false, 'not live'],
      ['n3', false, 'not live'],
    ]);
    // Not forgotten: a heartbeat again makes them count again.
    h.store.vantages.get('n2')!.beating = true;
    expect(await until(() => h.state(21) === 'up', 3000)).toBe(true);
    expect(h.agreement.status().live).toEqual(['n1', 'n2']);
  });

  it(`a vote more than ${MAX_AHEAD_SECONDS} s ahead of the database is not counted and shows as 'clock ahead'`, async () => {
    const h = setup();
    h.store.vantage('n2');
    h.store.vote('n2', 31, true, MAX_AHEAD_SECONDS + 1);
    h.store.vote('n2', 32, true, MAX_AHEAD_SECONDS);
    h.store.vote('n2', 33, true, 0);
    for (const id of [31, 32, 33]) h.script.set(addr(id), 'down');
    await h.agreement.start();
    h.agreement.setPools([poolOf([31, 32, 33], { quorum: 'majority' })]);
    expect(await until(() => [31, 32, 33].every((id) => h.monitor.memberStatus(id) === 'down'), 3000)).toBe(true);
    // 31: own down alone; 32 (at the bound) and 33: a tie, up.
    expect([31, 32, 33].map(h.state)).toEqual(['down', 'up', 'up']);
    expect(h.agreement.status().ignoredVotes).toEqual({ 'unknown vantage point': 0, retired: 0, 'clock ahead': 1 });
    expect(h.agreement.describe(31)!.votes.map((v) => v.vantage)).toEqual(['n1']);
    expect(h.lines.filter((l) => l.msg?.startsWith('vote ignored: its clock is far ahead') && l.vantage === 'n2')).toHaveLength(1);

    // A later vote far ahead replaces the earlier one: neither counts.
    h.agreement.votesNotified(`n2 33:1:${MAX_AHEAD_SECONDS + 15}`);
    expect(h.state(33)).toBe('down');
    expect(h.agreement.status().ignoredVotes['clock ahead']).toBe(2);
    // A vote back in time counts again.
    h.agreement.votesNotified('n2 31:1:0');
    expect(h.state(31)).toBe('up');
    expect(h.agreement.status().ignoredVotes['clock ahead']).toBe(1);
  });

  it('votes of an unknown or a retired vantage point are not counted', async () => {
    const h = setup();
    h.store.vantage('n2');
    h.store.vantage('old', { retiredAt: Date.now() - 60_000 });
    h.store.vote('ghost', 41, true);
    h.store.vote('old', 42, true);
    h.store.vote('n2', 43, true);
    for (const id of [41, 42, 43]) h.script.set(addr(id), 'down');
    await h.agreement.start();
    h.agreement.setPools([poolOf([41, 42, 43], { quorum: 'majority' })]);
    expect(await until(() => [41, 42, 43].every((id) => h.monitor.memberStatus(id) === 'down'), 3000)).toBe(true);
    expect([41, 42, 43].map(h.state)).toEqual(['down', 'down', 'up']);
    const status = h.agreement.status();
    expect(status.live).toEqual(['n1', 'n2']);
    expect(status.ignoredVotes).toEqual({ 'unknown vantage point': 1, retired: 1, 'clock ahead': 0 });
    expect(h.agreement.describe(41)!.votes.find((v) => v.vantage === 'ghost')).toMatchObject({ up: true, counted: false, ignored: 'unknown vantage point' });
    expect(h.agreement.describe(42)!.votes.find((v) => v.vantage === 'old')).toMatchObject({ up: true, counted: false, ignored: 'retired' });
    expect(h.agreement.describe(43)!.votes.find((v) => v.vantage === 'n2')).toMatchObject({ up: true, counted: true });

    // Retiring a live vantage point takes its votes out at its next read.
    h.store.vantages.get('n2')!.retiredAt = Date.now();
    expect(await until(() => h.state(43) === 'down', 3000)).toBe(true);
    expect(h.agreement.status().ignoredVotes).toEqual({ 'unknown vantage point': 1, retired: 2, 'clock ahead': 0 });
    expect(h.agreement.status().live).toEqual(['n1']);
  });

  it('onChange fires once per transition, with the counted votes that decided it', async () => {
    const h = setup();
    h.store.vantage('n2');
    h.store.vantage('n3');
    h.store.vote('n2', 51, true);
    h.store.vote('n3', 51, true);
    h.script.set(addr(51), 'up');
    await h.agreement.start();
    h.agreement.setPools([poolOf([51], { quorum: 'majority' })]);
    expect(await until(() => h.monitor.memberStatus(51) === 'up', 3000)).toBe(true);
    await sleep(300);
    expect(h.transitions).toEqual([
      { memberId: 51, poolName: 'www.example.test', address: addr(51), from: 'unknown', to: 'up', rule: 'majority', votes: { n2: 'up', n3: 'up' } },
    ]);

    h.agreement.votesNotified('n2 51:0:0');
    expect(h.transitions).toHaveLength(1);
    h.agreement.votesNotified('n3 51:0:0');
    expect(h.transitions.slice(1)).toEqual([
      // `reason`: this node's own last probe result, shown beside the votes that outvoted it.
      { memberId: 51, poolName: 'www.example.test', address: addr(51), from: 'up', to: 'down', rule: 'majority', votes: { n1: 'up', n2: 'down', n3: 'down' }, reason: 'HTTP 200' },
    ]);
    // A withdrawn vote leaves a tie: up again.
    h.agreement.votesNotified('n2 51:-:0');
    expect(h.transitions.slice(2)).toEqual([
      { memberId: 51, poolName: 'www.example.test', address: addr(51), from: 'down', to: 'up', rule: 'majority', votes: { n1: 'up', n3: 'down' }, reason: 'HTTP 200' },
    ]);
    const logged = h.lines.filter((l) => l.component === 'votes' && l.member === addr(51) && l.to);
    expect(logged.map((l) => [l.from, l.to, l.level])).toEqual([
      ['unknown', 'up', 20],
      ['up', 'down', 40],
      ['down', 'up', 30],
    ]);
  });

  it('votesNotified parses "name 1:1:0,2:0:0,3:-:0": a vote up, a vote down, a vote withdrawn', async () => {
    const h = setup();
    h.store.vantage('name');
    h.store.vote('name', 2, true);
    h.store.vote('name', 3, true);
    // No result of its own: the states are the votes alone.
    for (const id of [1, 2, 3]) h.script.set(addr(id), 'silent');
    await h.agreement.start();
    h.agreement.setPools([poolOf([1, 2, 3], { quorum: 'any-up' })]);
    expect([1, 2, 3].map(h.state)).toEqual(['unknown', 'up', 'up']);

    h.agreement.votesNotified('name 1:1:0,2:0:0,3:-:0');
    expect([1, 2, 3].map(h.state)).toEqual(['up', 'down', 'unknown']);
    expect(h.agreement.describe(1)!.votes).toEqual([{ vantage: 'name', up: true, ageSeconds: expect.any(Number), counted: true }]);
    expect(h.agreement.describe(2)!.votes).toEqual([{ vantage: 'name', up: false, ageSeconds: expect.any(Number), counted: true }]);
    expect(h.agreement.describe(3)!.votes).toEqual([]);

    // This node's own notifications, and payloads that make no sense, change nothing.
    h.agreement.votesNotified('n1 1:0:0');
    h.agreement.votesNotified('name');
    h.agreement.votesNotified(' 1:0:0');
    h.agreement.votesNotified('name x:0:0,:1:0');
    expect([1, 2, 3].map(h.state)).toEqual(['up', 'down', 'unknown']);
  });
});

describe('HealthAgreement: who probes what', () => {
  it('with probers 1 and two live vantage points, this node probes only its rendezvous share', async () => {
    const h = setup();
    h.store.vantage('n2');
    const ids = range(101, 140);
    const two = proberSet(['n1', 'n2']);
    const mine = ids.filter((id) => probersOf(id, two, 1)[0] === 'n1');
    const theirs = ids.filter((id) => !mine.includes(id));
    expect(mine.length).toBeGreaterThan(5);
    expect(theirs.length).toBeGreaterThan(5);
    for (const id of theirs) h.store.vote('n2', id, true);
    for (const id of ids) h.script.set(addr(id), 'up');
    await h.agreement.start();
    h.agreement.setPools([poolOf(ids, { quorum: 'majority', probers: 1 })]);
    expect(h.monitored()).toEqual(mine);
    expect(await until(() => mine.every((id) => h.monitor.memberStatus(id) === 'up'), 3000)).toBe(true);
    await sleep(300);
    expect([...h.probed.keys()].sort()).toEqual(mine.map(addr).sort());
    expect(theirs.every((id) => h.monitor.memberStatus(id) === undefined)).toBe(true);
    expect(h.agreement.status().probedHere).toBe(mine.length);
    expect(h.agreement.describe(mine[0])).toMatchObject({ probers: 1, assigned: ['n1'], probedHere: true, state: 'up' });
    expect(h.agreement.describe(theirs[0])).toMatchObject({ probers: 1, assigned: ['n2'], probedHere: false, state: 'up' });
    // Every member has a state: its prober's vote.
    expect(ids.every((id) => h.state(id) === 'up')).toBe(true);
    expect(h.store.withdrawn).toEqual([]);
  });

  it('a new prober takes members over only once it has voted on them; then this node withdraws its votes', async () => {
    const h = setup();
    h.store.vantage('n2');
    const ids = range(201, 260);
    const two = proberSet(['n1', 'n2']);
    const three = proberSet(['n1', 'n2', 'n3']);
    const mine = ids.filter((id) => probersOf(id, two, 1)[0] === 'n1');
    for (const id of ids) if (!mine.includes(id)) h.store.vote('n2', id, true);
    for (const id of ids) h.script.set(addr(id), 'up');
    await h.agreement.start();
    h.agreement.setPools([poolOf(ids, { quorum: 'majority', probers: 1 })]);
    expect(h.monitored()).toEqual(mine);

    // n3 joins: the members it takes from this node are probed here until it has voted on them.
    const moved = mine.filter((id) => probersOf(id, three, 1)[0] === 'n3');
    const kept = mine.filter((id) => !moved.includes(id));
    expect(moved.length).toBeGreaterThanOrEqual(2);
    h.store.vantage('n3');
    expect(await until(() => h.agreement.status().live.includes('n3'), 3000)).toBe(true);
    for (const id of moved) expect(h.agreement.describe(id)).toMatchObject({ assigned: ['n3'], probedHere: true, state: 'up' });
    const probesBefore = moved.map((id) => h.probed.get(addr(id)) ?? 0);
    await sleep(800);
    // Still probed (well past the 500 ms handover re-check), still in the monitor, no vote withdrawn.
    moved.forEach((id, i) => expect(h.probed.get(addr(id))!).toBeGreaterThan(probesBefore[i]));
    expect(h.monitored()).toEqual(mine);
    expect(h.store.withdrawn).toEqual([]);

    // n3 votes on the first one: only that one is handed over.
    const [first, ...rest] = moved;
    h.store.vote('n3', first, true);
    h.agreement.votesNotified(`n3 ${first}:1:0`);
    expect(await until(() => h.store.withdrawn.length > 0, 3000)).toBe(true);
    expect(h.store.withdrawn).toEqual([{ name: 'n1', ids: [first] }]);
    expect(await until(() => h.withdrawnHere.length > 0, 1000)).toBe(true);
    expect(h.withdrawnHere).toEqual([[first]]);
    expect(h.monitor.memberStatus(first)).toBeUndefined();
    expect(h.monitored()).toEqual(mine.filter((id) => id !== first));
    expect(rest.every((id) => h.monitor.memberStatus(id) === 'up')).toBe(true);

    // Then on the rest.
    for (const id of rest) h.store.vote('n3', id, true);
    h.agreement.votesNotified(`n3 ${rest.map((id) => `${id}:1:0`).join(',')}`);
    expect(await until(() => h.store.withdrawn.length > 1, 3000)).toBe(true);
    expect(h.store.withdrawn).toEqual([{ name: 'n1', ids: [first] }, { name: 'n1', ids: rest }]);
    expect(h.monitored()).toEqual(kept);
    expect(h.agreement.status().probedHere).toBe(kept.length);
    expect(ids.every((id) => h.state(id) === 'up')).toBe(true);
  });

  it('while the store is unreachable every member is probed here and the others’ votes expire by their age', async () => {
    const h = setup({ heartbeatMs: 200 });
    // Others promise a heartbeat every second: their votes outlive the outage's start by up to three seconds.
    h.store.vantage('n2', { heartbeatSeconds: 1 });
    h.store.vantage('n3', { heartbeatSeconds: 1 });
    const ids = range(301, 330);
    const three = proberSet(['n1', 'n2', 'n3']);
    const proberOf = new Map(ids.map((id) => [id, probersOf(id, three, 1)[0]]));
    const mine = ids.filter((id) => proberOf.get(id) === 'n1');
    const theirs = ids.filter((id) => proberOf.get(id) !== 'n1');
    expect(mine.length).toBeGreaterThan(0);
    for (const id of theirs) h.store.vote(proberOf.get(id)!, id, true);
    for (const id of ids) h.script.set(addr(id), 'down');
    await h.agreement.start();
    h.agreement.setPools([poolOf(ids, { quorum: 'majority', probers: 1 })]);
    expect(h.monitored()).toEqual(mine);
    expect(await until(() => mine.every((id) => h.state(id) === 'down'), 3000)).toBe(true);
    expect(theirs.every((id) => h.state(id) === 'up')).toBe(true);

    h.store.failing = true;
    expect(await until(() => !h.agreement.status().shared, 2000)).toBe(true);
    const lastRead = h.store.lastGoodBeat;
    // Every member probed here now; the others' votes still count while younger than the bound.
    expect(h.monitored()).toEqual(ids);
    expect(h.agreement.status().probedHere).toBe(ids.length);
    expect(await until(() => ids.every((id) => h.monitor.memberStatus(id) === 'down'), 2000)).toBe(true);
    expect(theirs.every((id) => h.state(id) === 'up')).toBe(true);
    expect(performance.now() - lastRead).toBeLessThan(LIVE_HEARTBEATS * 1000);

    expect(await until(() => ids.every((id) => h.state(id) === 'down'), 6000)).toBe(true);
    expect(performance.now() - lastRead).toBeGreaterThanOrEqual(LIVE_HEARTBEATS * 1000 - 5);
    expect(h.agreement.status()).toMatchObject({ shared: false, live: ['n1'] });
    expect(h.lines.filter((l) => l.msg?.startsWith('store unreachable'))).toHaveLength(1);
    expect(h.store.withdrawn).toEqual([]);

    // Back: probing is shared again, and the votes on the others' members are withdrawn.
    h.store.failing = false;
    expect(await until(() => h.store.withdrawn.length > 0, 3000)).toBe(true);
    expect(h.store.withdrawn).toEqual([{ name: 'n1', ids: theirs }]);
    expect(h.monitored()).toEqual(mine);
    expect(h.agreement.status()).toMatchObject({ shared: true, live: ['n1', 'n2', 'n3'], probedHere: mine.length });
    expect(theirs.every((id) => h.state(id) === 'up')).toBe(true);
  });

  it('a store unreachable from the start: every member of a pool with probers is probed here', async () => {
    const h = setup();
    h.store.failing = true;
    const ids = range(401, 420);
    for (const id of ids) h.script.set(addr(id), id % 2 === 0 ? 'up' : 'down');
    await h.agreement.start();
    h.agreement.setPools([poolOf(ids, { quorum: 'majority', probers: 1 })]);
    expect(h.monitored()).toEqual(ids);
    expect(await until(() => ids.every((id) => h.state(id) !== 'unknown'), 3000)).toBe(true);
    expect(ids.every((id) => h.state(id) === (id % 2 === 0 ? 'up' : 'down'))).toBe(true);
    expect(h.agreement.status()).toMatchObject({ shared: false, live: ['n1'], probedHere: ids.length, sinceLastHeartbeatSeconds: null });
  });
});

describe('HealthAgreement: start-up, restarts and membership', () => {
  it('the monitor gets no pools before the first snapshot: its first round is the real one, and waits for the probes', async () => {
    const h = setup();
    h.store.vantage('n2');
    h.script.set(addr(61), 'silent');
    await h.agreement.start();
    let done = false;
    void h.monitor.firstRound().then(() => (done = true));
    await sleep(300);
    // Heartbeats ran (the store answered) but no pools are known yet: the round has not even started.
    expect(done).toBe(false);
    h.agreement.setPools([poolOf([61], { quorum: 'majority', timeoutMs: 300, intervalMs: 1000 })]);
    await sleep(100);
    expect(done).toBe(false);
    expect(await until(() => done, 3000)).toBe(true);
  });

  it('a new run deletes its previous run’s votes at its first heartbeat, then has its results written again', async () => {
    const h = setup();
    const cleared: number[] = [];
    h.store.vote('n1', 71, true);
    h.store.vote('n2', 71, true);
    h.store.vantage('n2');
    const agreement = new HealthAgreement({ self: 'n1', kind: 'node', monitor: h.monitor, store: h.store, log: createLogger('silent'), heartbeatMs: 200, onVotesCleared: () => cleared.push(1) });
    cleanups.push(() => agreement.stop());
    await agreement.start();
    expect(h.store.cleared).toEqual(['n1']);
    expect(cleared).toEqual([1]);
    expect(h.store.votes.map((v) => v.vantage)).toEqual(['n2']);
    await sleep(500);
    // Only once per process, not on every heartbeat.
    expect(h.store.cleared).toEqual(['n1']);
  });

  it(`a restart within ${LIVE_HEARTBEATS} heartbeats resumes from its previous run’s votes: those members answer before any probe`, async () => {
    const h = setup();
    // The previous run of n1 beat 100 ms ago (every 0.2 s) and had voted 101 up and 102 down.
    h.store.vantage('n1', { beating: false, beatAt: performance.now() - 100, heartbeatSeconds: 0.2 });
    h.store.vote('n1', 101, true);
    h.store.vote('n1', 102, false);
    for (const id of [101, 102, 103]) h.script.set(addr(id), 'silent');
    await h.agreement.start();
    // Taken, not merely read: the store holds none of the previous run's votes any more (as after a clear).
    expect([h.store.taken, h.store.cleared]).toEqual([['n1'], []]);
    expect(h.store.votes.filter((v) => v.vantage === 'n1')).toEqual([]);
    let done = false;
    void h.monitor.firstRound().then(() => (done = true));
    h.agreement.setPools([poolOf([101, 102, 103], { timeoutMs: 400, intervalMs: 20_000 })]);
    // At once: 101 up and 102 down as resumed; 103 had no vote and is unknown. Only 103 is probed at once: the resumed
    // members wait until the node serves (probeResumed) or their slot in the interval comes.
    expect([h.state(101), h.state(102), h.state(103)]).toEqual(['up', 'down', 'unknown']);
    expect([h.probed.get(addr(101)), h.probed.get(addr(102)), h.probed.get(addr(103))]).toEqual([undefined, undefined, 1]);
    expect(h.lines.find((l) => l.msg?.startsWith('resumed'))).toMatchObject({ members: 2, up: 1 });
    // The first round waits for 103 only (its probe never answers: the round ends at its bound, 103 left unknown).
    await sleep(200);
    expect(done).toBe(false);
    expect(await until(() => done, 3000)).toBe(true);
    expect([h.state(101), h.state(102), h.state(103)]).toEqual(['up', 'down', 'unknown']);
    // Not one interval later as the phases would have it (20 s), but when the node says it serves.
    h.monitor.probeResumed();
    expect([h.probed.get(addr(101)), h.probed.get(addr(102))]).toEqual([1, 1]);
    h.monitor.probeResumed();
    expect([h.probed.get(addr(101)), h.probed.get(addr(102))]).toEqual([1, 1]);
  });

  it(`a previous run silent for longer than ${LIVE_HEARTBEATS} of its heartbeats is not trusted: its votes are deleted and every member waits for a probe`, async () => {
    const h = setup();
    h.store.vantage('n1', { beating: false, beatAt: performance.now() - 1000, heartbeatSeconds: 0.2 });
    h.store.vote('n1', 111, true);
    h.script.set(addr(111), 'silent');
    await h.agreement.start();
    expect([h.store.taken, h.store.cleared]).toEqual([[], ['n1']]);
    let done = false;
    void h.monitor.firstRound().then(() => (done = true));
    h.agreement.setPools([poolOf([111], { timeoutMs: 300, intervalMs: 5000 })]);
    expect(h.state(111)).toBe('unknown');
    await sleep(100);
    expect(done).toBe(false);
    expect(await until(() => done, 3000)).toBe(true);
    // Its probe never answered: still unknown, never handed out as the previous run had it.
    expect(h.state(111)).toBe('unknown');
  });

  it('a retired vantage point’s fresh votes are not resumed either', async () => {
    const h = setup();
    h.store.vantage('n1', { beating: false, beatAt: performance.now() - 50, heartbeatSeconds: 0.2, retiredAt: Date.now() });
    h.store.vote('n1', 121, true);
    await h.agreement.start();
    expect([h.store.taken, h.store.cleared]).toEqual([[], ['n1']]);
  });

  it('a vote moved while every vote is being read again is not overwritten by the read’s older copy', async () => {
    const h = setup();
    h.store.vantage('n2');
    h.store.vantage('n3');
    h.store.vote('n2', 81, true);
    h.store.vote('n3', 81, true);
    h.script.set(addr(81), 'up');
    await h.agreement.start();
    h.agreement.setPools([poolOf([81], { quorum: 'majority' })]);
    expect(await until(() => h.state(81) === 'up', 3000)).toBe(true);
    // A read starts (it returns the rows as they were), and both others vote down while it is under way.
    const reading = h.agreement.resync();
    h.agreement.votesNotified('n2 81:0:0');
    h.agreement.votesNotified('n3 81:0:0');
    await reading;
    expect(h.state(81)).toBe('down');
    expect(h.agreement.describe(81)).toMatchObject({ ups: 1, downs: 2 });
  });

  it('a retired node leaves itself out: it counts neither itself as a prober nor its own probes', async () => {
    const h = setup();
    h.store.vantage('n2');
    h.store.vantage('n3');
    h.store.vote('n2', 91, true);
    h.store.vote('n3', 91, true);
    h.script.set(addr(91), 'down');
    await h.agreement.start();
    h.agreement.setPools([poolOf([91], { quorum: 'all-down' })]);
    expect(await until(() => h.monitor.memberStatus(91) === 'down', 3000)).toBe(true);
    expect(h.agreement.describe(91)).toMatchObject({ ups: 2, downs: 1 });
    h.store.vantage('n1', { retiredAt: Date.now(), beating: false });
    expect(await until(() => !h.agreement.status().live.includes('n1'), 3000)).toBe(true);
    expect(h.agreement.status().live).toEqual(['n2', 'n3']);
    expect(h.agreement.describe(91)).toMatchObject({ state: 'up', ups: 2, downs: 0 });
    expect(h.lines.some((l) => l.msg?.includes('this vantage point is retired'))).toBe(true);
  });

  it('a vantage point that went stale rejoins only after 3 fresh heartbeats in a row', async () => {
    const h = setup({ heartbeatMs: 100 });
    h.store.vantage('n2', { heartbeatSeconds: 0.1 });
    await h.agreement.start();
    expect(h.agreement.status().live).toEqual(['n1', 'n2']);
    h.store.vantages.get('n2')!.beating = false;
    expect(await until(() => !h.agreement.status().live.includes('n2'), 3000)).toBe(true);
    h.store.vantages.get('n2')!.beating = true;
    const back = performance.now();
    expect(await until(() => h.agreement.status().live.includes('n2'), 3000)).toBe(true);
    // Three heartbeats of 100 ms each, seen in a row (the first may be seen at once).
    expect(performance.now() - back).toBeGreaterThanOrEqual(150);
  });

  it('with probers 1, a member nobody has voted on yet is probed here too, until its prober votes', async () => {
    const h = setup();
    h.store.vantage('n2');
    await h.agreement.start();
    const ids = range(101, 140);
    for (const id of ids) h.script.set(addr(id), 'up');
    h.agreement.setPools([poolOf(ids, { quorum: 'majority', probers: 1 })]);
    // Nobody has voted: this node probes every member, so none is left unknown when its sockets open.
    expect(h.monitored()).toEqual(ids);
    expect(await until(() => ids.every((id) => h.state(id) === 'up'), 3000)).toBe(true);
    // n2 votes on its share: those are released here (and this node's votes on them withdrawn).
    const live = proberSet(['n1', 'n2']);
    const theirs = ids.filter((id) => probersOf(id, live, 1)[0] === 'n2');
    expect(theirs.length).toBeGreaterThan(0);
    for (const id of theirs) h.store.vote('n2', id, true);
    for (const id of theirs) h.agreement.votesNotified(`n2 ${id}:1:0`);
    expect(await until(() => h.monitored().length === ids.length - theirs.length, 3000)).toBe(true);
    expect(await until(() => h.store.withdrawn.length > 0, 3000)).toBe(true);
    expect(h.store.withdrawn.flatMap((w) => w.ids).sort((a, b) => a - b)).toEqual(theirs);
  });
});
