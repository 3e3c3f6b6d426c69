// Response rate limiting with a scripted clock: buckets per network, name and kind, refill, slip, exemptions, eviction.
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../src/geo/address.js';
import { readClientAddress, ResponseRateLimiter, type RrlOptions } from '../../src/server/rrl.js';

function limiter(rate: number, slip: number, more: Partial<RrlOptions> = {}) {
  let now = 0;
  const rrl = new ResponseRateLimiter({ ratePerSecond: rate, slip, ipv4Prefix: 24, ipv6Prefix: 56, now: () => now, ...more });
  return { rrl, advance: (ms: number) => (now += ms) };
}

const QTYPE_A = 1;
const QTYPE_AAAA = 28;

describe('readClientAddress', () => {
  it.each([
    '192.0.2.1',
    '0.0.0.0',
    '255.255.255.255',
    '::ffff:192.0.2.1',
    '::1',
    '::',
    '2001:db8::1',
    '2001:db8:0:100::1',
    'fe80::1:2:3:4',
    '2001:db8:1:2:3:4:5:6',
    '1::',
    '::192.0.2.1',
    '2001:DB8::ABCD',
  ])('reads %s as geo/address.ts parseAddress does', (text) => {
    const words = new Uint32Array(4);
    const family = readClientAddress(text, words);
    const ref = parseAddress(text)!;
    expect(family).toBe(ref.family);
    const bytes = new Uint8Array(family === 4 ? 4 : 16);
    new DataView(bytes.buffer).setUint32(0, words[0]);
    if (family === 6) for (let w = 1; w < 4; w++) new DataView(bytes.buffer).setUint32(4 * w, words[w]);
    expect([...bytes]).toEqual([...ref.bytes]);
  });

  it('reads a scoped link-local address without its scope', () => {
    const words = new Uint32Array(4);
    expect(readClientAddress('fe80::1%eth0', words)).toBe(6);
    expect(words[0]).toBe(0xfe800000);
    expect(words[3]).toBe(1);
  });

  it.each(['', 'x', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', ':::', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', ':1', '1:', 'g::1'])(
    'refuses %j',
    (text) => {
      expect(readClientAddress(text, new Uint32Array(4))).toBe(0);
    },
  );
});

describe('ResponseRateLimiter', () => {
  it('sends up to the rate, then drops and slips every Nth', () => {
    const { rrl } = limiter(10, 2);
    const actions = Array.from({ length: 16 }, () => rrl.check('192.0.2.1', 'answer', 'www.example.test', QTYPE_A));
    expect(actions.slice(0, 10).every((a) => a === 'send')).toBe(true);
    expect(actions.slice(10)).toEqual(['drop', 'slip', 'drop', 'slip', 'drop', 'slip']);
  });

  it('slips every response at slip 1 and none at slip 0', () => {
    const always = limiter(1, 1).rrl;
    const never = limiter(1, 0).rrl;
    always.check('192.0.2.1', 'answer', 'www.example.test', QTYPE_A);
    never.check('192.0.2.1', 'answer', 'www.example.test', QTYPE_A);
    expect(Array.from({ length: 4 }, () => always.check('192.0.2.1', 'answer', 'www.example.test', QTYPE_A))).toEqual(['slip', 'slip', 'slip', 'slip']);
    expect(Array.from({ length: 4 }, () => never.check('192.0.2.1', 'answer', 'www.example.test', QTYPE_A))).toEqual(['drop', 'drop', 'drop', 'drop']);
  });

  it('does not limit another name to the same /24 when one name is flooded', () => {
    const { rrl } = limiter(5, 2);
    const flood = Array.from({ length: 1000 }, (_, i) => rrl.check(`192.0.2.${i % 250}`, 'answer', 'victim.example.test', QTYPE_A));
    expect(flood.filter((a) => a === 'send').length).toBe(5);
    for (let i = 0; i < 5; i++) expect(rrl.check('192.0.2.77', 'answer', 'www.example.test', QTYPE_A)).toBe('send');
    // Per BIND, answers of one name and another type are another response.
    expect(rrl.check('192.0.2.77', 'answer', 'victim.example.test', QTYPE_AAAA)).toBe('send');
    expect(rrl.check('192.0.2.77', 'answer', 'victim.example.test', QTYPE_A)).not.toBe('send');
  });

  it('shares the budget of a network: addresses of one /24 and of one IPv6 /56 count together', () => {
    const { rrl } = limiter(2, 0);
    const ask = (address: string) => rrl.check(address, 'answer', 'www.example.test', QTYPE_A);
    expect([ask('192.0.2.1'), ask('192.0.2.200'), ask('::ffff:192.0.2.9')]).toEqual(['send', 'send', 'drop']);
    expect(ask('192.0.3.1')).toBe('send');
    expect([ask('2001:db8:0:100::1'), ask('2001:db8:0:1ff::2'), ask('2001:db8:0:1ab::3')]).toEqual(['send', 'send', 'drop']);
    expect(ask('2001:db8:0:200::1')).toBe('send');
  });

  it('keeps kinds apart', () => {
    const { rrl } = limiter(1, 0);
    expect(rrl.check('192.0.2.1', 'answer', 'example.test', QTYPE_A)).toBe('send');
    expect(rrl.check('192.0.2.1', 'answer', 'example.test', QTYPE_A)).toBe('drop');
    expect(rrl.check('192.0.2.1', 'nxdomain', 'example.test')).toBe('send');
    expect(rrl.check('192.0.2.1', 'nodata', 'example.test')).toBe('send');
    expect(rrl.check('192.0.2.1', 'referral', 'example.test')).toBe('send');
  });

  it('counts negative answers per zone: random names share one bucket, another zone has its own', () => {
    const { rrl } = limiter(3, 0);
    // The dns server passes Answer.rateName, which is the zone for NXDOMAIN and NODATA.
    const nx = Array.from({ length: 10 }, () => rrl.check('198.51.100.7', 'nxdomain', 'example.test'));
    expect(nx.filter((a) => a === 'send').length).toBe(3);
    const nodata = Array.from({ length: 10 }, () => rrl.check('198.51.100.7', 'nodata', 'example.test', QTYPE_AAAA));
    expect(nodata.filter((a) => a === 'send').length).toBe(3);
    // NODATA ignores the type, as BIND does: another type of the same zone shares the bucket.
    expect(rrl.check('198.51.100.7', 'nodata', 'example.test', QTYPE_A)).toBe('drop');
    expect(rrl.check('198.51.100.7', 'nxdomain', 'other.test')).toBe('send');
  });

  it('counts every error of a network together, whatever the name', () => {
    const { rrl } = limiter(2, 0);
    expect([rrl.check('192.0.2.1', 'error', 'a.invalid'), rrl.check('192.0.2.1', 'error', 'b.invalid'), rrl.check('192.0.2.1', 'error', 'c.invalid')]).toEqual([
      'send',
      'send',
      'drop',
    ]);
  });

  it('never limits an exempt network, and limits its neighbours as before', () => {
    const { rrl } = limiter(2, 2, { exempt: ['198.18.0.11/32', '198.18.0.12', '2001:db8:ffff::/48'] });
    const ask = (address: string) => rrl.check(address, 'answer', 'example.test', 6);
    for (const exempt of ['198.18.0.11', '198.18.0.12', '::ffff:198.18.0.11', '2001:db8:ffff:1::5']) {
      expect(Array.from({ length: 500 }, () => ask(exempt)).every((a) => a === 'send')).toBe(true);
      expect(rrl.exempt(exempt)).toBe(true);
    }
    expect([ask('198.18.0.13'), ask('198.18.0.13'), ask('198.18.0.13'), ask('198.18.0.13')]).toEqual(['send', 'send', 'drop', 'slip']);
    expect(rrl.exempt('198.18.0.13')).toBe(false);
    expect([ask('2001:db8:fffe::1'), ask('2001:db8:fffe::1'), ask('2001:db8:fffe::1')]).toEqual(['send', 'send', 'drop']);
  });

  it('refuses an exempt entry that is not a network', () => {
    expect(() => limiter(1, 0, { exempt: ['198.18.0.11/24'] })).toThrow(/198\.18\.0\.11\/24/);
    expect(() => limiter(1, 0, { exempt: ['nope'] })).toThrow(/nope/);
  });

  it('refills with time', () => {
    const { rrl, advance } = limiter(4, 0);
    const ask = () => rrl.check('192.0.2.1', 'answer', 'www.example.test', QTYPE_A);
    for (let i = 0; i < 4; i++) ask();
    expect(ask()).toBe('drop');
    advance(250);
    expect(ask()).toBe('send');
    expect(ask()).toBe('drop');
    advance(10_000);
    expect(Array.from({ length: 5 }, ask)).toEqual(['send', 'send', 'send', 'send', 'drop']);
  });

  it('is off at rate 0', () => {
    const { rrl } = limiter(0, 2);
    expect(rrl.enabled).toBe(false);
    expect(Array.from({ length: 1000 }, () => rrl.check('192.0.2.1', 'answer', 'x.test', QTYPE_A)).every((a) => a === 'send')).toBe(true);
  });

  it('bounds its memory under a flood of spoofed networks and names', () => {
    const { rrl, advance } = limiter(5, 2, { maxEntries: 1000 });
    for (let i = 0; i < 50_000; i++) rrl.check(`10.${(i >> 8) & 255}.${i & 255}.1`, 'answer', `n${i}.example.test`, QTYPE_A);
    expect(rrl.size).toBeLessThanOrEqual(1000);
    expect(rrl.size).toBeGreaterThan(400);
    // A bucket in use survives a flood far smaller than the table: the least recently used go first.
    for (let i = 0; i < 5; i++) rrl.check('192.0.2.1', 'answer', 'www.example.test', QTYPE_A);
    for (let i = 0; i < 100; i++) {
      advance(1);
      rrl.check(`10.9.${i}.1`, 'answer', 'www.example.test', QTYPE_A);
      rrl.check('192.0.2.1', 'answer', 'www.example.test', QTYPE_A);
    }
    expect(rrl.check('192.0.2.1', 'answer', 'www.example.test', QTYPE_A)).not.toBe('send');
  });
});
