// The chooser the answer core calls: health view, fail-open, servfail mode, unknown policy, counting hooks.
import { describe, expect, it, vi } from 'vitest';
import type { Client } from '../../src/core/answer.js';
import { EMPTY_HEALTH, freezeView, type HealthView } from '../../src/health/health-view.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { choiceMetrics } from '../../src/policies/choice-metrics.js';
import { createChooser } from '../../src/policies/choose.js';
import { PolicyStates } from '../../src/policies/policy-states.js';
import { member, pool, upView } from './pool-fixture.js';

const client: Client = { address: '198.51.100.7', ecs: undefined };
const view = (entries: [number, boolean][]): HealthView => freezeView(new Map(entries));

describe('createChooser', () => {
  const a = member('192.0.2.1', { weight: 3 });
  const b = member('192.0.2.2', { weight: 1 });
  const z = member('192.0.2.3', { weight: 0 });
  const off = member('192.0.2.4', { enabled: false });
  const v6 = member('2001:db8::1');

  it('a member is handed out only once a probe said up; the health view is read on every query', () => {
    let health = EMPTY_HEALTH;
    const hooks = { failOpen: vi.fn() };
    const choose = createChooser(() => health, new PolicyStates(), hooks);
    const p = pool([a, b], { count: 2 });
    // Nothing probed yet: the all-down behaviour, counted.
    expect(choose(p, 4, client)).toEqual({ members: [a, b], scope: 0, allDown: true });
    expect(hooks.failOpen).toHaveBeenCalledTimes(1);
    // One result in: the unprobed member ranks below it whatever the weights.
    health = view([[b.id, true]]);
    expect(choose(p, 4, client)).toEqual({ members: [b], scope: 0, allDown: false });
    health = view([[a.id, true], [b.id, true]]);
    expect(choose(p, 4, client)).toEqual({ members: [a, b], scope: 0, allDown: false });
    health = view([[a.id, false], [b.id, true]]);
    expect(choose(p, 4, client)).toEqual({ members: [b], scope: 0, allDown: false });
    // A servfail pool with nothing probed answers SERVFAIL rather than an unchecked address.
    health = EMPTY_HEALTH;
    expect(choose(pool([a, b], { allDown: 'servfail' }), 4, client)).toEqual({ members: [], scope: 0, allDown: true });
  });

  it('all down, fail-open: every enabled member of the family regardless of count, counted', () => {
    const hooks = { failOpen: vi.fn(), answered: vi.fn() };
    const p = pool([a, b, z, off, v6], { count: 1 });
    const choose = createChooser(() => view([[a.id, false], [b.id, false], [z.id, false], [v6.id, true]]), new PolicyStates(), hooks);
    expect(choose(p, 4, client)).toEqual({ members: [a, b, z], scope: 0, allDown: true });
    expect(hooks.failOpen).toHaveBeenCalledWith(p, 4);
    expect(hooks.answered).toHaveBeenCalledWith(p, [a, b, z]);
    // The IPv6 side is up: unaffected.
    expect(choose(p, 6, client)).toEqual({ members: [v6], scope: 0, allDown: false });
    expect(hooks.failOpen).toHaveBeenCalledTimes(1);
  });

  it('all down, servfail mode: no members and allDown, so the core answers SERVFAIL', () => {
    const failOpen = vi.fn();
    const p = pool([a, b], { allDown: 'servfail' });
    const choose = createChooser(() => view([[a.id, false], [b.id, false]]), new PolicyStates(), { failOpen });
    expect(choose(p, 4, client)).toEqual({ members: [], scope: 0, allDown: true });
    expect(failOpen).not.toHaveBeenCalled();
  });

  it('a family without members is empty and not all down (the core answers NODATA)', () => {
    const choose = createChooser(() => EMPTY_HEALTH, new PolicyStates());
    expect(choose(pool([a]), 6, client)).toEqual({ members: [], scope: 0, allDown: false });
  });

  it('an unknown policy answers with wrr and is reported once per pool', () => {
    const unknownPolicy = vi.fn();
    const p = pool([a, b], { policy: 'nearest-moon' });
    const choose = createChooser(() => upView(), new PolicyStates(), { unknownPolicy });
    const firsts = [0, 1, 2, 3].map(() => choose(p, 4, client).members[0].address);
    expect(firsts).toEqual(['192.0.2.1', '192.0.2.1', '192.0.2.2', '192.0.2.1']);
    expect(unknownPolicy).toHaveBeenCalledTimes(1);
    expect(unknownPolicy).toHaveBeenCalledWith(p);
    // Names inherited from Object.prototype are not policies either.
    choose(pool([a], { policy: 'constructor' }), 4, client);
    expect(unknownPolicy).toHaveBeenCalledTimes(2);
  });

  it('choiceMetrics counts answers per member and fail-opens per pool in prom-client', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const p = pool([a, b], { count: 2, name: 'lb.example.test' });
    let health = upView();
    const choose = createChooser(() => health, new PolicyStates(), choiceMetrics(metrics));
    for (let i = 0; i < 4; i++) choose(p, 4, client);
    health = view([[a.id, false], [b.id, false]]);
    choose(p, 4, client);
    const answers = (await metrics.poolAnswers.get()).values;
    expect(answers.map((v) => [v.labels.member, v.value]).sort()).toEqual([['192.0.2.1', 5], ['192.0.2.2', 5]]);
    const failOpen = (await metrics.poolFailOpen.get()).values;
    expect(failOpen).toEqual([{ labels: { pool: 'lb.example.test' }, value: 1 }]);
  });

  it('choiceMetrics adds answers only when the metrics are read, and keeps those of pools a reload replaced', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const choose = createChooser(() => upView(), new PolicyStates(), choiceMetrics(metrics));
    const first = pool([a, b], { id: 7001, count: 1, name: 'lb.example.test' });
    for (let i = 0; i < 4; i++) choose(first, 4, client);
    // Nothing reaches prom-client on the answer path itself.
    expect((metrics.poolAnswers as unknown as { hashMap: Record<string, unknown> }).hashMap).toEqual({});
    // A reload: new objects for the same pool, the old one no longer asked.
    const second = pool([{ ...a }, { ...b }], { id: 7001, count: 1, name: 'lb.example.test' });
    for (let i = 0; i < 4; i++) choose(second, 4, client);
    const answers = (await metrics.poolAnswers.get()).values;
    expect(answers.map((v) => [v.labels.member, v.value]).sort()).toEqual([['192.0.2.1', 6], ['192.0.2.2', 2]]);
    // Read again with no answers in between: unchanged, counted once.
    const again = (await metrics.poolAnswers.get()).values;
    expect(again.map((v) => [v.labels.member, v.value]).sort()).toEqual([['192.0.2.1', 6], ['192.0.2.2', 2]]);
  });

  it('choiceMetrics holds at most a bounded number of pools before adding their counts', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const many = Array.from({ length: 5000 }, (_, i) => pool([member(`198.18.${i >> 8}.${i & 255}`)], { id: 80_000 + i, name: `p${i}.example.test` }));
    const health = upView();
    const choose = createChooser(() => health, new PolicyStates(), choiceMetrics(metrics));
    for (const p of many) choose(p, 4, client);
    // Past the bound the counts were added without a read.
    const added = Object.keys((metrics.poolAnswers as unknown as { hashMap: Record<string, unknown> }).hashMap).length;
    expect(added).toBeGreaterThan(4000);
    expect(added).toBeLessThan(5000);
    const values = (await metrics.poolAnswers.get()).values;
    expect(values.length).toBe(5000);
    expect(values.every((v) => v.value === 1)).toBe(true);
  });
});
