// The health monitor against real servers and a scripted probe: detection times, start-up round, staggering, reuse, stop.
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Pool } from '../../src/core/snapshot.js';
import { isUp } from '../../src/health/health-view.js';
import { firstRoundBoundMs, HealthMonitor, probePhase } from '../../src/health/monitor.js';
import type { ProbeFn, ProbeResult } from '../../src/health/probes.js';
import type { Transition } from '../../src/health/tracker.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { candidates } from '../../src/policies/candidates.js';
import { member, pool } from '../policies/pool-fixture.js';
import { blackHole, check, httpServer, until, type Target } from './servers.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function capture() {
  const lines: any[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger('debug', stream), lines };
}

function monitorOf(options: { probe?: ProbeFn; metrics?: ReturnType<typeof createMetrics> } = {}) {
  const { logger, lines } = capture();
  const monitor = new HealthMonitor({ logger, ...options });
  cleanups.push(() => monitor.stop());
  const transitions: Transition[] = [];
  monitor.onTransition((t) => transitions.push(t));
  return { monitor, lines, transitions };
}

async function serve(start: Promise<Target>): Promise<Target> {
  const t = await start;
  cleanups.push(() => t.close());
  return t;
}

describe('HealthMonitor with real servers', () => {
  it('a stopped server goes down within interval × fall + timeout, and comes back after rise successes', async () => {
    const a = await serve(httpServer('127.0.0.21'));
    let b = await serve(httpServer('127.0.0.22'));
    const hc = check({ intervalMs: 150, timeoutMs: 200, rise: 2, fall: 3, port: a.port });
    // Each server has its own ephemeral port, so each member sits in a pool of its own.
    const pools: Pool[] = [
      pool([member('127.0.0.21', { id: 101 })], { id: 1, name: 'a.example.test', check: hc }),
      pool([member('127.0.0.22', { id: 102 })], { id: 2, name: 'b.example.test', check: { ...hc, port: b.port } }),
    ];
    const metrics = createMetrics({ defaultMetrics: false });
    const { monitor, lines, transitions } = monitorOf({ metrics });
    const okResults: number[] = [];
    monitor.onResult((r) => r.state.memberId === 102 && r.result.ok && okResults.push(Date.now()));
    monitor.setPools(pools);
    await monitor.firstRound();
    expect(transitions.map((t) => [t.memberId, t.from, t.to])).toEqual(expect.arrayContaining([[101, 'unknown', 'up'], [102, 'unknown', 'up']]));

    const port = b.port;
    await b.close();
    const stoppedAt = Date.now();
    expect(await until(() => !isUp(monitor.health(), 102), 150 * 3 + 200 + 1000)).toBe(true);
    const downAfter = Date.now() - stoppedAt;
    expect(downAfter).toBeLessThanOrEqual(150 * 3 + 200 + 1000);
    // Never sooner than fall probes allow (two intervals between the first and third failure).
    expect(downAfter).toBeGreaterThanOrEqual(150 * 2 - 20);
    expect(isUp(monitor.health(), 101)).toBe(true);

    b = await serve(httpServer('127.0.0.22', port));
    const restartedAt = Date.now();
    expect(await until(() => isUp(monitor.health(), 102), 150 * 2 + 200 + 1000)).toBe(true);
    expect(okResults.filter((t) => t >= restartedAt).length).toBe(2);
    expect(monitor.states().find((s) => s.memberId === 102)).toMatchObject({ status: 'up', okStreak: 2, lastError: 'ECONNREFUSED', target: '127.0.0.22', kind: 'http' });

    // Exactly one log line per transition, with pool, member, from, to and reason; a first result of up at debug.
    const logged = lines.filter((l) => l.component === 'health' && l.to);
    expect(logged.filter((l) => l.from === 'unknown' && l.to === 'up').every((l) => l.level === 20)).toBe(true);
    expect(logged.filter((l) => l.from !== 'unknown').every((l) => l.level === (l.to === 'down' ? 40 : 30))).toBe(true);
    expect(logged.map((l) => ({ pool: l.pool, member: l.member, from: l.from, to: l.to, reason: l.reason }))).toEqual(
      transitions.map((t) => ({ pool: t.poolName, member: t.address, from: t.from, to: t.to, reason: t.reason })),
    );
    expect(transitions.filter((t) => t.memberId === 102).map((t) => [t.from, t.to, t.reason])).toEqual([
      ['unknown', 'up', 'HTTP 200'],
      ['up', 'down', 'ECONNREFUSED'],
      ['down', 'up', 'HTTP 200'],
    ]);

    const up = (await metrics.memberUp.get()).values.map((v) => [v.labels.pool, v.labels.member, v.value]);
    expect(up.sort()).toEqual([['a.example.test', '127.0.0.21', 1], ['b.example.test', '127.0.0.22', 1]]);
    const moves = (await metrics.healthTransitions.get()).values.map((v) => [v.labels.pool, v.labels.to, v.value]);
    expect(moves.sort()).toEqual([['a.example.test', 'up', 1], ['b.example.test', 'down', 1], ['b.example.test', 'up', 2]]);
    const durations = (await metrics.probeDuration.get()).values.find((v) => v.metricName === 'lbdns_health_probe_duration_seconds_count');
    expect(durations?.labels.kind).toBe('http');
    expect(durations!.value).toBeGreaterThan(6);
  });

  it('the start-up round decides before answers: a dead member is down as soon as firstRound() resolves', async () => {
    const web = await serve(httpServer('127.0.0.23'));
    const hc = check({ intervalMs: 5_000, timeoutMs: 300, rise: 3, fall: 3, port: web.port });
    const { monitor } = monitorOf();
    monitor.setPools([pool([member('127.0.0.23', { id: 201 }), member('127.0.0.24', { id: 202 }), member('::1', { id: 203, enabled: false })], { check: hc })]);
    const started = Date.now();
    await monitor.firstRound();
    // Long intervals: only the immediate first probe can have decided, well before one interval.
    expect(Date.now() - started).toBeLessThan(1000);
    expect(isUp(monitor.health(), 201)).toBe(true);
    expect(isUp(monitor.health(), 202)).toBe(false);
    // Disabled members are not probed at all.
    expect(monitor.states().map((s) => s.memberId).sort()).toEqual([201, 202]);
  });

  it('a target that accepts and never answers costs one timeout: its member is down when firstRound() resolves', async () => {
    const hole = await serve(blackHole('127.0.0.25'));
    const { monitor, lines } = monitorOf();
    monitor.setPools([pool([member('127.0.0.25', { id: 301 })], { check: check({ port: hole.port, timeoutMs: 600, intervalMs: 5_000 }) })]);
    const started = Date.now();
    await monitor.firstRound();
    const took = Date.now() - started;
    // The probe times out at 600 ms; the member is then decided (down) and the round is complete, well before its bound.
    expect(took).toBeGreaterThanOrEqual(590);
    expect(took).toBeLessThan(firstRoundBoundMs(1, 600));
    expect(isUp(monitor.health(), 301)).toBe(false);
    expect(lines.find((l) => l.msg === 'first probe round started')).toMatchObject({ members: 1, longestTimeoutMs: 600, boundMs: firstRoundBoundMs(1, 600) });
    expect(lines.find((l) => l.msg === 'first probe round done')).toMatchObject({ members: 1 });
  });

  it('a round still receiving results at its bound (a machine short of CPU) goes on until every member has one, and says so', async () => {
    // Results come in every 100 ms, the last at 600 ms: past the bound of 150 + 250 + 6 ms, yet never a stall.
    const probe: ProbeFn = (target) => new Promise((r) => setTimeout(() => r({ ok: true, reason: 'HTTP 200', latencyMs: 1 }), Number(target.address.split('.')[3]) * 100));
    const { monitor, lines } = monitorOf({ probe });
    monitor.setPools([pool([1, 2, 3, 4, 5, 6].map((i) => member(`192.0.2.${i}`, { id: 800 + i })), { check: check({ timeoutMs: 150, intervalMs: 60_000 }) })]);
    const started = performance.now();
    await monitor.firstRound();
    expect(performance.now() - started).toBeGreaterThanOrEqual(590);
    expect(monitor.health().size).toBe(6);
    expect(lines.find((l) => String(l.msg).startsWith('first probe round past its bound'))).toMatchObject({ level: 40, boundMs: firstRoundBoundMs(6, 150) });
    expect(lines.find((l) => l.msg === 'first probe round done')).toMatchObject({ members: 6 });
    expect(lines.some((l) => String(l.msg).startsWith('first probe round cut'))).toBe(false);
  });

  it('a probe that outlives its deadline: the round is cut once no result has come for a timeout past its bound, and the member without a result is not answered', async () => {
    // Only a broken probe can hang past its own timeout; the bound keeps the sockets from waiting for it for ever.
    const probe: ProbeFn = (target) => (target.address === '192.0.2.71' ? Promise.resolve({ ok: true, reason: 'HTTP 200', latencyMs: 1 }) : new Promise<ProbeResult>(() => {}));
    const { monitor, lines } = monitorOf({ probe });
    const p = pool([member('192.0.2.71', { id: 701 }), member('192.0.2.72', { id: 702 })], { count: 2, check: check({ timeoutMs: 300, intervalMs: 60_000 }) });
    const stuck = pool([member('192.0.2.73', { id: 703 })], { name: 'stuck.example.test', check: check({ timeoutMs: 300, intervalMs: 60_000 }) });
    const started = performance.now();
    monitor.setPools([p, stuck]);
    await monitor.firstRound();
    const took = performance.now() - started;
    const bound = firstRoundBoundMs(3, 300);
    expect(took).toBeGreaterThanOrEqual(bound - 5);
    expect(took).toBeLessThan(bound + 500);
    expect(lines.find((l) => String(l.msg).startsWith('first probe round cut'))).toMatchObject({ level: 40, members: 3, boundMs: bound, unprobed: 2 });
    const view = monitor.health();
    expect(monitor.states().find((s) => s.memberId === 702)?.status).toBe('unknown');
    // 702 has no result while 701 of its tier is up: only 701 is handed out.
    expect(candidates(p, 4, (id) => view.get(id)).list.map((c) => c.member.id)).toEqual([701]);
    // A pool with nothing but unknown members follows its all-down behaviour.
    expect(candidates(stuck, 4, (id) => view.get(id))).toMatchObject({ allDown: true, list: [] });
  });

  it('probes the probe address, answers with the member address, over IPv6 too', async () => {
    const web = await serve(httpServer('::1'));
    const { monitor } = monitorOf();
    monitor.setPools([pool([member('2001:db8::80', { id: 401, probeAddress: '::1' })], { check: check({ port: web.port }) })]);
    await monitor.firstRound();
    expect(monitor.states()).toMatchObject([{ memberId: 401, address: '2001:db8::80', target: '::1', status: 'up' }]);
    expect(web.seen.at(-1)?.host).toBe('[::1]');
  });

  it('stop() leaves nothing running: a child process exits by itself right after it', async () => {
    const started = Date.now();
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', 'test/health/monitor-exit.fixture.ts'], { cwd: ROOT, timeout: 8_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    expect(out.trim()).toBe('0');
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});

/** A scripted probe: records start times, answers after `delayMs` with whatever `answer` says, honours aborts. */
function scriptedProbe(delayMs: number, answer: (address: string) => boolean = () => true) {
  const starts: { address: string; at: number }[] = [];
  const active = new Map<string, number>();
  let maxActive = 0;
  let aborted = 0;
  const fn: ProbeFn = ({ address }, signal) => {
    starts.push({ address, at: performance.now() });
    const n = (active.get(address) ?? 0) + 1;
    active.set(address, n);
    maxActive = Math.max(maxActive, n);
    return new Promise<ProbeResult>((resolve) => {
      const done = (result: ProbeResult) => {
        active.set(address, active.get(address)! - 1);
        resolve(result);
      };
      const timer = setTimeout(() => done({ ok: answer(address), reason: answer(address) ? 'HTTP 200' : 'HTTP 503', latencyMs: delayMs }), delayMs);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        aborted++;
        done({ ok: false, reason: 'aborted', latencyMs: 0 });
      });
    });
  };
  return { fn, starts, maxActive: () => maxActive, aborted: () => aborted };
}

describe('HealthMonitor scheduling', () => {
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  it('probes every member at once at start, then staggers them across the interval', async () => {
    const probe = scriptedProbe(5);
    const { monitor } = monitorOf({ probe: probe.fn });
    const interval = 400;
    const members = Array.from({ length: 8 }, (_, i) => member(`192.0.2.${i + 1}`, { id: i + 1 }));
    const t0 = performance.now();
    monitor.setPools([pool(members, { check: check({ intervalMs: interval, timeoutMs: 100 }) })]);
    await until(() => probe.starts.length >= 16, 2_000);
    const byAddress = new Map<string, number[]>();
    for (const s of probe.starts) byAddress.set(s.address, [...(byAddress.get(s.address) ?? []), s.at - t0]);
    const second = [...byAddress.values()].map((times) => times[1]).sort((x, y) => x - y);
    for (const times of byAddress.values()) expect(times[0]).toBeLessThan(50);
    // Second probes land on each member's phase: spread over the interval, no two together.
    expect(second[second.length - 1] - second[0]).toBeGreaterThan(interval / 2);
    for (let i = 1; i < second.length; i++) expect(second[i] - second[i - 1]).toBeGreaterThan(10);
    members.forEach((m, i) => expect(byAddress.get(m.address)![1]).toBeGreaterThanOrEqual(probePhase(i + 1, interval) - 5));
  });

  it('never runs two probes of a member at once when a probe outlasts the interval', async () => {
    const probe = scriptedProbe(350);
    const { monitor } = monitorOf({ probe: probe.fn });
    monitor.setPools([pool([member('192.0.2.9', { id: 9 })], { check: check({ intervalMs: 100, timeoutMs: 400 }) })]);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(probe.maxActive()).toBe(1);
    expect(probe.starts.length).toBeGreaterThanOrEqual(3);
    expect(probe.starts.length).toBeLessThanOrEqual(5);
  });

  it('setPools keeps unchanged schedules, starts added members, stops removed ones, restarts changed checks', async () => {
    const probe = scriptedProbe(1);
    const metrics = createMetrics({ defaultMetrics: false });
    const { monitor } = monitorOf({ probe: probe.fn, metrics });
    const hc = check({ intervalMs: 1_000, timeoutMs: 100 });
    const a = member('192.0.2.1', { id: 1 });
    const b = member('192.0.2.2', { id: 2 });
    monitor.setPools([pool([a, b], { id: 1, check: hc })]);
    await monitor.firstRound();
    expect(probe.starts.map((s) => s.address).sort()).toEqual(['192.0.2.1', '192.0.2.2']);

    // A new snapshot with equal content (new objects): nothing restarts, so no immediate probe.
    monitor.setPools([pool([{ ...a }, { ...b }], { id: 1, check: { ...hc } })]);
    await new Promise((r) => setTimeout(r, 30));
    expect(probe.starts).toHaveLength(2);

    // b removed, c added, a's check changed.
    const c = member('192.0.2.3', { id: 3 });
    monitor.setPools([pool([a, c], { id: 1, check: { ...hc, path: '/health' } })]);
    await until(() => probe.starts.length >= 4, 500);
    expect(probe.starts.slice(2).map((s) => s.address).sort()).toEqual(['192.0.2.1', '192.0.2.3']);
    expect(monitor.states().map((s) => s.memberId).sort()).toEqual([1, 3]);
    expect((await metrics.memberUp.get()).values.map((v) => v.labels.member).sort()).toEqual(['192.0.2.1', '192.0.2.3']);

    // Draining a member (enabled = false) stops its probes like a removal.
    monitor.setPools([pool([a, { ...c, enabled: false }], { id: 1, check: { ...hc, path: '/health' } })]);
    expect(monitor.states().map((s) => s.memberId)).toEqual([1]);
  });

  it('a pool passed again as the same object is left alone (no job rebuilt) while others are removed, added or changed', async () => {
    const probe = scriptedProbe(1);
    const { monitor } = monitorOf({ probe: probe.fn });
    const hc = check({ intervalMs: 5_000, timeoutMs: 100 });
    const p1 = pool([member('192.0.2.11', { id: 11 }), member('192.0.2.12', { id: 12 })], { id: 1, name: 'a.example.test', check: hc });
    const p2 = pool([member('192.0.2.13', { id: 13 })], { id: 2, name: 'b.example.test', check: hc });
    monitor.setPools([p1, p2]);
    await monitor.firstRound();
    expect(probe.starts).toHaveLength(3);
    // p2 gone, p1 the same object: p1's members stay (no probe at once), p2's member stops.
    monitor.setPools([p1]);
    expect(monitor.states().map((s) => s.memberId).sort()).toEqual([11, 12]);
    // p2 back as a new object, p1 the same again: only p2's member starts (probed at once), p1's jobs stand.
    monitor.setPools([p1, pool([member('192.0.2.13', { id: 13 })], { id: 2, name: 'b.example.test', check: hc })]);
    await until(() => probe.starts.length >= 4, 500);
    await new Promise((r) => setTimeout(r, 50));
    expect(probe.starts.slice(3).map((s) => s.address)).toEqual(['192.0.2.13']);
    expect(monitor.states().map((s) => s.memberId).sort()).toEqual([11, 12, 13]);
    // p1 changed (a new object with a new check): its members restart.
    monitor.setPools([pool([...p1.members], { id: 1, name: 'a.example.test', check: { ...hc, path: '/health' } }), p2]);
    await until(() => probe.starts.length >= 6, 500);
    expect(probe.starts.slice(4, 6).map((s) => s.address).sort()).toEqual(['192.0.2.11', '192.0.2.12']);
  });

  it('a failing hook is logged and does not stop the others', async () => {
    const probe = scriptedProbe(1, () => false);
    const { monitor, lines } = monitorOf({ probe: probe.fn });
    const seen: string[] = [];
    monitor.onTransition(() => {
      throw new Error('store is down');
    });
    monitor.onTransition((t) => seen.push(t.to));
    monitor.setPools([pool([member('192.0.2.1', { id: 1 })], { check: check({ intervalMs: 1_000 }) })]);
    await monitor.firstRound();
    expect(seen).toEqual(['down']);
    expect(lines.some((l) => l.msg === 'health hook failed' && l.err?.message === 'store is down')).toBe(true);
  });

  it('stop() clears every timer and aborts probes in flight', async () => {
    const before = timers();
    const probe = scriptedProbe(10_000);
    const { monitor } = monitorOf({ probe: probe.fn });
    monitor.setPools([pool([member('192.0.2.1', { id: 1 }), member('192.0.2.2', { id: 2 })], { check: check({ intervalMs: 100, timeoutMs: 10_000 }) })]);
    await new Promise((r) => setTimeout(r, 50));
    expect(timers()).toBeGreaterThan(before);
    monitor.stop();
    await monitor.firstRound();
    expect(probe.aborted()).toBe(2);
    // At most the baseline: a timer of an earlier test may have fired meanwhile (the child-process test is exact).
    expect(timers()).toBeLessThanOrEqual(before);
    // Further snapshots are ignored once stopped.
    monitor.setPools([pool([member('192.0.2.3', { id: 3 })])]);
    expect(timers()).toBeLessThanOrEqual(before);
    expect(probe.starts).toHaveLength(2);
  });
});
