// Answer.rateName: the name each kind of response counts against for rate limiting, as BIND's RRL keys it.
import { describe, expect, it } from 'vitest';
import type { AnswerContext } from '../../src/core/answer.js';
import { QTYPE } from '../../src/core/constants.js';
import { respond } from '../../src/core/respond.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { RecordRow, ZoneRow } from '../../src/store/rows.js';
import { buildQuery } from '../helpers/wire.js';

const zone: ZoneRow = { id: 1, name: 'example.test', mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 1, refresh: 3600, retry: 600, expire: 604800, minimum: 300, ttl: 3600 };
let nextId = 1;
const r = (name: string, type: string, content: string): RecordRow => ({ id: nextId++, zoneId: 1, name, type, ttl: null, content });
const { snapshot } = buildSnapshot({
  version: 1,
  zones: [zone],
  records: [
    r('example.test', 'NS', 'ns1.example.test'),
    r('ns1.example.test', 'A', '192.0.2.53'),
    r('www.example.test', 'A', '192.0.2.10'),
    r('web.example.test', 'CNAME', 'www.example.test'),
    r('*.wild.example.test', 'A', '192.0.2.80'),
    r('sub.example.test', 'NS', 'ns.sub.example.test'),
    r('ns.sub.example.test', 'A', '192.0.2.100'),
  ],
});
const ctx: AnswerContext = { nodeName: 'node-a', choose: () => ({ members: [], scope: 0, allDown: false }) };

function rateName(name: string, type: number = QTYPE.A, qclass?: number) {
  const out = respond(snapshot, buildQuery({ name, qtype: type, qclass }), '192.0.2.200', false, ctx);
  return { kind: out.answer?.kind, rateName: out.answer?.rateName };
}

describe('Answer.rateName', () => {
  it.each([
    ['an answer: the query name', 'www.example.test', QTYPE.A, 'answer', 'www.example.test'],
    ['a CNAME followed: the query name', 'web.example.test', QTYPE.A, 'answer', 'web.example.test'],
    ['a wildcard answer: the wildcard parent', 'random-123.wild.example.test', QTYPE.A, 'answer', 'wild.example.test'],
    ['another random name under it: the same', 'other-456.wild.example.test', QTYPE.A, 'answer', 'wild.example.test'],
    ['NXDOMAIN: the zone', 'nothing-789.example.test', QTYPE.A, 'nxdomain', 'example.test'],
    ['NODATA: the zone', 'www.example.test', QTYPE.MX, 'nodata', 'example.test'],
    ['NODATA from a wildcard: the zone', 'x.wild.example.test', QTYPE.TXT, 'nodata', 'example.test'],
    ['a referral: the delegation point', 'host.sub.example.test', QTYPE.A, 'referral', 'sub.example.test'],
    ['refused (not our zone): none', 'www.elsewhere.invalid', QTYPE.A, 'refused', undefined],
  ] as const)('%s', (_title, name, type, kind, expected) => {
    expect(rateName(name, type)).toEqual({ kind, rateName: expected });
  });

  it('CHAOS id.server: its name', () => {
    expect(rateName('id.server', QTYPE.TXT, 3)).toEqual({ kind: 'chaos', rateName: 'id.server' });
  });
});
