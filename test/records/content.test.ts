// Record content: validation and canonical form per type, and RDATA that dns2 decodes back to the same content.
import dns2 from 'dns2';
import { describe, expect, it } from 'vitest';
import { LbdnsError } from '../../src/errors.js';
import { encodeRdata, parseContent } from '../../src/records/content.js';
import { isInZone, isValidDomainName, nameToWire, parseDomainName } from '../../src/records/domain-name.js';

const valid: readonly [type: string, text: string, canonical: string, origin?: string][] = [
  ['A', '192.0.2.1', '192.0.2.1'],
  ['A', ' 0.0.0.0 ', '0.0.0.0'],
  ['A', '255.255.255.255', '255.255.255.255'],
  ['a', '10.0.0.1', '10.0.0.1'],
  ['AAAA', '2001:DB8::1', '2001:db8::1'],
  ['AAAA', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
  ['AAAA', '2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ['AAAA', '2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
  ['AAAA', '::', '::'],
  ['AAAA', '::1', '::1'],
  ['AAAA', 'fe80::', 'fe80::'],
  ['AAAA', '::ffff:192.0.2.1', '::ffff:c000:201'],
  ['AAAA', '64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ['CNAME', 'WWW.Example.Test.', 'www.example.test'],
  ['CNAME', 'www.example.test', 'www.example.test'],
  ['CNAME', 'www', 'www.example.test', 'example.test'],
  ['CNAME', 'www.other.test.', 'www.other.test', 'example.test'],
  ['CNAME', '@', 'example.test', 'example.test'],
  ['NS', 'ns1.example.test.', 'ns1.example.test'],
  ['NS', 'ns-1_a.example.test', 'ns-1_a.example.test'],
  ['PTR', 'host.example.test', 'host.example.test'],
  ['MX', '10 mail.example.test.', '10 mail.example.test'],
  ['MX', '010   Mail', '10 mail.example.test', 'example.test'],
  ['MX', '0 .', '0 .'],
  ['MX', '65535 mx.example.test', '65535 mx.example.test'],
  ['SRV', '10 5 5060 sip.example.test.', '10 5 5060 sip.example.test'],
  ['SRV', '0 0 0 .', '0 0 0 .'],
  ['SRV', '65535 65535 65535 sip', '65535 65535 65535 sip.example.test', 'example.test'],
  ['TXT', '"v=spf1 -all"', '"v=spf1 -all"'],
  ['TXT', 'hello', '"hello"'],
  ['TXT', 'two words', '"two" "words"'],
  ['TXT', '"a b"   "c"', '"a b" "c"'],
  ['TXT', '""', '""'],
  ['TXT', '"say \\"hi\\""', '"say \\"hi\\""'],
  ['TXT', '"back\\\\slash"', '"back\\\\slash"'],
  ['TXT', '"\\065\\066C"', '"ABC"'],
  ['TXT', '"tab\\009"', '"tab\\009"'],
  ['TXT', '"caf\u00e9"', '"caf\\195\\169"'],
  ['TXT', 'a\\ b', '"a b"'],
  ['TXT', '"semi;colon"', '"semi;colon"'],
  ['TXT', `"${'x'.repeat(255)}"`, `"${'x'.repeat(255)}"`],
  ['CAA', '0 issue "ca.example.net"', '0 issue "ca.example.net"'],
  ['CAA', '128 ISSUEWILD ";"', '128 issuewild ";"'],
  ['CAA', '0 iodef mailto:sec@example.test', '0 iodef "mailto:sec@example.test"'],
  ['CAA', '0 issue ""', '0 issue ""'],
];

describe('parseContent accepts and canonicalises', () => {
  it.each(valid)('%s %j', (type, text, canonical, origin) => {
    expect(parseContent(type, text, origin)).toEqual({ content: canonical });
    // Canonical content is a fixed point, with or without the origin.
    expect(parseContent(type, canonical).content).toBe(canonical);
  });
});

const invalid: readonly [type: string, text: string, message: string][] = [
  ['A', '300.1.1.1', 'A record content "300.1.1.1" is not an IPv4 address'],
  ['A', '01.2.3.4', 'A record content "01.2.3.4" is not an IPv4 address'],
  ['A', '1.2.3', 'is not an IPv4 address'],
  ['A', '1.2.3.4.5', 'is not an IPv4 address'],
  ['A', '', 'A record content "" is not an IPv4 address'],
  ['A', '1.2.3.4 5.6.7.8', 'is not an IPv4 address'],
  ['A', '::1', 'is not an IPv4 address'],
  ['AAAA', '1.2.3.4', 'AAAA record content "1.2.3.4" is not an IPv6 address'],
  ['AAAA', '2001:db8::1::2', 'is not an IPv6 address'],
  ['AAAA', '2001:db8::g', 'is not an IPv6 address'],
  ['AAAA', 'fe80::1%eth0', 'is not an IPv6 address'],
  ['CNAME', '', 'CNAME record content "" must be "name"'],
  ['CNAME', 'a b', 'CNAME record content "a b" must be "name"'],
  ['CNAME', 'a..b', 'CNAME record target "a..b" is not a valid domain name: it has an empty label'],
  ['CNAME', '.', 'the root is not allowed here'],
  ['CNAME', '*.example.test', 'a wildcard "*" is not allowed here'],
  ['CNAME', '@', '"@" needs a zone origin'],
  ['CNAME', 'bad!name.test', 'label "bad!name" may hold only letters, digits, "-" and "_"'],
  ['CNAME', 'caf\u00e9.test', 'may hold only letters, digits'],
  ['CNAME', 'a\\.b.test', 'escapes are not supported in names'],
  ['NS', `${'a'.repeat(64)}.test`, 'is 64 octets (max 63)'],
  ['NS', Array(64).fill('abc').join('.'), 'is 257 octets on the wire (max 255)'],
  ['PTR', '1 2', 'PTR record content "1 2" must be "name"'],
  ['MX', 'mail.example.test', 'MX record content "mail.example.test" must be "preference exchange"'],
  ['MX', '70000 mail.example.test', 'MX preference "70000" is not a number from 0 to 65535'],
  ['MX', '-1 mail.example.test', 'MX preference "-1" is not a number'],
  ['MX', '10 mail..test', 'MX exchange "mail..test" is not a valid domain name'],
  ['SRV', '10 5 sip.example.test', 'must be "priority weight port target"'],
  ['SRV', '10 5 65536 sip.example.test', 'SRV port "65536" is not a number from 0 to 65535'],
  ['SRV', 'x 5 1 sip.example.test', 'SRV priority "x" is not a number'],
  ['SRV', '1 1.5 1 sip.example.test', 'SRV weight "1.5" is not a number'],
  ['TXT', `"${'x'.repeat(300)}"`, 'TXT string of 300 octets exceeds 255'],
  ['TXT', `ok "${'x'.repeat(256)}"`, 'TXT string of 256 octets exceeds 255'],
  ['TXT', '', 'TXT record content is empty'],
  ['TXT', '"open', 'has an unterminated quoted string'],
  ['TXT', '"a"b', 'needs a space after a quoted string'],
  ['TXT', 'a"b"', 'has a quote inside a word'],
  ['TXT', '"\\256"', 'has a bad escape "\\256"'],
  ['TXT', '"\\12"', 'has a bad escape "\\12"'],
  ['TXT', 'end\\', 'ends with a lone backslash'],
  ['CAA', '0 issue', `must be 'flags tag "value"'`],
  ['CAA', '256 issue "x"', 'CAA flags "256" is not a number from 0 to 255'],
  ['CAA', '0 is-sue "x"', 'CAA tag "is-sue" must be 1 to 15 letters or digits'],
  ['CAA', '0 abcdefghijklmnop "x"', 'must be 1 to 15 letters or digits'],
  ['CAA', '0 issue "caf\u00e9"', 'must be printable ASCII'],
  ['CAA', '0 issue ca.example; policy', `must be 'flags tag "value"'`],
  ['SPF', 'x y', 'record type "SPF" is not supported (use one of A, AAAA, CNAME, NS, MX, TXT, SRV, CAA, PTR, DNAME,'],
  ['SOA', 'x', 'record type "SOA" is not supported'],
];

describe('parseContent rejects, in one line', () => {
  it.each(invalid)('%s %j', (type, text, message) => {
    let error: unknown;
    try {
      parseContent(type, text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LbdnsError);
    expect((error as LbdnsError).code).toBe('E_INPUT');
    expect((error as LbdnsError).message).toContain(message);
    expect((error as LbdnsError).message).not.toContain('\n');
  });

  it('shortens long input in messages', () => {
    expect(() => parseContent('A', 'x'.repeat(500))).toThrow(/"x{57}\.\.\." is not an IPv4 address/);
  });
});

interface Codec {
  decode(this: Record<string, unknown>, reader: unknown, length: number): Record<string, unknown>;
}
const CODECS = dns2.Packet.Resource as unknown as Record<string, Codec>;

/** Decodes RDATA with dns2, checking that exactly `bytes.length` octets were consumed. */
function decode(type: string, bytes: Uint8Array): Record<string, unknown> {
  const reader = new dns2.Packet.Reader(Buffer.from(bytes));
  const out = CODECS[type].decode.call({}, reader, bytes.length);
  expect(reader.offset).toBe(bytes.length * 8);
  return out;
}

const decodedContent: Readonly<Record<string, (d: Record<string, unknown>) => string>> = {
  A: (d) => String(d.address),
  AAAA: (d) => String(d.address),
  NS: (d) => String(d.ns),
  CNAME: (d) => String(d.domain),
  PTR: (d) => String(d.domain),
  MX: (d) => `${d.priority} ${d.exchange || '.'}`,
  SRV: (d) => `${d.priority} ${d.weight} ${d.port} ${d.target || '.'}`,
  TXT: (d) => (d.data as string[]).map((s) => JSON.stringify(s)).join(' '),
  CAA: (d) => `${d.flags} ${d.tag} ${JSON.stringify(d.value)}`,
};

const roundTrip: readonly [type: string, content: string, hex?: string][] = [
  ['A', '192.0.2.1', 'c0000201'],
  ['AAAA', '2001:db8::1', '20010db8000000000000000000000001'],
  ['AAAA', '::ffff:c000:201'],
  ['NS', 'ns1.example.test', '036e7331076578616d706c650474657374 00'],
  ['CNAME', 'www.example.test'],
  ['PTR', 'host.example.test'],
  ['MX', '10 mail.example.test', '000a 046d61696c076578616d706c65047465737400'],
  ['MX', '0 .', '0000 00'],
  ['SRV', '10 5 5060 sip.example.test', '000a 0005 13c4 03736970076578616d706c65047465737400'],
  ['SRV', '0 0 0 .', '000000000000 00'],
  ['TXT', '"v=spf1 -all"'],
  ['TXT', '"a b" "c"', '03612062 0163'],
  ['TXT', '""', '00'],
  ['TXT', `"${'x'.repeat(255)}" "y"`],
  ['CAA', '0 issue "ca.example.net"', '00 05 6973737565 63612e6578616d706c652e6e6574'],
  ['CAA', '128 issuewild ";"'],
];

describe('encodeRdata', () => {
  it.each(roundTrip)('%s %j decodes back with dns2', (type, content, hex) => {
    const bytes = encodeRdata(type, content);
    if (hex !== undefined) expect(Buffer.from(bytes).toString('hex')).toBe(hex.replaceAll(' ', ''));
    expect(decodedContent[type](decode(type, bytes))).toBe(content);
  });

  it('writes escaped and non-ASCII TXT octets as they are', () => {
    const bytes = encodeRdata('TXT', '"\\"\\\\\\000\\255"');
    expect(Buffer.from(bytes).toString('hex')).toBe('04225c00ff');
  });

  it('encodes names uncompressed', () => {
    expect([...encodeRdata('SRV', '1 1 1 example.test')]).toEqual([0, 1, 0, 1, 0, 1, ...nameToWire('example.test')]);
  });

  it('validates what it encodes, and accepts non-canonical but valid content', () => {
    expect(() => encodeRdata('A', '1.2.3.999')).toThrow(LbdnsError);
    expect(() => encodeRdata('SPF', 'x')).toThrow(/not supported/);
    expect([...encodeRdata('CNAME', 'WWW.Example.Test.')]).toEqual([...encodeRdata('CNAME', 'www.example.test')]);
  });
});

describe('domain names', () => {
  it.each([
    ['www.example.test', {}, true],
    ['_sip._udp.example.test', {}, true],
    ['*.wild.example.test', {}, false],
    ['*.wild.example.test', { wildcard: true }, true],
    ['a.*.example.test', { wildcard: true }, false],
    ['Www.example.test', {}, false],
    ['www.example.test.', {}, false],
    ['.', {}, false],
    ['.', { root: true }, true],
    ['', {}, false],
    ['a..b', {}, false],
  ] as const)('isValidDomainName(%j, %j) is %s', (name, opts, ok) => {
    expect(isValidDomainName(name, opts)).toBe(ok);
  });

  it('reads relative names only against an origin', () => {
    expect(parseDomainName('www', {}, 'name')).toBe('www');
    expect(parseDomainName('www', { origin: 'example.test' }, 'name')).toBe('www.example.test');
    expect(parseDomainName('www.', { origin: 'example.test' }, 'name')).toBe('www');
    expect(parseDomainName('*.w', { origin: 'example.test', wildcard: true }, 'name')).toBe('*.w.example.test');
    // The origin's labels count towards the 255-octet limit.
    const long = Array(60).fill('abc').join('.');
    expect(() => parseDomainName('abcdefghijklmnopq', { origin: long }, 'owner')).toThrow(/octets on the wire/);
  });

  it('encodes wire names', () => {
    expect([...nameToWire('a.bc')]).toEqual([1, 97, 2, 98, 99, 0]);
    expect([...nameToWire('.')]).toEqual([0]);
    expect(() => nameToWire('A.b')).toThrow(LbdnsError);
  });

  it.each([
    ['www.example.test', 'example.test', true],
    ['example.test', 'example.test', true],
    ['badexample.test', 'example.test', false],
    ['test', 'example.test', false],
  ] as const)('isInZone(%j, %j) is %s', (name, apex, inside) => {
    expect(isInZone(name, apex)).toBe(inside);
  });
});
