// Weighted round robin: exact nginx sequences for the first address, fair inclusion for the rest, distinct addresses, long-run shares.
import { describe, expect, it } from 'vitest';
import type { Client } from '../../src/core/answer.js';
import { candidates } from '../../src/policies/candidates.js';
import { NO_ENV } from '../../src/policies/policy.js';
import { plan, wrr, wrrSelect, forgetRotations, WrrRotation, type WrrState } from '../../src/policies/wrr.js';
import type { Pool } from '../../src/core/snapshot.js';
import { member, pool } from './pool-fixture.js';

const client: Client = { address: '198.51.100.7', ecs: undefined };
const letters = 'abcdefgh';

/** A pool of members named a, b, c… (192.0.2.1, .2, …) with the given weights. */
function weighted(weights: number[], count = 1): Pool {
  return pool(weights.map((w, i) => member(`192.0.2.${i + 1}`, { weight: w })), { count });
}
const letter = (address: string) => letters[Number(address.split('.')[3]) - 1];

function answers(p: Pool, n: number, isUp: (id: number) => boolean = () => true, state = wrr.create()): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    const sel = wrr.select(p, candidates(p, 4, isUp), client, state, NO_ENV);
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
  it('holds the SWRR pick first, then the members in every answer, then the highest inclusion credits', () => {
    // 5,1,1 count 2: a is owed 2·5/7 > 1 answers, so it is in every answer; b and c share the other place half each.
    expect(answers(weighted([5, 1, 1], 2), 7)).toEqual([
      ['a', 'b'],
      ['a', 'c'],
      ['b', 'a'],
      ['a', 'c'],
      ['c', 'a'],
      ['a', 'b'],
      ['a', 'b'],
    ]);
    // Equal weights take turns in every place.
    expect(answers(weighted([1, 1, 1, 1], 2), 4)).toEqual([
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['d', 'a'],
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
});

/** First-place and any-place shares over `n` answers, in percent: any-place is the share of all addresses handed out. */
function shares(list: string[][]): { first: Record<string, number>; any: Record<string, number>; inAnswers: Record<string, number> } {
  const first: Record<string, number> = {};
  const any: Record<string, number> = {};
  const inAnswers: Record<string, number> = {};
  let handedOut = 0;
  for (const a of list) {
    first[a[0]] = (first[a[0]] ?? 0) + 1;
    for (const x of a) {
      any[x] = (any[x] ?? 0) + 1;
      inAnswers[x] = (inAnswers[x] ?? 0) + 1;
    }
    handedOut += a.length;
  }
  const pct = (r: Record<string, number>, of: number) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, (v / of) * 100]));
  return { first: pct(first, list.length), any: pct(any, handedOut), inAnswers: pct(inAnswers, list.length) };
}

function expectWithin(got: Record<string, number>, want: Record<string, number>, points: number): void {
  for (const [name, pct] of Object.entries(want)) {
    expect({ name, off: Math.abs((got[name] ?? 0) - pct) <= points, got: got[name] ?? 0 }).toEqual({ name, off: true, got: got[name] ?? 0 });
  }
}

describe('wrr: shares over 10,000 answers', () => {
  it('weights 1,1,2,4, count 2: first and any place within 1 point of 12.5/12.5/25/50 %, d in every answer', () => {
    const list = answers(weighted([1, 1, 2, 4], 2), 10_000);
    const s = shares(list);
    const want = { a: 12.5, b: 12.5, c: 25, d: 50 };
    expectWithin(s.first, want, 1);
    expectWithin(s.any, want, 1);
    expect(s.inAnswers.d).toBe(100);
    // Equal weights, equal shares: the two weight-1 members differ by at most a couple of answers.
    expect(Math.abs(s.inAnswers.a - s.inAnswers.b)).toBeLessThanOrEqual(0.02);
    expect(Math.abs(s.first.a - s.first.b)).toBeLessThanOrEqual(0.02);
  });

  it('weights 10,20,30,40, count 2: first and any place within 1 point of 10/20/30/40 %', () => {
    const s = shares(answers(weighted([10, 20, 30, 40], 2), 10_000));
    const want = { a: 10, b: 20, c: 30, d: 40 };
    expectWithin(s.first, want, 1);
    expectWithin(s.any, want, 1);
    // In k·w/Σw of the answers: 20, 40, 60, 80 %.
    expectWithin(s.inAnswers, { a: 20, b: 40, c: 60, d: 80 }, 1);
  });

  it('equal weights: equal shares in every place, for every count below the pool size', () => {
    for (const count of [1, 2, 3, 4]) {
      const s = shares(answers(weighted([3, 3, 3, 3, 3], count), 10_000));
      const want = { a: 20, b: 20, c: 20, d: 20, e: 20 };
      expectWithin(s.first, want, 0.05);
      expectWithin(s.any, want, 0.05);
    }
  });

  it('a member owed more than every answer is in every answer, and the others share the rest by weight', () => {
    // 1,1,1,5 count 2: d is owed 2·5/8 = 1.25 answers per answer, so it is in all of them; a, b and c fill the other place
    // a third each (their weight share of the rest); first places still follow the weights.
    const s = shares(answers(weighted([1, 1, 1, 5], 2), 10_000));
    expect(s.inAnswers.d).toBe(100);
    expectWithin(s.inAnswers, { a: 33.33, b: 33.33, c: 33.33 }, 1);
    expectWithin(s.first, { a: 12.5, b: 12.5, c: 12.5, d: 62.5 }, 1);
  });

  it('the cap is repeated until the shares add up: 100,50,1,1,1 with count 3', () => {
    // 3·100/153 > 1 caps a; then 2·50/53 > 1 caps b; the last place goes to c, d and e a third each.
    expect(plan([100, 50, 1, 1, 1], 3)).toEqual([-1, -1, 1, 1, 1]);
    expect(plan([1, 1, 2, 4], 2)).toEqual([1, 1, 2, -1]);
    expect(plan([10, 20, 30, 40], 2)).toEqual([20, 40, 60, 80]);
    const s = shares(answers(weighted([100, 50, 1, 1, 1], 3), 3_000));
    expect([s.inAnswers.a, s.inAnswers.b]).toEqual([100, 100]);
    expectWithin(s.inAnswers, { c: 33.33, d: 33.33, e: 33.33 }, 0.1);
  });

  it('a member going down: the others share its place by weight, and it is back in its share when it returns', () => {
    const p = weighted([10, 20, 30, 40], 2);
    const down = new Set<number>();
    const isUp = (id: number) => !down.has(id);
    const state = wrr.create();
    answers(p, 1_000, isUp, state);
    down.add(p.members[3].id);
    const without = shares(answers(p, 6_000, isUp, state));
    expect(without.inAnswers.d).toBeUndefined();
    // 10,20,30 count 2: in 33.3, 66.7 and 100 % of the answers; first by weight.
    expectWithin(without.inAnswers, { a: 33.33, b: 66.67, c: 100 }, 1);
    expectWithin(without.first, { a: 16.67, b: 33.33, c: 50 }, 1);
    down.clear();
    const back = shares(answers(p, 10_000, isUp, state));
    expectWithin(back.first, { a: 10, b: 20, c: 30, d: 40 }, 1);
    expectWithin(back.any, { a: 10, b: 20, c: 30, d: 40 }, 1);
  });

  it('a weight changed by a reload (same members) changes the plan', () => {
    const members = [member('192.0.2.1', { weight: 1 }), member('192.0.2.2', { weight: 1 }), member('192.0.2.3', { weight: 1 })];
    const before = pool(members, { id: 9002, count: 2 });
    const after = pool(members.map((m, i) => ({ ...m, weight: i === 0 ? 4 : 1 })), { id: 9002, count: 2 });
    const state = wrr.create();
    answers(before, 100, undefined, state);
    const s = shares(answers(after, 6_000, undefined, state));
    // 4,1,1 count 2: a in every answer, b and c half each.
    expect(s.inAnswers.a).toBe(100);
    expectWithin(s.inAnswers, { b: 50, c: 50 }, 1);
  });
});

describe('wrr: state', () => {
  it('is kept per pool and family', () => {
    const v4 = [member('192.0.2.1', { weight: 2 }), member('192.0.2.2', { weight: 1 })];
    const v6 = [member('2001:db8::1', { weight: 1 }), member('2001:db8::2', { weight: 1 })];
    const p = pool([...v4, ...v6]);
    const state = wrr.create();
    const pick = (family: 4 | 6) => wrr.select(p, candidates(p, family, () => true), client, state, NO_ENV).members[0].address;
    expect([pick(4), pick(6), pick(4), pick(6), pick(4)]).toEqual(['192.0.2.1', '2001:db8::1', '192.0.2.2', '2001:db8::2', '192.0.2.1']);
    expect([...state.keys()].sort()).toEqual([`${p.id}/4`, `${p.id}/6`]);
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

  it('a clone (what explain runs on) answers as the live rotation would, and moving it leaves the live one alone', () => {
    const list = [1, 2, 3, 4, 5].map((w, i) => ({ member: member(`192.0.2.${i + 1}`, { weight: w }), weight: w }));
    const live: WrrState = new Map();
    for (let i = 0; i < 7; i++) wrrSelect(live, 'k', list, 2);
    const copy: WrrState = new Map([['k', live.get('k')!.clone()]]);
    const ahead = Array.from({ length: 20 }, () => wrrSelect(copy, 'k', list, 2).map((m) => m.id).join());
    expect([...copy.get('k')!.credits()]).not.toEqual([...live.get('k')!.credits()]);
    expect(Array.from({ length: 20 }, () => wrrSelect(live, 'k', list, 2).map((m) => m.id).join())).toEqual(ahead);
  });

  it('pruning forgets pools that are gone', () => {
    const state: WrrState = new Map([['1/4', new WrrRotation()], ['1/6', new WrrRotation()], ['2/4', new WrrRotation()]]);
    forgetRotations(state, new Set([2]));
    expect([...state.keys()]).toEqual(['2/4']);
  });
});

interface Plain {
  cur: Map<number, number>;
  /** Answers owed, as a numerator over `unit`; absent for a member in every answer. */
  owed: Map<number, number>;
  unit: number;
  shape: string;
}

/**
 * The rule stated plainly, with maps by member id and full sorts: SWRR picks the first; p_i = min(1, k·w_i/Σw) with the
 * cap repeated; members at 1 join every answer; each answer adds p_i to the others' credit, and the highest credits fill
 * the places left; every member handed out (the first too) pays 1. Credits carry over a list change as a fraction of an
 * answer owed.
 */
function referenceSelect(state: Plain, list: { member: { id: number }; weight: number }[], count: number): number[] {
  const n = list.length;
  const k = Math.min(count, n);
  const ids = list.map((c) => c.member.id);
  for (const id of [...state.cur.keys()]) if (!ids.includes(id)) state.cur.delete(id);
  const cur = list.map((c) => (state.cur.get(c.member.id) ?? 0) + c.weight);
  const total = list.reduce((s, c) => s + c.weight, 0);
  let best = 0;
  for (let i = 1; i < n; i++) if (cur[i] > cur[best]) best = i;
  cur[best] -= total;
  list.forEach((c, i) => state.cur.set(c.member.id, cur[i]));
  const byCur = (a: number, b: number) => cur[b] - cur[a] || a - b;
  // With one place, or every candidate in every answer, nobody is capped and credits only carry over.
  const capped = new Set<number>();
  for (; k > 1 && k < n; ) {
    const free = k - capped.size;
    const rest = list.reduce((s, c, i) => s + (capped.has(i) ? 0 : c.weight), 0);
    const more = list.map((c, i) => i).filter((i) => !capped.has(i) && free * list[i].weight >= rest);
    if (more.length === 0) break;
    for (const i of more) capped.add(i);
  }
  const free = k - capped.size;
  const unit = list.reduce((s, c, i) => s + (capped.has(i) ? 0 : c.weight), 0);
  const shape = `${k}:${list.map((c) => `${c.member.id}*${c.weight}`).join(',')}`;
  if (shape !== state.shape) {
    const owed = new Map<number, number>();
    list.forEach((c, i) => {
      const before = state.owed.get(c.member.id);
      if (!capped.has(i)) owed.set(c.member.id, before === undefined || state.unit === 0 ? 0 : Math.round((before / state.unit) * unit));
    });
    Object.assign(state, { owed, unit, shape });
  }
  if (k === 1) return [list[best].member.id];
  if (k === n) return [best, ...list.map((_, i) => i).filter((i) => i !== best).sort(byCur)].map((i) => list[i].member.id);
  const owed = list.map((c, i) => (capped.has(i) ? 0 : state.owed.get(c.member.id)! + free * c.weight));
  const chosen = new Set<number>([best, ...capped]);
  const byOwed = list.map((_, i) => i).filter((i) => !chosen.has(i)).sort((a, b) => owed[b] - owed[a] || a - b);
  for (const i of byOwed.slice(0, k - chosen.size)) chosen.add(i);
  for (const i of chosen) if (!capped.has(i)) owed[i] -= unit;
  list.forEach((c, i) => {
    if (!capped.has(i)) state.owed.set(c.member.id, owed[i]);
  });
  return [best, ...[...chosen].filter((i) => i !== best).sort(byCur)].map((i) => list[i].member.id);
}

describe('wrr: the in-place rotation agrees with the plain rule', () => {
  it('over 20,000 answers with random weights, counts from 1 to 12, and members leaving and coming back', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const all = Array.from({ length: 12 }, (_, i) => member(`192.0.2.${i + 1}`, { weight: Math.floor(random() * 6) }));
    const state: WrrState = new Map();
    const reference: Plain = { cur: new Map(), owed: new Map(), unit: 0, shape: '' };
    let list = all.map((m) => ({ member: m, weight: m.weight || 1 }));
    let count = 3;
    let worst = 0;
    for (let i = 0; i < 20_000; i++) {
      if (random() < 0.02) {
        // Health changed: a new list object with some members gone, in pool order.
        list = all.filter(() => random() < 0.8).map((m) => ({ member: m, weight: m.weight || 1 }));
        if (list.length === 0) list = [{ member: all[0], weight: 1 }];
      }
      // The pool's count changes now and then (a reload), not per answer: inclusion is fair for one count at a time.
      if (random() < 0.01) count = 1 + Math.floor(random() * 12);
      const got = wrrSelect(state, 'k', list, count).map((m) => m.id);
      const want = referenceSelect(reference, list, count);
      if (got.join() !== want.join()) expect({ answer: i, got }).toEqual({ answer: i, got: want });
      for (const [, owed] of state.get('k')!.credits()) if (owed !== null) worst = Math.max(worst, Math.abs(owed));
    }
    expect([...state.get('k')!.entries()].sort((a, b) => a[0] - b[0])).toEqual([...reference.cur.entries()].sort((a, b) => a[0] - b[0]));
    // No member is ever more than a few answers ahead of or behind its share (measured: under 2).
    expect(worst).toBeLessThan(3);
  });

  it('keeps each pool rotation across a reload that brings new objects for the same pool', () => {
    const members = [member('192.0.2.1', { weight: 1 }), member('192.0.2.2', { weight: 1 })];
    const before = pool(members, { id: 9001, count: 1 });
    const after = pool(members.map((m) => ({ ...m })), { id: 9001, count: 1 });
    const state = wrr.create();
    const pick = (p: Pool) => letter(wrr.select(p, candidates(p, 4, () => true), client, state, NO_ENV).members[0].address);
    expect([pick(before), pick(after), pick(after), pick(before)].join('')).toBe('abab');
  });
});
