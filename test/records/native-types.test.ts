// Presentation ↔ wire of the types lbdns encodes itself, table-driven from the RFCs' own examples and test vectors.
import { describe, expect, it } from 'vitest';
import { LbdnsError } from '../../src/errors.js';
import { canonicalRecordType, encodeRdata, parseContent } from '../../src/records/content.js';

const hex = (type: string, content: string): string => Buffer.from(encodeRdata(type, content)).toString('hex');

// RFC 9460 Appendix D.1 and D.2 (presentation, canonical content, wire).
const svcbVectors: readonly [text: string, canonical: string, wire: string][] = [
  ['0 foo.example.com.', '0 foo.example.com', '000003666f6f076578616d706c6503636f6d00'],
  ['1 .', '1 .', '000100'],
  ['16 foo.example.com. port=53', '16 foo.example.com port=53', '001003666f6f076578616d706c6503636f6d00000300020035'],
  ['1 foo.example.com. key667=hello', '1 foo.example.com key667=hello', '000103666f6f076578616d706c6503636f6d00029b000568656c6c6f'],
  ['1 foo.example.com. key667="hello\\210qoo"', '1 foo.example.com key667=hello\\210qoo', '000103666f6f076578616d706c6503636f6d00029b000968656c6c6fd2716f6f'],
  [
    '1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1"',
    '1 foo.example.com ipv6hint=2001:db8::1,2001:db8::53:1',
    '000103666f6f076578616d706c6503636f6d000006002020010db800000000000000000000000120010db8000000000000000000530001',
  ],
  ['1 example.com. ipv6hint="2001:db8:122:344::192.0.2.33"', '1 example.com ipv6hint=2001:db8:122:344::c000:221', '0001076578616d706c6503636f6d000006001020010db80122034400000000c0000221'],
  [
    '16 foo.example.org. (alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1)'.replace(/[()]/g, ''),
    '16 foo.example.org mandatory=alpn,ipv4hint alpn=h2,h3-19 ipv4hint=192.0.2.1',
    '001003666f6f076578616d706c65036f7267000000000400010004000100090268320568332d313900040004c0000201',
  ],
  ['16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"', '16 foo.example.org alpn=f\\\\\\\\oo\\\\,bar,h2', '001003666f6f076578616d706c65036f7267000001000c08665c6f6f2c626172026832'],
  ['16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2', '16 foo.example.org alpn=f\\\\\\\\oo\\\\,bar,h2', '001003666f6f076578616d706c65036f7267000001000c08665c6f6f2c626172026832'],
];

// RFC 9460 Appendix D.3, and the §7 value rules.
const svcbFailures: readonly [text: string, message: string][] = [
  ['1 foo.example.com. key123=abc key123=def', 'key123 appears twice'],
  ['1 foo.example.com. mandatory', 'mandatory needs a value'],
  ['1 foo.example.com. alpn', 'alpn needs a value'],
  ['1 foo.example.com. port', 'port needs a value'],
  ['1 foo.example.com. ipv4hint', 'ipv4hint needs a value'],
  ['1 foo.example.com. ipv6hint', 'ipv6hint needs a value'],
  ['1 foo.example.com. no-default-alpn=abc', 'no-default-alpn takes no value'],
  ['1 foo.example.com. mandatory=key123', 'lists key123 as mandatory but does not hold it'],
  ['1 foo.example.com. mandatory=mandatory', 'must not list "mandatory" itself'],
  ['1 foo.example.com. mandatory=key123,key123 key123=abc', 'mandatory lists a key twice'],
  ['1 . no-default-alpn', 'no-default-alpn without alpn'],
  ['1 . port=65536', 'is not a number from 0 to 65535'],
  ['1 . ipv4hint=192.0.2.300', 'is not an IPv4 address'],
  ['1 . ipv6hint=2001:db8:::1', 'is not an IPv6 address'],
  ['1 . key65535=x', 'is not a SvcParamKey'],
  ['1 . bogus=1', 'is not a SvcParamKey'],
];

// RFC 1876 §4 examples; the wire octets are NSD's (test/integration/every-type.test.ts compares them on the wire).
const locVectors: readonly [text: string, canonical: string, wire: string][] = [
  ['42 21 54 N 71 06 18 W -24m 30m', '42 21 54.000 N 71 6 18.000 W -24.00m 30m 10000m 10m', '0033161389172dd070be15f000988d20'],
  ['42 21 43.952 N 71 5 6.344 W -24m 1m 200m', '42 21 43.952 N 71 5 6.344 W -24.00m 1m 200m 10m', '001224138917069070bf2dd800988d20'],
  ['52 14 05 N 00 08 50 E 10m', '52 14 5.000 N 0 8 50.000 E 10.00m 1m 10000m 10m', '001216138b3556c88008165000989a68'],
  ['32 7 19 S 116 2 25 E 10m', '32 7 19.000 S 116 2 25.000 E 10.00m 1m 10000m 10m', '00121613791b7d2898e6486800989a68'],
  ['42 21 28.764 N 71 00 51.617 W -44m 2000m', '42 21 28.764 N 71 0 51.617 W -44.00m 2000m 10000m 10m', '002516138916cb3c70c310df00988550'],
];

const others: readonly [type: string, text: string, canonical: string, wire: string][] = [
  ['DNAME', 'Example.NET.', 'example.net', '076578616d706c65036e657400'],
  ['HINFO', '"Generic PC clone" NetBSD-1.4', '"Generic PC clone" "NetBSD-1.4"', '1047656e6572696320504320636c6f6e650a4e65744253442d312e34'],
  ['RP', 'louie.trantor.umd.edu. .', 'louie.trantor.umd.edu .', '056c6f756965077472616e746f7203756d6403656475000000'.slice(0, -2)],
  ['NAPTR', '100 10 "S" "SIP+D2U" "" _sip._udp.example.com.', '100 10 "S" "SIP+D2U" "" _sip._udp.example.com', '0064000a0153075349502b44325500045f736970045f756470076578616d706c6503636f6d00'],
  ['URI', '10 1 "ftp://ftp1.example.com/public"', '10 1 "ftp://ftp1.example.com/public"', '000a00016674703a2f2f667470312e6578616d706c652e636f6d2f7075626c6963'],
  ['DS', '60485 5 1 ( 2BB183AF5F22588179A53B0A 98631FAD1A292118 )'.replace(/[()]/g, ''), '60485 5 1 2bb183af5f22588179a53b0a98631fad1a292118', 'ec4505012bb183af5f22588179a53b0a98631fad1a292118'],
  ['DS', '60485 RSASHA1 1 2BB183AF5F22588179A53B0A98631FAD1A292118', '60485 5 1 2bb183af5f22588179a53b0a98631fad1a292118', 'ec4505012bb183af5f22588179a53b0a98631fad1a292118'],
  ['CDS', '0 0 0 00', '0 0 0 00', '0000000000'],
  ['CDNSKEY', '0 3 0 AA==', '0 3 0 AA==', '0000030000'],
  ['DNSKEY', '257 3 ED25519 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=', '257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=', '0101030f974d96a22d224bc01adb91509147 7d44ccd91c9a41a114300101 17d52c59240e'.replace(/ /g, '')],
  ['TLSA', '3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6', '3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6', '0301010c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6'],
  ['SMIMEA', '0 0 0 30', '0 0 0 30', '00000030'],
  ['SSHFP', '2 1 123456789abcdef67890123456789abcdef67890', '2 1 123456789abcdef67890123456789abcdef67890', '0201123456789abcdef67890123456789abcdef67890'],
  ['CERT', 'PGP 0 0 AAAA', '3 0 0 AAAA', '0003000000000000'],
  ['OPENPGPKEY', 'mQENBFVH m5sBCADB', 'mQENBFVHm5sBCADB', '99010d0455479b9b010800c1'],
  // RFC 3597 §5: any type in generic form; known types come out in their own form.
  ['TYPE65280', '\\# 4 C0000247', '\\# 4 c0000247', 'c0000247'],
  ['TYPE65281', '\\# 0', '\\# 0', ''],
  ['A', '\\# 4 c0000201', '192.0.2.1', 'c0000201'],
  ['MX', '\\# 5 000a 0178 00', '10 x', '000a017800'],
  ['HTTPS', '\\# 3 000100', '1 .', '000100'],
  ['LOC', '\\# 16 0033161389172dd070be15f000988d20', '42 21 54.000 N 71 6 18.000 W -24.00m 30m 10000m 10m', '0033161389172dd070be15f000988d20'],
];

const failures: readonly [type: string, text: string, message: string][] = [
  ['TYPE65280', 'c0000247', 'must be RFC 3597 generic text'],
  ['TYPE65280', '\\# 3 c0000247', 'announces 3 octets but the hex holds 4'],
  ['TYPE65280', '\\# 1 c', 'is not an even number of hex digits'],
  ['A', '\\# 3 c00002', 'A RDATA must be 4 octets'],
  ['HTTPS', '\\# 5 0001000002', 'ends early'],
  ['SVCB', '\\# 11 0001000003000200350002', 'out of increasing order'],
  ['LOC', '91 0 0 N 0 0 0 E 0m', 'LOC latitude "91 0 0" is out of range'],
  ['LOC', '1 N 2 E 0m 25m', 'is not one digit times a power of ten'],
  ['LOC', '1 N 2 E', 'needs an altitude'],
  ['DS', '1 8 2 abcd', 'DS digest of type 2 must be 32 octets, not 2'],
  ['TLSA', '3 1 1 abcd', 'TLSA data of type 1 must be 32 octets, not 2'],
  ['SSHFP', '1 2 ab', 'SSHFP fingerprint of type 2 must be 32 octets'],
  ['DNSKEY', '256 2 8 AA==', 'protocol must be 3'],
  ['DNSKEY', '256 3 8 AA=', 'is not base64'],
  ['NAPTR', '1 1 "S!" "" "" .', 'may hold only letters and digits'],
  ['NAPTR', '1 1 "U" "E2U+sip" "!^.*$!sip:x@example.com" .', 'is not "delim ERE delim replacement delim [i]"'],
  ['URI', '1 1 ""', 'must not be empty'],
  ['HINFO', '"one"', 'HINFO record content must be'],
  ['DNAME', '.', 'the root is not allowed here'],
];

describe('SVCB and HTTPS (RFC 9460 Appendix D)', () => {
  it.each(svcbVectors)('%s', (text, canonical, wire) => {
    for (const type of ['SVCB', 'HTTPS']) {
      expect(parseContent(type, text).content).toBe(canonical);
      expect(hex(type, canonical)).toBe(wire);
      expect(parseContent(type, `\\# ${wire.length / 2} ${wire}`).content).toBe(canonical);
    }
  });
  it.each(svcbFailures)('refuses %s', (text, message) => {
    expect(() => parseContent('SVCB', text)).toThrow(message);
  });
});

describe('LOC (RFC 1876 §4)', () => {
  it.each(locVectors)('%s', (text, canonical, wire) => {
    expect(parseContent('LOC', text).content).toBe(canonical);
    expect(hex('LOC', canonical)).toBe(wire);
  });
});

describe('other types and RFC 3597', () => {
  it.each(others)('%s %s', (type, text, canonical, wire) => {
    expect(parseContent(type, text).content).toBe(canonical);
    expect(hex(type, canonical)).toBe(wire);
  });
  it('takes names relative to the zone-file origin', () => {
    expect(parseContent('DNAME', 'target', 'example.test').content).toBe('target.example.test');
    expect(parseContent('SVCB', '1 svc port=8443', 'example.test').content).toBe('1 svc.example.test port=8443');
  });
  it.each(failures)('refuses %s %s in one line', (type, text, message) => {
    let error: unknown;
    try {
      parseContent(type, text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LbdnsError);
    expect((error as LbdnsError).message).toContain(message);
    expect((error as LbdnsError).message).not.toContain('\n');
  });
  it('spells types as stored: mnemonics, TYPE1 as A, the rest TYPEnnn; meta types refused', () => {
    expect(canonicalRecordType('https')).toBe('HTTPS');
    expect(canonicalRecordType('TYPE1')).toBe('A');
    expect(canonicalRecordType('type65')).toBe('HTTPS');
    expect(canonicalRecordType('TYPE00099')).toBe('TYPE99');
    expect(() => canonicalRecordType('TYPE6')).toThrow(/not a data type/);
    expect(() => canonicalRecordType('TYPE255')).toThrow(/not a data type/);
    expect(() => canonicalRecordType('TYPE65536')).toThrow(/not supported/);
  });
});
