// TSIG (RFC 8945): verifies signed requests and signs responses, multi-message transfers chained MAC to MAC.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { nameToWire } from '../core/names.js';
import type { TsigAlgorithm, TsigKey } from '../store/transfer-queries.js';
import { MalformedMessage, parseMessage, readName } from './message.js';

export const TYPE_TSIG = 250;
const CLASS_ANY = 255;
/** RFC 8945 §10: 300 s is the recommended fudge. */
export const TSIG_FUDGE = 300;

/** TSIG error codes (RFC 8945 §3). */
export const TSIG_ERROR = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
export const RCODE_NOTAUTH = 9;

const HASH: Readonly<Record<TsigAlgorithm, { node: string; size: number }>> = {
  'hmac-sha256': { node: 'sha256', size: 32 },
  'hmac-sha512': { node: 'sha512', size: 64 },
  'hmac-sha1': { node: 'sha1', size: 20 },
};

export function isTsigAlgorithm(name: string): name is TsigAlgorithm {
  return Object.hasOwn(HASH, name);
}

/** The TSIG record of a message, read from its RDATA (RFC 8945 §4.2). */
export interface TsigRecord {
  /** Offset of the TSIG RR: the message signed is everything before it. */
  readonly start: number;
  readonly keyName: string;
  readonly algorithm: string;
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Buffer;
  readonly originalId: number;
  readonly error: number;
  readonly other: Buffer;
}

/** The message's TSIG (the last additional record), undefined when unsigned; throws MalformedMessage when misplaced or broken. */
export function findTsig(msg: Uint8Array): TsigRecord | undefined {
  const parsed = parseMessage(msg);
  const i = parsed.records.findIndex((r) => r.type === TYPE_TSIG);
  if (i === -1) return undefined;
  const rr = parsed.records[i];
  // RFC 8945 §5.1: the TSIG RR must be the last record of the additional section, and only one.
  if (i !== parsed.records.length - 1 || rr.section !== 'additional') throw new MalformedMessage('TSIG is not the last record');
  if (rr.cls !== CLASS_ANY || rr.ttl !== 0) throw new MalformedMessage('TSIG class or TTL');
  const b = Buffer.from(msg.buffer, msg.byteOffset, msg.length);
  const alg = readName(msg, rr.rdStart);
  let o = alg.end;
  if (o + 10 > rr.rdEnd) throw new MalformedMessage('TSIG data too short');
  const timeSigned = b.readUIntBE(o, 6);
  const fudge = b.readUInt16BE(o + 6);
  const macSize = b.readUInt16BE(o + 8);
  o += 10;
  if (o + macSize + 6 > rr.rdEnd) throw new MalformedMessage('TSIG MAC runs past its data');
  const mac = Buffer.from(b.subarray(o, o + macSize));
  o += macSize;
  const originalId = b.readUInt16BE(o);
  const error = b.readUInt16BE(o + 2);
  const otherLen = b.readUInt16BE(o + 4);
  o += 6;
  if (o + otherLen !== rr.rdEnd) throw new MalformedMessage('TSIG other data length');
  return { start: rr.start, keyName: rr.name, algorithm: alg.name, timeSigned, fudge, mac, originalId, error, other: Buffer.from(b.subarray(o, o + otherLen)) };
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

function u48(v: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUIntBE(v, 0, 6);
  return b;
}

/** RFC 8945 §4.3.3: the TSIG variables (all of them, or only the timers for later messages of a transfer). */
function variables(key: TsigKey, time: number, fudge: number, error: number, other: Buffer, timersOnly: boolean): Buffer[] {
  if (timersOnly) return [u48(time), u16(fudge)];
  const ttl = Buffer.alloc(4);
  return [nameToWire(key.name), u16(CLASS_ANY), ttl, nameToWire(key.algorithm), u48(time), u16(fudge), u16(error), u16(other.length), other];
}

function hmac(key: TsigKey, parts: readonly Uint8Array[]): Buffer {
  const h = createHmac(HASH[key.algorithm].node, Buffer.from(key.secret, 'base64'));
  for (const p of parts) h.update(p);
  return h.digest();
}

/** The message as it was before the TSIG was added: TSIG cut off, ARCOUNT one less, the original ID back (RFC 8945 §4.3.1). */
function unsigned(msg: Uint8Array, tsig: TsigRecord): Buffer {
  const m = Buffer.from(msg.subarray(0, tsig.start));
  m.writeUInt16BE(tsig.originalId, 0);
  m.writeUInt16BE(m.readUInt16BE(10) - 1, 10);
  return m;
}

export type Verdict =
  | { readonly ok: true; readonly key: TsigKey; readonly tsig: TsigRecord }
  /** key: set for BADTIME (the response is signed) and BADSIG/BADKEY responses go unsigned (RFC 8945 §5.3.2). */
  | { readonly ok: false; readonly error: number; readonly key: TsigKey | undefined; readonly tsig: TsigRecord };

/**
 * Checks a signed request (RFC 8945 §5.2): the key is known with that algorithm (else BADKEY), the MAC matches
 * (else BADSIG), the time is within the fudge (else BADTIME, checked last as §5.2.3 says). `priorMac` verifies a
 * signed response instead (the NOTIFY acknowledgements we receive).
 */
export function verify(msg: Uint8Array, tsig: TsigRecord, keyFor: (name: string) => TsigKey | undefined, nowSeconds: number, priorMac?: Buffer): Verdict {
  const key = keyFor(tsig.keyName);
  if (key === undefined || key.algorithm !== tsig.algorithm) return { ok: false, error: TSIG_ERROR.BADKEY, key: undefined, tsig };
  const expected = hmac(key, [...(priorMac ? [u16(priorMac.length), priorMac] : []), unsigned(msg, tsig), ...variables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other, false)]);
  // RFC 8945 §5.2.2.1: a truncated MAC must keep at least half the hash and 10 octets; we accept only whole ones
  // or such truncations, compared over the length sent.
  const size = tsig.mac.length;
  if (size > expected.length || size < Math.max(10, expected.length / 2) || !timingSafeEqual(tsig.mac, expected.subarray(0, size))) {
    return { ok: false, error: TSIG_ERROR.BADSIG, key: undefined, tsig };
  }
  if (Math.abs(nowSeconds - tsig.timeSigned) > tsig.fudge) return { ok: false, error: TSIG_ERROR.BADTIME, key, tsig };
  return { ok: true, key, tsig };
}

export interface SignOptions {
  /** The request's MAC (a response's first message) or the previous message's (later messages of a transfer). */
  readonly prior?: Buffer;
  /** Later messages of a multi-message response: only the timers are digested (RFC 8945 §5.3.1). */
  readonly timersOnly?: boolean;
  readonly time: number;
  readonly fudge?: number;
  readonly error?: number;
  /** BADTIME: the server's time (RFC 8945 §5.2.3). */
  readonly other?: Buffer;
}

/** Appends a TSIG RR signed with `key`; returns the signed message and its MAC (the next message's prior). */
export function sign(msg: Buffer, key: TsigKey, opts: SignOptions): { message: Buffer; mac: Buffer } {
  const fudge = opts.fudge ?? TSIG_FUDGE;
  const error = opts.error ?? 0;
  const other = opts.other ?? Buffer.alloc(0);
  const prior = opts.prior ? [u16(opts.prior.length), opts.prior] : [];
  const mac = hmac(key, [...prior, msg, ...variables(key, opts.time, fudge, error, other, opts.timersOnly === true)]);
  return { message: appendTsig(msg, key.name, key.algorithm, opts.time, fudge, mac, error, other), mac };
}

/** Appends a TSIG RR (signed or, with an empty MAC, the unsigned BADKEY/BADSIG form) and counts it in ARCOUNT. */
export function appendTsig(msg: Buffer, keyName: string, algorithm: string, time: number, fudge: number, mac: Buffer, error: number, other: Buffer): Buffer {
  const alg = nameToWire(algorithm);
  const rdata = Buffer.concat([alg, u48(time), u16(fudge), u16(mac.length), mac, u16(msg.readUInt16BE(0)), u16(error), u16(other.length), other]);
  const rr = Buffer.concat([nameToWire(keyName), u16(TYPE_TSIG), u16(CLASS_ANY), Buffer.alloc(4), u16(rdata.length), rdata]);
  const out = Buffer.concat([msg, rr]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

/**
 * A reply for a request whose TSIG failed, or was fine but the request is refused: `key` known, the reply is signed
 * with the request's MAC (BADTIME carries our clock in Other Data, RFC 8945 §5.2.3); unknown (BADKEY, BADSIG), the
 * error goes in an unsigned TSIG (§5.3.2).
 */
export function tsigReply(reply: Buffer, tsig: TsigRecord, error: number, key: TsigKey | undefined, nowSeconds: number): Buffer {
  if (key === undefined) return appendTsig(reply, tsig.keyName, tsig.algorithm, tsig.timeSigned, tsig.fudge, Buffer.alloc(0), error, Buffer.alloc(0));
  const badTime = error === TSIG_ERROR.BADTIME;
  return sign(reply, key, { prior: tsig.mac, time: badTime ? tsig.timeSigned : nowSeconds, error, other: badTime ? u48(nowSeconds) : undefined }).message;
}

/** A key's secret for BIND's key statement, as `lbdns tsig add` prints it. */
export function bindKeyText(key: TsigKey): string {
  return `key "${key.name}" {\n\talgorithm ${key.algorithm};\n\tsecret "${key.secret}";\n};`;
}

export function hashSize(algorithm: TsigAlgorithm): number {
  return HASH[algorithm].size;
}
