// Wire RDATA of record content: dns2's own codecs for the RFC 1035-era types (what we encode is what dns2 decodes), ours for the rest.
import dns2 from 'dns2';
import type { Writer } from 'dns2';
import type { RecordType } from './record-types.js';
import { fieldBytes, splitFields } from './character-string.js';
import { canonicalRecordType, ownRdata, parseContent } from './content.js';

interface Codec {
  encode(record: object, writer: Writer): void;
}

/** The types whose wire form dns2 writes; src/records/native-types.ts writes the others. */
type Dns2Type = Extract<RecordType, 'A' | 'AAAA' | 'NS' | 'CNAME' | 'PTR' | 'MX' | 'SRV' | 'TXT' | 'CAA'>;

// dns2's typings declare only the generic Resource codec; the per-type ones exist at runtime.
const CODECS = dns2.Packet.Resource as unknown as Readonly<Record<Dns2Type, Codec>>;

/** The fields dns2's codec for `type` reads, from canonical content. */
function dns2Record(type: Dns2Type, content: string): object {
  const parts = content.split(' ');
  switch (type) {
    case 'A':
    case 'AAAA':
      return { address: content };
    case 'NS':
      return { ns: content };
    case 'CNAME':
    case 'PTR':
      return { domain: content };
    case 'MX':
      return { priority: Number(parts[0]), exchange: parts[1] };
    case 'SRV':
      return { priority: Number(parts[0]), weight: Number(parts[1]), port: Number(parts[2]), target: parts[3] };
    case 'TXT':
      return { data: splitFields(content, 'TXT content').map((f) => Buffer.from(fieldBytes(f, 'TXT content'))) };
    case 'CAA': {
      const value = fieldBytes(splitFields(content, 'CAA content')[2], 'CAA content');
      return { flags: Number(parts[0]), tag: parts[1], value: Buffer.from(value).toString('latin1') };
    }
  }
}

/**
 * RDATA octets for `content` of `type`, names uncompressed. The content is validated first, so a bad
 * row from SQL throws LbdnsError('E_INPUT') here rather than going out on the wire.
 */
export function encodeRdata(type: string, content: string): Uint8Array {
  const t = canonicalRecordType(type);
  const canonical = parseContent(t, content).content;
  const own = ownRdata(t, canonical);
  if (own !== undefined) return own;
  const writer = new dns2.Packet.Writer();
  CODECS[t as Dns2Type].encode(dns2Record(t as Dns2Type, canonical), writer);
  return writer.toBuffer();
}
