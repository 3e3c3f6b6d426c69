// Readiness state, value in and value out: every store transition, with /readyz's view and the gauges agreeing at each step.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { ReadinessState, type FeedState } from '../../src/server/readiness.js';

const LISTEN: FeedState = { via: 'listen', degraded: false, storeReachable: true };
const POLL_DOWN: FeedState = { via: 'poll', degraded: true, storeReachable: false, error: 'connect ECONNREFUSED' };
const POLL_UP: FeedState = { via: 'poll', degraded: true, storeReachable: true, error: 'LISTEN connection closed' };

function setUp() {
  const metrics = createMetrics({ defaultMetrics: false });
  const logs: { msg: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      cb();
    },
  });
  let reloadError: string | undefined;
  let answering = 0;
  const state = new ReadinessState({
    mode: 'listen',
    metrics,
    log: createLogger('info', sink),
    reloadError: () => reloadError,
    onStoreAnswering: () => answering++,
    now: () => 1_700_000_000_000,
  });
  const gauges = async () => {
    const text = await metrics.registry.metrics();
    const read = (re: RegExp) => Number(re.exec(text)?.[1]);
    return {
      reachable: read(/^lbdns_store_reachable (\S+)$/m),
      listen: read(/^lbdns_propagation_mode\{mode="listen"\} (\S+)$/m),
      poll: read(/^lbdns_propagation_mode\{mode="poll"\} (\S+)$/m),
      heartbeatFailures: read(/^lbdns_store_feed_heartbeat_failures_total (\S+)$/m),
      lastSync: read(/^lbdns_store_last_sync_timestamp_seconds (\S+)$/m),
    };
  };
  /** The view and the gauges must say the same thing; returns the view. */
  const check = async () => {
    const v = state.view();
    const g = await gauges();
    expect(g.reachable).toBe(v.store === 'reachable' ? 1 : 0);
    expect(g.listen).toBe(v.propagation.mode === 'listen' ? 1 : 0);
    expect(g.poll).toBe(v.propagation.mode === 'poll' ? 1 : 0);
    return v;
  };
  return { state, logs, gauges, check, setReloadError: (e: string | undefined) => (reloadError = e), answering: () => answering };
}

const ok = () => Promise.resolve('rows');
const fail = () => Promise.reject(new Error('connection refused'));

describe('readiness state', () => {
  it('start from the store: reachable, listening, read time recorded', async () => {
    const t = setUp();
    await t.state.track(ok)();
    t.state.feed(LISTEN);
    expect(await t.check()).toEqual({ store: 'reachable', source: 'store', propagation: { mode: 'listen', degraded: false, error: null }, lastReloadError: null });
    expect((await t.gauges()).lastSync).toBe(1_700_000_000);
    expect(t.logs.map((l) => l.msg)).toEqual([]);
  });

  it('start from the file with the store down, then the store back unchanged: reachable again', async () => {
    const t = setUp();
    t.setReloadError('connection refused');
    await expect(t.state.track(fail)()).rejects.toThrow('connection refused');
    t.state.servingFile('2024-05-01T10:00:00.000Z');
    expect(await t.check()).toMatchObject({ store: 'unreachable', source: 'file saved 2024-05-01T10:00:00.000Z', lastReloadError: 'connection refused' });
    t.state.feed(POLL_DOWN);
    expect(await t.check()).toMatchObject({ store: 'unreachable', propagation: { mode: 'poll', degraded: true, error: 'connect ECONNREFUSED' } });
    expect(t.answering()).toBe(0);

    // The feed reaches the store again: still the file's snapshot until a read succeeds…
    t.state.feed(POLL_UP);
    expect(t.answering()).toBe(1);
    expect(await t.check()).toMatchObject({ store: 'unreachable', source: 'file saved 2024-05-01T10:00:00.000Z' });
    // …and a read that finds the same version (the reloader's "unchanged") is enough.
    t.setReloadError(undefined);
    await t.state.track(ok)();
    expect(await t.check()).toMatchObject({ store: 'reachable', source: 'store', lastReloadError: null });
    t.state.feed(LISTEN);
    expect(await t.check()).toMatchObject({ store: 'reachable', propagation: { mode: 'listen', degraded: false } });
    expect(t.logs.map((l) => l.msg)).toEqual(['propagation mode switched', 'store reachable again', 'propagation mode switched']);
  });

  it('store goes down while running: unreachable at once; back: reachable after a read', async () => {
    const t = setUp();
    await t.state.track(ok)();
    t.state.feed(LISTEN);
    t.state.feed({ via: 'poll', degraded: true, storeReachable: true, error: 'LISTEN connection closed' });
    expect(await t.check()).toMatchObject({ store: 'reachable', propagation: { mode: 'poll', degraded: true } });
    t.state.feed(POLL_DOWN);
    expect(await t.check()).toMatchObject({ store: 'unreachable' });
    t.state.feed(POLL_UP);
    expect(await t.check()).toMatchObject({ store: 'reachable' });
    t.state.feed(LISTEN);
    expect(await t.check()).toMatchObject({ store: 'reachable', propagation: { mode: 'listen', degraded: false, error: null } });
    const msgs = t.logs.map((l) => l.msg);
    expect(msgs.filter((m) => m === 'store unreachable')).toHaveLength(1);
    expect(msgs.filter((m) => m === 'store reachable again')).toHaveLength(1);
  });

  it('a failed read makes the store unreachable even while the feed still answers', async () => {
    const t = setUp();
    await t.state.track(ok)();
    t.state.feed(LISTEN);
    t.setReloadError('canceling statement due to statement timeout');
    await expect(t.state.track(fail)()).rejects.toThrow();
    expect(await t.check()).toMatchObject({ store: 'unreachable', lastReloadError: 'canceling statement due to statement timeout' });
    t.setReloadError(undefined);
    await t.state.track(ok)();
    expect(await t.check()).toMatchObject({ store: 'reachable', lastReloadError: null });
  });

  it('counts heartbeat failures', async () => {
    const t = setUp();
    t.state.heartbeatFailed();
    t.state.heartbeatFailed();
    expect((await t.gauges()).heartbeatFailures).toBe(2);
  });
});
