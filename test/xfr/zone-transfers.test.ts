// ZoneTransfers.swapped: which zones' pool serials are looked at again after a new snapshot.
import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_HEALTH } from '../../src/health/health-view.js';
import type { Snapshot, Zone } from '../../src/core/snapshot.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { PoolMemberRow, PoolRow, RecordRow, StoreContents, ZoneRow } from '../../src/store/rows.js';
import { ZoneTransfers } from '../../src/xfr/zone-transfers.js';

const zone = (id: number, name: string): ZoneRow => ({ id, name, mname: `ns1.${name}`, rname: `h.${name}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60, ttl: 300 });
const pool = (id: number, zoneId: number, name: string): PoolRow => ({
  id, zoneId, name, policy: 'wrr', ttl: 30, count: 2, allDown: 'open', checkKind: 'tcp', checkPort: 80, checkPath: '/', checkHost: null,
  expectStatusMin: 200, expectStatusMax: 399, checkInsecure: false, timeoutMs: 1000, intervalMs: 5000, rise: 2, fall: 3,
});
const member = (id: number, poolId: number, address: string): PoolMemberRow => ({ id, poolId, address, probeAddress: null, weight: 1, priority: 0, enabled: true, country: null, continent: null, region: null, latitude: null, longitude: null });

function contents(): StoreContents {
  const zones = [zone(1, 'a.test'), zone(2, 'b.test')];
  const records: RecordRow[] = zones.map((z, i) => ({ id: i + 1, zoneId: z.id, name: `www.${z.name}`, type: 'A', ttl: null, content: `192.0.2.${i + 1}` }));
  const pools = zones.map((z) => pool(z.id, z.id, `lb.${z.name}`));
  const members = pools.flatMap((p) => [member(p.id * 10, p.id, `198.51.100.${p.id * 10}`), member(p.id * 10 + 1, p.id, `198.51.100.${p.id * 10 + 1}`)]);
  return { version: 1, zones, records, pools, members, geoNetworks: [] };
}

const until = async (what: () => boolean, ms = 3000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

let transfers: ZoneTransfers | undefined;
afterEach(() => transfers?.stop());

describe('ZoneTransfers.swapped', () => {
  it('looks at the pool serial of a zone made again around new pools, not of one made again around the same pools', async () => {
    const first = buildSnapshot(contents()).snapshot;
    let current: Snapshot = first;
    let healthReads = 0;
    const advanced: string[] = [];
    transfers = new ZoneTransfers({
      store: {
        transferSettings: async () => [],
        tsigKeys: async () => [],
        advancePoolSerial: async (z: string) => {
          advanced.push(z);
          return 2;
        },
        journal: async () => undefined,
      },
      snapshot: () => current,
      health: () => {
        healthReads++;
        return EMPTY_HEALTH;
      },
      metrics: createMetrics({ defaultMetrics: false }),
      log: createLogger('silent'),
    });
    transfers.swapped(first);
    transfers.enablePoolSerials();
    await until(() => advanced.length === 2);
    expect(advanced.sort()).toEqual(['a.test', 'b.test']);
    const reads = healthReads;

    // a.test made again around the same pool objects (what an SOA or record edit gives): nothing to look at.
    const a = first.zones.get('a.test')!;
    const restamped: Zone = Object.freeze({ ...a, serial: 2 });
    current = { ...first, zones: new Map([...first.zones, ['a.test', restamped]]) };
    transfers.swapped(current);
    await new Promise((r) => setTimeout(r, 200));
    expect(healthReads).toBe(reads);

    // b.test with a pool that is a new object: its answerable set is looked at again.
    const b = first.zones.get('b.test')!;
    const bPool = first.pools.find((p) => p.zone === 'b.test')!;
    const newPool = Object.freeze({ ...bPool, members: bPool.members.slice(0, 1) });
    current = { ...current, zones: new Map([...current.zones, ['b.test', Object.freeze({ ...b, serial: 2 })]]), pools: current.pools.map((p) => (p === bPool ? newPool : p)) };
    transfers.swapped(current);
    await until(() => healthReads > reads);
  });

  it('reads the NOTIFY settings of every zone whose serial moved in one query, and a later move in another', async () => {
    const asked: (string | readonly string[] | undefined)[] = [];
    const first = buildSnapshot(contents()).snapshot;
    transfers = new ZoneTransfers({
      store: {
        transferSettings: async (zones?: string | readonly string[]) => {
          asked.push(zones);
          return [];
        },
        tsigKeys: async () => [],
        advancePoolSerial: async () => 2,
        journal: async () => undefined,
      },
      snapshot: () => first,
      health: () => EMPTY_HEALTH,
      metrics: createMetrics({ defaultMetrics: false }),
      log: createLogger('silent'),
    });
    // The first snapshot announces every zone: one read for both.
    transfers.swapped(first);
    await until(() => asked.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(asked).toEqual([['a.test', 'b.test']]);
    const moved = (s: Snapshot, name: string): Snapshot => ({ ...s, zones: new Map([...s.zones, [name, Object.freeze({ ...s.zones.get(name)!, serial: s.zones.get(name)!.serial + 1 })]]) });
    transfers.swapped(moved(first, 'b.test'));
    await until(() => asked.length === 2);
    expect(asked[1]).toEqual(['b.test']);
  });
});
