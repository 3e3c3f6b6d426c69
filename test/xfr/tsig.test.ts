// TSIG (RFC 8945) against the real dig in both directions: lbdns verifies what `dig -y` signs, and dig verifies what lbdns signs.
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TsigKey } from '../../src/store/transfer-queries.js';
import { findTsig, sign, TSIG_ERROR, tsigReply, verify } from '../../src/xfr/tsig.js';
import { onPath, underCi } from '../helpers/prerequisite.js';

const run = promisify(execFile);
const haveDig = onPath('dig') !== undefined;
if (!haveDig && underCi()) throw new Error('dig is missing, and CI must run this test');

const KEYS: TsigKey[] = [
  { name: 'test-key', algorithm: 'hmac-sha256', secret: Buffer.from('a secret of thirty-two octets!!!').toString('base64') },
  { name: 'test-key-512', algorithm: 'hmac-sha512', secret: Buffer.alloc(64, 0x5a).toString('base64') },
  { name: 'test-key-1', algorithm: 'hmac-sha1', secret: Buffer.alloc(20, 0x11).toString('base64') },
];
const keyFor = (name: string) => KEYS.find((k) => k.name === name);

/** What the fake server does with each query it gets: the reply to send back (or none). */
let answer: (query: Buffer) => Buffer | undefined = () => undefined;
const received: Buffer[] = [];
let socket: dgram.Socket;
let port = 0;

beforeAll(async () => {
  socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    received.push(msg);
    const reply = answer(msg);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  port = socket.address().port;
});

afterAll(() => socket.close());

/** A NOERROR reply with no records to `query`, which is the message up to its TSIG. */
function emptyReply(query: Buffer, tsigStart: number): Buffer {
  const r = Buffer.from(query.subarray(0, tsigStart));
  r[2] |= 0x84;
  r.writeUInt16BE(0, 10);
  // Drop any OPT dig added: the question is all we keep.
  let o = 12;
  while (r[o] !== 0) o += r[o] + 1;
  return r.subarray(0, o + 5);
}

async function digSigned(key: TsigKey, extra: string[] = []): Promise<string> {
  const r = await run('dig', ['@127.0.0.1', '-p', String(port), '+time=2', '+tries=1', '+noedns', '-y', `${key.algorithm}:${key.name}:${key.secret}`, 'example.test', 'SOA', ...extra]).catch((e) => e);
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

describe.skipIf(!haveDig)('TSIG with dig', () => {
  for (const key of KEYS) {
    it(`${key.algorithm}: verifies dig's signed query, and dig verifies the signed reply`, async () => {
      let verdict: ReturnType<typeof verify> | undefined;
      answer = (q) => {
        const tsig = findTsig(q)!;
        verdict = verify(q, tsig, keyFor, Math.floor(Date.now() / 1000));
        return sign(emptyReply(q, tsig.start), key, { prior: tsig.mac, time: Math.floor(Date.now() / 1000) }).message;
      };
      const out = await digSigned(key);
      expect(verdict?.ok).toBe(true);
      expect(out).toMatch(/status: NOERROR/);
      expect(out).toMatch(new RegExp(`${key.name}\\.\\s+0\\s+ANY\\s+TSIG\\s+${key.algorithm}\\.`));
      expect(out).not.toMatch(/Couldn't verify|failed|tsig indicates error/i);
    });
  }

  it('dig refuses a reply signed with another secret, and lbdns a query whose MAC or time is off', async () => {
    const key = KEYS[0];
    const wrong: TsigKey = { ...key, secret: Buffer.alloc(32, 9).toString('base64') };
    answer = (q) => {
      const tsig = findTsig(q)!;
      return sign(emptyReply(q, tsig.start), wrong, { prior: tsig.mac, time: Math.floor(Date.now() / 1000) }).message;
    };
    expect(await digSigned(key)).toMatch(/Couldn't verify|expected a TSIG|failure/i);
    const q = received.at(-1)!;
    const tsig = findTsig(q)!;
    const now = Math.floor(Date.now() / 1000);
    expect(verify(q, tsig, keyFor, now).ok).toBe(true);
    // RFC 8945 §5.2.3: outside the fudge (300 s) is BADTIME, checked after the MAC.
    expect(verify(q, tsig, keyFor, now + 301)).toMatchObject({ ok: false, error: TSIG_ERROR.BADTIME });
    expect(verify(q, tsig, (n) => (n === key.name ? wrong : undefined), now)).toMatchObject({ ok: false, error: TSIG_ERROR.BADSIG });
    expect(verify(q, tsig, () => undefined, now)).toMatchObject({ ok: false, error: TSIG_ERROR.BADKEY });
    const flipped = Buffer.from(q);
    flipped[12 + 1] ^= 0x20; // one bit of the question name: the MAC no longer matches
    expect(verify(flipped, findTsig(flipped)!, keyFor, now)).toMatchObject({ ok: false, error: TSIG_ERROR.BADSIG });
  });

  it('dig reads the BADKEY and BADTIME errors lbdns answers with', async () => {
    const key = KEYS[0];
    answer = (q) => {
      const tsig = findTsig(q)!;
      const r = emptyReply(q, tsig.start);
      r.writeUInt16BE((r.readUInt16BE(2) & 0xfff0) | 9, 2);
      return tsigReply(r, tsig, TSIG_ERROR.BADKEY, undefined, Math.floor(Date.now() / 1000));
    };
    expect(await digSigned(key)).toMatch(/BADKEY/);
    answer = (q) => {
      const tsig = findTsig(q)!;
      const r = emptyReply(q, tsig.start);
      r.writeUInt16BE((r.readUInt16BE(2) & 0xfff0) | 9, 2);
      return tsigReply(r, tsig, TSIG_ERROR.BADTIME, key, Math.floor(Date.now() / 1000) + 1000);
    };
    expect(await digSigned(key)).toMatch(/BADTIME/);
  });
});

describe('TSIG digest layout (RFC 8945 §4.3)', () => {
  it('a request MAC is HMAC(message without TSIG, original ID, ARCOUNT-1 + key name, class ANY, TTL 0, algorithm, time, fudge, error, other)', () => {
    const key = KEYS[0];
    const msg = Buffer.from('123401000001000000000000076578616d706c6504746573740000060001', 'hex');
    const time = 1_700_000_000;
    const { message, mac } = sign(msg, key, { time });
    const vars = Buffer.concat([
      Buffer.from('08746573742d6b657900', 'hex'), // test-key.
      Buffer.from('00ff00000000', 'hex'), // class ANY, TTL 0
      Buffer.from('0b686d61632d73686132353600', 'hex'), // hmac-sha256.
      Buffer.from('00006553f100', 'hex'), // time signed (48 bits)
      Buffer.from('012c', 'hex'), // fudge 300
      Buffer.from('00000000', 'hex'), // error 0, other length 0
    ]);
    const expected = createHmac('sha256', Buffer.from(key.secret, 'base64')).update(msg).update(vars).digest();
    expect(mac.toString('hex')).toBe(expected.toString('hex'));
    expect(message.readUInt16BE(10)).toBe(1);
    const tsig = findTsig(message)!;
    expect(tsig).toMatchObject({ keyName: 'test-key', algorithm: 'hmac-sha256', timeSigned: time, fudge: 300, originalId: 0x1234, error: 0 });
    expect(verify(message, tsig, keyFor, time).ok).toBe(true);
  });

  it('later messages of a transfer digest the prior MAC, the message and the timers only (RFC 8945 §5.3.1)', () => {
    const key = KEYS[0];
    const prior = Buffer.alloc(32, 0xab);
    const msg = Buffer.from('1234840000000001000000000000010001000000000004c0000201', 'hex');
    const { mac } = sign(msg, key, { prior, timersOnly: true, time: 1_700_000_000 });
    const expected = createHmac('sha256', Buffer.from(key.secret, 'base64'))
      .update(Buffer.from('0020', 'hex'))
      .update(prior)
      .update(msg)
      .update(Buffer.from('00006553f100012c', 'hex'))
      .digest();
    expect(mac.equals(expected)).toBe(true);
  });
});
