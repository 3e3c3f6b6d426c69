// UpdateService over a scripted store: TSIG outcomes and signed replies, the store's answers as rcodes, and a flood that costs one key read and a bounded log.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LbdnsError } from '../../src/errors.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics } from '../../src/obs/metrics.js';
import type { TsigKey, UpdateOutcome, UpdateRequest } from '../../src/store/store.js';
import { findTsig, sign, TSIG_ERROR, verify } from '../../src/xfr/tsig.js';
import { UpdateService } from '../../src/xfr/update-service.js';
import { nameBytes } from '../helpers/wire.js';

const KEY: TsigKey = { name: 'acme', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 3).toString('base64') };
const NOW = 1_800_000_000_000;

/** An UPDATE of example.test adding one TXT at _acme-challenge.example.test. */
function updatePacket(id = 0x4242): Buffer {
  const rr = [...nameBytes('_acme-challenge.example.test'), 0, 16, 0, 1, 0, 0, 0, 60, 0, 4, 3, 0x61, 0x62, 0x63];
  return Buffer.from([id >> 8, id & 0xff, 0x28, 0, 0, 1, 0, 0, 0, 1, 0, 0, ...nameBytes('example.test'), 0, 6, 0, 1, ...rr]);
}

function setUp(outcome: (req: UpdateRequest) => Promise<UpdateOutcome>) {
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const calls = { keys: 0, updates: [] as UpdateRequest[] };
  const metrics = createMetrics();
  const service = new UpdateService({
    store: {
      tsigKeys: async () => {
        calls.keys++;
        return [KEY];
      },
      applyUpdate: (req) => {
        calls.updates.push(req);
        return outcome(req);
      },
    },
    metrics,
    log: createLogger('info', sink),
    now: () => NOW,
  });
  return { service, lines, calls, metrics };
}

const ok = async (): Promise<UpdateOutcome> => ({ result: 'ok', changed: 1, ignored: 0, serial: 7 });

/** The reply's rcode (header and TSIG error) and whether its TSIG verifies against the request's MAC. */
function read(reply: Buffer, request: Buffer) {
  const tsig = findTsig(reply);
  const verdict = tsig && tsig.mac.length > 0 ? verify(reply, tsig, (n) => (n === KEY.name ? KEY : undefined), NOW / 1000, findTsig(request)!.mac) : undefined;
  // A BADTIME reply is signed at the request's time (RFC 8945 §5.2.3): its MAC verifies, its time is as stale as that.
  const signed = verdict !== undefined && (verdict.ok || verdict.error === TSIG_ERROR.BADTIME);
  return { id: reply.readUInt16BE(0), opcode: (reply[2] >> 3) & 0xf, qr: (reply[2] & 0x80) !== 0, rcode: reply[3] & 0xf, tsigError: tsig?.error, signed };
}

describe('UpdateService', () => {
  it('applies a signed update and answers NOERROR signed with the key, the zone section echoed', async () => {
    const { service, calls, lines } = setUp(ok);
    const request = sign(updatePacket(), KEY, { time: NOW / 1000 }).message;
    const reply = (await service.handler(request, '127.0.0.1'))!;
    expect(read(reply, request)).toEqual({ id: 0x4242, opcode: 5, qr: true, rcode: 0, tsigError: 0, signed: true });
    expect(reply.readUInt16BE(4)).toBe(1);
    expect(calls.updates).toEqual([
      { key: 'acme', zone: 'example.test', prerequisites: [], operations: [{ kind: 'add', name: '_acme-challenge.example.test', type: 'TXT', ttl: 60, content: '"abc"' }] },
    ]);
    expect(lines.find((l) => l.msg === 'update applied')).toMatchObject({ zone: 'example.test', key: 'acme', changed: 1, serial: 7 });
  });

  it('refuses an unsigned update without reading keys or the store; a bad TSIG is NOTAUTH, BADTIME signed', async () => {
    const { service, calls } = setUp(ok);
    const unsigned = updatePacket();
    expect(read((await service.handler(unsigned, '127.0.0.1'))!, unsigned)).toMatchObject({ rcode: 5, tsigError: undefined });
    expect(calls.keys).toBe(0);
    const wrong = { ...KEY, secret: Buffer.alloc(32, 4).toString('base64') };
    const badSig = sign(updatePacket(), wrong, { time: NOW / 1000 }).message;
    expect(read((await service.handler(badSig, '127.0.0.1'))!, badSig)).toMatchObject({ rcode: 9, tsigError: TSIG_ERROR.BADSIG, signed: false });
    const stale = sign(updatePacket(), KEY, { time: NOW / 1000 - 301 }).message;
    expect(read((await service.handler(stale, '127.0.0.1'))!, stale)).toMatchObject({ rcode: 9, tsigError: TSIG_ERROR.BADTIME, signed: true });
    expect(calls.updates).toEqual([]);
  });

  it("answers the store's outcomes with their rcodes: prerequisites, refusals, a record the database refuses, a store that is down", async () => {
    const cases: [() => Promise<UpdateOutcome>, number, string][] = [
      [async () => ({ result: 'nxrrset', reason: 'prerequisite: x', changed: 0, ignored: 0 }), 8, 'update refused: prerequisite: x'],
      [async () => ({ result: 'yxdomain', reason: 'prerequisite: y', changed: 0, ignored: 0 }), 6, 'update refused: prerequisite: y'],
      [async () => ({ result: 'refused', reason: 'key acme may not update z TXT', changed: 0, ignored: 0 }), 5, 'update refused: key acme may not update z TXT'],
      [async () => ({ result: 'notauth', reason: 'zone example.test is not a zone of ours', changed: 0, ignored: 0 }), 9, 'update refused: zone example.test is not a zone of ours'],
      [() => Promise.reject(new LbdnsError('E_CONFLICT', 'record d: a name holds at most one DNAME')), 5, 'update refused: record d: a name holds at most one DNAME'],
      [() => Promise.reject(new LbdnsError('E_STORE', 'cannot reach PostgreSQL')), 2, 'update refused: store unavailable (cannot reach PostgreSQL)'],
    ];
    for (const [outcome, rcode, line] of cases) {
      const { service, lines, metrics } = setUp(outcome);
      const request = sign(updatePacket(), KEY, { time: NOW / 1000 }).message;
      expect(read((await service.handler(request, '127.0.0.1'))!, request)).toMatchObject({ rcode, signed: true });
      expect(lines.map((l) => l.msg)).toContain(line);
      const counted = (await metrics.updateRequests.get()).values.map((v) => v.labels);
      // A zone the store does not have is counted under "", as is a store that could not say.
      expect(counted[0].zone).toBe(rcode === 9 || rcode === 2 ? '' : 'example.test');
    }
  });

  it('a flood of updates signed with an unknown key reads the keys once and logs a bounded burst', async () => {
    const { service, calls, lines } = setUp(ok);
    const ghost = { ...KEY, name: 'ghost' };
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => service.handler(sign(updatePacket(i), ghost, { time: NOW / 1000 }).message, '198.51.100.7')));
    expect(replies.every((r) => r !== undefined && (r[3] & 0xf) === 9)).toBe(true);
    expect(calls.keys).toBe(1);
    expect(lines.filter((l) => l.msg === 'update refused: TSIG BADKEY').length).toBe(10);
    expect(calls.updates).toEqual([]);
  });

  it('answers a malformed update FORMERR without echoing what it could not read', async () => {
    const { service, calls, lines } = setUp(ok);
    // The zone name a pointer into the header: nothing there is a name.
    const pointer = Buffer.from([0x12, 0x34, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x04, 0, 6, 0, 1]);
    const truncated = updatePacket().subarray(0, 30);
    for (const packet of [pointer, truncated]) {
      const reply = (await service.handler(packet, '127.0.0.1'))!;
      expect({ id: reply.readUInt16BE(0), rcode: reply[3] & 0xf, qd: reply.readUInt16BE(4), length: reply.length }).toEqual({ id: packet.readUInt16BE(0), rcode: 1, qd: 0, length: 12 });
    }
    expect(lines.filter((l) => l.msg === 'update refused: malformed')).toHaveLength(2);
    expect(calls).toEqual({ keys: 0, updates: [] });
  });

  it('leaves every other packet alone', async () => {
    const { service } = setUp(ok);
    const query = Buffer.from(updatePacket());
    query[2] = 0x00;
    expect(await service.handler(query, '127.0.0.1')).toBeUndefined();
  });
});
