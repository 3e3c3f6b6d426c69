// The rise/fall state machine with a scripted clock: first result decides, thresholds after, transitions only.
import { describe, expect, it } from 'vitest';
import { isUp } from '../../src/health/health-view.js';
import { HealthTracker, PUBLISH_MS_PER_MEMBER, PUBLISH_THROTTLE_FROM, type Transition } from '../../src/health/tracker.js';

const ok = { ok: true, reason: 'HTTP 200', latencyMs: 3 };
const fail = { ok: false, reason: 'HTTP 503', latencyMs: 4 };

function scripted(rise: number, fall: number) {
  let t = 1_000;
  const tracker = new HealthTracker(() => t);
  tracker.track({ memberId: 7, poolName: 'www.example.test', address: '192.0.2.7', rise, fall });
  /** Feeds results one per tick ('+' good, '-' failed); returns the state after each as 'u'/'d'/'?' and the transitions. */
  const feed = (script: string) => {
    const states: string[] = [];
    const transitions: Transition[] = [];
    for (const ch of script) {
      t += 100;
      const tr = tracker.record(7, ch === '+' ? ok : fail);
      if (tr) transitions.push(tr);
      const s = tracker.state(7)!.status;
      states.push(s === 'up' ? 'u' : s === 'down' ? 'd' : '?');
    }
    return { states: states.join(''), transitions };
  };
  return { tracker, feed, time: () => t };
}

describe('HealthTracker', () => {
  const cases: { name: string; rise: number; fall: number; script: string; states: string; transitions: number }[] = [
    { name: 'first good result: up at once', rise: 3, fall: 3, script: '+', states: 'u', transitions: 1 },
    { name: 'first failed result: down at once', rise: 3, fall: 3, script: '-', states: 'd', transitions: 1 },
    { name: 'down only after fall failures in a row', rise: 2, fall: 3, script: '+--+---', states: 'uuuuuud', transitions: 2 },
    { name: 'up only after rise successes in a row', rise: 2, fall: 3, script: '-+-++', states: 'ddddu', transitions: 2 },
    { name: 'every other probe failing never flaps (rise = fall = 3), starting up', rise: 3, fall: 3, script: '+-'.repeat(50), states: 'u'.repeat(100), transitions: 1 },
    { name: 'every other probe failing never flaps (rise = fall = 3), starting down', rise: 3, fall: 3, script: '-+'.repeat(50), states: 'd'.repeat(100), transitions: 1 },
    { name: 'rise = fall = 1 follows every result', rise: 1, fall: 1, script: '+-+-', states: 'udud', transitions: 4 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { feed } = scripted(c.rise, c.fall);
      const got = feed(c.script);
      expect(got.states).toBe(c.states);
      expect(got.transitions).toHaveLength(c.transitions);
    });
  }

  it('reports a transition with from, to, reason and time, and nothing in between', () => {
    const { feed, tracker } = scripted(2, 2);
    const first = feed('+');
    expect(first.transitions).toEqual([{ memberId: 7, poolName: 'www.example.test', address: '192.0.2.7', from: 'unknown', to: 'up', reason: 'HTTP 200', at: 1_100 }]);
    expect(feed('-').transitions).toEqual([]);
    expect(feed('-').transitions).toEqual([{ memberId: 7, poolName: 'www.example.test', address: '192.0.2.7', from: 'up', to: 'down', reason: 'HTTP 503', at: 1_300 }]);
    expect(tracker.state(7)).toMatchObject({ status: 'down', up: false, since: 1_300, failStreak: 2, okStreak: 0, lastCheck: 1_300, lastLatencyMs: 4, lastError: 'HTTP 503', lastErrorAt: 1_300 });
    feed('++');
    // The last error stays for status pages after recovery.
    expect(tracker.state(7)).toMatchObject({ status: 'up', since: 1_500, okStreak: 2, lastError: 'HTTP 503', lastErrorAt: 1_300 });
  });

  it('leaves unknown members out of the view (not up) and publishes a new frozen view only on change', () => {
    const { feed, tracker } = scripted(2, 2);
    const empty = tracker.view();
    expect(empty.has(7)).toBe(false);
    expect(isUp(empty, 7)).toBe(false);
    expect(tracker.state(7)).toMatchObject({ status: 'unknown', up: true, since: 1_000, lastCheck: null });
    feed('-');
    const down = tracker.view();
    expect(down).not.toBe(empty);
    expect(isUp(down, 7)).toBe(false);
    expect(Object.isFrozen(down)).toBe(true);
    expect(() => (down as Map<number, boolean>).set(7, true)).toThrow(TypeError);
    feed('-+');
    expect(tracker.view()).toBe(down);
    feed('+');
    expect(isUp(tracker.view(), 7)).toBe(true);
    expect(isUp(down, 7)).toBe(false);
  });

  it('forgets removed members; a member that comes back starts unknown', () => {
    const { feed, tracker } = scripted(2, 2);
    feed('-');
    tracker.retain(new Set([99]));
    expect(tracker.state(7)).toBeUndefined();
    expect(tracker.states()).toEqual([]);
    expect(tracker.view().has(7)).toBe(false);
    expect(tracker.record(7, ok)).toBeUndefined();
    tracker.track({ memberId: 7, poolName: 'www.example.test', address: '192.0.2.7', rise: 2, fall: 2 });
    expect(tracker.state(7)!.status).toBe('unknown');
  });

  it('track() on a known member updates thresholds and labels but keeps its state', () => {
    const { feed, tracker } = scripted(5, 5);
    feed('+--');
    tracker.track({ memberId: 7, poolName: 'lb.example.test', address: '192.0.2.7', rise: 5, fall: 3 });
    const { transitions } = feed('-');
    expect(transitions).toMatchObject([{ poolName: 'lb.example.test', from: 'up', to: 'down' }]);
  });
});

describe('HealthTracker view publication with many members', () => {
  it('publishes a burst of changes at a bounded rate above PUBLISH_THROTTLE_FROM members, and fresh views at once', async () => {
    const tracker = new HealthTracker();
    const n = 20_000;
    expect(n).toBeGreaterThan(PUBLISH_THROTTLE_FROM);
    for (let id = 1; id <= n; id++) tracker.track({ memberId: id, poolName: 'p', address: '192.0.2.1', rise: 1, fall: 1 });
    const ok = { ok: true, reason: 'HTTP 200', latencyMs: 1 };
    const bad = { ok: false, reason: 'timeout', latencyMs: 1 };
    tracker.record(1, ok);
    const first = tracker.view();
    expect(first.get(1)).toBe(true);
    // Within the wait (20,000 × PUBLISH_MS_PER_MEMBER ms) further changes are held back…
    const t0 = performance.now();
    tracker.record(2, bad);
    const held = tracker.view();
    if (performance.now() - t0 < n * PUBLISH_MS_PER_MEMBER) {
      expect(held).toBe(first);
      expect(held.get(2)).toBeUndefined();
    }
    // …a fresh view has them at once…
    const fresh = tracker.view(true);
    expect(fresh.get(2)).toBe(false);
    tracker.record(3, bad);
    // …and after the wait the next view has every change.
    await new Promise((r) => setTimeout(r, n * PUBLISH_MS_PER_MEMBER + 5));
    const later = tracker.view();
    expect(later.get(3)).toBe(false);
    expect(later.size).toBe(3);
  });

  it('publishes every change at once with few members', () => {
    const tracker = new HealthTracker();
    for (let id = 1; id <= 10; id++) tracker.track({ memberId: id, poolName: 'p', address: '192.0.2.1', rise: 1, fall: 1 });
    for (let id = 1; id <= 10; id++) {
      tracker.record(id, { ok: id % 2 === 0, reason: '', latencyMs: 1 });
      expect(tracker.view().get(id)).toBe(id % 2 === 0);
    }
  });
});
