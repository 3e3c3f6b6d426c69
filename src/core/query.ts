// Decodes a query message into a plain Query, strictly (RFC 1035 §4.1, RFC 6891, RFC 7871 §7.1.1).
//
// lbdns decodes queries itself rather than through dns2's Packet.parse: a reply needs the raw header
// to say FORMERR, ECS must be rejected for wrong address lengths and stray bits (which dns2 pads
// silently), and this runs once per query, so it allocates only the Query object.
import { EDNS_OPTION_ECS, OPCODE_QUERY, QTYPE, RCODE } from './constants.js';

export interface ClientSubnet {
  /** 1 = IPv4, 2 = IPv6 (IANA address family numbers). */
  readonly family: 1 | 2;
  readonly sourcePrefix: number;
  /** The address octets, zero-filled to 4 or 16. */
  readonly address: Uint8Array;
}

export interface Edns {
  readonly udpSize: number;
  readonly version: number;
  readonly dnssecOk: boolean;
  readonly ecs: ClientSubnet | undefined;
}

export interface Query {
  readonly id: number;
  readonly opcode: number;
  readonly rd: boolean;
  readonly cd: boolean;
  /** Canonical name: lower case, no trailing dot, odd octets as \DDD. */
  readonly qname: string;
  /** The question section exactly as sent (name in its original case, type, class). */
  readonly question: Uint8Array;
  readonly qtype: number;
  readonly qclass: number;
  readonly edns: Edns | undefined;
  /** Offset of a TSIG record (RFC 8945), the last of the message, when the query is signed: the edge verifies and signs. */
  readonly tsigStart?: number;
}

/** TSIG's type code (RFC 8945). */
const TYPE_TSIG = 250;

export type Decoded =
  | { readonly kind: 'query'; readonly query: Query }
  | {
      readonly kind: 'error';
      readonly rcode: number;
      readonly id: number;
      readonly opcode: number;
      readonly rd: boolean;
      readonly question: Uint8Array | undefined;
      /** Whether the reply should carry an OPT (the query had a readable one). */
      readonly edns: boolean;
      readonly reason: string;
    }
  | { readonly kind: 'drop'; readonly reason: string };

const MAX_NAME_WIRE = 255;

class FormErr extends Error {}

/** Whether a label byte can stand in the canonical text as itself (lower-case letters, digits, -, _ …). */
function plain(c: number): boolean {
  return c > 32 && c < 127 && c !== 46 && c !== 92 && !(c >= 65 && c <= 90);
}

/** Reads an uncompressed name (questions may not point backwards: nothing precedes them). */
function readQuestionName(buf: Uint8Array, start: number): { end: number; name: string } {
  let o = start;
  // First pass: bounds, and whether every octet is already canonical (the common case).
  let simple = true;
  for (;;) {
    if (o >= buf.length) throw new FormErr('question name runs past the end');
    const len = buf[o];
    if (len === 0) break;
    if (len > 63) throw new FormErr(len >= 0xc0 ? 'compression pointer in the question' : 'unknown label type');
    if (o + 1 + len > buf.length) throw new FormErr('label runs past the end');
    for (let i = o + 1; simple && i <= o + len; i++) if (!plain(buf[i])) simple = false;
    o += len + 1;
    if (o + 1 - start > MAX_NAME_WIRE) throw new FormErr('name longer than 255 octets');
  }
  const end = o + 1;
  if (end - start === 1) return { end, name: '' };
  if (simple) {
    // The wire form is the text with length octets where the dots go.
    const bytes = Buffer.from(buf.buffer, buf.byteOffset + start + 1, end - start - 2);
    let name = bytes.toString('latin1');
    let p = buf[start];
    while (p < bytes.length) {
      const next = bytes[p];
      name = name.slice(0, p) + '.' + name.slice(p + 1);
      p += next + 1;
    }
    return { end, name };
  }
  let name = '';
  for (o = start; buf[o] !== 0; o += buf[o] + 1) {
    if (name.length > 0) name += '.';
    for (let i = o + 1; i <= o + buf[o]; i++) {
      const c = buf[i];
      if (c >= 65 && c <= 90) name += String.fromCharCode(c + 32);
      else if (plain(c)) name += String.fromCharCode(c);
      else name += '\\' + String(c).padStart(3, '0');
    }
  }
  return { end, name };
}

/** Skips a possibly compressed name in a record; only bounds matter here. */
function skipName(buf: Uint8Array, start: number): number {
  let o = start;
  for (let guard = 0; guard < 128; guard++) {
    if (o >= buf.length) throw new FormErr('record name runs past the end');
    const len = buf[o];
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) {
      if (o + 2 > buf.length) throw new FormErr('truncated compression pointer');
      if ((((len & 0x3f) << 8) | buf[o + 1]) >= o) throw new FormErr('compression pointer does not point backwards');
      return o + 2;
    }
    if (len > 63) throw new FormErr('unknown label type');
    o += len + 1;
  }
  throw new FormErr('too many labels');
}

function u16(buf: Uint8Array, o: number): number {
  return (buf[o] << 8) | buf[o + 1];
}

function readEcs(buf: Uint8Array, o: number, len: number): ClientSubnet {
  if (len < 4) throw new FormErr(`ECS option of ${len} octets`);
  const family = u16(buf, o);
  const source = buf[o + 2];
  if (family !== 1 && family !== 2) throw new FormErr(`ECS family ${family}`);
  const width = family === 1 ? 4 : 16;
  if (source > width * 8) throw new FormErr(`ECS source prefix /${source} too long for the family`);
  const octets = (source + 7) >> 3;
  if (len - 4 !== octets) throw new FormErr(`ECS address of ${len - 4} octets for /${source}`);
  const address = new Uint8Array(width);
  for (let i = 0; i < octets; i++) address[i] = buf[o + 4 + i];
  if (source % 8 !== 0 && octets > 0 && (address[octets - 1] & (0xff >> source % 8)) !== 0) {
    throw new FormErr('ECS address has bits set beyond the source prefix');
  }
  return { family, sourcePrefix: source, address };
}

function failure(rcode: number, reason: string, id: number, opcode: number, rd: boolean, question: Uint8Array | undefined, edns: boolean): Decoded {
  return { kind: 'error', rcode, id, opcode, rd, question, edns, reason };
}

/** Decodes one DNS message received from a client. Never throws. */
export function decodeQuery(buf: Uint8Array): Decoded {
  if (buf.length < 12) return { kind: 'drop', reason: 'shorter than a header' };
  const id = u16(buf, 0);
  const flags = u16(buf, 2);
  if (flags & 0x8000) return { kind: 'drop', reason: 'a response, not a query' };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & 0x0100) !== 0;
  const cd = (flags & 0x0010) !== 0;
  const qdcount = u16(buf, 4);
  const ancount = u16(buf, 6);
  const nscount = u16(buf, 8);
  const arcount = u16(buf, 10);
  let question: Uint8Array | undefined;
  let sawOpt = false;
  try {
    if (qdcount !== 1) {
      if (opcode !== OPCODE_QUERY) return failure(RCODE.NOTIMP, `opcode ${opcode}`, id, opcode, rd, question, sawOpt);
      return failure(RCODE.FORMERR, `${qdcount} questions`, id, opcode, rd, question, sawOpt);
    }
    const { end, name } = readQuestionName(buf, 12);
    if (end + 4 > buf.length) throw new FormErr('question type/class missing');
    const qtype = u16(buf, end);
    const qclass = u16(buf, end + 2);
    question = buf.subarray(12, end + 4);
    if (opcode !== OPCODE_QUERY) return failure(RCODE.NOTIMP, `opcode ${opcode}`, id, opcode, rd, question, sawOpt);
    let o = end + 4;
    for (let i = 0; i < ancount + nscount; i++) {
      o = skipName(buf, o);
      if (o + 10 > buf.length) throw new FormErr('record header runs past the end');
      o += 10 + u16(buf, o + 8);
      if (o > buf.length) throw new FormErr('record data runs past the end');
    }
    let edns: Edns | undefined;
    let tsigStart: number | undefined;
    for (let i = 0; i < arcount; i++) {
      const nameStart = o;
      o = skipName(buf, o);
      if (o + 10 > buf.length) throw new FormErr('record header runs past the end');
      const type = u16(buf, o);
      const rdlen = u16(buf, o + 8);
      const rdStart = o + 10;
      const rdEnd = rdStart + rdlen;
      if (rdEnd > buf.length) throw new FormErr('record data runs past the end');
      // RFC 8945 §5.1: only as the last record.
      if (tsigStart !== undefined) throw new FormErr('TSIG is not the last record');
      if (type === TYPE_TSIG) tsigStart = nameStart;
      if (type === QTYPE.OPT) {
        if (sawOpt) throw new FormErr('more than one OPT record');
        if (o !== nameStart + 1) throw new FormErr('OPT owner is not the root');
        sawOpt = true;
        const udpSize = u16(buf, o + 2);
        const version = buf[o + 5];
        const dnssecOk = (buf[o + 6] & 0x80) !== 0;
        let ecs: ClientSubnet | undefined;
        for (let p = rdStart; p < rdEnd; ) {
          if (p + 4 > rdEnd) throw new FormErr('EDNS option header runs past the OPT data');
          const code = u16(buf, p);
          const len = u16(buf, p + 2);
          if (p + 4 + len > rdEnd) throw new FormErr('EDNS option runs past the OPT data');
          if (code === EDNS_OPTION_ECS) {
            if (ecs) throw new FormErr('more than one ECS option');
            ecs = readEcs(buf, p + 4, len);
          }
          p += 4 + len;
        }
        edns = { udpSize, version, dnssecOk, ecs };
      }
      o = rdEnd;
    }
    if (qtype === QTYPE.OPT) throw new FormErr('OPT is not a question type');
    return { kind: 'query', query: { id, opcode, rd, cd, qname: name, question, qtype, qclass, edns, tsigStart } };
  } catch (e) {
    if (e instanceof FormErr) return failure(RCODE.FORMERR, e.message, id, opcode, rd, question, sawOpt);
    throw e;
  }
}
