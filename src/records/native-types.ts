// Presentation text ↔ wire RDATA for the types dns2 has no codec for (RFC 1035, 1183, 1876, 3403, 4034, 4255, 4398,
// 6672, 6698, 7553, 7929, 8078, 8162, 9460), and wire → text for every type lbdns knows, for RFC 3597 input.
import { formatIPv6Groups } from './ip-address.js';
import { fieldBytes, quoteBytes, type Field } from './character-string.js';
import { locFromText, locToText } from './loc.js';
import { svcbFromText, svcbToText } from './svcb.js';
import { RdataReader, RdataWriter } from './wire.js';
import { base64, base64Fields, codeField, fail, hex, hexFields, nameField, nameText, show, stringField, uintField } from './text-fields.js';

export interface Codec {
  /** Wire RDATA from presentation fields; relative names hang from `origin`. Throws E_INPUT with one line. */
  fromText(fields: readonly Field[], origin: string | undefined): Uint8Array;
  /** Canonical text of wire RDATA, checking it; with `file`, names are absolute with their trailing dot. */
  toText(rdata: Uint8Array, file: boolean): string;
}

/** RFC 8624 §3.1 (and the IANA DNSSEC algorithm registry): mnemonics accepted where an algorithm number goes. */
const DNSSEC_ALGORITHMS: Readonly<Record<string, number>> = {
  RSAMD5: 1, DH: 2, DSA: 3, RSASHA1: 5, 'DSA-NSEC3-SHA1': 6, 'RSASHA1-NSEC3-SHA1': 7, RSASHA256: 8, RSASHA512: 10,
  'ECC-GOST': 12, ECDSAP256SHA256: 13, ECDSAP384SHA384: 14, ED25519: 15, ED448: 16, INDIRECT: 252, PRIVATEDNS: 253, PRIVATEOID: 254,
};
/** RFC 4398 §2.1 certificate types. */
const CERT_TYPES: Readonly<Record<string, number>> = { PKIX: 1, SPKI: 2, PGP: 3, IPKIX: 4, ISPKI: 5, IPGP: 6, ACPKIX: 7, IACPKIX: 8, URI: 253, OID: 254 };
/** Digest lengths by digest type: DS (RFC 4509, 5933, 6605), SSHFP (RFC 4255, 6594), TLSA/SMIMEA (RFC 6698 §2.1.3). */
const DS_DIGEST_OCTETS: Readonly<Record<number, number>> = { 1: 20, 2: 32, 3: 32, 4: 48 };
const SSHFP_OCTETS: Readonly<Record<number, number>> = { 1: 20, 2: 32 };
const TLSA_OCTETS: Readonly<Record<number, number>> = { 1: 32, 2: 64 };

function count(type: string, fields: readonly Field[], n: number, shape: string): void {
  if (fields.length !== n) fail(`${type} record content must be "${shape}"`);
}

function digestLength(what: string, kind: number, octets: number, table: Readonly<Record<number, number>>, fault: (m: string) => never): void {
  const want = table[kind];
  if (want !== undefined && octets !== want) fault(`${what} of type ${kind} must be ${want} octets, not ${octets}`);
}

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** RFC 3402 §3.2: empty, or delim ERE delim replacement delim [i], the delimiter neither a digit, "\" nor "i". */
function regexpProblem(re: Uint8Array): string | undefined {
  if (re.length === 0) return undefined;
  const s = latin1(re);
  const delim = s[0];
  if (/[0-9\\i]/.test(delim)) return 'starts with a digit, "\\" or "i" where the delimiter goes';
  let seen = 1;
  let i = 1;
  for (; i < s.length && seen < 3; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === delim) seen++;
  }
  if (seen < 3 || !/^i?$/.test(s.slice(i))) return 'is not "delim ERE delim replacement delim [i]"';
  return undefined;
}

const target = (type: string, root: boolean): Codec => ({
  fromText(fields, origin) {
    count(type, fields, 1, 'name');
    return new RdataWriter().name(nameField(fields[0], origin, root, `${type} target`)).done();
  },
  toText(rdata, file) {
    const r = new RdataReader(rdata, type);
    const name = r.name();
    r.end();
    if (name === '.' && !root) r.fail('holds the root, which is not allowed here');
    return nameText(name, file);
  },
});

/** TLSA and SMIMEA (RFC 8162 §2: the same RDATA). */
const association = (type: string): Codec => ({
  fromText(fields) {
    if (fields.length < 4) fail(`${type} record content must be "usage selector matching-type hex"`);
    const usage = uintField(fields[0], 255, `${type} usage`);
    const selector = uintField(fields[1], 255, `${type} selector`);
    const mtype = uintField(fields[2], 255, `${type} matching type`);
    const data = hexFields(fields.slice(3), `${type} data`);
    digestLength(`${type} data`, mtype, data.length, TLSA_OCTETS, fail);
    return new RdataWriter().u8(usage).u8(selector).u8(mtype).bytes(data).done();
  },
  toText(rdata) {
    const r = new RdataReader(rdata, type);
    const head = [r.u8(), r.u8(), r.u8()];
    const data = r.rest();
    if (data.length === 0) r.fail('has no association data');
    digestLength('data', head[2], data.length, TLSA_OCTETS, (m) => r.fail(m));
    return `${head.join(' ')} ${hex(data)}`;
  },
});

/** DS and CDS (RFC 4034 §5.3, RFC 8078 §4: "0 0 0 00" asks the parent to delete the DS). */
const delegationSigner = (type: string): Codec => ({
  fromText(fields) {
    if (fields.length < 4) fail(`${type} record content must be "key-tag algorithm digest-type digest"`);
    const tag = uintField(fields[0], 65535, `${type} key tag`);
    const alg = codeField(fields[1], 255, DNSSEC_ALGORITHMS, `${type} algorithm`);
    const dtype = uintField(fields[2], 255, `${type} digest type`);
    const digest = hexFields(fields.slice(3), `${type} digest`);
    digestLength(`${type} digest`, dtype, digest.length, DS_DIGEST_OCTETS, fail);
    return new RdataWriter().u16(tag).u8(alg).u8(dtype).bytes(digest).done();
  },
  toText(rdata) {
    const r = new RdataReader(rdata, type);
    const head = [r.u16(), r.u8(), r.u8()];
    const digest = r.rest();
    if (digest.length === 0) r.fail('has no digest');
    digestLength('digest', head[2], digest.length, DS_DIGEST_OCTETS, (m) => r.fail(m));
    return `${head.join(' ')} ${hex(digest)}`;
  },
});

/** DNSKEY and CDNSKEY (RFC 4034 §2.2; RFC 8078 §4: "0 3 0 AA==" asks for deletion). */
const dnskey = (type: string): Codec => ({
  fromText(fields) {
    if (fields.length < 4) fail(`${type} record content must be "flags protocol algorithm public-key"`);
    const flags = uintField(fields[0], 65535, `${type} flags`);
    // RFC 4034 §2.1.2: the protocol field MUST be 3.
    if (uintField(fields[1], 255, `${type} protocol`) !== 3) fail(`${type} protocol must be 3 (RFC 4034 §2.1.2)`);
    const alg = codeField(fields[2], 255, DNSSEC_ALGORITHMS, `${type} algorithm`);
    return new RdataWriter().u16(flags).u8(3).u8(alg).bytes(base64Fields(fields.slice(3), `${type} public key`)).done();
  },
  toText(rdata) {
    const r = new RdataReader(rdata, type);
    const flags = r.u16();
    if (r.u8() !== 3) r.fail('has a protocol other than 3');
    const alg = r.u8();
    const key = r.rest();
    if (key.length === 0) r.fail('has no public key');
    return `${flags} 3 ${alg} ${base64(key)}`;
  },
});

const base64Only = (type: string): Codec => ({
  fromText(fields) {
    return base64Fields(fields, `${type} data`);
  },
  toText(rdata) {
    if (rdata.length === 0) new RdataReader(rdata, type).fail('is empty');
    return base64(rdata);
  },
});

/** Codecs for the types whose text→wire lbdns writes itself. */
export const NATIVE_CODECS = {
  DNAME: target('DNAME', false),
  HINFO: {
    fromText(fields) {
      count('HINFO', fields, 2, '"cpu" "os"');
      return new RdataWriter().string(stringField(fields[0], 'HINFO cpu')).string(stringField(fields[1], 'HINFO os')).done();
    },
    toText(rdata) {
      const r = new RdataReader(rdata, 'HINFO');
      const text = `${quoteBytes(r.string())} ${quoteBytes(r.string())}`;
      r.end();
      return text;
    },
  },
  RP: {
    fromText(fields, origin) {
      count('RP', fields, 2, 'mailbox-name text-name');
      return new RdataWriter().name(nameField(fields[0], origin, true, 'RP mailbox')).name(nameField(fields[1], origin, true, 'RP text name')).done();
    },
    toText(rdata, file) {
      const r = new RdataReader(rdata, 'RP');
      const text = `${nameText(r.name(), file)} ${nameText(r.name(), file)}`;
      r.end();
      return text;
    },
  },
  NAPTR: {
    fromText(fields, origin) {
      count('NAPTR', fields, 6, 'order preference "flags" "services" "regexp" replacement');
      const order = uintField(fields[0], 65535, 'NAPTR order');
      const pref = uintField(fields[1], 65535, 'NAPTR preference');
      const flags = stringField(fields[2], 'NAPTR flags');
      // RFC 3403 §4.1: flags are single characters from A-Z and 0-9.
      if (!/^[A-Za-z0-9]*$/.test(latin1(flags))) fail(`NAPTR flags ${show(fields[2].raw)} may hold only letters and digits`);
      const services = stringField(fields[3], 'NAPTR services');
      const regexp = stringField(fields[4], 'NAPTR regexp');
      const problem = regexpProblem(regexp);
      if (problem !== undefined) fail(`NAPTR regexp ${show(fields[4].raw)} ${problem}`);
      const replacement = nameField(fields[5], origin, true, 'NAPTR replacement');
      return new RdataWriter().u16(order).u16(pref).string(flags).string(services).string(regexp).name(replacement).done();
    },
    toText(rdata, file) {
      const r = new RdataReader(rdata, 'NAPTR');
      const order = r.u16();
      const pref = r.u16();
      const strings = [r.string(), r.string(), r.string()];
      const replacement = r.name();
      r.end();
      if (!/^[A-Za-z0-9]*$/.test(latin1(strings[0]))) r.fail('has flags other than letters and digits');
      const problem = regexpProblem(strings[2]);
      if (problem !== undefined) r.fail(`has a regexp that ${problem}`);
      return `${order} ${pref} ${strings.map(quoteBytes).join(' ')} ${nameText(replacement, file)}`;
    },
  },
  LOC: {
    fromText: (fields) => locFromText(fields),
    toText: (rdata) => locToText(rdata),
  },
  URI: {
    fromText(fields) {
      count('URI', fields, 3, 'priority weight "target"');
      const prio = uintField(fields[0], 65535, 'URI priority');
      const weight = uintField(fields[1], 65535, 'URI weight');
      // RFC 7553 §4.4: the target is the rest of the RDATA, not a length-prefixed <character-string>.
      const target = stringFieldAnyLength(fields[2], 'URI target');
      if (target.length === 0) fail('URI target must not be empty (RFC 7553 §4.5)');
      return new RdataWriter().u16(prio).u16(weight).bytes(target).done();
    },
    toText(rdata) {
      const r = new RdataReader(rdata, 'URI');
      const prio = r.u16();
      const weight = r.u16();
      const target = r.rest();
      if (target.length === 0) r.fail('has an empty target');
      return `${prio} ${weight} ${quoteBytes(target)}`;
    },
  },
  CERT: {
    fromText(fields) {
      if (fields.length < 4) fail('CERT record content must be "type key-tag algorithm certificate"');
      const ctype = codeField(fields[0], 65535, CERT_TYPES, 'CERT type');
      const tag = uintField(fields[1], 65535, 'CERT key tag');
      const alg = codeField(fields[2], 255, DNSSEC_ALGORITHMS, 'CERT algorithm');
      return new RdataWriter().u16(ctype).u16(tag).u8(alg).bytes(base64Fields(fields.slice(3), 'CERT certificate')).done();
    },
    toText(rdata) {
      const r = new RdataReader(rdata, 'CERT');
      const head = [r.u16(), r.u16(), r.u8()];
      const cert = r.rest();
      if (cert.length === 0) r.fail('has no certificate');
      return `${head.join(' ')} ${base64(cert)}`;
    },
  },
  SSHFP: {
    fromText(fields) {
      if (fields.length < 3) fail('SSHFP record content must be "algorithm fp-type fingerprint"');
      const alg = uintField(fields[0], 255, 'SSHFP algorithm');
      const fptype = uintField(fields[1], 255, 'SSHFP fingerprint type');
      const fp = hexFields(fields.slice(2), 'SSHFP fingerprint');
      digestLength('SSHFP fingerprint', fptype, fp.length, SSHFP_OCTETS, fail);
      return new RdataWriter().u8(alg).u8(fptype).bytes(fp).done();
    },
    toText(rdata) {
      const r = new RdataReader(rdata, 'SSHFP');
      const alg = r.u8();
      const fptype = r.u8();
      const fp = r.rest();
      if (fp.length === 0) r.fail('has no fingerprint');
      digestLength('fingerprint', fptype, fp.length, SSHFP_OCTETS, (m) => r.fail(m));
      return `${alg} ${fptype} ${hex(fp)}`;
    },
  },
  DS: delegationSigner('DS'),
  CDS: delegationSigner('CDS'),
  DNSKEY: dnskey('DNSKEY'),
  CDNSKEY: dnskey('CDNSKEY'),
  TLSA: association('TLSA'),
  SMIMEA: association('SMIMEA'),
  OPENPGPKEY: base64Only('OPENPGPKEY'),
  SVCB: { fromText: (fields, origin) => svcbFromText('SVCB', fields, origin), toText: (rdata, file) => svcbToText('SVCB', rdata, file) },
  HTTPS: { fromText: (fields, origin) => svcbFromText('HTTPS', fields, origin), toText: (rdata, file) => svcbToText('HTTPS', rdata, file) },
} as const satisfies Record<string, Codec>;

export type NativeType = keyof typeof NATIVE_CODECS;

function stringFieldAnyLength(field: Field | undefined, what: string): Uint8Array {
  if (field === undefined) fail(`${what} is missing`);
  return fieldBytes(field, what);
}

/**
 * Presentation text of wire RDATA of the types dns2 encodes (RFC 1035, 3596, 2782, 8659), for RFC 3597 input of
 * those types; the result goes through their usual parser, which canonicalises it.
 */
export const DNS2_TYPE_TEXT: Readonly<Record<string, (rdata: Uint8Array) => string>> = {
  A(rdata) {
    if (rdata.length !== 4) new RdataReader(rdata, 'A').fail('must be 4 octets');
    return rdata.join('.');
  },
  AAAA(rdata) {
    if (rdata.length !== 16) new RdataReader(rdata, 'AAAA').fail('must be 16 octets');
    return formatIPv6Groups(Array.from({ length: 8 }, (_, g) => (rdata[g * 2] << 8) | rdata[g * 2 + 1]));
  },
  NS: (rdata) => target('NS', false).toText(rdata, true),
  CNAME: (rdata) => target('CNAME', false).toText(rdata, true),
  PTR: (rdata) => target('PTR', false).toText(rdata, true),
  MX(rdata) {
    const r = new RdataReader(rdata, 'MX');
    const text = `${r.u16()} ${nameText(r.name(), true)}`;
    r.end();
    return text;
  },
  SRV(rdata) {
    const r = new RdataReader(rdata, 'SRV');
    const text = `${r.u16()} ${r.u16()} ${r.u16()} ${nameText(r.name(), true)}`;
    r.end();
    return text;
  },
  TXT(rdata) {
    const r = new RdataReader(rdata, 'TXT');
    const strings: string[] = [];
    while (r.left > 0) strings.push(quoteBytes(r.string()));
    if (strings.length === 0) r.fail('is empty');
    return strings.join(' ');
  },
  CAA(rdata) {
    const r = new RdataReader(rdata, 'CAA');
    const flags = r.u8();
    const tag = latin1(r.string());
    return `${flags} ${tag} ${quoteBytes(r.rest())}`;
  },
};
