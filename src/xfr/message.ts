// Reads the records of a whole DNS message (compressed names included): what TSIG, IXFR and NOTIFY replies need.

export class MalformedMessage extends Error {}

export interface MessageRecord {
  readonly section: 'answer' | 'authority' | 'additional';
  /** Offset of the record's first octet (its owner name). */
  readonly start: number;
  /** Canonical owner name (lower case, no trailing dot). */
  readonly name: string;
  readonly type: number;
  readonly cls: number;
  readonly ttl: number;
  readonly rdStart: number;
  readonly rdEnd: number;
}

export interface ParsedMessage {
  readonly id: number;
  readonly flags: number;
  readonly opcode: number;
  readonly qname: string | undefined;
  readonly qtype: number | undefined;
  readonly qclass: number | undefined;
  /** Question section as sent. */
  readonly question: Uint8Array | undefined;
  readonly records: readonly MessageRecord[];
}

/** Reads a possibly compressed name at `start`; `end` is the offset after it in place. */
export function readName(buf: Uint8Array, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let o = start;
  let end = -1;
  let total = 1;
  for (let hops = 0; ; ) {
    if (o >= buf.length) throw new MalformedMessage('name runs past the end');
    const len = buf[o];
    if (len === 0) {
      if (end === -1) end = o + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (o + 1 >= buf.length) throw new MalformedMessage('truncated compression pointer');
      const target = ((len & 0x3f) << 8) | buf[o + 1];
      if (end === -1) end = o + 2;
      if (target >= o || ++hops > 127) throw new MalformedMessage('compression pointer does not point backwards');
      o = target;
      continue;
    }
    if (len > 63) throw new MalformedMessage('unknown label type');
    if (o + 1 + len > buf.length) throw new MalformedMessage('label runs past the end');
    total += len + 1;
    if (total > 255) throw new MalformedMessage('name longer than 255 octets');
    let label = '';
    for (let i = o + 1; i <= o + len; i++) {
      const c = buf[i];
      if (c >= 65 && c <= 90) label += String.fromCharCode(c + 32);
      else if (c > 32 && c < 127 && c !== 46 && c !== 92) label += String.fromCharCode(c);
      else label += '\\' + String(c).padStart(3, '0');
    }
    labels.push(label);
    o += len + 1;
  }
  return { name: labels.join('.'), end };
}

/** Parses header, question and every record; throws MalformedMessage. */
export function parseMessage(buf: Uint8Array): ParsedMessage {
  if (buf.length < 12) throw new MalformedMessage('shorter than a header');
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const id = view.readUInt16BE(0);
  const flags = view.readUInt16BE(2);
  const qd = view.readUInt16BE(4);
  const counts = [view.readUInt16BE(6), view.readUInt16BE(8), view.readUInt16BE(10)];
  let o = 12;
  let qname: string | undefined;
  let qtype: number | undefined;
  let qclass: number | undefined;
  let question: Uint8Array | undefined;
  if (qd > 1) throw new MalformedMessage(`${qd} questions`);
  if (qd === 1) {
    const n = readName(buf, o);
    if (n.end + 4 > buf.length) throw new MalformedMessage('question type/class missing');
    qname = n.name;
    qtype = view.readUInt16BE(n.end);
    qclass = view.readUInt16BE(n.end + 2);
    question = buf.subarray(o, n.end + 4);
    o = n.end + 4;
  }
  const sections = ['answer', 'authority', 'additional'] as const;
  const records: MessageRecord[] = [];
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s]; i++) {
      const start = o;
      const n = readName(buf, o);
      o = n.end;
      if (o + 10 > buf.length) throw new MalformedMessage('record header runs past the end');
      const rdStart = o + 10;
      const rdEnd = rdStart + view.readUInt16BE(o + 8);
      if (rdEnd > buf.length) throw new MalformedMessage('record data runs past the end');
      records.push({ section: sections[s], start, name: n.name, type: view.readUInt16BE(o), cls: view.readUInt16BE(o + 2), ttl: view.readUInt32BE(o + 4), rdStart, rdEnd });
      o = rdEnd;
    }
  }
  return { id, flags, opcode: (flags >> 11) & 0xf, qname, qtype, qclass, question, records };
}

/** The serial of an SOA record's RDATA (after two possibly compressed names). */
export function soaSerial(buf: Uint8Array, rr: MessageRecord): number {
  const mname = readName(buf, rr.rdStart);
  const rname = readName(buf, mname.end);
  if (rname.end + 20 > rr.rdEnd) throw new MalformedMessage('SOA data too short');
  return Buffer.from(buf.buffer, buf.byteOffset, buf.length).readUInt32BE(rname.end);
}
