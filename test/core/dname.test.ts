// DNAME in the core (RFC 6672 §3.2): the DNAME, a CNAME synthesised with its TTL, the chase; YXDOMAIN when too long.
import { describe, expect, it } from 'vitest';
import type { AnswerContext } from '../../src/core/answer.js';
import { QTYPE, RCODE } from '../../src/core/constants.js';
import { nameToWire } from '../../src/core/names.js';
import { respond } from '../../src/core/respond.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { RecordRow, ZoneRow } from '../../src/store/rows.js';
import { buildQuery } from '../helpers/wire.js';

const zone = (id: number, name: string): ZoneRow => ({ id, name, mname: `ns1.${name}`, rname: `hostmaster.${name}`, serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 300, ttl: 3600 });
let nextId = 1;
const r = (zoneId: number, name: string, type: string, content: string, ttl: number | null = null): RecordRow => ({ id: nextId++, zoneId, name, type, ttl, content });
const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.example.test`;
const { snapshot } = buildSnapshot({
  version: 1,
  zones: [zone(1, 'example.test'), zone(2, 'other.test')],
  records: [
    r(1, 'd.example.test', 'DNAME', 'other.test', 60),
    r(1, 'loop.example.test', 'DNAME', 'x.loop.example.test'),
    r(1, 'long.example.test', 'DNAME', long),
    r(2, 'www.other.test', 'A', '192.0.2.7', 300),
  ],
});
const ctx: AnswerContext = { nodeName: 'node-a', choose: () => ({ members: [], scope: 0, allDown: false }) };
const ask = (name: string, qtype: number) => respond(snapshot, buildQuery({ name, qtype }), '192.0.2.200', false, ctx).answer!;

describe('DNAME', () => {
  it('answers the DNAME, a CNAME with the DNAME TTL, and the chased target', () => {
    const a = ask('www.d.example.test', QTYPE.A);
    expect(a.rcode).toBe(RCODE.NOERROR);
    expect(a.aa).toBe(true);
    expect(a.answer.map((rr) => [rr.name, rr.type, rr.ttl])).toEqual([
      ['d.example.test', QTYPE.DNAME, 60],
      ['www.d.example.test', QTYPE.CNAME, 60],
      ['www.other.test', QTYPE.A, 300],
    ]);
    expect([...a.answer[1].rdata]).toEqual([...nameToWire('www.other.test')]);
  });
  it('leaves the owner itself alone, and stops at the CNAME for a CNAME query', () => {
    expect(ask('d.example.test', QTYPE.DNAME).answer.map((rr) => rr.type)).toEqual([QTYPE.DNAME]);
    expect(ask('d.example.test', QTYPE.A).kind).toBe('nodata');
    expect(ask('www.d.example.test', QTYPE.CNAME).answer.map((rr) => rr.type)).toEqual([QTYPE.DNAME, QTYPE.CNAME]);
  });
  it('ends the chase with NXDOMAIN of the target zone when the target does not exist', () => {
    const a = ask('nothing.d.example.test', QTYPE.A);
    expect(a.rcode).toBe(RCODE.NXDOMAIN);
    expect(a.answer.map((rr) => rr.type)).toEqual([QTYPE.DNAME, QTYPE.CNAME]);
  });
  it('answers YXDOMAIN with the DNAME when the substituted name exceeds 255 octets', () => {
    const a = ask(`${'x'.repeat(60)}.long.example.test`, QTYPE.A);
    expect(a.rcode).toBe(RCODE.YXDOMAIN);
    expect(a.answer.map((rr) => rr.type)).toEqual([QTYPE.DNAME]);
  });
  it('stops a DNAME that points below itself after a bounded chain', () => {
    const a = ask('a.loop.example.test', QTYPE.A);
    expect(a.answer.length).toBeLessThanOrEqual(2 * 9);
    expect(a.answer[0].type).toBe(QTYPE.DNAME);
  });
});
