// Many members: probes in flight stay bounded, and the first results of all of them publish one view, not one per result.
import { describe, expect, it } from 'vitest';
import { HealthMonitor } from '../../src/health/monitor.js';
import type { ProbeResult } from '../../src/health/probes.js';
import { HealthTracker } from '../../src/health/tracker.js';
import { createLogger } from '../../src/obs/log.js';
import { member, pool } from '../policies/pool-fixture.js';

describe('health at scale', () => {
  it('keeps at most MAX_IN_FLIGHT probes open, and every member still gets probed', async () => {
    let open = 0;
    let peak = 0;
    let done = 0;
    const probe = async (): Promise<ProbeResult> => {
      open++;
      peak = Math.max(peak, open);
      await new Promise((r) => setTimeout(r, 5));
      open--;
      done++;
      return { ok: true, reason: 'ok', latencyMs: 5 };
    };
    const members = Array.from({ length: 3000 }, (_, i) => member(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, { id: i + 1 }));
    const monitor = new HealthMonitor({ logger: createLogger('silent'), probe, firstRoundGraceMs: 10_000 });
    try {
      monitor.setPools([pool(members, { check: { kind: 'tcp', port: 80, path: '/', host: null, expectStatusMin: 200, expectStatusMax: 399, insecure: false, timeoutMs: 1000, intervalMs: 60_000, rise: 2, fall: 3 } })]);
      await monitor.firstRound();
      expect(peak).toBeLessThanOrEqual(HealthMonitor.MAX_IN_FLIGHT);
      expect(peak).toBeGreaterThan(1);
      expect(done).toBeGreaterThanOrEqual(3000);
      expect(monitor.health().size).toBe(3000);
    } finally {
      monitor.stop();
    }
  });

  it('records 20,000 first results in linear time', () => {
    const tracker = new HealthTracker(() => 0);
    for (let i = 1; i <= 20_000; i++) tracker.track({ memberId: i, poolName: 'p', address: `a${i}`, rise: 2, fall: 3 });
    const t0 = performance.now();
    for (let i = 1; i <= 20_000; i++) tracker.record(i, { ok: i % 2 === 0, reason: 'x', latencyMs: 1 });
    const view = tracker.view();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(view.size).toBe(20_000);
    expect(view.get(2)).toBe(true);
    expect(view.get(1)).toBe(false);
    expect(tracker.view()).toBe(view);
  });
});
