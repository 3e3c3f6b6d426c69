// Response rate limiting with a scripted clock: buckets per network and kind, refill, slip, eviction.
import { describe, expect, it } from 'vitest';
import { networkKey, ResponseRateLimiter } from '../../src/server/rrl.js';

function limiter(rate: number, slip: number, maxEntries?: number) {
  let now = 0;
  const rrl = new ResponseRateLimiter({ ratePerSecond: rate, slip, ipv4Prefix: 24, ipv6Prefix: 56, maxEntries, now: () => now });
  return { rrl, advance: (ms: number) => (now += ms) };
}

describe('networkKey', () => {
  it.each([
    ['192.0.2.1', '192.0.2.254', true],
    ['192.0.2.1', '192.0.3.1', false],
    ['::ffff:192.0.2.1', '192.0.2.9', true],
    ['2001:db8:0:100::1', '2001:db8:0:1ff::2', true],
    ['2001:db8:0:100::1', '2001:db8:0:200::1', false],
    ['::1', '::2', true],
  ])('%s and %s share a network: %s', (a, b, same) => {
    expect(networkKey(a, 24, 56) === networkKey(b, 24, 56)).toBe(same);
  });
});

describe('ResponseRateLimiter', () => {
  it('sends up to the rate, then drops and slips every Nth', () => {
    const { rrl } = limiter(10, 2);
    const actions = Array.from({ length: 16 }, () => rrl.check('192.0.2.1', 'answer'));
    expect(actions.slice(0, 10).every((a) => a === 'send')).toBe(true);
    expect(actions.slice(10)).toEqual(['drop', 'slip', 'drop', 'slip', 'drop', 'slip']);
  });

  it('keeps kinds and networks apart', () => {
    const { rrl } = limiter(2, 0);
    expect([rrl.check('192.0.2.1', 'answer'), rrl.check('192.0.2.2', 'answer'), rrl.check('192.0.2.3', 'answer')]).toEqual(['send', 'send', 'drop']);
    expect(rrl.check('192.0.2.1', 'nxdomain')).toBe('send');
    expect(rrl.check('198.51.100.1', 'answer')).toBe('send');
  });

  it('refills with time', () => {
    const { rrl, advance } = limiter(4, 0);
    for (let i = 0; i < 4; i++) rrl.check('192.0.2.1', 'answer');
    expect(rrl.check('192.0.2.1', 'answer')).toBe('drop');
    advance(250);
    expect(rrl.check('192.0.2.1', 'answer')).toBe('send');
    expect(rrl.check('192.0.2.1', 'answer')).toBe('drop');
    advance(10_000);
    expect(Array.from({ length: 5 }, () => rrl.check('192.0.2.1', 'answer'))).toEqual(['send', 'send', 'send', 'send', 'drop']);
  });

  it('is off at rate 0', () => {
    const { rrl } = limiter(0, 2);
    expect(rrl.enabled).toBe(false);
    expect(Array.from({ length: 1000 }, () => rrl.check('192.0.2.1', 'answer')).every((a) => a === 'send')).toBe(true);
  });

  it('bounds its memory under a flood of spoofed networks', () => {
    const { rrl } = limiter(5, 2, 1000);
    for (let i = 0; i < 50_000; i++) rrl.check(`10.${(i >> 8) & 255}.${i & 255}.1`, 'answer');
    expect(rrl.size).toBeLessThanOrEqual(1000);
  });
});
