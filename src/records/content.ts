// Validates operator-typed record content per type and returns the canonical content string of ./record-rows.ts.
import { QTYPE } from '../core/constants.js';
import { LbdnsError } from '../errors.js';
import { RECORD_TYPES, type RecordType } from './record-types.js';
import { fieldBytes, quoteBytes, splitFields, type Field } from './character-string.js';
import { parseDomainName } from './domain-name.js';
import { genericText, isGeneric, parseGeneric } from './generic.js';
import { canonicalIPv6, parseIPv4 } from './ip-address.js';
import { DNS2_TYPE_TEXT, NATIVE_CODECS, type NativeType } from './native-types.js';

export { encodeRdata } from './rdata.js';

/** RFC 1035 §3.3: a <character-string> is one length octet and that many octets. */
const MAX_STRING_OCTETS = 255;
const MAX_RDATA_OCTETS = 65535;
// RFC 8659 §4.1.1: tags are 1–15 ASCII letters and digits.
const CAA_TAG = /^[A-Za-z0-9]{1,15}$/;

type Parser = (text: string, origin: string | undefined) => string;

/** The types that dns2 encodes; the rest of RECORD_TYPES have codecs of our own. */
type Dns2Type = Exclude<RecordType, NativeType>;

export function isRecordType(type: string): type is RecordType {
  return (RECORD_TYPES as readonly string[]).includes(type);
}

export function isNativeType(type: string): type is NativeType {
  return Object.hasOwn(NATIVE_CODECS, type);
}

const CODE_TO_TYPE: ReadonlyMap<number, RecordType> = new Map(RECORD_TYPES.map((t) => [(QTYPE as Record<string, number>)[t], t]));

/**
 * Types that hold no zone data: SOA is the zone's own row; OPT and 128–255 (TKEY, TSIG, IXFR, AXFR, MAILB, MAILA,
 * ANY) are meta and query types (RFC 6895 §3.1); 0 is reserved.
 */
const notData = (code: number): boolean => code === 0 || code === QTYPE.SOA || code === QTYPE.OPT || (code >= 128 && code <= 255);

/**
 * The stored spelling of a record type: a mnemonic lbdns knows, else RFC 3597 "TYPEnnn" (TYPE1 becomes A).
 * Throws LbdnsError('E_INPUT') for other mnemonics and for types that are not data.
 */
export function canonicalRecordType(text: string): string {
  const upper = text.toUpperCase();
  if (isRecordType(upper)) return upper;
  const m = /^TYPE([0-9]{1,5})$/.exec(upper);
  if (m === null || Number(m[1]) > 65535) {
    fail(`record type ${show(text)} is not supported (use one of ${RECORD_TYPES.join(', ')}, or TYPEnnn with RFC 3597 content "\\# length hex")`);
  }
  const code = Number(m[1]);
  if (notData(code)) fail(`record type ${show(text)} is not a data type a zone can hold`);
  return CODE_TO_TYPE.get(code) ?? `TYPE${code}`;
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

const PARSERS: Readonly<Record<Dns2Type, Parser>> = {
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

/** Canonical content of wire RDATA of `type` (a canonical type spelling), for RFC 3597 input. */
function contentOfWire(type: string, rdata: Uint8Array): string {
  if (isNativeType(type)) return NATIVE_CODECS[type].toText(rdata, false);
  if (isRecordType(type)) return PARSERS[type as Dns2Type](DNS2_TYPE_TEXT[type](rdata), undefined);
  return genericText(rdata);
}

/**
 * Canonical content for `type` from operator text. With `origin` (zone-file style, canonical)
 * names without a trailing dot are relative to it; without it every name is absolute.
 * Any type also takes RFC 3597 "\# length hex" text; known types are turned into their own form.
 * Throws LbdnsError('E_INPUT') with one line naming the problem.
 */
export function parseContent(type: string, text: string, origin?: string): { content: string } {
  const t = canonicalRecordType(type);
  const o = origin === undefined || origin === '.' ? origin : origin.toLowerCase().replace(/\.$/, '');
  const body = text.trim();
  const what = `${t} record content ${show(body)}`;
  if (body.startsWith('\\#')) {
    const fields = splitFields(body, what);
    if (isGeneric(fields)) return { content: contentOfWire(t, parseGeneric(fields, `${t} record`)) };
  }
  if (isNativeType(t)) {
    const codec = NATIVE_CODECS[t];
    return { content: codec.toText(codec.fromText(splitFields(body, what), o), false) };
  }
  if (isRecordType(t)) return { content: PARSERS[t as Dns2Type](body, o) };
  return fail(`${t} record content must be RFC 3597 generic text "\\# length hex" (e.g. "\\# 4 c0000201"), not ${show(body)}`);
}

/** Wire RDATA of canonical content of a type with a codec of our own or of a TYPEnnn; undefined for dns2's types. */
export function ownRdata(type: string, content: string): Uint8Array | undefined {
  const fields = splitFields(content, `${type} content`);
  if (isNativeType(type)) return NATIVE_CODECS[type].fromText(fields, undefined);
  if (isRecordType(type)) return undefined;
  return parseGeneric(fields, `${type} record`);
}

/** Zone-file text of canonical content of a type with a codec of our own: names absolute, with their trailing dot. */
export function nativeFileText(type: NativeType, content: string): string {
  const codec = NATIVE_CODECS[type];
  return codec.toText(codec.fromText(splitFields(content, `${type} content`), undefined), true);
}
