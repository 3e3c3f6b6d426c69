// Reads an RFC 2136 UPDATE message into the store's terms: the zone, the prerequisites (§2.4) and the changes (§2.5).
import { QCLASS, QTYPE, RCODE } from '../core/constants.js';
import { LbdnsError } from '../errors.js';
import { canonicalRecordType, parseContent } from '../records/content.js';
import { genericText } from '../records/generic.js';
import type { Prerequisite, UpdateOperation } from '../store/store.js';
import { MalformedMessage, parseMessage, type MessageRecord } from './message.js';

export const OPCODE_UPDATE = 5;

/** RFC 2136 §2.2's rcodes beside RFC 1035's. */
export const UPDATE_RCODE = { ...RCODE, YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10 } as const;

/** RFC 2136 §1.3: class NONE, for "not in use" prerequisites and deleting one record. */
const CLASS_NONE = 254;
/** RFC 2181 §8: TTLs are 0..2^31-1. */
const MAX_TTL = 2147483647;

/** Why an update cannot be carried out as sent, with the rcode that says so. */
export class UpdateRefusal extends Error {
  constructor(
    readonly rcode: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ParsedUpdate {
  readonly zone: string;
  readonly prerequisites: readonly Prerequisite[];
  readonly operations: readonly UpdateOperation[];
}

/** Whether the header says UPDATE in a request (QR clear): 0x28 is opcode 5 in the third octet. */
export function isUpdate(packet: Uint8Array): boolean {
  return packet.length >= 12 && (packet[2] & 0xf8) === OPCODE_UPDATE << 3;
}

/** Whether the zone section's name is written out in full: nothing precedes it that a pointer could name (RFC 1035 §4.1.4). */
export function uncompressedZone(question: Uint8Array): boolean {
  for (let o = 0; o < question.length && question[o] !== 0; o += question[o] + 1) if (question[o] > 63) return false;
  return true;
}

type Part = number | 'name' | 'string';

/**
 * RDATA layouts of the types whose names a sender may compress (RFC 3597 §4: the RFC 1035 types; RP, AFSDB, RT, PX,
 * SRV and NAPTR too, which some senders compressed): each is rewritten with its names in full before it is read.
 */
const LAYOUTS: Readonly<Record<number, readonly Part[]>> = {
  2: ['name'], 3: ['name'], 4: ['name'], 5: ['name'], 7: ['name'], 8: ['name'], 9: ['name'], 12: ['name'],
  6: ['name', 'name', 20],
  14: ['name', 'name'], 17: ['name', 'name'],
  15: [2, 'name'], 18: [2, 'name'], 21: [2, 'name'],
  26: [2, 'name', 'name'],
  33: [6, 'name'],
  35: [4, 'string', 'string', 'string', 'name'],
};

const formerr = (message: string): UpdateRefusal => new UpdateRefusal(RCODE.FORMERR, message);

/** Copies the name at `at` (following compression pointers) into `out`; returns the offset after it in place. */
function copyName(buf: Uint8Array, at: number, out: number[]): number {
  let o = at;
  let end = -1;
  let octets = 1;
  for (let hops = 0; ; ) {
    if (o >= buf.length) throw formerr('a name in RDATA runs past the end');
    const len = buf[o];
    if (len === 0) break;
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= buf.length) throw formerr('a truncated compression pointer in RDATA');
      const target = ((len & 0x3f) << 8) | buf[o + 1];
      if (end === -1) end = o + 2;
      if (target >= o || ++hops > 127) throw formerr('a compression pointer in RDATA does not point backwards');
      o = target;
      continue;
    }
    if (len > 63) throw formerr('an unknown label type in RDATA');
    octets += len + 1;
    if (octets > 255 || o + 1 + len > buf.length) throw formerr('a name in RDATA is too long or runs past the end');
    for (let i = o; i <= o + len; i++) out.push(buf[i]);
    o += len + 1;
  }
  out.push(0);
  return end === -1 ? o + 1 : end;
}

/** The record's RDATA with every name written out in full. */
function rdataOf(buf: Uint8Array, rr: MessageRecord): Uint8Array {
  const layout = LAYOUTS[rr.type];
  if (layout === undefined) return buf.subarray(rr.rdStart, rr.rdEnd);
  const out: number[] = [];
  let o = rr.rdStart;
  for (const part of layout) {
    if (part === 'name') {
      o = copyName(buf, o, out);
    } else {
      const n = part === 'string' ? 1 + (buf[o] ?? 0) : part;
      if (o + n > rr.rdEnd) throw formerr(`${rr.name} type ${rr.type}: RDATA ends early`);
      for (let i = o; i < o + n; i++) out.push(buf[i]);
      o += n;
    }
    if (o > rr.rdEnd) throw formerr(`${rr.name} type ${rr.type}: RDATA ends early`);
  }
  if (o !== rr.rdEnd) throw formerr(`${rr.name} type ${rr.type}: RDATA has octets after its last field`);
  return Uint8Array.from(out);
}

/** An SOA's RDATA (names in full) as "mname rname serial refresh retry expire minimum", the store's form. */
function soaText(rdata: Uint8Array): string {
  const names: string[] = [];
  let o = 0;
  for (let n = 0; n < 2; n++) {
    const labels: string[] = [];
    for (; rdata[o] !== 0; o += rdata[o] + 1) labels.push(Buffer.from(rdata.subarray(o + 1, o + 1 + rdata[o])).toString('latin1').toLowerCase());
    o++;
    names.push(labels.join('.'));
  }
  const b = Buffer.from(rdata.buffer, rdata.byteOffset + o, 20);
  return [...names, ...[0, 4, 8, 12, 16].map((k) => b.readUInt32BE(k))].join(' ');
}

/** The stored spelling of a data type, SOA, or undefined for ANY; FORMERR for the other meta types (RFC 2136 §3.4.1.3). */
function typeOf(code: number, name: string): string | undefined {
  if (code === QTYPE.ANY) return undefined;
  if (code === QTYPE.SOA) return 'SOA';
  try {
    return canonicalRecordType(`TYPE${code}`);
  } catch (err) {
    if (err instanceof LbdnsError) throw formerr(`${name}: type ${code} is not a type a zone holds`);
    throw err;
  }
}

/** The canonical content of a record's RDATA; FORMERR when it is not valid for its type. */
function contentOf(buf: Uint8Array, rr: MessageRecord, type: string): string {
  const rdata = rdataOf(buf, rr);
  if (type === 'SOA') {
    if (rdata.length < 22) throw formerr(`${rr.name} SOA: RDATA too short`);
    return soaText(rdata);
  }
  try {
    return parseContent(type, genericText(rdata)).content;
  } catch (err) {
    if (err instanceof LbdnsError) throw formerr(`${rr.name} ${type}: ${err.message}`);
    throw err;
  }
}

const inZone = (name: string, zone: string): boolean => name === zone || name.endsWith(`.${zone}`);

/**
 * Parses an UPDATE (its TSIG already checked by the caller): the zone section names one zone of class IN (FORMERR
 * otherwise; another class is not ours: NOTAUTH), every prerequisite and change lies inside it (NOTZONE), and each
 * is one of the forms of RFC 2136 §2.4 and §2.5 (FORMERR). More than `maxRecords` of them: REFUSED.
 */
export function parseUpdate(packet: Uint8Array, maxRecords: number): ParsedUpdate {
  let msg;
  try {
    msg = parseMessage(packet);
  } catch (err) {
    if (err instanceof MalformedMessage) throw formerr(err.message);
    throw err;
  }
  if (msg.qname === undefined) throw formerr('no zone section');
  if (msg.qtype !== QTYPE.SOA) throw formerr('the zone section must ask type SOA');
  if (msg.qclass !== QCLASS.IN) throw new UpdateRefusal(UPDATE_RCODE.NOTAUTH, `class ${msg.qclass} is not served here`);
  const zone = msg.qname;
  const prereqs = msg.records.filter((r) => r.section === 'answer');
  const updates = msg.records.filter((r) => r.section === 'authority');
  if (prereqs.length + updates.length > maxRecords) {
    throw new UpdateRefusal(RCODE.REFUSED, `${prereqs.length + updates.length} records in one update (at most ${maxRecords})`);
  }
  const within = (rr: MessageRecord): void => {
    if (!inZone(rr.name, zone)) throw new UpdateRefusal(UPDATE_RCODE.NOTZONE, `${rr.name} is not in zone ${zone}`);
  };

  const prerequisites: Prerequisite[] = [];
  // §3.2.3: value-dependent prerequisites are compared as whole RRsets, so the records of one name and type gather.
  const equals = new Map<string, { name: string; type: string; contents: string[] }>();
  for (const rr of prereqs) {
    within(rr);
    if (rr.ttl !== 0) throw formerr(`prerequisite ${rr.name}: TTL must be 0`);
    const type = typeOf(rr.type, rr.name);
    const empty = rr.rdEnd === rr.rdStart;
    if (rr.cls === QCLASS.ANY || rr.cls === CLASS_NONE) {
      if (!empty) throw formerr(`prerequisite ${rr.name}: class ${rr.cls === QCLASS.ANY ? 'ANY' : 'NONE'} takes no RDATA`);
      const yes = rr.cls === QCLASS.ANY;
      if (type === undefined) prerequisites.push({ kind: yes ? 'name-in-use' : 'name-not-in-use', name: rr.name });
      else prerequisites.push({ kind: yes ? 'rrset-exists' : 'rrset-not-exists', name: rr.name, type });
    } else if (rr.cls === QCLASS.IN) {
      if (type === undefined) throw formerr(`prerequisite ${rr.name}: type ANY needs class ANY or NONE`);
      const key = `${rr.name} ${type}`;
      const set = equals.get(key) ?? { name: rr.name, type, contents: [] };
      equals.set(key, set);
      set.contents.push(contentOf(packet, rr, type));
    } else {
      throw formerr(`prerequisite ${rr.name}: class ${rr.cls}`);
    }
  }
  for (const e of equals.values()) prerequisites.push({ kind: 'rrset-equals', ...e });

  const operations: UpdateOperation[] = [];
  for (const rr of updates) {
    within(rr);
    const type = typeOf(rr.type, rr.name);
    if (rr.cls === QCLASS.IN) {
      if (type === undefined) throw formerr(`update ${rr.name}: type ANY cannot be added`);
      if (rr.ttl > MAX_TTL) throw formerr(`update ${rr.name} ${type}: TTL ${rr.ttl} above ${MAX_TTL}`);
      operations.push({ kind: 'add', name: rr.name, type, ttl: rr.ttl, content: contentOf(packet, rr, type) });
    } else if (rr.cls === QCLASS.ANY) {
      if (rr.ttl !== 0 || rr.rdEnd !== rr.rdStart) throw formerr(`update ${rr.name}: a deletion of class ANY takes TTL 0 and no RDATA`);
      operations.push(type === undefined ? { kind: 'delete-name', name: rr.name } : { kind: 'delete-rrset', name: rr.name, type });
    } else if (rr.cls === CLASS_NONE) {
      if (rr.ttl !== 0) throw formerr(`update ${rr.name}: a deletion of class NONE takes TTL 0`);
      if (type === undefined) throw formerr(`update ${rr.name}: type ANY cannot be deleted record by record`);
      operations.push({ kind: 'delete-rr', name: rr.name, type, content: contentOf(packet, rr, type) });
    } else {
      throw formerr(`update ${rr.name}: class ${rr.cls}`);
    }
  }
  return { zone, prerequisites, operations };
}
