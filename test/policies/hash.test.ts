// The hash policy: 10,000 client networks, who moves when a member goes down and comes back, shares by weight, ECS scope.
import { describe, expect, it } from 'vitest';
import type { Client } from '../../src/core/answer.js';
import type { Pool } from '../../src/core/snapshot.js';
import { candidates } from '../../src/policies/candidates.js';
import { hash, hashedNetwork, mix, mixed } from '../../src/policies/hash.js';
import { NO_ENV } from '../../src/policies/policy.js';
import { member, pool } from './pool-fixture.js';

const NETWORKS = 10_000;

/** 10,000 distinct /24s spread over the IPv4 space by a fixed LCG, as (resolver address, client) pairs. */
function clients(): Client[] {
  const out: Client[] = [];
  const seen = new Set<number>();
  let x = 12345;
  while (out.length < NETWORKS) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const net = x >>> 8;
    if (seen.has(net)) continue;
    seen.add(net);
    out.push({ address: `${net >>> 16}.${(net >>> 8) & 255}.${net & 255}.${1 + (x & 127)}`, ecs: undefined });
  }
  return out;
}

function weighted(weights: number[], count = 1): Pool {
  return pool(
    weights.map((w, i) => member(`192.0.2.${i + 1}`, { weight: w })),
    { count, policy: 'hash' },
  );
}

function answers(p: Pool, list: Client[], down: ReadonlySet<string> = new Set()): string[][] {
  const found = candidates(p, 4, (id) => !down.has(p.members.find((m) => m.id === id)!.address));
  return list.map((c) => hash.select(p, found, c, undefined, NO_ENV).members.map((m) => m.address));
}

describe('hash: the 64-bit mixer', () => {
  it('is MurmurHash3 fmix64, checked against BigInt arithmetic', () => {
    const M = (1n << 64n) - 1n;
    const fmix = (k: bigint): bigint => {
      k ^= k >> 33n;
      k = (k * 0xff51afd7ed558ccdn) & M;
      k ^= k >> 33n;
      k = (k * 0xc4ceb9fe1a85ec53n) & M;
      return k ^ (k >> 33n);
    };
    let x = 7;
    for (let i = 0; i < 2000; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      const h = x;
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      const l = i % 7 === 0 ? 0xffffffff : x;
      mix(h, l);
      expect(mixed()).toBe(fmix((BigInt(h) << 32n) | BigInt(l)));
    }
  });
});

describe('hash: 10,000 client networks against a pool of five', () => {
  const list = clients();
  const p = weighted([1, 1, 1, 1, 1], 2);
  const before = answers(p, list);

  it('gives each network count distinct members, the same on every ask', () => {
    for (const a of before) expect(new Set(a).size).toBe(2);
    expect(answers(p, list)).toEqual(before);
  });

  it('moves only the networks whose first member went down (≤ 1/N + 2 %), and moves them back when it returns', () => {
    const gone = '192.0.2.3';
    const during = answers(p, list, new Set([gone]));
    let moved = 0;
    for (let i = 0; i < list.length; i++) {
      if (during[i][0] === before[i][0]) continue;
      moved++;
      // Only those it was first for, and they go to their own second choice.
      expect(before[i][0]).toBe(gone);
      expect(during[i][0]).toBe(before[i][1]);
    }
    const share = moved / list.length;
    console.log(`hash: ${moved} of ${list.length} networks changed their first address when 1 of 5 members went down (${(share * 100).toFixed(2)} %)`);
    expect(share).toBeLessThanOrEqual(1 / 5 + 0.02);
    expect(share).toBeGreaterThan(0);
    for (const a of during) expect(a).not.toContain(gone);
    expect(answers(p, list)).toEqual(before);
  });

  it('keeps a network on its members when an unrelated member is added', () => {
    const grown = pool([...p.members, member('192.0.2.99')], { count: 2, policy: 'hash' });
    const after = answers(grown, list);
    let moved = 0;
    for (let i = 0; i < list.length; i++) if (after[i][0] !== before[i][0]) moved++;
    for (let i = 0; i < list.length; i++) if (after[i][0] !== before[i][0]) expect(after[i][0]).toBe('192.0.2.99');
    expect(moved / list.length).toBeLessThanOrEqual(1 / 6 + 0.02);
  });
});

describe('hash: shares follow weights', () => {
  for (const weights of [
    [1, 1, 2, 4],
    [10, 20, 30, 40],
  ]) {
    it(`first addresses over 10,000 networks within 2 points of weights ${weights.join('/')}`, () => {
      const p = weighted(weights, 2);
      const firsts = new Map<string, number>();
      for (const a of answers(p, clients())) firsts.set(a[0], (firsts.get(a[0]) ?? 0) + 1);
      const total = weights.reduce((a, b) => a + b, 0);
      const shares = weights.map((w, i) => ({ want: w / total, got: (firsts.get(`192.0.2.${i + 1}`) ?? 0) / NETWORKS }));
      console.log(`hash ${weights.join('/')}: first-address shares ${shares.map((s) => (s.got * 100).toFixed(1)).join('/')} %`);
      for (const s of shares) expect(Math.abs(s.got - s.want)).toBeLessThanOrEqual(0.02);
    });
  }
});

describe('hash: the client network and the ECS scope', () => {
  const p = weighted([1, 1, 1, 1, 1, 1, 1, 1], 1);
  const found = candidates(p, 4, () => true);
  const ask = (c: Client) => hash.select(p, found, c, undefined, NO_ENV);
  const ecs = (a: number[], sourcePrefix: number) => ({ family: 1 as const, sourcePrefix, address: Uint8Array.from(a) });

  it('keys resolvers of one /24 alike and answers ECS with scope = the hashed prefix', () => {
    expect(ask({ address: '203.0.113.9', ecs: undefined }).members).toEqual(ask({ address: '203.0.113.200', ecs: undefined }).members);
    expect(ask({ address: '203.0.113.9', ecs: undefined }).scope).toBe(0);
    const full = ask({ address: '192.0.2.53', ecs: ecs([198, 51, 100, 77], 32) });
    expect(full.scope).toBe(24);
    // The subnet, not the resolver, decides: the same as a resolver inside that /24.
    expect(full.members).toEqual(ask({ address: '198.51.100.1', ecs: undefined }).members);
    expect(ask({ address: '192.0.2.53', ecs: ecs([198, 51, 0, 0], 16) }).scope).toBe(16);
    // Source prefix 0: the client asks for no subnet to be used (RFC 7871 §7.1.2); the resolver's network decides.
    expect(ask({ address: '203.0.113.9', ecs: ecs([0, 0, 0, 0], 0) })).toEqual({ members: ask({ address: '203.0.113.9', ecs: undefined }).members, scope: 0 });
  });

  it('uses the pool prefix lengths, IPv6 included', () => {
    const wide = { ...p, hashPrefix: { v4: 20, v6: 48 } };
    expect(hashedNetwork(wide, { address: '203.0.113.9', ecs: ecs([198, 51, 100, 77], 32) })).toMatchObject({ prefix: 20, from: 'ecs' });
    expect([...hashedNetwork(wide, { address: '203.0.127.9', ecs: undefined })!.bytes]).toEqual([203, 0, 112, 0]);
    const v6 = hashedNetwork(p, { address: '2001:db8:1:2ff:1::1', ecs: undefined })!;
    expect(v6).toMatchObject({ family: 6, prefix: 56, from: 'resolver' });
    expect([...v6.bytes.subarray(0, 8)]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 1, 2, 0]);
    expect(ask({ address: '2001:db8:1:2ff::1', ecs: undefined }).members).toEqual(ask({ address: '2001:db8:1:200::7', ecs: undefined }).members);
    expect(hashedNetwork(p, { address: 'not an address', ecs: undefined })).toBeUndefined();
    expect(ask({ address: 'not an address', ecs: undefined }).members).toHaveLength(1);
  });

  it('describes without moving anything: the same members, and the network in the notes', () => {
    const c: Client = { address: '203.0.113.9', ecs: undefined };
    const d = hash.describe(p, found, c, undefined, NO_ENV);
    expect(d.selection).toEqual(ask(c));
    expect(d.notes.join(' ')).toContain('203.0.113.0/24');
  });
});
