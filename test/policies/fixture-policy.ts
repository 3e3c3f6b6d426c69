// A policy a developer might add, kept in the tests: plain round robin in candidate order, ignoring weights, per pool.
import type { Candidate } from '../../src/policies/candidates.js';
import type { Policy } from '../../src/policies/policy.js';

/** Answers served per pool and family (`${pool.id}/${family}`): the next answer starts at that position. */
type Turns = Map<string, number>;

export const FIXTURE_POLICY = 'fixture-rr';

const order = (list: readonly Candidate[], turn: number, count: number): Candidate[] =>
  Array.from({ length: Math.min(count, list.length) }, (_, i) => list[(turn + i) % list.length]);

export const fixturePolicy: Policy<Turns> = {
  name: FIXTURE_POLICY,
  create: () => new Map(),
  select(pool, candidates, _client, state) {
    const turn = state.get(candidates.key) ?? 0;
    state.set(candidates.key, turn + 1);
    return { members: order(candidates.list, turn, pool.count).map((c) => c.member), scope: 0 };
  },
  describe(pool, candidates, _client, state) {
    const turn = state.get(candidates.key) ?? 0;
    const picked = order(candidates.list, turn, pool.count);
    return {
      selection: { members: picked.map((c) => c.member), scope: 0 },
      set: candidates.list.map((c) => c.member.id),
      level: 'turn',
      levelKey: String(turn),
      notes: [`fixture: answer ${turn + 1} of this pool starts at candidate ${(turn % candidates.list.length) + 1}`],
    };
  },
  forget(state, livePoolIds) {
    for (const key of state.keys()) if (!livePoolIds.has(Number(key.split('/')[0]))) state.delete(key);
  },
};
