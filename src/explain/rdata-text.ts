// Presentation text of the RDATA the core answers with, for explain output (RFC 1035 §5; RFC 3597 for the rest).
import { QTYPE } from '../core/constants.js';
import { formatAddress } from '../geo/address.js';

/** Reads an uncompressed name (the snapshot holds RDATA as the codec wrote it, never compressed). */
function name(b: Uint8Array, at: number): { text: string; end: number } {
  const labels: string[] = [];
  let o = at;
  while (o < b.length && b[o] !== 0) {
    labels.push(Buffer.from(b.subarray(o + 1, o + 1 + b[o])).toString('latin1'));
    o += b[o] + 1;
  }
  return { text: `${labels.join('.')}.`, end: o + 1 };
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function strings(b: Uint8Array, from: number): string {
  const out: string[] = [];
  for (let o = from; o < b.length; o += b[o] + 1) {
    out.push(JSON.stringify(Buffer.from(b.subarray(o + 1, o + 1 + b[o])).toString('latin1')));
  }
  return out.join(' ');
}

export function rdataText(type: number, b: Uint8Array): string {
  try {
    switch (type) {
      case QTYPE.A:
        return formatAddress(4, b);
      case QTYPE.AAAA:
        return formatAddress(6, b);
      case QTYPE.NS:
      case QTYPE.CNAME:
      case QTYPE.PTR:
        return name(b, 0).text;
      case QTYPE.MX:
        return `${u16(b, 0)} ${name(b, 2).text}`;
      case QTYPE.SRV:
        return `${u16(b, 0)} ${u16(b, 2)} ${u16(b, 4)} ${name(b, 6).text}`;
      case QTYPE.TXT:
        return strings(b, 0);
      case QTYPE.SOA: {
        const m = name(b, 0);
        const r = name(b, m.end);
        const n = [0, 4, 8, 12, 16].map((k) => u32(b, r.end + k));
        return `${m.text} ${r.text} ${n.join(' ')}`;
      }
      case QTYPE.CAA: {
        const tagLen = b[1];
        const tag = Buffer.from(b.subarray(2, 2 + tagLen)).toString('latin1');
        return `${b[0]} ${tag} ${JSON.stringify(Buffer.from(b.subarray(2 + tagLen)).toString('latin1'))}`;
      }
    }
  } catch {
    // Fall through to the generic form.
  }
  return `\\# ${b.length} ${Buffer.from(b).toString('hex')}`;
}
