// member_health writes with a scripted clock: state changes at once, otherwise one heartbeat per member per interval.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ProbeReport } from '../../src/health/monitor.js';
import { HealthReporter } from '../../src/health/reporter.js';
import type { HealthReport } from '../../src/store/store.js';

const log = pino({ level: 'silent' });
const NEVER = 2 ** 31 - 1;

function result(memberId: number, up: boolean, at: number, transition = false): ProbeReport {
  const state = {
    memberId,
    poolName: 'lb.example.test',
    address: `192.0.2.${memberId % 250}`,
    status: up ? 'up' : 'down',
    up,
    since: 0,
    okStreak: up ? 1 : 0,
    failStreak: up ? 0 : 1,
    lastCheck: at,
    lastLatencyMs: 1,
    lastError: up ? null : 'connect ECONNREFUSED',
    lastErrorAt: null,
    target: '127.0.0.1',
    kind: 'tcp',
  };
  const t = transition ? { memberId, poolName: state.poolName, address: state.address, from: up ? 'down' : 'up', to: up ? 'up' : 'down', reason: 'test' } : undefined;
  return { result: { ok: up, latencyMs: 1 }, state, transition: t } as unknown as ProbeReport;
}

/** A reporter on a scripted clock whose timers never fire: the test calls flush() as the tick would. */
function scripted(heartbeatMs: number, failWrites = () => false) {
  let now = 1_000_000;
  const writes: { at: number; rows: HealthReport[] }[] = [];
  const reporter = new HealthReporter({
    log,
    heartbeatMs,
    tickMs: NEVER,
    urgentMs: NEVER,
    now: () => now,
    write: async (rows) => {
      if (failWrites()) throw new Error('database unreachable');
      writes.push({ at: now, rows: [...rows] });
    },
  });
  const rowsOf = (id: number) => writes.flatMap((w) => w.rows.filter((r) => r.memberId === id).map((r) => ({ at: w.at, ...r })));
  return { reporter, writes, rowsOf, advance: (ms: number) => (now += ms), now: () => now };
}

/** Drives `members` members probed every `probeMs`, staggered, with a flush every `tickMs`, for `ms`. */
async function run(s: ReturnType<typeof scripted>, members: number, probeMs: number, tickMs: number, ms: number, up = () => true) {
  const step = 100;
  const end = s.now() + ms;
  let nextTick = s.now() + tickMs;
  while (s.now() < end) {
    s.advance(step);
    const slot = Math.floor((s.now() % probeMs) / step);
    const slots = probeMs / step;
    for (let id = 1; id <= members; id++) if (id % slots === slot) s.reporter.record(result(id, up(), s.now()));
    if (s.now() >= nextTick) {
      await s.reporter.flush();
      nextTick += tickMs;
    }
  }
}

describe('HealthReporter', () => {
  it('writes a member’s first result at once, and a state change at the next write whatever the heartbeat', async () => {
    const s = scripted(30_000);
    s.reporter.record(result(1, true, s.now()));
    await s.reporter.flush();
    expect(s.rowsOf(1).map((r) => r.up)).toEqual([true]);
    s.advance(5000);
    s.reporter.record(result(1, true, s.now()));
    await s.reporter.flush();
    expect(s.rowsOf(1).length).toBe(1);
    s.advance(5000);
    s.reporter.record(result(1, false, s.now(), true));
    await s.reporter.flush();
    expect(s.rowsOf(1).map((r) => [r.up, r.transitions])).toEqual([
      [true, 0],
      [false, 1],
    ]);
    expect(s.rowsOf(1)[1].heartbeatSeconds).toBe(30);
  });

  it('writes a state change within urgentMs on its own timer', async () => {
    const writes: HealthReport[][] = [];
    const reporter = new HealthReporter({ log, heartbeatMs: 30_000, tickMs: NEVER, urgentMs: 50, write: async (rows) => void writes.push([...rows]) });
    try {
      const t0 = Date.now();
      reporter.record(result(7, false, t0, true));
      reporter.record(result(8, false, t0, true));
      while (writes.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
      expect(Date.now() - t0).toBeLessThan(1000);
      // Changes that arrive together go out in one statement.
      expect(writes).toEqual([[expect.objectContaining({ memberId: 7, up: false }), expect.objectContaining({ memberId: 8, up: false })]]);
    } finally {
      await reporter.stop();
    }
  });

  it('writes a steady member at most once per heartbeat interval, and at least that often', async () => {
    const s = scripted(30_000);
    await run(s, 200, 5000, 2000, 300_000);
    for (const id of [1, 77, 200]) {
      const times = s.rowsOf(id).map((r) => r.at);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      expect(gaps.length).toBeGreaterThanOrEqual(8);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(30_000);
      // The heartbeat advances: the first after 1 to 2 intervals (spread), then every interval plus at most one tick.
      expect(gaps[0]).toBeLessThanOrEqual(62_000);
      expect(Math.max(...gaps.slice(1))).toBeLessThanOrEqual(32_000);
      // Each heartbeat carries the newest result.
      expect(s.rowsOf(id).at(-1)!.lastCheck).toBeGreaterThan(times.at(-1)! - 5000 - 1);
    }
    // 200 members probed every 5 s were 40 results a second; the rows are 200 / 30 s.
    const total = s.writes.reduce((n, w) => n + w.rows.length, 0);
    const perSecond = total / 300;
    expect(perSecond).toBeGreaterThan(200 / 30 - 0.5);
    expect(perSecond).toBeLessThan(200 / 30 + 1.5);
  });

  it('spreads the heartbeats of members first written together over the interval', async () => {
    const s = scripted(30_000);
    for (let id = 1; id <= 1000; id++) s.reporter.record(result(id, true, s.now()));
    await s.reporter.flush();
    expect(s.writes[0].rows.length).toBe(1000);
    const start = s.now();
    for (let t = 0; t < 58_000; t += 2000) {
      s.advance(2000);
      for (let id = 1; id <= 1000; id++) s.reporter.record(result(id, true, s.now()));
      await s.reporter.flush();
    }
    const batches = s.writes.slice(1).map((w) => w.rows.length);
    // Nothing before one interval; by 58 s most first heartbeats have come, each member's once.
    expect(s.writes.slice(1).every((w) => w.at >= start + 30_000)).toBe(true);
    expect(batches.reduce((a, b) => a + b, 0)).toBeGreaterThan(800);
    expect(new Set(s.writes.slice(1).flatMap((w) => w.rows.map((r) => r.memberId))).size).toBe(batches.reduce((a, b) => a + b, 0));
    // 1000 rows over about 30 s of 2 s ticks: about 70 a write, never all of them at once.
    expect(Math.max(...batches)).toBeLessThan(200);
  });

  it('writes every result with heartbeat 0 (the old behaviour, for comparison)', async () => {
    const s = scripted(0);
    await run(s, 50, 5000, 2000, 60_000);
    const total = s.writes.reduce((n, w) => n + w.rows.length, 0);
    expect(total).toBeGreaterThanOrEqual(50 * 11);
  });

  it('writes a member probed less often than the heartbeat at each result, and promises its probe interval', async () => {
    const s = scripted(10_000);
    for (let i = 0; i < 6; i++) {
      s.reporter.record(result(3, true, s.now()));
      for (let t = 0; t < 60_000; t += 2000) {
        s.advance(2000);
        await s.reporter.flush();
      }
    }
    const rows = s.rowsOf(3);
    expect(rows.length).toBe(6);
    const gaps = rows.slice(1).map((r, i) => r.at - rows[i].at);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(58_000);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(62_000);
    expect(rows[0].heartbeatSeconds).toBe(10);
    expect(rows.at(-1)!.heartbeatSeconds).toBe(60);
  });

  it('writes nothing more for a member no longer probed here, so its row ages', async () => {
    const s = scripted(10_000);
    s.reporter.record(result(4, true, s.now()));
    for (let t = 0; t < 300_000; t += 2000) {
      s.advance(2000);
      await s.reporter.flush();
    }
    expect(s.rowsOf(4).length).toBe(1);
    // A result after all restarts it at once (its heartbeat time long past).
    s.reporter.record(result(4, true, s.now()));
    s.advance(2000);
    await s.reporter.flush();
    expect(s.rowsOf(4).length).toBe(2);
  });

  it('stop() waits for a write under way, then writes what came meanwhile', async () => {
    const done: number[][] = [];
    const reporter = new HealthReporter({
      log,
      heartbeatMs: 30_000,
      tickMs: NEVER,
      urgentMs: NEVER,
      write: async (rows) => {
        await new Promise((r) => setTimeout(r, 100));
        done.push(rows.map((r) => r.memberId));
      },
    });
    reporter.record(result(1, true, Date.now()));
    const first = reporter.flush();
    reporter.record(result(2, true, Date.now()));
    await reporter.stop();
    expect(done).toEqual([[1], [2]]);
    await first;
  });

  it('keeps rows due while the store is down and writes the newest result when it is back', async () => {
    let failing = true;
    const s = scripted(30_000, () => failing);
    s.reporter.record(result(5, true, s.now()));
    await s.reporter.flush();
    s.advance(5000);
    s.reporter.record(result(5, false, s.now(), true));
    await s.reporter.flush();
    expect(s.writes).toEqual([]);
    failing = false;
    s.advance(2000);
    await s.reporter.flush();
    expect(s.rowsOf(5).map((r) => r.up)).toEqual([false]);
    expect(s.reporter.rowsWritten).toBe(1);
  });
});
