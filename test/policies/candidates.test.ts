// Candidate selection: health (unknown members included), drain, address family, priority tiers, weight 0, and the fail-open set.
import { describe, expect, it } from 'vitest';
import { candidates } from '../../src/policies/candidates.js';
import { member, pool } from './pool-fixture.js';

const addrs = (list: readonly { member: { address: string } }[]) => list.map((c) => c.member.address);

describe('candidates', () => {
  const a = member('192.0.2.1', { weight: 2, priority: 1 });
  const b = member('192.0.2.2', { weight: 1, priority: 1 });
  const c = member('192.0.2.3', { weight: 3, priority: 2 });
  const z = member('192.0.2.4', { weight: 0, priority: 1 });
  const off = member('192.0.2.5', { weight: 5, priority: 1, enabled: false });
  const v6 = member('2001:db8::1', { weight: 1, priority: 1 });
  const v6b = member('2001:db8::2', { weight: 1, priority: 1 });
  const p = pool([a, b, c, z, off, v6, v6b]);

  const cases: { name: string; family: 4 | 6; down: number[]; list: string[]; weights?: number[]; allDown?: boolean; failOpen?: string[] }[] = [
    { name: 'all up: best tier, weighted only, pool order', family: 4, down: [], list: ['192.0.2.1', '192.0.2.2'], weights: [2, 1] },
    { name: 'one of the best tier down', family: 4, down: [a.id], list: ['192.0.2.2'] },
    { name: 'weighted of the best tier down: weight 0 there answers, as weight 1', family: 4, down: [a.id, b.id], list: ['192.0.2.4'], weights: [1] },
    { name: 'whole best tier down: next tier', family: 4, down: [a.id, b.id, z.id], list: ['192.0.2.3'], weights: [3] },
    { name: 'a drained member never counts, even when up', family: 4, down: [a.id, b.id, z.id, c.id], list: [], allDown: true, failOpen: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'] },
    { name: 'IPv6 gets only IPv6 members', family: 6, down: [a.id, b.id], list: ['2001:db8::1', '2001:db8::2'] },
    { name: 'IPv6 all down while IPv4 is up: IPv6 fails open alone', family: 6, down: [v6.id, v6b.id], list: [], allDown: true, failOpen: ['2001:db8::1', '2001:db8::2'] },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const down = new Set(t.down);
      const found = candidates(p, t.family, (id) => !down.has(id));
      expect(found.family).toBe(t.family);
      expect(addrs(found.list)).toEqual(t.list);
      if (t.weights) expect(found.list.map((x) => x.weight)).toEqual(t.weights);
      expect(found.allDown).toBe(t.allDown ?? false);
      expect(found.failOpen.map((m) => m.address)).toEqual(t.failOpen ?? []);
    });
  }

  // A member not in the view has no probe result yet: it ranks below every member with one and is never a candidate;
  // with no member up the pool's all-down behaviour applies (here fail-open: every enabled member of the family).
  const unknownCases: { name: string; up: number[]; down: number[]; list: string[]; weights?: number[]; failOpen?: string[] }[] = [
    { name: 'unknown members of a tier are left out while another of it is up', up: [a.id], down: [], list: ['192.0.2.1'] },
    { name: 'a tier holding only down and unknown members gives way to the next tier up', up: [c.id], down: [a.id], list: ['192.0.2.3'] },
    { name: 'a tier of unknown members does not take traffic from a lower tier that is up', up: [c.id], down: [], list: ['192.0.2.3'] },
    { name: 'an up weight-0 member answers before unknown weighted ones of its tier', up: [z.id], down: [b.id], list: ['192.0.2.4'], weights: [1] },
    { name: 'nothing up, some unknown: all down (fail-open)', up: [], down: [a.id, c.id], list: [], failOpen: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'] },
    { name: 'every member unknown: all down (fail-open)', up: [], down: [], list: [], failOpen: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'] },
  ];
  for (const t of unknownCases) {
    it(t.name, () => {
      const view = new Map<number, boolean>([...t.up.map((id): [number, boolean] => [id, true]), ...t.down.map((id): [number, boolean] => [id, false])]);
      const found = candidates(p, 4, (id) => view.get(id));
      expect(addrs(found.list)).toEqual(t.list);
      if (t.weights) expect(found.list.map((x) => x.weight)).toEqual(t.weights);
      expect(found.allDown).toBe(t.failOpen !== undefined);
      expect(found.failOpen.map((m) => m.address)).toEqual(t.failOpen ?? []);
    });
  }

  it('only weight-0 members: each counts as weight 1', () => {
    const q = pool([member('192.0.2.10', { weight: 0 }), member('192.0.2.11', { weight: 0 })]);
    expect(candidates(q, 4, () => true).list.map((x) => x.weight)).toEqual([1, 1]);
  });

  it('a family with no enabled member is empty, not all down', () => {
    const q = pool([member('192.0.2.10'), member('2001:db8::10', { enabled: false })]);
    const found = candidates(q, 6, () => false);
    expect(found).toMatchObject({ list: [], allDown: false, failOpen: [] });
  });
});
