// RFC 2136 UPDATE parsing: messages the real nsupdate sends (names in RDATA compressed) and hand-made broken ones, each with its rcode.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/xfr/message.js';
import { isUpdate, parseUpdate, UpdateRefusal } from '../../src/xfr/update-message.js';
import { nameBytes } from '../helpers/wire.js';
import { need, onPath } from '../helpers/prerequisite.js';

const NSUPDATE = onPath('nsupdate');

let socket: dgram.Socket;
let port = 0;
const received: Buffer[] = [];

beforeAll(async () => {
  // A stand-in server: keeps each UPDATE and acknowledges it (QR set, NOERROR, the zone section only).
  socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    received.push(msg);
    const end = 12 + nameBytes('example.test').length + 4;
    const reply = Buffer.from(msg.subarray(0, end));
    reply[2] |= 0x80;
    reply[3] &= 0xf0;
    reply.fill(0, 6, 12);
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  port = socket.address().port;
});

afterAll(() => socket.close());

async function nsupdate(lines: string[]): Promise<Buffer> {
  received.length = 0;
  const child = execFile(NSUPDATE!, ['-t', '3']);
  child.stdin!.end([`server 127.0.0.1 ${port}`, 'zone example.test', ...lines, 'send', ''].join('\n'));
  await new Promise((r) => child.once('exit', r));
  expect(received).toHaveLength(1);
  return received[0];
}

interface Rr {
  name: string;
  type: number;
  cls: number;
  ttl?: number;
  rdata?: number[];
}

/** An UPDATE by hand: zone section, prerequisites, updates. */
function message(zone: { name: string; type?: number; cls?: number } | undefined, prereqs: Rr[], updates: Rr[]): Buffer {
  const rr = (r: Rr) => {
    const rd = r.rdata ?? [];
    const ttl = r.ttl ?? 0;
    return [...nameBytes(r.name), r.type >> 8, r.type & 0xff, r.cls >> 8, r.cls & 0xff, (ttl >>> 24) & 0xff, (ttl >> 16) & 0xff, (ttl >> 8) & 0xff, ttl & 0xff, rd.length >> 8, rd.length & 0xff, ...rd];
  };
  const head = [0x12, 0x34, 0x28, 0x00, 0, zone ? 1 : 0, 0, prereqs.length, 0, updates.length, 0, 0];
  const z = zone ? [...nameBytes(zone.name), 0, zone.type ?? 6, 0, zone.cls ?? 1] : [];
  return Buffer.from([...head, ...z, ...prereqs.flatMap(rr), ...updates.flatMap(rr)]);
}

function refusal(packet: Buffer, max = 1000): { rcode: number; message: string } | undefined {
  try {
    parseUpdate(packet, max);
    return undefined;
  } catch (err) {
    if (!(err instanceof UpdateRefusal)) throw err;
    return { rcode: err.rcode, message: err.message };
  }
}

describe('parseUpdate', () => {
  it('reads what nsupdate sends: every prerequisite form, adds with compressed names in RDATA, and the three deletions', async (ctx) => {
    need(ctx, NSUPDATE === undefined ? 'nsupdate is not installed (apt-get install bind9-dnsutils)' : undefined);
    const packet = await nsupdate([
      'prereq nxdomain new.example.test',
      'prereq yxdomain www.example.test',
      'prereq nxrrset www.example.test MX',
      'prereq yxrrset www.example.test AAAA',
      'prereq yxrrset www.example.test A 192.0.2.10',
      'prereq yxrrset www.example.test A 192.0.2.11',
      'update add new.example.test 60 TXT "hello world" "two"',
      'update add Alias2.Example.Test 300 CNAME www.example.test.',
      'update add example.test 60 MX 10 mail.example.test.',
      'update add _sip._tcp.example.test 60 SRV 0 5 5060 sip.example.test.',
      'update delete old.example.test A',
      'update delete gone.example.test',
      'update delete www.example.test A 192.0.2.11',
    ]);
    expect(isUpdate(packet)).toBe(true);
    expect(parseUpdate(packet, 1000)).toEqual({
      zone: 'example.test',
      prerequisites: [
        { kind: 'name-not-in-use', name: 'new.example.test' },
        { kind: 'name-in-use', name: 'www.example.test' },
        { kind: 'rrset-not-exists', name: 'www.example.test', type: 'MX' },
        { kind: 'rrset-exists', name: 'www.example.test', type: 'AAAA' },
        { kind: 'rrset-equals', name: 'www.example.test', type: 'A', contents: ['192.0.2.10', '192.0.2.11'] },
      ],
      operations: [
        { kind: 'add', name: 'new.example.test', type: 'TXT', ttl: 60, content: '"hello world" "two"' },
        { kind: 'add', name: 'alias2.example.test', type: 'CNAME', ttl: 300, content: 'www.example.test' },
        { kind: 'add', name: 'example.test', type: 'MX', ttl: 60, content: '10 mail.example.test' },
        { kind: 'add', name: '_sip._tcp.example.test', type: 'SRV', ttl: 60, content: '0 5 5060 sip.example.test' },
        { kind: 'delete-rrset', name: 'old.example.test', type: 'A' },
        { kind: 'delete-name', name: 'gone.example.test' },
        { kind: 'delete-rr', name: 'www.example.test', type: 'A', content: '192.0.2.11' },
      ],
    });
    // nsupdate compressed the CNAME target against the zone section: the parse above followed the pointer.
    const cname = parseMessage(packet).records.find((r) => r.type === 5)!;
    expect(cname.rdEnd - cname.rdStart).toBeLessThan(nameBytes('www.example.test').length);
    expect(packet[cname.rdEnd - 2] & 0xc0).toBe(0xc0);
  }, 30_000);

  it('answers each malformed or misplaced update with its rcode', () => {
    const Z = { name: 'example.test' };
    const txt = [3, 0x61, 0x62, 0x63];
    const cases: [Buffer, number, RegExp][] = [
      [message(undefined, [], []), 1, /no zone section/],
      [message({ name: 'example.test', type: 1 }, [], []), 1, /type SOA/],
      [message({ name: 'example.test', cls: 3 }, [], []), 9, /class 3 is not served here/],
      [message(Z, [{ name: 'www.example.test', type: 1, cls: 255, ttl: 5 }], []), 1, /TTL must be 0/],
      [message(Z, [{ name: 'www.example.test', type: 1, cls: 255, rdata: [192, 0, 2, 1] }], []), 1, /class ANY takes no RDATA/],
      [message(Z, [{ name: 'www.example.test', type: 255, cls: 1 }], []), 1, /type ANY needs class ANY or NONE/],
      [message(Z, [{ name: 'www.example.org', type: 1, cls: 255 }], []), 10, /www.example.org is not in zone example.test/],
      [message(Z, [], [{ name: 'x.example.test', type: 255, cls: 1, ttl: 60 }]), 1, /type ANY cannot be added/],
      [message(Z, [], [{ name: 'x.example.test', type: 252, cls: 255 }]), 1, /type 252 is not a type a zone holds/],
      [message(Z, [], [{ name: 'x.example.test', type: 16, cls: 255, ttl: 60 }]), 1, /takes TTL 0 and no RDATA/],
      [message(Z, [], [{ name: 'x.example.test', type: 16, cls: 254, ttl: 60, rdata: txt }]), 1, /class NONE takes TTL 0/],
      [message(Z, [], [{ name: 'x.example.test', type: 255, cls: 254 }]), 1, /record by record/],
      [message(Z, [], [{ name: 'x.example.test', type: 16, cls: 3, ttl: 60, rdata: txt }]), 1, /class 3/],
      [message(Z, [], [{ name: 'x.example.test', type: 1, cls: 1, ttl: 60, rdata: [192, 0, 2] }]), 1, /A RDATA must be 4 octets|A:/],
      [message(Z, [], [{ name: 'x.example.test', type: 16, cls: 1, ttl: 2 ** 31, rdata: txt }]), 1, /TTL 2147483648/],
      [message(Z, [], [{ name: 'x.example.test', type: 5, cls: 1, ttl: 60, rdata: [0xc0, 0x50] }]), 1, /does not point backwards/],
      [message(Z, [], [{ name: 'x.example.org', type: 16, cls: 1, ttl: 60, rdata: txt }]), 10, /not in zone/],
      [Buffer.from([0x12, 0x34, 0x28, 0, 0, 1, 0, 0, 0, 1, 0, 0, 7, 101]), 1, /runs past the end/],
    ];
    for (const [packet, rcode, why] of cases) {
      const r = refusal(packet);
      expect(r, String(why)).toBeDefined();
      expect(r!.rcode, r!.message).toBe(rcode);
      expect(r!.message).toMatch(why);
    }
    // More records than allowed: REFUSED before any is read.
    const many = Array.from({ length: 4 }, (_, i) => ({ name: `n${i}.example.test`, type: 16, cls: 1, ttl: 60, rdata: txt }));
    expect(refusal(message(Z, [], many), 3)).toEqual({ rcode: 5, message: '4 records in one update (at most 3)' });
    expect(refusal(message(Z, [], many), 4)).toBeUndefined();
  });

  it('tells UPDATE from other opcodes and from responses', () => {
    const m = message({ name: 'example.test' }, [], []);
    expect(isUpdate(m)).toBe(true);
    expect(isUpdate(Buffer.from([...m.subarray(0, 2), 0xa8, ...m.subarray(3)]))).toBe(false);
    expect(isUpdate(Buffer.from([...m.subarray(0, 2), 0x20, ...m.subarray(3)]))).toBe(false);
    expect(isUpdate(m.subarray(0, 11))).toBe(false);
  });
});
