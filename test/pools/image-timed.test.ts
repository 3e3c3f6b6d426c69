// What DNS workers adopt carries overrides, maintenance windows and hash prefixes exactly as the primary built them.
import { describe, expect, it } from 'vitest';
import { EMPTY_SNAPSHOT } from '../../src/core/snapshot.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { adoptImage, encodeImage } from '../../src/snapshot/image.js';
import type { PoolMemberRow, PoolRow, StoreContents } from '../../src/store/rows.js';

const pool = (id: number, name: string, policy: string): PoolRow => ({
  id, zoneId: 1, name, policy, ttl: 30, count: 2, allDown: 'open', checkKind: 'tcp', checkPort: 80, checkPath: '/', checkHost: null,
  expectStatusMin: 200, expectStatusMax: 399, checkInsecure: false, timeoutMs: 1000, intervalMs: 5000, rise: 2, fall: 3, hashPrefixV4: 20, hashPrefixV6: 48,
});
const member = (id: number, poolId: number, address: string, extra: Partial<PoolMemberRow> = {}): PoolMemberRow => ({
  id, poolId, address, probeAddress: null, weight: 1, priority: 0, enabled: true, country: null, continent: null, region: null, latitude: null, longitude: null, ...extra,
});

const contents: StoreContents = {
  version: 3,
  zones: [{ id: 1, name: 'a.test', mname: 'ns1.a.test', rname: 'h.a.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60, ttl: 300 }],
  records: [],
  pools: [pool(1, 'lb.a.test', 'wrr'), pool(2, 'sticky.a.test', 'hash')],
  members: [
    member(1, 1, '192.0.2.1', { override: { state: 'drain', reason: 'swap', by: 'alice', at: 1000, until: 5000 } }),
    member(2, 1, '192.0.2.2', { maintenance: [{ id: 4, cron: '0 2 * * 0', durationMs: 7200_000, tz: 'Europe/Berlin', reason: 'patching', by: 'bob' }] }),
    member(3, 2, '192.0.2.3'),
  ],
};

describe('snapshot image: timed state and policy settings', () => {
  it('survives encode and adopt', async () => {
    const built = buildSnapshot(contents).snapshot;
    const adopted = await adoptImage(encodeImage(built, [['a.test', '']], []), EMPTY_SNAPSHOT);
    const strip = (s: typeof built) => s.pools.map((p) => ({ ...p, members: p.members.map(({ rdata: _r, ...m }) => m) }));
    expect(strip(adopted)).toEqual(strip(built));
    expect(adopted.pools[0].members[0].override).toEqual({ state: 'drain', reason: 'swap', by: 'alice', at: 1000, until: 5000 });
    expect(adopted.pools[0].members[1].maintenance?.[0].tz).toBe('Europe/Berlin');
    expect(adopted.pools[0].members[2]).toBeUndefined();
    expect(adopted.pools[0].hashPrefix).toBeUndefined();
    expect(adopted.pools[1].hashPrefix).toEqual({ v4: 20, v6: 48 });
    expect('override' in adopted.pools[1].members[0]).toBe(false);
  });
});
