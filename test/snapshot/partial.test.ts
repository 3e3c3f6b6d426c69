// Reloading a few zones must give exactly what a full rebuild gives: same replies, byte for byte.
import { describe, expect, it } from 'vitest';
import type { AnswerContext } from '../../src/core/answer.js';
import { respond } from '../../src/core/respond.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { mergeContents, rebuildZones } from '../../src/snapshot/partial.js';
import type { PoolRow, RecordRow, StoreContents, ZoneRow } from '../../src/store/rows.js';
import { buildQuery } from '../helpers/wire.js';

const zone = (id: number, name: string): ZoneRow => ({ id, name, mname: `ns1.${name}`, rname: `h.${name}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60, ttl: 300 });
let rid = 1;
const rec = (zoneId: number, name: string, type: string, content: string): RecordRow => ({ id: rid++, zoneId, name, type, ttl: null, content });
const pool = (id: number, zoneId: number, name: string): PoolRow => ({
  id, zoneId, name, policy: 'wrr', ttl: 30, count: 2, allDown: 'open', checkKind: 'tcp', checkPort: 80, checkPath: '/', checkHost: null,
  expectStatusMin: 200, expectStatusMax: 399, checkInsecure: false, timeoutMs: 1000, intervalMs: 5000, rise: 2, fall: 3,
});
const member = (id: number, poolId: number, address: string) => ({ id, poolId, address, probeAddress: null, weight: 1, priority: 0, enabled: true, country: null, continent: null, region: null, latitude: null, longitude: null });

const before: StoreContents = {
  version: 1,
  zones: [zone(1, 'a.test'), zone(2, 'b.test'), zone(3, 'c.test')],
  records: [rec(1, 'www.a.test', 'A', '192.0.2.1'), rec(2, 'www.b.test', 'A', '192.0.2.2'), rec(2, 'x.b.test', 'CNAME', 'www.a.test'), rec(3, 'www.c.test', 'A', '192.0.2.3')],
  pools: [pool(1, 2, 'lb.b.test'), pool(2, 1, 'lb.a.test')],
  members: [member(1, 1, '192.0.2.21'), member(2, 1, '192.0.2.22'), member(3, 2, '192.0.2.31')],
  geoNetworks: [],
};

// b.test edited (a record changed, a member added), c.test deleted, d.test created.
const part: StoreContents = {
  version: 5,
  zones: [zone(2, 'b.test'), zone(4, 'd.test')],
  records: [rec(2, 'www.b.test', 'A', '192.0.2.99'), rec(2, 'x.b.test', 'CNAME', 'www.a.test'), rec(4, 'www.d.test', 'A', '192.0.2.4')],
  pools: [pool(1, 2, 'lb.b.test')],
  members: [member(1, 1, '192.0.2.21'), member(2, 1, '192.0.2.22'), member(4, 1, '192.0.2.23')],
};
const names = ['b.test', 'c.test', 'd.test'];
const ctx: AnswerContext = { nodeName: 't', choose: (p, family) => ({ members: p.members.filter((m) => m.family === family), scope: 0, allDown: false }) };
const questions = ['www.a.test', 'www.b.test', 'x.b.test', 'www.c.test', 'www.d.test', 'lb.b.test', 'lb.a.test', 'nope.b.test', 'b.test'];

describe('partial reload', () => {
  it('answers exactly as a full rebuild of the merged rows', () => {
    const old = buildSnapshot(before).snapshot;
    const partial = rebuildZones(old, part, names).snapshot;
    const merged = mergeContents(before, part, names);
    const full = buildSnapshot(merged).snapshot;
    expect(partial.version).toBe(5);
    expect([...partial.zones.keys()].sort()).toEqual([...full.zones.keys()].sort());
    expect(partial.pools.map((p) => p.name).sort()).toEqual(full.pools.map((p) => p.name).sort());
    for (const name of questions) {
      for (const qtype of [1, 28, 6]) {
        const q = buildQuery({ name, qtype, edns: {} });
        expect(respond(partial, q, '127.0.0.1', false, ctx).reply!.toString('hex'), `${name} ${qtype}`).toBe(respond(full, q, '127.0.0.1', false, ctx).reply!.toString('hex'));
      }
    }
    // Untouched zones are reused, not rebuilt.
    expect(partial.zones.get('a.test')).toBe(old.zones.get('a.test'));
  });

  it('merges rows: the touched zones replaced, deleted ones gone, others kept', () => {
    const merged = mergeContents(before, part, names);
    expect(merged.zones.map((z) => z.name).sort()).toEqual(['a.test', 'b.test', 'd.test']);
    expect(merged.records.map((r) => r.name).sort()).toEqual(['www.a.test', 'www.b.test', 'www.d.test', 'x.b.test']);
    expect(merged.members!.map((m) => m.address).sort()).toEqual(['192.0.2.21', '192.0.2.22', '192.0.2.23', '192.0.2.31']);
    expect(merged.version).toBe(5);
  });
});
