// RDATA in shared slabs: same bytes out, equal IPv4 addresses shared, no view spilling into its neighbour.
import { describe, expect, it } from 'vitest';
import { encodeRdata } from '../../src/records/content.js';
import { buildSnapshot, RdataPacker } from '../../src/snapshot/build.js';
import type { PoolMemberRow, PoolRow, RecordRow, ZoneRow } from '../../src/store/rows.js';

describe('RdataPacker', () => {
  it('returns views with the same bytes, sharing one view per distinct IPv4 address', () => {
    const packer = new RdataPacker();
    const a1 = packer.pack(encodeRdata('A', '192.0.2.1'));
    const a2 = packer.pack(encodeRdata('A', '192.0.2.1'));
    const b = packer.pack(encodeRdata('A', '192.0.2.2'));
    const six = packer.pack(encodeRdata('AAAA', '2001:db8::1'));
    const txt = packer.pack(encodeRdata('TXT', '"hello"'));
    expect(a1).toBe(a2);
    expect(b).not.toBe(a1);
    expect([...a1]).toEqual([192, 0, 2, 1]);
    expect([...b]).toEqual([192, 0, 2, 2]);
    expect(Buffer.from(six).toString('hex')).toBe('20010db8000000000000000000000001');
    expect(Buffer.from(txt).toString('latin1')).toBe('\x05hello');
    expect(a1.buffer).toBe(txt.buffer);
  });

  it('starts a new slab when one is full, and never lets views overlap', () => {
    const packer = new RdataPacker();
    const views: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) views.push(packer.pack(encodeRdata('AAAA', `2001:db8::${i.toString(16)}`)));
    const slabs = new Set(views.map((v) => v.buffer));
    expect(slabs.size).toBeGreaterThan(1);
    for (let i = 0; i < views.length; i++) expect(Buffer.from(views[i]).readUInt16BE(14)).toBe(i);
    const big = packer.pack(new Uint8Array(70_000).fill(7));
    expect(big.length).toBe(70_000);
    expect(big.every((x) => x === 7)).toBe(true);
    expect(Buffer.from(views[19_999]).readUInt16BE(14)).toBe(19_999);
  });

  it('copies every RDATA, equal addresses too, when told not to share', () => {
    const packer = new RdataPacker(false);
    const a1 = packer.pack(encodeRdata('A', '192.0.2.1'));
    const a2 = packer.pack(encodeRdata('A', '192.0.2.1'));
    expect(a1).not.toBe(a2);
    expect([...a2]).toEqual([192, 0, 2, 1]);
    expect(a1.buffer).toBe(a2.buffer);
  });
});

describe('building from the same row objects again', () => {
  it('gives the same answers, and skips an unusable row again with the same reason', () => {
    const zones: ZoneRow[] = [{ id: 1, name: 'memo.test', mname: 'ns1.memo.test', rname: 'h.memo.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60, ttl: 300 }];
    const records: RecordRow[] = [
      Object.freeze({ id: 1, zoneId: 1, name: 'www.memo.test', type: 'A', ttl: null, content: '192.0.2.7' }),
      Object.freeze({ id: 2, zoneId: 1, name: 'bad.memo.test', type: 'A', ttl: null, content: '192.0.2.300' }),
    ];
    const first = buildSnapshot({ version: 1, zones, records });
    const second = buildSnapshot({ version: 2, zones, records });
    const rdata = (s: typeof first) => [...s.snapshot.zones.get('memo.test')!.nodes.get('www.memo.test')!.rrsets.get(1)!.rdata[0]];
    expect(rdata(first)).toEqual([192, 0, 2, 7]);
    expect(rdata(second)).toEqual([192, 0, 2, 7]);
    expect(first.skipped).toHaveLength(1);
    expect(second.skipped).toEqual(first.skipped);
    // A new row object with other content is encoded anew.
    const third = buildSnapshot({ version: 3, zones, records: [Object.freeze({ ...records[0], content: '192.0.2.8' })] });
    expect(rdata(third)).toEqual([192, 0, 2, 8]);
  });

  it('gives the same Pool for the same pool and member row objects, a new one when a member row is new', () => {
    const zones: ZoneRow[] = [{ id: 1, name: 'memo.test', mname: 'ns1.memo.test', rname: 'h.memo.test', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 60, ttl: 300 }];
    const pools: PoolRow[] = [Object.freeze({
      id: 5, zoneId: 1, name: 'lb.memo.test', policy: 'wrr', ttl: 30, count: 1, allDown: 'open', checkKind: 'tcp', checkPort: 80, checkPath: '/', checkHost: null,
      expectStatusMin: 200, expectStatusMax: 399, checkInsecure: false, timeoutMs: 1000, intervalMs: 5000, rise: 2, fall: 3,
    } as PoolRow)];
    const m = (id: number, address: string, weight = 1): PoolMemberRow =>
      Object.freeze({ id, poolId: 5, address, probeAddress: null, weight, priority: 0, enabled: true, country: null, continent: null, region: null, latitude: null, longitude: null });
    const members = [m(1, '192.0.2.1'), m(2, '192.0.2.999')];
    const build = (ms: PoolMemberRow[]) => buildSnapshot({ version: 1, zones, records: [], pools, members: ms });
    const a = build(members);
    const b = build(members);
    expect(b.snapshot.pools[0]).toBe(a.snapshot.pools[0]);
    expect(a.snapshot.pools[0].members.map((x) => x.address)).toEqual(['192.0.2.1']);
    // The unusable member is reported by every build, not only the first.
    expect(a.skipped.map((x) => x.table)).toEqual(['pool_members']);
    expect(b.skipped).toEqual(a.skipped);
    const c = build([members[0], m(2, '192.0.2.2', 3)]);
    expect(c.snapshot.pools[0]).not.toBe(a.snapshot.pools[0]);
    expect(c.snapshot.pools[0].members.map((x) => [x.address, x.weight])).toEqual([['192.0.2.1', 1], ['192.0.2.2', 3]]);
  });
});
