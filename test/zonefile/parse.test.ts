// Master-file parsing: each RFC 1035 syntax feature, TTL defaults, and each error with its file and line.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LbdnsError } from '../../src/errors.js';
import { parseZoneFile, type ParsedZone } from '../../src/zonefile/parse.js';
import { parseTtl } from '../../src/zonefile/ttl.js';

const HEAD = '$ORIGIN example.test.\n$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n';

const parse = (text: string, origin?: string): ParsedZone => parseZoneFile(text, { file: 't.zone', origin });

/** The records of HEAD + `body`, as "name ttl type content". */
const records = (body: string): string[] =>
  parse(HEAD + body).records.map((r) => `${r.name} ${r.ttl ?? '-'} ${r.type} ${r.content}`);

describe('parseZoneFile syntax', () => {
  it.each([
    ['relative owner', 'www IN A 192.0.2.1', ['www.example.test - A 192.0.2.1']],
    ['absolute owner', 'www.example.test. IN A 192.0.2.1', ['www.example.test - A 192.0.2.1']],
    ['upper-case owner and type', 'WWW in a 192.0.2.1', ['www.example.test - A 192.0.2.1']],
    ['@ owner', '@ IN NS ns1', ['example.test - NS ns1.example.test']],
    ['wildcard owner', '*.wild IN A 192.0.2.1', ['*.wild.example.test - A 192.0.2.1']],
    ['no class, no TTL', 'www A 192.0.2.1', ['www.example.test - A 192.0.2.1']],
    ['TTL then class', 'www 60 IN A 192.0.2.1', ['www.example.test 60 A 192.0.2.1']],
    ['class then TTL', 'www IN 60 A 192.0.2.1', ['www.example.test 60 A 192.0.2.1']],
    ['TTL without class', 'www 60 A 192.0.2.1', ['www.example.test 60 A 192.0.2.1']],
    ['TTL units', 'www 1h30m A 192.0.2.1', ['www.example.test 5400 A 192.0.2.1']],
    ['explicit TTL equal to the default stays', 'www 3600 A 192.0.2.1', ['www.example.test 3600 A 192.0.2.1']],
    [
      'owner omitted repeats the previous one',
      'www IN A 192.0.2.1\n  IN A 192.0.2.2\n\tAAAA 2001:db8::1',
      ['www.example.test - A 192.0.2.1', 'www.example.test - A 192.0.2.2', 'www.example.test - AAAA 2001:db8::1'],
    ],
    [
      'comments and blank lines',
      '; a comment\n\nwww IN A 192.0.2.1 ; trailing\n   ; indented comment\n  IN A 192.0.2.2',
      ['www.example.test - A 192.0.2.1', 'www.example.test - A 192.0.2.2'],
    ],
    ['CRLF line ends', 'www IN A 192.0.2.1\r\n  IN A 192.0.2.2\r\n', ['www.example.test - A 192.0.2.1', 'www.example.test - A 192.0.2.2']],
    ['parentheses across lines', 'mx IN MX (\n 10 ; pref\n mail )', ['mx.example.test - MX 10 mail.example.test']],
    ['quoted string with spaces and ;', 'txt TXT "a b; c"', ['txt.example.test - TXT "a b; c"']],
    ['several strings in a TXT', 'txt TXT "one" two "three four"', ['txt.example.test - TXT "one" "two" "three four"']],
    ['escapes in a TXT', 'txt TXT "q\\"\\\\\\059" a\\;b', ['txt.example.test - TXT "q\\"\\\\;" "a;b"']],
    ['TXT strings across lines', 'txt TXT ( "one"\n "two" )', ['txt.example.test - TXT "one" "two"']],
    ['parentheses inside quotes are text', 'txt TXT "(x" ")"', ['txt.example.test - TXT "(x" ")"']],
    ['relative names in RDATA', 'www CNAME web', ['www.example.test - CNAME web.example.test']],
    ['absolute names in RDATA', 'www CNAME web.other.test.', ['www.example.test - CNAME web.other.test']],
    ['SRV', '_sip._udp SRV 10 5 5060 sip', ['_sip._udp.example.test - SRV 10 5 5060 sip.example.test']],
    ['CAA', '@ CAA 0 issue "ca.example.net"', ['example.test - CAA 0 issue "ca.example.net"']],
    ['PTR', '1 PTR host', ['1.example.test - PTR host.example.test']],
    ['null MX', '@ MX 0 .', ['example.test - MX 0 .']],
    ['$ORIGIN changes the origin', '$ORIGIN sub.example.test.\nns A 192.0.2.1', ['ns.sub.example.test - A 192.0.2.1']],
    ['relative $ORIGIN', '$ORIGIN sub\nns A 192.0.2.1', ['ns.sub.example.test - A 192.0.2.1']],
    ['$TTL changes the TTL of later records', 'a A 192.0.2.1\n$TTL 60\nb A 192.0.2.2', ['a.example.test - A 192.0.2.1', 'b.example.test 60 A 192.0.2.2']],
    ['lower-case directives', '$ttl 60\nb A 192.0.2.2', ['b.example.test 60 A 192.0.2.2']],
    ['owner persists across a directive', 'a A 192.0.2.1\n$TTL 60\n  A 192.0.2.2', ['a.example.test - A 192.0.2.1', 'a.example.test 60 A 192.0.2.2']],
    ['glue below a delegation', 'sub NS ns.sub\nns.sub A 192.0.2.1', ['sub.example.test - NS ns.sub.example.test', 'ns.sub.example.test - A 192.0.2.1']],
  ])('%s', (_name, body, expected) => {
    expect(records(body)).toEqual(expected);
  });

  it('reads the SOA, with parentheses, comments and TTL units', () => {
    const zone = parse(
      '$TTL 1h\nexample.test. IN SOA ( ns1.example.test.\n hostmaster.example.test. ; rname\n 2024010101 1h 15m 1w 5m )\n',
    );
    expect(zone.origin).toBe('example.test');
    expect(zone.soa).toEqual({
      mname: 'ns1.example.test',
      rname: 'hostmaster.example.test',
      serial: 2024010101,
      refresh: 3600,
      retry: 900,
      expire: 604800,
      minimum: 300,
      ttl: 3600,
    });
    expect(zone.records).toEqual([]);
  });

  it('keeps apex NS records and gives each record its line', () => {
    const zone = parse(`${HEAD}  IN NS ns1\n  IN NS ns2\n\nns1 A 127.0.0.1\n`);
    expect(zone.records).toEqual([
      { name: 'example.test', type: 'NS', ttl: null, content: 'ns1.example.test', line: 4 },
      { name: 'example.test', type: 'NS', ttl: null, content: 'ns2.example.test', line: 5 },
      { name: 'ns1.example.test', type: 'A', ttl: null, content: '127.0.0.1', line: 7 },
    ]);
  });

  it('takes the apex from opts.origin, with or without the trailing dot', () => {
    const body = '@ IN SOA ns1 hostmaster 1 2 3 4 5\nwww A 192.0.2.1\n';
    expect(parse(body, 'Example.Test.').records[0].name).toBe('www.example.test');
    expect(parse(body, 'example.test').origin).toBe('example.test');
  });

  it('takes the apex from an absolute SOA owner when there is no origin', () => {
    const zone = parse('example.test. 7200 IN SOA ns1 hostmaster 1 2 3 4 5\nwww A 192.0.2.1\n');
    expect(zone.origin).toBe('example.test');
    expect(zone.soa.mname).toBe('ns1.example.test');
    expect(zone.soa.ttl).toBe(7200);
    expect(zone.records[0]).toMatchObject({ name: 'www.example.test', ttl: null });
  });

  it.each([
    ['the first $TTL', '$TTL 300\n@ 7200 IN SOA ns1 h 1 2 3 4 5\n$TTL 60\n', 300],
    ["the SOA's explicit TTL", '@ 7200 IN SOA ns1 h 1 2 3 4 5\n', 7200],
    ['opts.defaultTtl', '@ IN SOA ns1 h 1 2 3 4 5\n', 900],
  ])('the zone default TTL is %s', (_name, text, ttl) => {
    const zone = parseZoneFile(text, { file: 't.zone', origin: 'example.test', defaultTtl: 900 });
    expect(zone.soa.ttl).toBe(ttl);
  });

  it('defaults the zone TTL to 3600', () => {
    expect(parse('@ IN SOA ns1 h 1 2 3 4 5\n', 'example.test').soa.ttl).toBe(3600);
  });

  it('parses the sample zone', () => {
    const zone = parseZoneFile(readFileSync('zones/example.test.zone', 'utf8'), { file: 'zones/example.test.zone' });
    expect(zone.origin).toBe('example.test');
    const has = (name: string, type: string): number => zone.records.filter((r) => r.name === name && r.type === type).length;
    expect(has('example.test', 'NS')).toBe(2);
    expect(has('www.example.test', 'A')).toBe(2);
    expect(has('big.example.test', 'A')).toBe(40);
    expect(has('*.wild.example.test', 'A')).toBe(1);
    expect(has('a.b.deep.example.test', 'A')).toBe(1);
    expect(has('sub.example.test', 'NS')).toBe(1);
    expect(zone.records.find((r) => r.name === 'two.example.test')?.content).toBe(
      '"first string, with spaces" "second; not a comment"',
    );
  });
});

describe('parseZoneFile errors name the file and line', () => {
  it.each([
    ['no SOA', '$ORIGIN example.test.\nwww A 192.0.2.1\n', 1, 'no SOA record'],
    ['second SOA', `${HEAD}@ SOA ns1 h 2 2 3 4 5\n`, 4, 'a second SOA record (the first is on line 3)'],
    ['SOA away from the apex', '$ORIGIN example.test.\nwww SOA ns1 h 1 2 3 4 5\n', 2, 'the SOA owner www.example.test is not the zone apex example.test', 'example.test'],
    ['SOA with too few fields', '$ORIGIN example.test.\n@ SOA ns1 h 1 2 3 4\n', 2, 'SOA needs "mname rname serial refresh retry expire minimum"'],
    ['SOA with a bad serial', '$ORIGIN example.test.\n@ SOA ns1 h 4294967296 2 3 4 5\n', 2, 'SOA serial "4294967296" is not a number'],
    ['SOA with a bad timer', '$ORIGIN example.test.\n@ SOA ns1 h 1 2 3 4 5x\n', 2, 'SOA minimum "5x" is not a TTL'],
    ['relative name and no origin', 'www A 192.0.2.1\n', 1, 'relative owner name "www" but no $ORIGIN is set'],
    ['record before the origin is known', 'www.example.test. A 192.0.2.1\n', 1, 'no origin yet'],
    ['$INCLUDE', `${HEAD}$INCLUDE other.zone\n`, 4, '$INCLUDE is not supported'],
    ['unknown directive', `${HEAD}$GENERATE 1-2 x A 1.2.3.$\n`, 4, 'unknown directive $GENERATE'],
    ['$TTL without a value', `${HEAD}$TTL\n`, 4, '$TTL takes exactly one value'],
    ['$TTL with a bad value', `${HEAD}$TTL forever\n`, 4, '$TTL "forever" is not a TTL'],
    ['$ORIGIN with a bad name', `${HEAD}$ORIGIN a..b.\n`, 4, '$ORIGIN "a..b." is not a valid domain name'],
    ['CH class', `${HEAD}www CH A 192.0.2.1\n`, 4, 'class CH is not supported (only IN)'],
    ['HS class', `${HEAD}www 60 HS A 192.0.2.1\n`, 4, 'class HS is not supported'],
    ['two TTLs', `${HEAD}www 60 60 A 192.0.2.1\n`, 4, 'a second TTL "60"'],
    ['two classes', `${HEAD}www IN IN A 192.0.2.1\n`, 4, 'a second class "IN"'],
    ['bad TTL', `${HEAD}www 1x A 192.0.2.1\n`, 4, 'TTL "1x" is not a TTL'],
    ['TTL too large', `${HEAD}www 2147483648 A 192.0.2.1\n`, 4, 'exceeds 2147483647 seconds'],
    ['missing type', `${HEAD}www IN 60\n`, 4, 'missing record type'],
    ['meta type', `${HEAD}www IN TYPE252 \\# 0\n`, 4, 'record type "TYPE252" is not a data type a zone can hold'],
    ['unknown type', `${HEAD}www IN BOGUS x\n`, 4, 'record type "BOGUS" is not supported'],
    ['unknown type not in generic form', `${HEAD}www IN TYPE65280 c0000247\n`, 4, 'must be RFC 3597 generic text'],
    ['data below a DNAME', `${HEAD}d IN DNAME www\nx.d IN A 192.0.2.1\n`, 5, 'x.d.example.test is below the DNAME on line 4'],
    ['two DNAMEs', `${HEAD}d IN DNAME www\nd IN DNAME mail\n`, 5, 'a second DNAME at d.example.test'],
    ['missing RDATA', `${HEAD}www IN A\n`, 4, 'missing RDATA for A'],
    ['bad content', `${HEAD}\nwww A 300.1.1.1\n`, 5, 'A record content "300.1.1.1" is not an IPv4 address'],
    ['long TXT string', `${HEAD}t TXT "${'x'.repeat(300)}"\n`, 4, 'TXT string of 300 octets exceeds 255'],
    ['bad owner', `${HEAD}a..b A 192.0.2.1\n`, 4, 'owner name "a..b" is not a valid domain name'],
    ['quoted owner', `${HEAD}"www" A 192.0.2.1\n`, 4, 'owner name "www" must not be quoted'],
    ['blank first record', ' IN A 192.0.2.1\n', 1, 'the first record starts with a blank'],
    ['unclosed parenthesis', `${HEAD}mx MX ( 10\n mail\n`, 4, '"(" is never closed'],
    ['stray closing parenthesis', `${HEAD}www A 192.0.2.1 )\n`, 4, '")" without a matching "("'],
    ['nested parentheses', `${HEAD}mx MX ( 10\n ( mail ) )\n`, 5, 'nested "("'],
    ['unterminated quote', `${HEAD}t TXT "abc\n`, 4, 'unterminated quoted string'],
    ['text glued to a quote', `${HEAD}t TXT "abc"def\n`, 4, 'a quoted string must be followed by a blank'],
    ['quote inside a word', `${HEAD}t TXT abc"def"\n`, 4, 'a quote inside a word'],
    ['backslash at the end of a line', `${HEAD}t TXT abc\\\n`, 4, 'a backslash at the end of a line'],
    ['record outside the zone', `${HEAD}www.other.test. A 192.0.2.1\n`, 4, 'www.other.test is outside the zone example.test'],
    ['duplicate record', `${HEAD}a A 192.0.2.1\n\na A 192.0.2.1\n`, 6, 'duplicate A record for a.example.test (first on line 4)'],
    ['CNAME after other data', `${HEAD}a A 192.0.2.1\na CNAME b\n`, 5, 'CNAME at a.example.test conflicts with the record on line 4'],
    ['data after a CNAME', `${HEAD}a CNAME b\na TXT x\n`, 5, 'a.example.test has a CNAME (line 4) and so can hold no other record'],
    ['two CNAMEs', `${HEAD}a CNAME b\na CNAME c\n`, 5, 'conflicts with the record on line 4'],
    ['CNAME at the apex', `${HEAD}@ CNAME b\n`, 4, 'a CNAME is not allowed at the zone apex'],
    ['SOA owner not opts.origin', '$ORIGIN other.test.\n@ SOA ns1 h 1 2 3 4 5\n', 2, 'not the zone apex example.test', 'example.test'],
  ] as [string, string, number, string, string?][])('%s', (_name, text, line, problem, origin) => {
    let error: unknown;
    try {
      parse(text, origin);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LbdnsError);
    expect((error as LbdnsError).code).toBe('E_ZONEFILE');
    const message = (error as LbdnsError).message;
    expect(message.startsWith(`t.zone:${line}: `), message).toBe(true);
    expect(message).toContain(problem);
    expect(message).not.toContain('\n');
  });

  it('finds a syntax error on line 900 of a big file', () => {
    const lines = HEAD.trimEnd().split('\n');
    while (lines.length < 899) lines.push(`h${lines.length} IN A 192.0.2.${lines.length % 250}`);
    lines.push('broken IN A 192.0.2.300');
    while (lines.length < 2000) lines.push(`h${lines.length} IN A 192.0.2.${lines.length % 250}`);
    expect(() => parse(lines.join('\n'))).toThrow(/^t\.zone:900: A record content "192\.0\.2\.300" is not an IPv4 address$/);
    // The same file without the error parses.
    lines[899] = 'fixed IN A 192.0.2.1';
    expect(parse(lines.join('\n')).records).toHaveLength(1997);
  });

  it('counts lines inside parentheses', () => {
    expect(() => parse(`${HEAD}mx MX (\n10\n\n; comment\n) )\n`)).toThrow(/^t\.zone:8: "\)" without/);
  });
});

describe('parseTtl', () => {
  it.each([
    ['0', 0],
    ['86400', 86400],
    ['1s', 1],
    ['1m', 60],
    ['1h30m', 5400],
    ['2D', 172800],
    ['1w', 604800],
    ['1w2d3h4m5s', 788645],
    ['2147483647', 2147483647],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseTtl(text, 'TTL')).toBe(seconds);
  });

  it.each(['', '-1', '1.5', 'h', '1y', '2147483648', '1h 2m'])('%j is rejected', (text) => {
    expect(() => parseTtl(text, 'TTL')).toThrow(LbdnsError);
  });
});
