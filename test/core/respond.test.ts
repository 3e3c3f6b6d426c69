// The answering core, bytes in and bytes out, without sockets: one case per answering rule.
import { describe, expect, it } from 'vitest';
import type { AnswerContext } from '../../src/core/answer.js';
import { QTYPE } from '../../src/core/constants.js';
import { respond } from '../../src/core/respond.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import type { RecordRow, ZoneRow } from '../../src/store/rows.js';
import { buildQuery, decodeReply, nameBytes, type QueryOptions } from '../helpers/wire.js';

const zone: ZoneRow = { id: 1, name: 'example.test', mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 2026112201, refresh: 3600, retry: 600, expire: 604800, minimum: 300, ttl: 3600 };
const other: ZoneRow = { ...zone, id: 2, name: 'other.test', mname: 'ns1.other.test', rname: 'h.other.test', minimum: 7200, ttl: 600 };
let nextId = 1;
const r = (name: string, type: string, content: string, ttl: number | null = null, zoneId = 1): RecordRow => ({ id: nextId++, zoneId, name, type, ttl, content });
const records: RecordRow[] = [
  r('example.test', 'NS', 'ns1.example.test'),
  r('example.test', 'NS', 'ns2.example.test'),
  r('ns1.example.test', 'A', '192.0.2.53'),
  r('ns2.example.test', 'A', '192.0.2.54'),
  r('www.example.test', 'A', '192.0.2.10', 60),
  r('www.example.test', 'A', '192.0.2.11', 60),
  r('www.example.test', 'AAAA', '2001:db8::10', 60),
  r('web.example.test', 'CNAME', 'www.example.test'),
  r('away.example.test', 'CNAME', 'www.elsewhere.invalid'),
  r('dangling.example.test', 'CNAME', 'nothing.example.test'),
  r('cross.example.test', 'CNAME', 'host.other.test'),
  r('loop1.example.test', 'CNAME', 'loop2.example.test'),
  r('loop2.example.test', 'CNAME', 'loop1.example.test'),
  r('example.test', 'MX', '10 mail.example.test'),
  r('mail.example.test', 'A', '192.0.2.25'),
  r('example.test', 'TXT', '"v=spf1 -all"'),
  r('*.wild.example.test', 'A', '192.0.2.80'),
  r('*.wild.example.test', 'TXT', '"wild"'),
  r('exists.wild.example.test', 'TXT', '"real"'),
  r('a.b.deep.example.test', 'A', '192.0.2.90'),
  r('sub.example.test', 'NS', 'ns.sub.example.test'),
  r('ns.sub.example.test', 'A', '192.0.2.100'),
  ...Array.from({ length: 40 }, (_, i) => r('big.example.test', 'A', `198.51.100.${i + 1}`)),
  r('host.other.test', 'A', '203.0.113.5', null, 2),
];
const { snapshot, skipped } = buildSnapshot({ version: 7, zones: [zone, other], records });
const ctx: AnswerContext = {
  nodeName: 'node-a',
  choose: (pool, family) => ({ members: pool.members.filter((m) => m.family === family && m.enabled), scope: 0, allDown: false }),
};

function ask(o: QueryOptions | Buffer, tcp = false) {
  const packet = Buffer.isBuffer(o) ? o : buildQuery(o);
  const out = respond(snapshot, packet, '192.0.2.200', tcp, ctx);
  return { out, reply: out.reply ? decodeReply(out.reply) : undefined, raw: out.reply };
}

describe('snapshot build', () => {
  it('uses every fixture row', () => {
    expect(skipped).toEqual([]);
    expect(snapshot.zones.size).toBe(2);
  });
});

describe('authoritative answers', () => {
  const cases: { title: string; q: QueryOptions; rcode: number; aa: boolean; answers: string[]; authority?: string[]; additional?: string[] }[] = [
    { title: 'A RRset with AA and its own TTL', q: { name: 'www.example.test' }, rcode: 0, aa: true, answers: ['www.example.test A 60 192.0.2.10', 'www.example.test A 60 192.0.2.11'] },
    { title: 'AAAA', q: { name: 'www.example.test', qtype: QTYPE.AAAA }, rcode: 0, aa: true, answers: ['www.example.test AAAA 60 2001:db8::10'] },
    { title: 'name outside every zone is REFUSED, no AA, nothing else', q: { name: 'www.example.org' }, rcode: 5, aa: false, answers: [], authority: [] },
    { title: 'missing name: NXDOMAIN with SOA at min(SOA TTL, minimum)', q: { name: 'nope.example.test' }, rcode: 3, aa: true, answers: [], authority: ['example.test SOA 300'] },
    { title: 'missing type: NODATA with SOA', q: { name: 'www.example.test', qtype: QTYPE.MX }, rcode: 0, aa: true, answers: [], authority: ['example.test SOA 300'] },
    { title: 'CNAME chased inside the zone', q: { name: 'web.example.test' }, rcode: 0, aa: true, answers: ['web.example.test CNAME 3600 www.example.test', 'www.example.test A 60 192.0.2.10', 'www.example.test A 60 192.0.2.11'] },
    { title: 'CNAME chased into another of our zones', q: { name: 'cross.example.test' }, rcode: 0, aa: true, answers: ['cross.example.test CNAME 3600 host.other.test', 'host.other.test A 600 203.0.113.5'] },
    { title: 'CNAME leaving our zones is answered alone', q: { name: 'away.example.test' }, rcode: 0, aa: true, answers: ['away.example.test CNAME 3600 www.elsewhere.invalid'] },
    { title: 'CNAME to a missing name: NXDOMAIN for the target (RFC 6604)', q: { name: 'dangling.example.test' }, rcode: 3, aa: true, answers: ['dangling.example.test CNAME 3600 nothing.example.test'], authority: ['example.test SOA 300'] },
    { title: 'CNAME loop stops', q: { name: 'loop1.example.test' }, rcode: 0, aa: true, answers: ['loop1.example.test CNAME 3600 loop2.example.test', 'loop2.example.test CNAME 3600 loop1.example.test'] },
    { title: 'CNAME asked for directly', q: { name: 'web.example.test', qtype: QTYPE.CNAME }, rcode: 0, aa: true, answers: ['web.example.test CNAME 3600 www.example.test'] },
    { title: 'wildcard synthesis owns the query name', q: { name: 'anything.wild.example.test' }, rcode: 0, aa: true, answers: ['anything.wild.example.test A 3600 192.0.2.80'] },
    { title: 'wildcard covers deeper names too', q: { name: 'x.y.wild.example.test', qtype: QTYPE.TXT }, rcode: 0, aa: true, answers: ['x.y.wild.example.test TXT 3600 wild'] },
    { title: 'wildcard does not override an existing name', q: { name: 'exists.wild.example.test' }, rcode: 0, aa: true, answers: [], authority: ['example.test SOA 300'] },
    { title: 'below an existing name no wildcard applies', q: { name: 'x.exists.wild.example.test' }, rcode: 3, aa: true, answers: [] },
    { title: 'empty non-terminal is NODATA, not NXDOMAIN', q: { name: 'b.deep.example.test' }, rcode: 0, aa: true, answers: [], authority: ['example.test SOA 300'] },
    { title: 'ENT parent too', q: { name: 'deep.example.test' }, rcode: 0, aa: true, answers: [] },
    { title: 'below an ENT with no data: NXDOMAIN', q: { name: 'x.b.deep.example.test' }, rcode: 3, aa: true, answers: [] },
    { title: 'delegation: referral with glue, AA clear', q: { name: 'sub.example.test' }, rcode: 0, aa: false, answers: [], authority: ['sub.example.test NS 3600 ns.sub.example.test'], additional: ['ns.sub.example.test A 3600 192.0.2.100'] },
    { title: 'names below a cut are referred, never answered', q: { name: 'ns.sub.example.test' }, rcode: 0, aa: false, answers: [], authority: ['sub.example.test NS 3600 ns.sub.example.test'] },
    { title: 'DS at the cut is the parent side: NODATA', q: { name: 'sub.example.test', qtype: QTYPE.DS }, rcode: 0, aa: true, answers: [], authority: ['example.test SOA 300'] },
    { title: 'MX with the exchange address in additional', q: { name: 'example.test', qtype: QTYPE.MX }, rcode: 0, aa: true, answers: ['example.test MX 3600 10 mail.example.test'], additional: ['mail.example.test A 3600 192.0.2.25'] },
    { title: 'apex NS with glue', q: { name: 'example.test', qtype: QTYPE.NS }, rcode: 0, aa: true, answers: ['example.test NS 3600 ns1.example.test', 'example.test NS 3600 ns2.example.test'], additional: ['ns1.example.test A 3600 192.0.2.53', 'ns2.example.test A 3600 192.0.2.54'] },
    { title: 'SOA at the apex', q: { name: 'example.test', qtype: QTYPE.SOA }, rcode: 0, aa: true, answers: ['example.test SOA 3600'] },
    { title: 'ANY gets one RRset (RFC 8482)', q: { name: 'www.example.test', qtype: QTYPE.ANY }, rcode: 0, aa: true, answers: ['www.example.test A 60 192.0.2.10', 'www.example.test A 60 192.0.2.11'] },
    { title: 'zone transfers are refused', q: { name: 'example.test', qtype: QTYPE.AXFR }, rcode: 5, aa: false, answers: [] },
    { title: 'other classes are refused', q: { name: 'www.example.test', qclass: 4 }, rcode: 5, aa: false, answers: [] },
  ];

  function show(rr: any): string {
    const type = rr.type === 1 ? 'A' : rr.type === 28 ? 'AAAA' : rr.type === 5 ? 'CNAME' : rr.type === 2 ? 'NS' : rr.type === 6 ? 'SOA' : rr.type === 15 ? 'MX' : rr.type === 16 ? 'TXT' : String(rr.type);
    const data = rr.address ?? rr.domain ?? rr.ns ?? (rr.exchange ? `${rr.priority} ${rr.exchange}` : undefined) ?? (Array.isArray(rr.data) ? rr.data.join('') : undefined);
    return [rr.name.toLowerCase(), type, rr.ttl, data].filter((x) => x !== undefined).join(' ');
  }

  it.each(cases)('$title', ({ q, rcode, aa, answers, authority, additional }) => {
    const { reply } = ask(q);
    expect(reply).toBeDefined();
    expect(reply!.qr).toBe(true);
    expect(reply!.ra).toBe(false);
    expect(reply!.rcode).toBe(rcode);
    expect(reply!.aa).toBe(aa);
    expect(reply!.answers.map(show)).toEqual(answers);
    if (authority) expect(reply!.authorities.map(show)).toEqual(authority);
    if (additional) expect(reply!.additionals.map(show)).toEqual(additional);
  });

  it('echoes the question name in the case it was sent (0x20)', () => {
    const { reply, raw } = ask({ name: 'WwW.ExAmPlE.tEsT' });
    expect(reply!.questions[0].name).toBe('WwW.ExAmPlE.tEsT');
    expect(reply!.answers[0].name).toBe('WwW.ExAmPlE.tEsT');
    expect(raw!.includes(Buffer.from('ExAmPlE', 'latin1'))).toBe(true);
  });

  it('keeps id and RD, never sets RA', () => {
    const { reply } = ask({ name: 'www.example.test', id: 0xbeef, rd: true });
    expect(reply!.id).toBe(0xbeef);
    expect(reply!.rd).toBe(true);
    const again = ask({ name: 'www.example.test', rd: false });
    expect(again.reply!.rd).toBe(false);
  });

  it('answers CHAOS id.server and hostname.bind with the node name', () => {
    for (const name of ['id.server', 'hostname.bind', 'ID.SERVER']) {
      const { reply } = ask({ name, qtype: QTYPE.TXT, qclass: 3 });
      expect(reply!.rcode).toBe(0);
      expect(reply!.answers[0].data).toEqual(['node-a']);
      expect(reply!.answers[0].class).toBe(3);
    }
    expect(ask({ name: 'version.bind', qtype: QTYPE.TXT, qclass: 3 }).reply!.rcode).toBe(5);
  });
});

describe('EDNS', () => {
  it('echoes OPT with our payload size 1232, version 0, and the DO bit', () => {
    const { reply } = ask({ name: 'www.example.test', edns: { udpSize: 4096, dnssecOk: true } });
    expect(reply!.opt).toBeDefined();
    expect(reply!.opt.class).toBe(1232);
    expect(reply!.opt.ttl >>> 16 & 0xff).toBe(0);
    expect(reply!.opt.ttl & 0x8000).toBe(0x8000);
  });

  it('has no OPT when the query had none', () => {
    expect(ask({ name: 'www.example.test' }).reply!.opt).toBeUndefined();
  });

  it('answers EDNS version 1 with BADVERS', () => {
    const { out } = ask({ name: 'www.example.test', edns: { version: 1 } });
    expect(out.rcode).toBe(16);
    const reply = decodeReply(out.reply!);
    expect(reply.answers).toEqual([]);
    expect(reply.rcode).toBe(16);
  });

  it('sets TC when the answer exceeds 512 octets without EDNS, and keeps the question', () => {
    const { reply, raw } = ask({ name: 'big.example.test' });
    expect(raw!.length).toBeLessThanOrEqual(512);
    expect(reply!.tc).toBe(true);
    expect(reply!.answers).toEqual([]);
    expect(reply!.questions[0].name).toBe('big.example.test');
  });

  it('sets TC and keeps OPT when the answer exceeds the advertised size', () => {
    const { reply, raw } = ask({ name: 'big.example.test', edns: { udpSize: 512 } });
    expect(raw!.length).toBeLessThanOrEqual(512);
    expect(reply!.tc).toBe(true);
    expect(reply!.opt).toBeDefined();
  });

  it('fits the whole RRset when the client allows it, and always over TCP', () => {
    expect(ask({ name: 'big.example.test', edns: { udpSize: 1232 } }).reply!.answers).toHaveLength(40);
    const tcp = ask({ name: 'big.example.test' }, true);
    expect(tcp.reply!.tc).toBe(false);
    expect(tcp.reply!.answers).toHaveLength(40);
  });

  it('echoes ECS with scope 0 for answers that do not depend on the client', () => {
    const { reply } = ask({ name: 'www.example.test', edns: { ecs: { family: 1, source: 24, address: [198, 51, 100] } } });
    expect(reply!.ecs).toMatchObject({ family: 1, sourcePrefixLength: 24, scopePrefixLength: 0, ip: '198.51.100.0' });
  });
});

describe('malformed and unusual packets', () => {
  const header = (flags: number, qd: number, an = 0, ns = 0, ar = 0) => [0xab, 0xcd, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, ns, 0, ar];
  const q = [...nameBytes('www.example.test'), 0, 1, 0, 1];
  const ecsQuery = (family: number, source: number, address: number[], len = 4 + address.length) =>
    Buffer.from([...header(0x0100, 1, 0, 0, 1), ...q, 0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 4 + len, 0, 8, 0, len, 0, family, source, 0, ...address]);

  const formerr: [string, Buffer][] = [
    ['no question', Buffer.from(header(0x0100, 0))],
    ['two questions', Buffer.from([...header(0x0100, 2), ...q, ...q])],
    ['question cut short', Buffer.from([...header(0x0100, 1), ...q.slice(0, 8)])],
    ['question type missing', Buffer.from([...header(0x0100, 1), ...nameBytes('www.example.test')])],
    ['compression pointer in the question', Buffer.from([...header(0x0100, 1), 0xc0, 0x0c, 0, 1, 0, 1])],
    ['label over 63 octets', Buffer.from([...header(0x0100, 1), 64, ...Array(64).fill(97), 0, 0, 1, 0, 1])],
    ['name over 255 octets', Buffer.from([...header(0x0100, 1), ...Array.from({ length: 5 }, () => [60, ...Array(60).fill(97)]).flat(), 0, 0, 1, 0, 1])],
    ['additional count past the end', Buffer.from([...header(0x0100, 1, 0, 0, 3), ...q])],
    ['ECS address longer than its prefix', ecsQuery(1, 24, [198, 51, 100, 7])],
    ['ECS address shorter than its prefix', ecsQuery(1, 24, [198, 51])],
    ['ECS bits beyond the prefix', ecsQuery(1, 20, [198, 51, 100 | 1])],
    ['ECS unknown family', ecsQuery(3, 8, [1])],
    ['ECS prefix too long for IPv4', ecsQuery(1, 33, [1, 2, 3, 4, 5])],
    ['ECS option too short', ecsQuery(1, 0, [], 2)],
    ['two OPT records', Buffer.from([...header(0x0100, 1, 0, 0, 2), ...q, 0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0, 0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0])],
  ];

  it.each(formerr)('FORMERR: %s', (_title, packet) => {
    const { out } = ask(packet);
    expect(out.reply).toBeDefined();
    expect(out.rcode).toBe(1);
    expect(out.reply!.readUInt16BE(0)).toBe(0xabcd);
    expect(out.reply![2] & 0x80).toBe(0x80);
    expect(out.reply![3] & 0x0f).toBe(1);
  });

  it('accepts ECS with a zero-length source prefix', () => {
    const { reply } = ask(ecsQuery(1, 0, []));
    expect(reply!.rcode).toBe(0);
    expect(reply!.ecs).toMatchObject({ sourcePrefixLength: 0, scopePrefixLength: 0 });
  });

  it('accepts an IPv6 ECS /56', () => {
    const { raw } = ask(ecsQuery(2, 56, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 1]));
    expect(raw![3] & 0x0f).toBe(0);
    // dns2 cannot decode an odd-length IPv6 ECS address, so read the option's tail bytes directly.
    const option = [0, 8, 0, 11, 0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 1];
    expect([...raw!.subarray(raw!.length - option.length)]).toEqual(option);
  });

  it.each([
    ['shorter than a header', Buffer.from([1, 2, 3])],
    ['empty', Buffer.alloc(0)],
    ['a response (QR set)', Buffer.from([...header(0x8100, 1), ...q])],
  ])('silence: %s', (_t, packet) => {
    expect(ask(packet).out.reply).toBeUndefined();
  });

  it.each([
    ['STATUS', 2],
    ['NOTIFY', 4],
    ['UPDATE', 5],
  ])('NOTIMP for opcode %s', (_t, opcode) => {
    const { out } = ask({ name: 'www.example.test', opcode });
    expect(out.rcode).toBe(4);
    expect((out.reply![2] >> 3) & 0xf).toBe(opcode);
  });

  it('survives random bytes without throwing', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const valid = buildQuery({ name: 'www.example.test', edns: { ecs: { family: 1, source: 24, address: [1, 2, 3] } } });
    for (let i = 0; i < 5000; i++) {
      const packet = i % 2 ? Buffer.from(Array.from({ length: Math.floor(rand() * 80) }, () => Math.floor(rand() * 256))) : Buffer.from(valid);
      if (i % 2 === 0) for (let k = 0; k < 3; k++) packet[Math.floor(rand() * packet.length)] = Math.floor(rand() * 256);
      const out = respond(snapshot, packet, '127.0.0.1', false, ctx);
      if (out.reply) {
        expect(out.reply.length).toBeGreaterThanOrEqual(12);
        expect(out.reply[2] & 0x80).toBe(0x80);
      }
    }
  });
});
