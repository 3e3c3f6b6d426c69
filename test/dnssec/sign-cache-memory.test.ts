// The signature cache's memory: it lives outside the JavaScript heap (src/dnssec/sign.ts), so hits, turnover and
// new signatures must leave the heap where it was. (An earlier cache in the heap grew by ~75 bytes per hit through a
// live Map iterator, and every signature it held cost the collector copying and marking.)
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
    const keys = Array.from({ length: 1000 }, (_, i) => Buffer.from(`12345|example.test|host${i}.example.test|1|300|1767225600|\u00c0\u0000\u0002${i}`, 'latin1'));
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
    const keyOf = (n: number): Buffer => Buffer.from(`12345|example.test|r${n}.example.test|47|300|1767225600|\u00c0\u0000\u0002${n}`, 'latin1');
    const hot = Buffer.from('hot', 'latin1');
    for (let n = 0; n < 20_000; n++) cache.set(keyOf(n), sig);
    const before = heapAfterGc();
    for (let n = 20_000; n < 220_000; n++) {
      cache.set(keyOf(n), sig);
      // A hot entry, made recent again and again: it must survive the turnover.
      if (n % 4 === 0) cache.set(hot, sig);
      else cache.get(hot);
    }
    const grown = heapAfterGc() - before;
    expect(cache.get(hot)).toEqual(Buffer.from(sig));
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
  it('20,000 cached signatures leave the heap where it was (under 16 bytes each; the cache counts ~190 for each, outside it)', () => {
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const signer = { zone: 'example.test', algorithm: 13 as const, keyTag: 4242, key: privateKey };
    const cache = new SignatureCache(64 * 1024 * 1024);
    const s = new AnswerSigner({ cache, signerFor: () => undefined });
    const N = 20_000;
    // Warm up (JIT, the signer's scratch key), then measure.
    for (let i = 0; i < 1000; i++) s.rrsig(signer, `w${i}.example.test`, 47, 300, [Uint8Array.of(0, 6, 0, 0, 0, 0, 0, 3)], undefined);
    const heapBefore = heapAfterGc();
    for (let i = 0; i < N; i++) {
      s.rrsig(signer, `r${i}.example.test`, 47, 300, [Buffer.from(`\u0000r${i}.example.test\u0000\u0006\u0000\u0000\u0000\u0000\u0000\u0003`, 'latin1')], undefined);
      // A reply's worth of short-lived buffer between signatures, as answering makes.
      Buffer.from('x'.repeat(150));
    }
    const heap = heapAfterGc() - heapBefore;
    expect(cache.size).toBe(N + 1000);
    expect(cache.bytes / (N + 1000)).toBeGreaterThan(150);
    expect(heap / N).toBeLessThan(16);
  });
});
