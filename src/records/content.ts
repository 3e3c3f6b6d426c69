// Validates operator-typed record content per type and returns the canonical content string of src/store/rows.ts.
import { LbdnsError } from '../errors.js';
import { RECORD_TYPES, type RecordType } from '../store/rows.js';
import { fieldBytes, quoteBytes, splitFields, type Field } from './character-string.js';
import { parseDomainName } from './domain-name.js';
import { canonicalIPv6, parseIPv4 } from './ip-address.js';

export { encodeRdata } from './rdata.js';

/** RFC 1035 §3.3: a <character-string> is one length octet and that many octets. */
const MAX_STRING_OCTETS = 255;
const MAX_RDATA_OCTETS = 65535;
// RFC 8659 §4.1.1: tags are 1–15 ASCII letters and digits.
const CAA_TAG = /^[A-Za-z0-9]{1,15}$/;

type Parser = (text: string, origin: string | undefined) => string;

export function isRecordType(type: string): type is RecordType {
  return (RECORD_TYPES as readonly string[]).includes(type);
}

/** Quoted, shortened echo of operator input for error messages. */
function show(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

function fail(message: string): never {
  throw new LbdnsError('E_INPUT', message);
}

function uint(text: string, max: number, what: string): number {
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > max) fail(`${what} ${show(text)} is not a number from 0 to ${max}`);
  return Number(text);
}

/** Fields of a type whose RDATA holds no quoted strings, checking their number. */
function plainFields(type: RecordType, text: string, shape: string): string[] {
  const fields = text.split(/[ \t\r\n]+/).filter((f) => f !== '');
  if (fields.length !== shape.split(' ').length) fail(`${type} record content ${show(text)} must be "${shape}"`);
  return fields;
}

const target = (type: RecordType, root: boolean) => (text: string, origin: string | undefined): string =>
  parseDomainName(plainFields(type, text, 'name')[0], { origin, root }, `${type} record target`);

const PARSERS: Readonly<Record<RecordType, Parser>> = {
  A(text) {
    return parseIPv4(text) ?? fail(`A record content ${show(text)} is not an IPv4 address`);
  },
  AAAA(text) {
    return canonicalIPv6(text) ?? fail(`AAAA record content ${show(text)} is not an IPv6 address`);
  },
  CNAME: target('CNAME', false),
  NS: target('NS', false),
  PTR: target('PTR', false),
  MX(text, origin) {
    const [pref, exchange] = plainFields('MX', text, 'preference exchange');
    // "0 ." is a null MX (RFC 7505).
    return `${uint(pref, 65535, 'MX preference')} ${parseDomainName(exchange, { origin, root: true }, 'MX exchange')}`;
  },
  SRV(text, origin) {
    const [prio, weight, port, host] = plainFields('SRV', text, 'priority weight port target');
    const numbers = [uint(prio, 65535, 'SRV priority'), uint(weight, 65535, 'SRV weight'), uint(port, 65535, 'SRV port')];
    // Target "." means the service is decidedly not available (RFC 2782).
    return `${numbers.join(' ')} ${parseDomainName(host, { origin, root: true }, 'SRV target')}`;
  },
  TXT(text) {
    const what = `TXT record content ${show(text)}`;
    const strings = splitFields(text, what).map((f) => fieldBytes(f, what));
    if (strings.length === 0) fail('TXT record content is empty (write "" for an empty string)');
    for (const s of strings) {
      if (s.length > MAX_STRING_OCTETS) fail(`TXT string of ${s.length} octets exceeds ${MAX_STRING_OCTETS}`);
    }
    const octets = strings.reduce((n, s) => n + s.length + 1, 0);
    if (octets > MAX_RDATA_OCTETS) fail(`TXT record of ${octets} octets exceeds ${MAX_RDATA_OCTETS}`);
    return strings.map(quoteBytes).join(' ');
  },
  CAA(text) {
    const what = `CAA record content ${show(text)}`;
    const fields: Field[] = splitFields(text, what);
    if (fields.length !== 3 || fields[0].quoted || fields[1].quoted) {
      fail(`${what} must be 'flags tag "value"'`);
    }
    const flags = uint(fields[0].raw, 255, 'CAA flags');
    if (!CAA_TAG.test(fields[1].raw)) fail(`CAA tag ${show(fields[1].raw)} must be 1 to 15 letters or digits`);
    const value = fieldBytes(fields[2], what);
    // The value is printable ASCII for every tag RFC 8659 defines; dns2 writes it as UTF-8 text.
    if (value.some((b) => b < 0x20 || b > 0x7e)) fail(`CAA value ${show(fields[2].raw)} must be printable ASCII`);
    if (value.length + fields[1].raw.length + 2 > MAX_RDATA_OCTETS) fail(`${what} exceeds ${MAX_RDATA_OCTETS} octets`);
    return `${flags} ${fields[1].raw.toLowerCase()} ${quoteBytes(value)}`;
  },
};

/**
 * Canonical content for `type` from operator text. With `origin` (zone-file style, canonical)
 * names without a trailing dot are relative to it; without it every name is absolute.
 * Throws LbdnsError('E_INPUT') with one line naming the problem.
 */
export function parseContent(type: string, text: string, origin?: string): { content: string } {
  const t = type.toUpperCase();
  if (!isRecordType(t)) fail(`record type ${show(type)} is not supported (use one of ${RECORD_TYPES.join(', ')})`);
  const o = origin === undefined || origin === '.' ? origin : origin.toLowerCase().replace(/\.$/, '');
  return { content: PARSERS[t](text.trim(), o) };
}
