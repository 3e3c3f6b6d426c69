// Builds query packets byte by byte (valid and deliberately broken) and decodes replies with dns2.
import dns2 from 'dns2';

export interface QueryOptions {
  id?: number;
  name: string;
  qtype?: number;
  qclass?: number;
  rd?: boolean;
  opcode?: number;
  edns?: { udpSize?: number; version?: number; dnssecOk?: boolean; ecs?: { family: number; source: number; address: number[]; scope?: number } };
}

export function nameBytes(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.').filter(Boolean)) {
    const b = Buffer.from(label, 'latin1');
    out.push(b.length, ...b);
  }
  out.push(0);
  return out;
}

export function buildQuery(o: QueryOptions): Buffer {
  const id = o.id ?? 0x1234;
  const flags = ((o.opcode ?? 0) << 11) | (o.rd === false ? 0 : 0x0100);
  const bytes: number[] = [id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, 1, 0, 0, 0, 0, 0, o.edns ? 1 : 0];
  const qtype = o.qtype ?? 1;
  const qclass = o.qclass ?? 1;
  bytes.push(...nameBytes(o.name), qtype >> 8, qtype & 0xff, qclass >> 8, qclass & 0xff);
  if (o.edns) {
    const e = o.edns;
    const size = e.udpSize ?? 1232;
    const opts: number[] = [];
    if (e.ecs) {
      const len = 4 + e.ecs.address.length;
      opts.push(0, 8, len >> 8, len & 0xff, e.ecs.family >> 8, e.ecs.family & 0xff, e.ecs.source, e.ecs.scope ?? 0, ...e.ecs.address);
    }
    bytes.push(0, 0, 41, size >> 8, size & 0xff, 0, e.version ?? 0, e.dnssecOk ? 0x80 : 0, 0, opts.length >> 8, opts.length & 0xff, ...opts);
  }
  return Buffer.from(bytes);
}

export interface DecodedReply {
  id: number;
  rcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  qr: boolean;
  questions: { name: string; type: number; class: number }[];
  answers: any[];
  authorities: any[];
  additionals: any[];
  opt: any | undefined;
  ecs: any | undefined;
}

export function decodeReply(buf: Uint8Array): DecodedReply {
  const p: any = (dns2 as any).Packet.parse(Buffer.from(buf));
  const opt = p.additionals.find((r: any) => r.type === 41);
  const ecs = opt?.rdata?.find((o: any) => o.ednsCode === 8);
  return {
    id: p.header.id,
    rcode: p.header.rcode,
    aa: !!p.header.aa,
    tc: !!p.header.tc,
    rd: !!p.header.rd,
    ra: !!p.header.ra,
    qr: !!p.header.qr,
    questions: p.questions,
    answers: p.answers,
    authorities: p.authorities,
    additionals: p.additionals.filter((r: any) => r.type !== 41),
    opt,
    ecs,
  };
}
