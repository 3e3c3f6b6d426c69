// Wire RDATA of record content, written by dns2's own codecs so that what we encode is what dns2 decodes.
import dns2 from 'dns2';
import type { Writer } from 'dns2';
import type { RecordType } from '../store/rows.js';
import { fieldBytes, splitFields } from './character-string.js';
import { parseContent } from './content.js';

interface Codec {
  encode(record: object, writer: Writer): void;
}

// dns2's typings declare only the generic Resource codec; the per-type ones exist at runtime.
const CODECS = dns2.Packet.Resource as unknown as Readonly<Record<RecordType, Codec>>;

/** The fields dns2's codec for `type` reads, from canonical content. */
function dns2Record(type: RecordType, content: string): object {
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
  const t = type.toUpperCase() as RecordType;
  const canonical = parseContent(t, content).content;
  const writer = new dns2.Packet.Writer();
  CODECS[t].encode(dns2Record(t, canonical), writer);
  return writer.toBuffer();
}
