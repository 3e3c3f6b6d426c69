// The quorum rules and the rendezvous choice of probers: every rule with its edge cases, and how little a join moves.
import { describe, expect, it } from 'vitest';
import { countedVotes, decide, nameHash, probersOf, proberSet, resolveRule, type Ballot, type QuorumRule } from '../../src/health/quorum.js';

const b = (vantage: string, up: boolean): Ballot => ({ vantage, up });
const ups = (...names: string[]) => names.map((n) => b(n, true));
const downs = (...names: string[]) => names.map((n) => b(n, false));

describe('decide', () => {
  it('no vote at all leaves the member unknown under every rule but local', () => {
    for (const rule of ['any-up', 'majority', 'all-down'] as const) {
      expect(decide(rule, [], true, 3)).toEqual({ up: undefined, rule, ups: 0, downs: 0 });
      expect(decide(rule, [], undefined, 0)).toEqual({ up: undefined, rule, ups: 0, downs: 0 });
    }
    expect(decide('local', [], undefined, 1)).toEqual({ up: undefined, rule: 'local', ups: 0, downs: 0 });
  });

  it('local uses this node’s own state only, whatever the votes say', () => {
    expect(decide('local', downs('a', 'b', 'c'), true, 3)).toEqual({ up: true, rule: 'local', ups: 1, downs: 0 });
    expect(decide('local', ups('a', 'b', 'c'), false, 3)).toEqual({ up: false, rule: 'local', ups: 0, downs: 1 });
    expect(decide('local', ups('a', 'b', 'c'), undefined, 3).up).toBeUndefined();
  });

  it('any-up: up when one vote says up, down only when every vote says down', () => {
    expect(decide('any-up', [...downs('a', 'b', 'c', 'd'), b('e', true)], undefined, 5)).toEqual({ up: true, rule: 'any-up', ups: 1, downs: 4 });
    expect(decide('any-up', downs('a', 'b'), undefined, 5)).toEqual({ up: false, rule: 'any-up', ups: 0, downs: 2 });
    expect(decide('any-up', ups('a'), undefined, 1).up).toBe(true);
  });

  it('majority: more ups than downs is up, more downs is down, and a tie is up', () => {
    expect(decide('majority', [...ups('a', 'b'), ...downs('c')], false, 3)).toEqual({ up: true, rule: 'majority', ups: 2, downs: 1 });
    expect(decide('majority', [...ups('a'), ...downs('b', 'c')], true, 3)).toEqual({ up: false, rule: 'majority', ups: 1, downs: 2 });
    // Ties, small and large: a split pair must not drop a member.
    expect(decide('majority', [b('a', true), b('b', false)], undefined, 2)).toEqual({ up: true, rule: 'majority', ups: 1, downs: 1 });
    expect(decide('majority', [...ups('a', 'b', 'c'), ...downs('d', 'e', 'f')], undefined, 6).up).toBe(true);
    expect(decide('majority', [...ups('a', 'b', 'c'), ...downs('d', 'e', 'f', 'g')], undefined, 7).up).toBe(false);
    expect(decide('majority', downs('a'), undefined, 1).up).toBe(false);
  });

  it('all-down: down only when every expected voter has voted and all say down', () => {
    // Complete and unanimous: down.
    expect(decide('all-down', downs('a', 'b', 'c'), undefined, 3)).toEqual({ up: false, rule: 'all-down', ups: 0, downs: 3 });
    // One expected voter missing: still up, however many say down.
    expect(decide('all-down', downs('a', 'b'), undefined, 3)).toEqual({ up: true, rule: 'all-down', ups: 0, downs: 2 });
    expect(decide('all-down', downs('a'), undefined, 2).up).toBe(true);
    // Any up: up.
    expect(decide('all-down', [...downs('a', 'b'), b('c', true)], undefined, 3)).toEqual({ up: true, rule: 'all-down', ups: 1, downs: 2 });
    // More voters than expected (the fall-back to every live vote): all down is still down.
    expect(decide('all-down', downs('a', 'b', 'c'), undefined, 1).up).toBe(false);
    // Own state plays no part beyond its ballot.
    expect(decide('all-down', downs('a', 'b'), true, 2).up).toBe(false);
  });
});

describe('resolveRule', () => {
  it('auto is local without probers and without live agents', () => {
    expect(resolveRule('auto', { probers: null, agentsLive: false })).toBe('local');
    expect(resolveRule(undefined, { probers: undefined, agentsLive: false })).toBe('local');
  });

  it('auto is majority with probers set or with a live agent', () => {
    expect(resolveRule('auto', { probers: 1, agentsLive: false })).toBe('majority');
    expect(resolveRule('auto', { probers: null, agentsLive: true })).toBe('majority');
    expect(resolveRule(undefined, { probers: 2, agentsLive: true })).toBe('majority');
  });

  it('an explicit rule stands whatever the context', () => {
    for (const rule of ['local', 'any-up', 'majority', 'all-down'] as const satisfies readonly QuorumRule[]) {
      expect(resolveRule(rule, { probers: null, agentsLive: false })).toBe(rule);
      expect(resolveRule(rule, { probers: 3, agentsLive: true })).toBe(rule);
    }
  });
});

describe('countedVotes', () => {
  const all = [b('a', true), b('b', false), b('c', false)];

  it('without an assignment every vote counts', () => {
    expect(countedVotes(all, undefined)).toEqual(all);
  });

  it('with one, only the assigned probers’ votes count', () => {
    expect(countedVotes(all, new Set(['a']))).toEqual([b('a', true)]);
    expect(countedVotes(all, new Set(['b', 'c', 'x']))).toEqual([b('b', false), b('c', false)]);
  });

  it('falls back to every vote while no assigned prober has voted', () => {
    expect(countedVotes(all, new Set(['x', 'y']))).toEqual(all);
    expect(countedVotes([], new Set(['a']))).toEqual([]);
  });
});

describe('probersOf', () => {
  const three = proberSet(['n3', 'n1', 'agent-2']);

  it('the set is sorted, deduplicated, and carries each name’s hash', () => {
    const s = proberSet(['b', 'a', 'b', 'c']);
    expect(s.names).toEqual(['a', 'b', 'c']);
    expect(s.hashes).toEqual(['a', 'b', 'c'].map(nameHash));
    expect(new Set(s.hashes).size).toBe(3);
  });

  it('is deterministic: the same member and set give the same probers, whatever order the names came in', () => {
    const again = proberSet(['agent-2', 'n3', 'n1']);
    for (let id = 1; id <= 500; id++) {
      for (const k of [1, 2]) expect(probersOf(id, again, k)).toEqual(probersOf(id, three, k));
    }
  });

  it('picks k distinct names of the set', () => {
    const big = proberSet(Array.from({ length: 10 }, (_, i) => `v${i}`));
    for (let id = 1; id <= 300; id++) {
      for (const k of [1, 2, 3, 7, 9]) {
        const p = probersOf(id, big, k);
        expect(p).toHaveLength(k);
        expect(new Set(p).size).toBe(k);
        for (const name of p) expect(big.names).toContain(name);
      }
    }
  });

  it('the top k are nested: the first k-1 of the top k are the top k-1', () => {
    const big = proberSet(Array.from({ length: 8 }, (_, i) => `v${i}`));
    for (let id = 1; id <= 300; id++) {
      const k3 = probersOf(id, big, 3);
      expect(new Set(probersOf(id, big, 2))).toEqual(new Set(k3.slice(0, 2)));
      expect(probersOf(id, big, 1)).toEqual(k3.slice(0, 1));
    }
  });

  it('k null, undefined or at least the set size: every name', () => {
    expect(probersOf(7, three, null)).toEqual(three.names);
    expect(probersOf(7, three, undefined)).toEqual(three.names);
    expect(probersOf(7, three, 3)).toEqual(three.names);
    expect(probersOf(7, three, 64)).toEqual(three.names);
  });

  it('spreads members over the vantage points about evenly', () => {
    const counts = new Map<string, number>();
    for (let id = 1; id <= 9000; id++) {
      const [p] = probersOf(id, three, 1);
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(three.names);
    for (const n of counts.values()) {
      expect(n).toBeGreaterThan(2400);
      expect(n).toBeLessThan(3600);
    }
  });

  for (const k of [1, 2]) {
    it(`a fourth vantage point joining moves only the members whose top ${k} it enters, about ${k}/4 of them`, () => {
      const before = proberSet(['node-a', 'node-b', 'agent-c']);
      const after = proberSet(['node-a', 'node-b', 'agent-c', 'agent-d']);
      const members = 10_000;
      let moved = 0;
      for (let id = 1; id <= members; id++) {
        const was = probersOf(id, before, k);
        const now = probersOf(id, after, k);
        const same = was.length === now.length && [...was].sort().join() === [...now].sort().join();
        if (same) continue;
        moved++;
        // Every member whose probers changed gained the new one, and lost exactly one old one.
        expect(now).toContain('agent-d');
        expect(now.filter((n) => !was.includes(n))).toEqual(['agent-d']);
        expect(was.filter((n) => !now.includes(n))).toHaveLength(1);
      }
      const share = moved / members;
      expect(share).toBeGreaterThan(k / 4 - 0.1);
      expect(share).toBeLessThan(k / 4 + 0.1);
    });
  }

  it('a vantage point leaving moves only the members it probed', () => {
    const before = proberSet(['node-a', 'node-b', 'agent-c', 'agent-d']);
    const after = proberSet(['node-a', 'node-b', 'agent-c']);
    for (let id = 1; id <= 5000; id++) {
      const was = probersOf(id, before, 2);
      const now = probersOf(id, after, 2);
      if (!was.includes('agent-d')) expect(new Set(now)).toEqual(new Set(was));
      else expect(now.filter((n) => was.includes(n))).toHaveLength(1);
    }
  });
});
