// The pool serial: moves on an effective change of a pool's answerable set only, at most once per interval per zone.
import { describe, expect, it } from 'vitest';
import { freezeView, type HealthView } from '../../src/health/health-view.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { PoolSerial } from '../../src/xfr/pool-serial.js';
import { poolSetLines } from '../../src/xfr/pool-rrsets.js';

const check = { checkKind: 'tcp' as const, checkPort: 80, checkPath: '/', checkHost: null, expectStatusMin: 200, expectStatusMax: 399, checkInsecure: false, timeoutMs: 1000, intervalMs: 1000, rise: 1, fall: 1 };
const member = (id: number, address: string, extra: object = {}) => ({ id, poolId: 1, address, probeAddress: null, weight: 1, priority: 0, enabled: true, country: null, continent: null, region: null, latitude: null, longitude: null, ...extra });
const snapshot = (members: object[]) =>
  buildSnapshot({
    version: 1,
    zones: [{ id: 1, name: 'p.test', mname: 'ns1.p.test', rname: 'h.p.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1, ttl: 60 }],
    records: [],
    pools: [{ id: 1, zoneId: 1, name: 'lb.p.test', policy: 'wrr', ttl: 30, count: 1, allDown: 'open', ...check }],
    members: members as never,
  }).snapshot;
const view = (entries: [number, boolean][]): HealthView => freezeView(new Map(entries));

describe('poolSetLines', () => {
  it('is every up member of the best tier (not count), weight 0 only standing in, a drain out, all enabled when none is up', () => {
    const snap = snapshot([member(1, '192.0.2.1'), member(2, '192.0.2.2'), member(3, '192.0.2.3', { priority: 1 }), member(4, '2001:db8::4'), member(5, '192.0.2.5', { enabled: false }), member(6, '192.0.2.6', { weight: 0 })]);
    const zone = snap.zones.get('p.test')!;
    const up = (ids: number[]) => view([1, 2, 3, 4, 5, 6].map((id) => [id, ids.includes(id)]));
    expect(poolSetLines(zone, up([1, 2, 3, 4, 6]))).toEqual(['lb.p.test 30 A 192.0.2.1', 'lb.p.test 30 A 192.0.2.2', 'lb.p.test 30 AAAA 2001:db8::4']);
    // Each family on its own, as answers are: the only AAAA member is down, so AAAA fails open.
    expect(poolSetLines(zone, up([3, 6]))).toEqual(['lb.p.test 30 A 192.0.2.6', 'lb.p.test 30 AAAA 2001:db8::4']);
    expect(poolSetLines(zone, up([3]))).toEqual(['lb.p.test 30 A 192.0.2.3', 'lb.p.test 30 AAAA 2001:db8::4']);
    // Nothing up: fail-open, every enabled member (the drained one stays out).
    expect(poolSetLines(zone, up([]))).toEqual(['lb.p.test 30 A 192.0.2.1', 'lb.p.test 30 A 192.0.2.2', 'lb.p.test 30 A 192.0.2.3', 'lb.p.test 30 A 192.0.2.6', 'lb.p.test 30 AAAA 2001:db8::4']);
  });
});

describe('PoolSerial', () => {
  it('bumps on a change, not on a repeat, and coalesces changes within the interval into one later bump', async () => {
    const snap = snapshot([member(1, '192.0.2.1'), member(2, '192.0.2.2')]);
    let health = view([[1, true], [2, true]]);
    const calls: { at: number; lines: readonly string[] }[] = [];
    let stored = '';
    const serial = new PoolSerial({
      snapshot: () => snap,
      health: () => health,
      advance: async (_zone, fp, lines) => {
        calls.push({ at: Date.now(), lines });
        if (fp === stored) return undefined;
        stored = fp;
        return calls.length;
      },
      metrics: createMetrics({ defaultMetrics: false }),
      log: createLogger('silent'),
      minIntervalMs: 400,
    });
    const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));
    serial.enable();
    await settle(50);
    expect(calls).toHaveLength(1);
    serial.changed(); // nothing changed: no call at all
    await settle(50);
    expect(calls).toHaveLength(1);
    health = view([[1, false], [2, true]]);
    serial.changed();
    await settle(20);
    health = view([[1, false], [2, false]]);
    serial.changed();
    await settle(20);
    health = view([[1, true], [2, false]]);
    serial.changed();
    await settle(600);
    serial.stop();
    // The changes waited out the interval and went as one bump with the last set.
    expect(calls).toHaveLength(2);
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(380);
    expect(calls[1].lines).toEqual(['lb.p.test 30 A 192.0.2.1']);
  });

  it('a change that ends where it started (both down: fail-open is the same set as both up) moves nothing', async () => {
    const snap = snapshot([member(1, '192.0.2.1'), member(2, '192.0.2.2')]);
    let health = view([[1, true], [2, true]]);
    let calls = 0;
    let stored = '';
    const serial = new PoolSerial({
      snapshot: () => snap,
      health: () => health,
      advance: async (_zone, fp) => {
        calls++;
        if (fp === stored) return undefined;
        stored = fp;
        return calls;
      },
      metrics: createMetrics({ defaultMetrics: false }),
      log: createLogger('silent'),
      minIntervalMs: 100,
    });
    serial.enable();
    await new Promise((r) => setTimeout(r, 50));
    health = view([[1, false], [2, false]]);
    serial.changed();
    await new Promise((r) => setTimeout(r, 300));
    serial.stop();
    expect(calls).toBe(1);
  });
});

describe('PoolSerial with many zones', () => {
  it('computes again only the zone a transition belongs to', async () => {
    const zoneRow = (id: number, name: string) => ({ id, name, mname: `ns1.${name}`, rname: `h.${name}`, serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1, ttl: 60 });
    const snap = buildSnapshot({
      version: 1,
      zones: [zoneRow(1, 'a.test'), zoneRow(2, 'b.test')],
      records: [],
      pools: [
        { id: 1, zoneId: 1, name: 'lb.a.test', policy: 'wrr', ttl: 30, count: 1, allDown: 'open', ...check },
        { id: 2, zoneId: 2, name: 'lb.b.test', policy: 'wrr', ttl: 30, count: 1, allDown: 'open', ...check },
      ],
      members: [member(1, '192.0.2.1'), member(2, '192.0.2.2'), { ...member(3, '192.0.2.3'), poolId: 2 }, { ...member(4, '192.0.2.4'), poolId: 2 }] as never,
    }).snapshot;
    let health = view([[1, true], [2, true], [3, true], [4, true]]);
    const calls: string[] = [];
    const serial = new PoolSerial({
      snapshot: () => snap,
      health: () => health,
      advance: async (zone) => {
        calls.push(zone);
        return 1;
      },
      metrics: createMetrics({ defaultMetrics: false }),
      log: createLogger('silent'),
      minIntervalMs: 10,
    });
    const settle = () => new Promise((r) => setTimeout(r, 50));
    serial.enable();
    await settle();
    expect(calls.sort()).toEqual(['a.test', 'b.test']);
    health = view([[1, true], [2, true], [3, false], [4, true]]);
    serial.changed('a.test');
    await settle();
    expect(calls).toHaveLength(2);
    serial.changed('b.test');
    await settle();
    serial.stop();
    expect(calls.slice(2)).toEqual(['b.test']);
  });
});
