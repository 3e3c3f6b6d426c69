// Writes replies to wire format: name compression, EDNS OPT with ECS, and truncation to the client's size.
import { EDNS_OPTION_ECS, EDNS_UDP_SIZE, QTYPE } from './constants.js';
import type { Answer, RR } from './answer.js';
import type { ClientSubnet, Query } from './query.js';

/** One reply is assembled here, then copied out: no per-query growth or re-allocation. */
const scratch = Buffer.alloc(65535 + 512);

/** Name suffixes a reply's compression table keeps in arrays before it needs a Map (most replies have under 10). */
const SMALL = 24;

class Writer {
  o = 0;
  /**
   * Lower-case name suffix → offset of its first label (RFC 1035 §4.1.4), filled on first need: the first SMALL in
   * two arrays reused by every reply (searched in order), any further ones in a Map made for the reply. Not one Map
   * cleared per reply: this writer lives in the old generation, and each clear() left a dead table there whose
   * slots still pointed at the reply's young name strings, so the young-generation collector kept and promoted
   * ~200 bytes of every reply's names until the next full collection (a full collection every ~1.5 s at 25,000
   * distinct names a second, each a pause of 3-11 ms).
   */
  readonly #suffixes: string[] = new Array<string>(SMALL).fill('');
  readonly #offsets = new Int32Array(SMALL);
  #count = 0;
  #more: Map<string, number> | undefined;
  /** The question's canonical name; owner names equal to it point at offset 12 and keep the asked case. */
  qname = '';
  #qStart = 12;
  #indexed = false;

  u8(v: number): void {
    scratch[this.o++] = v;
  }
  u16(v: number): void {
    scratch[this.o++] = v >>> 8;
    scratch[this.o++] = v & 0xff;
  }
  u32(v: number): void {
    scratch.writeUInt32BE(v >>> 0, this.o);
    this.o += 4;
  }
  bytes(b: Uint8Array): void {
    scratch.set(b, this.o);
    this.o += b.length;
  }

  /** Copies the question as sent; its name's suffixes are indexed only if another name needs them. */
  question(q: Uint8Array, qname: string): void {
    this.#count = 0;
    this.#more = undefined;
    this.#indexed = false;
    this.qname = qname;
    this.#qStart = this.o;
    this.bytes(q);
  }

  #indexQuestion(): void {
    this.#indexed = true;
    let o = this.#qStart;
    let rest = this.qname;
    while (scratch[o] !== 0 && rest !== '') {
      this.#remember(rest, o);
      o += scratch[o] + 1;
      const dot = rest.indexOf('.');
      rest = dot === -1 ? '' : rest.slice(dot + 1);
    }
  }

  #lookup(suffix: string): number | undefined {
    for (let i = 0; i < this.#count; i++) if (this.#suffixes[i] === suffix) return this.#offsets[i];
    return this.#more?.get(suffix);
  }

  #remember(suffix: string, at: number): void {
    if (this.#count < SMALL) {
      this.#suffixes[this.#count] = suffix;
      this.#offsets[this.#count++] = at;
    } else (this.#more ??= new Map()).set(suffix, at);
  }

  name(name: string): void {
    if (name === this.qname && name !== '') {
      this.u16(0xc000 | this.#qStart);
      return;
    }
    if (!this.#indexed) this.#indexQuestion();
    let rest = name;
    while (rest !== '') {
      const at = this.#lookup(rest);
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.o < 0x3fff) this.#remember(rest, this.o);
      const dot = rest.indexOf('.');
      const label = dot === -1 ? rest : rest.slice(0, dot);
      const n = scratch.write(label, this.o + 1, 'latin1');
      scratch[this.o] = n;
      this.o += n + 1;
      rest = dot === -1 ? '' : rest.slice(dot + 1);
    }
    this.u8(0);
  }

  rr(rr: RR): void {
    this.name(rr.name);
    this.u16(rr.type);
    this.u16(rr.cls);
    this.u32(rr.ttl);
    this.u16(rr.rdata.length);
    this.bytes(rr.rdata);
  }
}

function writeHeader(w: Writer, id: number, flags: number, qd: number, an: number, ns: number, ar: number): void {
  w.o = 0;
  w.u16(id);
  w.u16(flags);
  w.u16(qd);
  w.u16(an);
  w.u16(ns);
  w.u16(ar);
}

/** OPT pseudo-record (RFC 6891 §6.1.2) with ECS echoed at the given scope (RFC 7871 §7.2.1). */
function writeOpt(w: Writer, extRcode: number, dnssecOk: boolean, ecs: ClientSubnet | undefined, scope: number): void {
  w.u8(0);
  w.u16(QTYPE.OPT);
  w.u16(EDNS_UDP_SIZE);
  w.u8(extRcode >> 4);
  w.u8(0);
  w.u16(dnssecOk ? 0x8000 : 0);
  if (!ecs) {
    w.u16(0);
    return;
  }
  const octets = (ecs.sourcePrefix + 7) >> 3;
  w.u16(4 + 4 + octets);
  w.u16(EDNS_OPTION_ECS);
  w.u16(4 + octets);
  w.u16(ecs.family);
  w.u8(ecs.sourcePrefix);
  w.u8(Math.min(scope, ecs.sourcePrefix));
  for (let i = 0; i < octets; i++) w.u8(ecs.address[i]);
}

function flagsFor(query: { opcode: number; rd: boolean; cd?: boolean }, aa: boolean, tc: boolean, rcode: number): number {
  return 0x8000 | ((query.opcode & 0xf) << 11) | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) | (query.rd ? 0x0100 : 0) | (query.cd ? 0x0010 : 0) | (rcode & 0xf);
}

/** The largest reply a query may get: its EDNS size (never below 512, never above ours), 512 without EDNS, 64 KiB on TCP. */
export function replyLimit(query: Query | undefined, tcp: boolean): number {
  if (tcp) return 65535;
  const size = query?.edns?.udpSize ?? 0;
  return Math.min(Math.max(size, 512), EDNS_UDP_SIZE);
}

function writeAll(w: Writer, query: Query, ans: Answer, an: readonly RR[], ns: readonly RR[], ar: readonly RR[], tc: boolean): void {
  const edns = query.edns;
  writeHeader(w, query.id, flagsFor(query, ans.aa, tc, ans.rcode), 1, an.length, ns.length, ar.length + (edns ? 1 : 0));
  w.question(query.question, query.qname);
  for (const rr of an) w.rr(rr);
  for (const rr of ns) w.rr(rr);
  for (const rr of ar) w.rr(rr);
  if (edns) writeOpt(w, ans.rcode, edns.dnssecOk, edns.ecs, ans.ecsScope);
}

const writer = new Writer();
const NONE: readonly RR[] = Object.freeze([]) as readonly RR[];

/**
 * Encodes an answer. When it exceeds `limit`, optional additional records are dropped first;
 * if that is not enough (or required glue would be lost) TC is set and only the question and OPT
 * go out, so the client retries over TCP (RFC 2181 §9, RFC 9471).
 */
export function encodeAnswer(query: Query, ans: Answer, limit: number): Buffer {
  const w = writer;
  writeAll(w, query, ans, ans.answer, ans.authority, ans.additional, false);
  if (w.o > limit && ans.additional.length > 0) {
    writeAll(w, query, ans, ans.answer, ans.authority, NONE, false);
    if (w.o > limit || ans.glueRequired) writeAll(w, query, ans, NONE, NONE, NONE, true);
  } else if (w.o > limit) {
    writeAll(w, query, ans, NONE, NONE, NONE, true);
  }
  return Buffer.from(scratch.subarray(0, w.o));
}

/** A reply that carries only an rcode (FORMERR, NOTIMP, BADVERS…), the question when it was readable, and OPT when asked. */
export function encodeRcodeOnly(
  head: { id: number; opcode: number; rd: boolean; cd?: boolean },
  rcode: number,
  question: Uint8Array | undefined,
  edns: { dnssecOk: boolean } | undefined,
): Buffer {
  const w = writer;
  writeHeader(w, head.id, flagsFor(head, false, false, rcode), question ? 1 : 0, 0, 0, edns ? 1 : 0);
  if (question) w.bytes(question);
  if (edns) writeOpt(w, rcode, edns.dnssecOk, undefined, 0);
  return Buffer.from(scratch.subarray(0, w.o));
}
