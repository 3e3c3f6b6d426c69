// A policy added as one file plus a registration works end to end: the chooser, explain and forgetting, no other file touched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QTYPE } from '../../src/core/constants.js';
import { explain } from '../../src/explain/explain.js';
import { renderText } from '../../src/explain/render-text.js';
import { freezeView } from '../../src/health/health-view.js';
import { createChooser } from '../../src/policies/choose.js';
import { PolicyStates } from '../../src/policies/policy-states.js';
import { findPolicy, registerPolicy } from '../../src/policies/registry.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { contents, memberRow, poolRow } from '../explain/fixture.js';
import { FIXTURE_POLICY, fixturePolicy } from './fixture-policy.js';

const client = { address: '192.0.2.250', ecs: undefined };
const members = [memberRow(31, 3, '192.0.2.31', null), memberRow(32, 3, '192.0.2.32', null), memberRow(33, 3, '192.0.2.33', null)];
const { snapshot, skipped } = buildSnapshot(contents({ pools: [poolRow(3, 'rr.example.test', FIXTURE_POLICY, { count: 2 })], members }));
const health = freezeView(new Map(members.map((m) => [m.id, true] as [number, boolean])));
const pool = snapshot.pools[0];

describe('a fixture policy registered by a test', () => {
  let unregister: () => void;
  beforeAll(() => (unregister = registerPolicy(fixturePolicy)));
  afterAll(() => unregister());

  it('is found by name and answers through the chooser in its own order', () => {
    expect(skipped).toEqual([]);
    expect(findPolicy(FIXTURE_POLICY)).toBe(fixturePolicy);
    const choose = createChooser(() => health, new PolicyStates());
    const answers = Array.from({ length: 4 }, () => choose(pool, 4, client).members.map((m) => m.address.split('.')[3]).join(','));
    expect(answers).toEqual(['31,32', '32,33', '33,31', '31,32']);
  });

  it('is explained from its own describe hook, and explaining does not move it', () => {
    const states = new PolicyStates();
    const choose = createChooser(() => health, states);
    choose(pool, 4, client);
    const deps = { nodeName: 'node-a', policies: states };
    const e = explain(snapshot, health, 'rr.example.test', QTYPE.A, client, deps);
    expect(e.pool).toMatchObject({ policy: FIXTURE_POLICY, level: 'turn', levelKey: '1' });
    expect(e.answer.map((r) => r.data)).toEqual(['192.0.2.32', '192.0.2.33']);
    expect(e.notes).toEqual(['fixture: answer 2 of this pool starts at candidate 2']);
    expect(e.pool!.members.every((m) => m.inSet)).toBe(true);
    // Described in its own words (it gives no summary line, so the generic one), never in another policy's.
    const text = renderText(e);
    expect(text).toContain('level: turn → turn 1: 192.0.2.31, 192.0.2.32, 192.0.2.33');
    expect(text).toContain('the fixture-rr policy picks 2');
    expect(text).not.toMatch(/round robin|client location/);
    expect(explain(snapshot, health, 'rr.example.test', QTYPE.A, client, deps).answer).toEqual(e.answer);
    expect(choose(pool, 4, client).members.map((m) => m.address)).toEqual(['192.0.2.32', '192.0.2.33']);
  });

  it('forgets pools that are gone when the node says so', () => {
    const states = new PolicyStates();
    createChooser(() => health, states)(pool, 4, client);
    expect([...states.of(fixturePolicy).keys()]).toEqual([`${pool.id}/4`]);
    states.forget(new Set([pool.id]));
    expect(states.of(fixturePolicy).size).toBe(1);
    states.forget(new Set());
    expect(states.of(fixturePolicy).size).toBe(0);
  });

  it('refuses a second policy of the same name', () => {
    expect(() => registerPolicy({ ...fixturePolicy })).toThrow(/already registered/);
    expect(() => registerPolicy({ ...fixturePolicy, name: 'wrr' })).toThrow(/already registered/);
  });
});
