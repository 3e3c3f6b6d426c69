// Zone transfer messages (RFC 5936 AXFR, RFC 1995 IXFR): a zone's RRs in order, packed into size-bounded messages one at a time.
import { QCLASS, QTYPE } from './constants.js';
import type { RR } from './answer.js';
import type { Pool, Zone } from './snapshot.js';

/**
 * A message stays under this many octets before its TSIG: small enough that encoding one (~300 RRs, about
 * 0.2 ms) never holds up the UDP answers sharing the thread, large enough that a 100,000-record zone needs
 * about 250 messages. RFC 5936 §2.2 allows up to 65535; BIND sends 16 KiB ones by default too.
 */
export const TRANSFER_MESSAGE_SIZE = 16 * 1024;

/** The zone's SOA as one RR. */
export function soaRecord(zone: Zone): RR {
  return { name: zone.name, type: QTYPE.SOA, cls: QCLASS.IN, ttl: zone.soa.ttl, rdata: zone.soa.rdata[0] };
}

/**
 * Every RR of the zone for AXFR: the SOA, each RRset (glue and names below cuts included, RFC 5936 §3.1), each
 * pool's name as the RRsets `poolRecords` gives for it, and the SOA again (RFC 5936 §2.2).
 */
export function* zoneRecords(zone: Zone, poolRecords: (pool: Pool) => readonly RR[]): Generator<RR, void, undefined> {
  const soa = soaRecord(zone);
  yield soa;
  for (const node of zone.nodes.values()) {
    for (const set of node.rrsets.values()) {
      if (set.type === QTYPE.SOA) continue;
      for (const rdata of set.rdata) yield { name: node.name, type: set.type, cls: QCLASS.IN, ttl: set.ttl, rdata };
    }
    if (node.pool) yield* poolRecords(node.pool);
  }
  yield soa;
}

export interface TransferHead {
  readonly id: number;
  /** The question section as the client sent it. */
  readonly question: Uint8Array;
}

/**
 * Packs RRs into messages of at most `maxSize` octets. Owner names are compressed against earlier owners of the
 * same message; names inside RDATA are written as stored, uncompressed, which RFC 3597 §4 allows for every type
 * (and requires for all but the RFC 1035 ones). The question goes in the first message only (RFC 5936 §2.2.1).
 */
export class TransferEncoder {
  readonly #head: TransferHead;
  readonly #records: Iterator<RR>;
  readonly #maxSize: number;
  readonly #buf: Buffer;
  /** Lower-case name suffix → offset, for the message being written. */
  readonly #names = new Map<string, number>();
  #pending: RR | undefined;
  #first = true;
  #done = false;
  #o = 0;
  /** RRs written so far over all messages. */
  records = 0;
  messages = 0;

  constructor(head: TransferHead, records: Iterable<RR>, maxSize = TRANSFER_MESSAGE_SIZE) {
    this.#head = head;
    this.#records = records[Symbol.iterator]();
    this.#maxSize = Math.max(512, Math.min(maxSize, 65535));
    // One RR may carry 65535 octets of RDATA: room for the largest one after a full message.
    this.#buf = Buffer.alloc(this.#maxSize + 65535 + 1024);
  }

  /** The next message, or undefined once every RR has been sent. */
  next(): Buffer | undefined {
    if (this.#done) return undefined;
    const buf = this.#buf;
    this.#names.clear();
    this.#o = 12;
    let qd = 0;
    if (this.#first) {
      buf.set(this.#head.question, 12);
      this.#o += this.#head.question.length;
      qd = 1;
    }
    let an = 0;
    for (;;) {
      let rr = this.#pending;
      this.#pending = undefined;
      if (rr === undefined) {
        const r = this.#records.next();
        if (r.done) {
          this.#done = true;
          break;
        }
        rr = r.value;
      }
      const mark = this.#o;
      this.#rr(rr);
      if (this.#o > this.#maxSize && an > 0) {
        // Undo: the RR opens the next message, and names indexed inside it must not be pointed at.
        this.#o = mark;
        for (const [k, at] of this.#names) if (at >= mark) this.#names.delete(k);
        this.#pending = rr;
        break;
      }
      an++;
      if (this.#o >= this.#maxSize) break;
    }
    if (an === 0 && !this.#first) return undefined;
    this.#first = false;
    buf.writeUInt16BE(this.#head.id, 0);
    // QR and AA; opcode QUERY, rcode NOERROR.
    buf.writeUInt16BE(0x8400, 2);
    buf.writeUInt16BE(qd, 4);
    buf.writeUInt16BE(an, 6);
    buf.writeUInt16BE(0, 8);
    buf.writeUInt16BE(0, 10);
    this.records += an;
    this.messages++;
    return Buffer.from(buf.subarray(0, this.#o));
  }

  #name(name: string): void {
    const buf = this.#buf;
    let rest = name;
    while (rest !== '') {
      const at = this.#names.get(rest);
      if (at !== undefined) {
        buf.writeUInt16BE(0xc000 | at, this.#o);
        this.#o += 2;
        return;
      }
      if (this.#o < 0x3fff) this.#names.set(rest, this.#o);
      const dot = rest.indexOf('.');
      const label = dot === -1 ? rest : rest.slice(0, dot);
      const n = buf.write(label, this.#o + 1, 'latin1');
      buf[this.#o] = n;
      this.#o += n + 1;
      rest = dot === -1 ? '' : rest.slice(dot + 1);
    }
    buf[this.#o++] = 0;
  }

  #rr(rr: RR): void {
    const buf = this.#buf;
    this.#name(rr.name);
    buf.writeUInt16BE(rr.type, this.#o);
    buf.writeUInt16BE(rr.cls, this.#o + 2);
    buf.writeUInt32BE(rr.ttl >>> 0, this.#o + 4);
    buf.writeUInt16BE(rr.rdata.length, this.#o + 8);
    this.#o += 10;
    buf.set(rr.rdata, this.#o);
    this.#o += rr.rdata.length;
  }
}
