// Smooth weighted round robin: exact nginx sequences, distinct addresses per answer, long-run shares.
import { describe, expect, it } from 'vitest';
import type { Client } from '../../src/core/answer.js';
import { candidates } from '../../src/policies/candidates.js';
import { createPolicyState } from '../../src/policies/policy.js';
import { wrr, wrrSelect, pruneWrrState, WrrRotation, type WrrState } from '../../src/policies/wrr.js';
import type { Pool } from '../../src/core/snapshot.js';
import { member, pool } from './pool-fixture.js';

const client: Client = { address: '198.51.100.7', ecs: undefined };
const letters = 'abcdefgh';

/** A pool of members named a, b, c… (192.0.2.1, .2, …) with the given weights. */
function weighted(weights: number[], count = 1): Pool {
  return pool(weights.map((w, i) => member(`192.0.2.${i + 1}`, { weight: w })), { count });
}
const letter = (address: string) => letters[Number(address.split('.')[3]) - 1];

function answers(p: Pool, n: number, isUp: (id: number) => boolean = () => true, state = createPolicyState()): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    const sel = wrr.select(p, candidates(p, 4, isUp), client, state);
    expect(sel.scope).toBe(0);
    out.push(sel.members.map((m) => letter(m.address)));
  }
  return out;
}

describe('wrr: the first address follows nginx smooth weighted round robin exactly', () => {
  const cases: { weights: number[]; sequence: string }[] = [
    { weights: [5, 1, 1], sequence: 'aabacaa' },
    { weights: [1, 1], sequence: 'ab' },
    { weights: [2, 1], sequence: 'aba' },
    { weights: [4, 2, 1], sequence: 'abacaba' },
    { weights: [1, 1, 2, 4], sequence: 'dcdabdcd' },
    { weights: [3], sequence: 'a' },
  ];
  for (const t of cases) {
    it(`weights ${t.weights.join(',')} → ${t.sequence.split('').join(' ')}, repeating`, () => {
      const firsts = answers(weighted(t.weights), t.sequence.length * 3).map((a) => a[0]).join('');
      expect(firsts).toBe(t.sequence.repeat(3));
    });
  }
});

describe('wrr: each answer', () => {
  it('holds count distinct addresses, the rest by current weight after the pick, ties in pool order', () => {
    // 5,1,1: after picking a the currents are -2,1,1 → b (tie with c, earlier); then 3,-5,2 → c first …
    expect(answers(weighted([5, 1, 1], 2), 7)).toEqual([
      ['a', 'b'],
      ['a', 'b'],
      ['b', 'c'],
      ['a', 'c'],
      ['c', 'a'],
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  it('never repeats an address, and holds every candidate when count exceeds them', () => {
    for (const count of [1, 2, 3, 4, 10]) {
      for (const a of answers(weighted([1, 1, 2, 4], count), 200)) {
        expect(a.length).toBe(Math.min(count, 4));
        expect(new Set(a).size).toBe(a.length);
      }
    }
  });

  it('10,000 answers with weights 1,1,2,4 and count 2: first-address shares within ±2 points of the weights', () => {
    const firsts = new Map<string, number>();
    const seconds = new Map<string, number>();
    for (const [first, second] of answers(weighted([1, 1, 2, 4], 2), 10_000)) {
      expect(second).not.toBe(first);
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
      seconds.set(second, (seconds.get(second) ?? 0) + 1);
    }
    const expected = { a: 12.5, b: 12.5, c: 25, d: 50 };
    for (const [name, pct] of Object.entries(expected)) {
      expect(Math.abs(((firsts.get(name) ?? 0) / 100) - pct)).toBeLessThanOrEqual(2);
    }
    expect(seconds.size).toBe(4);
  });
});

describe('wrr: state', () => {
  it('is kept per pool and family', () => {
    const v4 = [member('192.0.2.1', { weight: 2 }), member('192.0.2.2', { weight: 1 })];
    const v6 = [member('2001:db8::1', { weight: 1 }), member('2001:db8::2', { weight: 1 })];
    const p = pool([...v4, ...v6]);
    const state = createPolicyState();
    const pick = (family: 4 | 6) => wrr.select(p, candidates(p, family, () => true), client, state).members[0].address;
    expect([pick(4), pick(6), pick(4), pick(6), pick(4)]).toEqual(['192.0.2.1', '2001:db8::1', '192.0.2.2', '2001:db8::2', '192.0.2.1']);
    expect([...state.wrr.keys()].sort()).toEqual([`${p.id}/4`, `${p.id}/6`]);
  });

  it('drops members that left the candidates and starts new ones at 0', () => {
    const a = member('192.0.2.1', { weight: 3 });
    const b = member('192.0.2.2', { weight: 1 });
    const state: WrrState = new Map();
    wrrSelect(state, 'k', [{ member: a, weight: 3 }, { member: b, weight: 1 }], 1);
    expect([...state.get('k')!.entries()]).toEqual([[a.id, -1], [b.id, 1]]);
    wrrSelect(state, 'k', [{ member: a, weight: 3 }], 1);
    expect([...state.get('k')!.entries()]).toEqual([[a.id, -1]]);
    wrrSelect(state, 'k', [{ member: a, weight: 3 }, { member: b, weight: 1 }], 1);
    expect(state.get('k')!.get(b.id)).toBe(1);
  });

  it('a member going down leaves the rotation and the others keep their proportions', () => {
    const p = weighted([1, 1, 2]);
    const down = new Set<number>([p.members[2].id]);
    const firsts = answers(p, 6, (id) => !down.has(id)).map((a) => a[0]).join('');
    expect(firsts).toBe('ababab');
  });

  it('pruning forgets pools that are gone', () => {
    const state: WrrState = new Map([['1/4', new WrrRotation()], ['1/6', new WrrRotation()], ['2/4', new WrrRotation()]]);
    pruneWrrState(state, new Set([2]));
    expect([...state.keys()]).toEqual(['2/4']);
  });
});

/** The rotation as a map by member id, the rest of the answer by a full sort: the plain statement of the rule. */
function referenceSelect(state: Map<number, number>, list: { member: { id: number }; weight: number }[], count: number): number[] {
  const n = list.length;
  for (const id of [...state.keys()]) if (!list.some((c) => c.member.id === id)) state.delete(id);
  const cur = list.map((c) => (state.get(c.member.id) ?? 0) + c.weight);
  const total = list.reduce((s, c) => s + c.weight, 0);
  let best = 0;
  for (let i = 1; i < n; i++) if (cur[i] > cur[best]) best = i;
  cur[best] -= total;
  list.forEach((c, i) => state.set(c.member.id, cur[i]));
  const rest = list.map((_, i) => i).filter((i) => i !== best);
  rest.sort((a, b) => cur[b] - cur[a] || a - b);
  return [best, ...rest].slice(0, Math.min(count, n)).map((i) => list[i].member.id);
}

describe('wrr: the in-place rotation agrees with the plain rule', () => {
  it('over 20,000 picks with random weights, counts from 1 to 12, and members leaving and coming back', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const all = Array.from({ length: 12 }, (_, i) => member(`192.0.2.${i + 1}`, { weight: Math.floor(random() * 6) }));
    const state: WrrState = new Map();
    const reference = new Map<number, number>();
    let list = all.map((m) => ({ member: m, weight: m.weight || 1 }));
    let checked = 0;
    for (let i = 0; i < 20_000; i++) {
      if (random() < 0.02) {
        // Health changed: a new list object with some members gone, in pool order.
        list = all.filter(() => random() < 0.8).map((m) => ({ member: m, weight: m.weight || 1 }));
        if (list.length === 0) list = [{ member: all[0], weight: 1 }];
      }
      const count = 1 + Math.floor(random() * 12);
      const got = wrrSelect(state, 'k', list, count).map((m) => m.id);
      const want = referenceSelect(reference, list, count);
      if (got.join() !== want.join()) expect({ pick: i, got }).toEqual({ pick: i, got: want });
      checked++;
    }
    expect(checked).toBe(20_000);
    expect([...state.get('k')!.entries()].sort((a, b) => a[0] - b[0])).toEqual([...reference.entries()].sort((a, b) => a[0] - b[0]));
  });

  it('keeps each pool rotation across a reload that brings new objects for the same pool', () => {
    const members = [member('192.0.2.1', { weight: 1 }), member('192.0.2.2', { weight: 1 })];
    const before = pool(members, { id: 9001, count: 1 });
    const after = pool(members.map((m) => ({ ...m })), { id: 9001, count: 1 });
    const state = createPolicyState();
    const pick = (p: Pool) => letter(wrr.select(p, candidates(p, 4, () => true), client, state).members[0].address);
    expect([pick(before), pick(after), pick(after), pick(before)].join('')).toBe('abab');
  });
});
