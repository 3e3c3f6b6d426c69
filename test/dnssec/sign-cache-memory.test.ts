// The signature cache's memory under hits: below its bound, answering from it must not grow the heap. A cache that
// kept a live Map iterator (to find its oldest entry) and made each hit recent with a delete and a set grew by about
// 75 bytes per hit until it was full: the iterator held on to every table the Map had copied itself out of.
// And the signer's cache key: what tells two RRsets apart.
import crypto from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { AnswerSigner, SignatureCache } from '../../src/dnssec/sign.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('SignatureCache memory', () => {
  it('1,000,000 hits on 1,000 entries below the bound leave the heap where it was (within 8 MB; growing by 75 bytes a hit would be 75 MB)', () => {
    const cache = new SignatureCache(64 * 1024 * 1024);
    const keys = Array.from({ length: 1000 }, (_, i) => `12345|example.test|host${i}.example.test|1|300|1767225600|\u00c0\u0000\u0002${i}`);
    for (const k of keys) cache.set(k, new Uint8Array(91));
    // Warm up (JIT, the Map's own growth), then measure.
    for (let i = 0; i < 100_000; i++) cache.get(keys[(i * 7) % 1000]);
    const before = heapAfterGc();
    let found = 0;
    for (let i = 0; i < 1_000_000; i++) if (cache.get(keys[(i * 7) % 1000]) !== undefined) found++;
    const grown = heapAfterGc() - before;
    expect(found).toBe(1_000_000);
    expect(cache.size).toBe(1000);
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });

  it('a full cache turning over 200,000 times keeps its heap bounded too (evictions and hits mixed)', () => {
    const cache = new SignatureCache(1024 * 1024);
    const sig = new Uint8Array(91);
    const keyOf = (n: number): string => `12345|example.test|r${n}.example.test|47|300|1767225600|\u00c0\u0000\u0002${n}`;
    for (let n = 0; n < 20_000; n++) cache.set(keyOf(n), sig);
    const before = heapAfterGc();
    for (let n = 20_000; n < 220_000; n++) {
      cache.set(keyOf(n), sig);
      // A hot entry, made recent again and again: it must survive the turnover.
      if (n % 4 === 0) cache.set('hot', sig);
      else cache.get('hot');
    }
    const grown = heapAfterGc() - before;
    expect(cache.get('hot')).toBe(sig);
    expect(cache.bytes).toBeLessThanOrEqual(1024 * 1024);
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('AnswerSigner cache key', () => {
  it('tells RRsets apart whose RDATA octets run together the same (01 02 | 03 and 01 | 02 03), and the hour they are signed in', () => {
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    const signer = { zone: 'example.test', algorithm: 15 as const, keyTag: 4242, key: privateKey };
    let now = Date.UTC(2026, 0, 1, 12, 30);
    const cache = new SignatureCache(1024 * 1024);
    const s = new AnswerSigner({ cache, signerFor: () => undefined, now: () => now });
    const a = s.rrsig(signer, 'x.example.test', 16, 300, [Uint8Array.of(1, 2), Uint8Array.of(3)], undefined);
    const b = s.rrsig(signer, 'x.example.test', 16, 300, [Uint8Array.of(1), Uint8Array.of(2, 3)], undefined);
    expect(Buffer.from(a)).not.toEqual(Buffer.from(b));
    expect(cache.misses).toBe(2);
    // The same RRset again, listed in the other order: one signature, from the cache (Ed25519 is deterministic, so
    // a signature made again would be the same bytes too: the counters tell).
    expect(Buffer.from(s.rrsig(signer, 'x.example.test', 16, 300, [Uint8Array.of(3), Uint8Array.of(1, 2)], undefined))).toEqual(Buffer.from(a));
    expect([cache.hits, cache.misses]).toEqual([1, 2]);
    // Later in the same hour: the same signature; the next hour: a new one, with the new inception (octets 12..15).
    now += 20 * 60 * 1000;
    expect(Buffer.from(s.rrsig(signer, 'x.example.test', 16, 300, [Uint8Array.of(1, 2), Uint8Array.of(3)], undefined))).toEqual(Buffer.from(a));
    expect([cache.hits, cache.misses]).toEqual([2, 2]);
    now += 20 * 60 * 1000;
    const c = s.rrsig(signer, 'x.example.test', 16, 300, [Uint8Array.of(1, 2), Uint8Array.of(3)], undefined);
    expect([cache.hits, cache.misses]).toEqual([2, 3]);
    expect(Buffer.from(c)).not.toEqual(Buffer.from(a));
    expect(Buffer.from(c).readUInt32BE(12) - Buffer.from(a).readUInt32BE(12)).toBe(3600);
  });
});

describe('AnswerSigner cache footprint', () => {
  it('a cached signature costs the heap about what the cache counts for it (within 1.5×), and nothing outside the heap', () => {
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const signer = { zone: 'example.test', algorithm: 13 as const, keyTag: 4242, key: privateKey };
    const cache = new SignatureCache(1 << 30);
    const s = new AnswerSigner({ cache, signerFor: () => undefined });
    const N = 20_000;
    const heapBefore = heapAfterGc();
    const externalBefore = process.memoryUsage().external;
    for (let i = 0; i < N; i++) {
      s.rrsig(signer, `r${i}.example.test`, 47, 300, [Buffer.from(`\u0000r${i}.example.test\u0000\u0006\u0000\u0000\u0000\u0000\u0000\u0003`, 'latin1')], undefined);
      // A reply's worth of short-lived buffer between signatures, as answering makes.
      Buffer.from('x'.repeat(150));
    }
    const heap = heapAfterGc() - heapBefore;
    const external = process.memoryUsage().external - externalBefore;
    expect(cache.size).toBe(N);
    // Before signatures were kept as strings: 760 bytes of heap and 410 outside it per entry, against 344 counted.
    expect(heap / N).toBeLessThan(1.5 * (cache.bytes / N));
    expect(external / N).toBeLessThan(64);
  });
});
