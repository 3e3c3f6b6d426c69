// The geo policy: narrowing order, nearest with slack, unknown clients, scope, WRR delegation and all-down behaviour.
import { describe, expect, it, vi } from 'vitest';
import type { Client } from '../../src/core/answer.js';
import type { MemberLocation, PoolMember } from '../../src/core/snapshot.js';
import type { ClientLocation } from '../../src/geo/locator.js';
import { createMetrics } from '../../src/obs/metrics.js';
import { geoMetrics } from '../../src/geo/geo-metrics.js';
import { candidates, type Candidate } from '../../src/policies/candidates.js';
import { createChooser } from '../../src/policies/choose.js';
import { geo, narrow } from '../../src/policies/geo.js';
import { memberDistanceKm, UNKNOWN_LOCATION } from '../../src/geo/member-place.js';
import type { PolicyEnv } from '../../src/policies/policy.js';
import { PolicyStates } from '../../src/policies/policy-states.js';
import { findPolicy } from '../../src/policies/registry.js';
import { member, pool, upView } from './pool-fixture.js';

function at(country: string | null, extra: Partial<MemberLocation> = {}): MemberLocation {
  return { country, continent: null, region: null, latitude: null, longitude: null, ...extra };
}

function where(fields: Partial<ClientLocation>): ClientLocation {
  return { ...UNKNOWN_LOCATION, source: 'geo_networks', network: '203.0.113.0/24', prefix: 24, scope: 24, ...fields };
}

const de1 = member('192.0.2.1', { location: at('DE', { region: 'eu-central', latitude: 50.11, longitude: 8.68 }) });
const de2 = member('192.0.2.2', { location: at('DE', { latitude: 52.52, longitude: 13.4 }) });
const fr = member('192.0.2.3', { location: at('FR', { latitude: 48.86, longitude: 2.35 }) });
const us = member('192.0.2.4', { location: at('US', { continent: 'NA', latitude: 39.04, longitude: -77.49 }) });
const jp = member('192.0.2.5', { location: at('JP', { latitude: 35.68, longitude: 139.65 }) });
const all = [de1, de2, fr, us, jp];
const list = (ms: PoolMember[]): Candidate[] => ms.map((m) => ({ member: m, weight: m.weight }));
const addresses = (c: readonly Candidate[]): string[] => c.map((x) => x.member.address);

describe('narrow: region, else country, else continent, else nearest, else all', () => {
  it.each<[string, Partial<ClientLocation>, string, string[]]>([
    ['region label', { region: 'eu-central', country: 'DE', continent: 'EU' }, 'region', ['192.0.2.1']],
    ['country', { country: 'DE', continent: 'EU' }, 'country', ['192.0.2.1', '192.0.2.2']],
    ['unknown region falls to country', { region: 'nowhere', country: 'FR', continent: 'EU' }, 'country', ['192.0.2.3']],
    ['continent (member continent derived from its country)', { country: 'AT', continent: 'EU' }, 'continent', ['192.0.2.1', '192.0.2.2', '192.0.2.3']],
    ['continent given on the member row', { country: 'CA', continent: 'NA' }, 'continent', ['192.0.2.4']],
    // São Paulo: the US member (Virginia, ~7,600 km) is nearer than Frankfurt (~9,800 km) or Tokyo.
    ['nearest', { country: 'BR', continent: 'SA', latitude: -23.55, longitude: -46.63 }, 'nearest', ['192.0.2.4']],
    // Sydney: Tokyo (~7,800 km) is nearer than Virginia or Europe.
    ['nearest across the Pacific', { country: 'AU', continent: 'OC', latitude: -33.87, longitude: 151.21 }, 'nearest', ['192.0.2.5']],
    ['a continent without coordinates gives all', { continent: 'AF' }, 'all', ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5']],
  ])('%s', (_what, loc, level, expected) => {
    const n = narrow(list(all), where(loc));
    expect(n.level).toBe(level);
    expect(addresses(n.list)).toEqual(expected);
  });

  it('unknown location: all candidates', () => {
    expect(narrow(list(all), UNKNOWN_LOCATION)).toMatchObject({ level: 'all', key: '' });
  });

  it('nearest takes every member within 10 % or 100 km of the closest', () => {
    // Client in Moscow with no member in RU or Europe considered: Berlin ~1,610 km, Frankfurt ~2,020 km (+25 %).
    const moscow = where({ country: 'XX', latitude: 55.76, longitude: 37.62 });
    expect(addresses(narrow(list([de1, de2]), moscow).list)).toEqual(['192.0.2.2']);
    // Two members 50 km apart both count, even where 10 % of the distance is less than 100 km.
    const near = member('192.0.2.9', { location: at('DE', { latitude: 52.9, longitude: 13.4 }) });
    const berlinClient = where({ latitude: 52.4, longitude: 13.0 });
    expect(addresses(narrow(list([de2, near, fr]), berlinClient).list)).toEqual(['192.0.2.2', '192.0.2.9']);
    // Far away, the 10 % slack applies: from Tokyo, Berlin (8,920 km) and Frankfurt (9,340 km, +4.7 %) both count.
    const tokyoClient = where({ latitude: 35.68, longitude: 139.65 });
    expect(addresses(narrow(list([de1, de2]), tokyoClient).list)).toEqual(['192.0.2.1', '192.0.2.2']);
  });

  it('members without coordinates use their country centroid; members with neither are never "nearest"', () => {
    const centroidOnly = member('192.0.2.10', { location: at('JP') });
    const nowhere = member('192.0.2.11', { location: at(null) });
    const client = where({ latitude: 35, longitude: 135 });
    expect(memberDistanceKm(centroidOnly, client)).toBeGreaterThan(0);
    expect(memberDistanceKm(nowhere, client)).toBeNull();
    expect(addresses(narrow(list([nowhere, centroidOnly]), client).list)).toEqual(['192.0.2.10']);
    expect(narrow(list([nowhere]), client).level).toBe('all');
  });
});

describe('the geo policy through the chooser', () => {
  const client: Client = { address: '198.51.100.53', ecs: undefined };
  const p = pool(all, { policy: 'geo', count: 2 });

  function chooser(loc: ClientLocation, down: number[] = [], placed = vi.fn()) {
    const env: { -readonly [K in keyof PolicyEnv]: PolicyEnv[K] } = { locator: { locate: () => loc }, placed };
    const state = new PolicyStates(env);
    const health = upView(down);
    return { choose: createChooser(() => health, state), state, env, placed };
  }

  it('is registered', () => {
    expect(findPolicy('geo')?.name).toBe('geo');
  });

  it('answers with the country members, scope = the location scope, and reports the level', () => {
    const { choose, placed } = chooser(where({ country: 'DE', continent: 'EU', scope: 24 }));
    const choice = choose(p, 4, client);
    expect(choice.members.map((m) => m.address).sort()).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(choice.scope).toBe(24);
    expect(placed).toHaveBeenCalledWith(p, 'country');
  });

  it('a level whose members are all down answers from the next level', () => {
    const loc = where({ region: 'eu-central', country: 'DE', continent: 'EU', latitude: 50.11, longitude: 8.68 });
    expect(chooser(loc).choose(p, 4, client).members.map((m) => m.address)).toEqual(['192.0.2.1']);
    expect(chooser(loc, [de1.id]).choose(p, 4, client).members.map((m) => m.address)).toEqual(['192.0.2.2']);
    const noDe = chooser(loc, [de1.id, de2.id]);
    expect(noDe.choose(p, 4, client).members.map((m) => m.address)).toEqual(['192.0.2.3']);
    expect(noDe.placed).toHaveBeenCalledWith(p, 'continent');
    // All of Europe down: the nearest other member (from Frankfurt, Virginia is nearer than Tokyo).
    expect(chooser(loc, [de1.id, de2.id, fr.id]).choose(p, 4, client).members.map((m) => m.address)).toEqual(['192.0.2.4']);
  });

  it('every member down: the fail-open set of candidates.ts, scope 0, and geo is not asked', () => {
    const { choose, placed } = chooser(where({ country: 'DE' }), all.map((m) => m.id));
    const choice = choose(p, 4, client);
    expect(choice).toMatchObject({ allDown: true, scope: 0 });
    expect(choice.members).toHaveLength(5);
    expect(placed).not.toHaveBeenCalled();
  });

  it('delegates to WRR within the set: first addresses follow the weights', () => {
    const heavy = member('192.0.2.20', { weight: 3, location: at('DE') });
    const light = member('192.0.2.21', { weight: 1, location: at('DE') });
    const wp = pool([heavy, light, fr], { policy: 'geo', count: 1 });
    const { choose } = chooser(where({ country: 'DE' }));
    const firsts = Array.from({ length: 8 }, () => choose(wp, 4, client).members[0].address);
    expect(firsts.filter((a) => a === '192.0.2.20')).toHaveLength(6);
    expect(firsts.filter((a) => a === '192.0.2.21')).toHaveLength(2);
  });

  it('within the chosen set, first and any-place shares follow the weights (1,1,2,4, count 2, 10,000 answers)', () => {
    const de = [1, 1, 2, 4].map((weight, i) => member(`192.0.2.${40 + i}`, { weight, location: at('DE') }));
    const far = member('192.0.2.49', { weight: 8, location: at('FR') });
    const wp = pool([...de, far], { policy: 'geo', count: 2 });
    const { choose } = chooser(where({ country: 'DE' }));
    const first = new Map<string, number>();
    const any = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const got = choose(wp, 4, client).members.map((m) => m.address);
      expect(new Set(got).size).toBe(2);
      first.set(got[0], (first.get(got[0]) ?? 0) + 1);
      for (const a of got) any.set(a, (any.get(a) ?? 0) + 1);
    }
    expect(any.has(far.address)).toBe(false);
    de.forEach((m, i) => {
      const want = ([12.5, 12.5, 25, 50] as const)[i];
      expect(Math.abs((first.get(m.address) ?? 0) / 100 - want)).toBeLessThanOrEqual(1);
      expect(Math.abs((any.get(m.address) ?? 0) / 200 - want)).toBeLessThanOrEqual(1);
    });
    // The weight-4 member is owed 2·4/8 = 1 answer per answer: it is in all of them.
    expect(any.get(de[3].address)).toBe(10_000);
  });

  it('keeps one WRR rotation per pool, family, level and place', () => {
    const { state, env } = chooser(UNKNOWN_LOCATION);
    const run = (loc: ClientLocation) => {
      env.locator = { locate: () => loc };
      createChooser(() => upView(), state)(p, 4, client);
    };
    run(where({ country: 'DE' }));
    run(where({ country: 'FR', continent: 'EU' }));
    run(where({ country: 'AT', continent: 'EU' }));
    run(UNKNOWN_LOCATION);
    expect([...state.of(geo).keys()].sort()).toEqual([`${p.id}/4/geo/all/`, `${p.id}/4/geo/continent/EU`, `${p.id}/4/geo/country/DE`, `${p.id}/4/geo/country/FR`]);
  });

  it('without a locator every client is unknown: all candidates by weight, scope 0', () => {
    const choose = createChooser(() => upView(), new PolicyStates());
    const choice = choose(p, 4, { address: '203.0.113.1', ecs: { family: 1, sourcePrefix: 24, address: Uint8Array.from([203, 0, 113, 0]) } });
    expect(choice.scope).toBe(0);
    expect(choice.members).toHaveLength(2);
  });

  it('the candidates it narrows are those of candidates.ts (tier first)', () => {
    const backupDe = member('192.0.2.30', { priority: 1, location: at('DE') });
    const primaryUs = member('192.0.2.31', { priority: 0, location: at('US') });
    const tp = pool([backupDe, primaryUs], { policy: 'geo' });
    expect(addresses(candidates(tp, 4, () => true).list)).toEqual(['192.0.2.31']);
    expect(chooser(where({ country: 'DE' })).choose(tp, 4, client).members.map((m) => m.address)).toEqual(['192.0.2.31']);
  });
});

describe('geo metrics', () => {
  it('counts answers by pool and level, and misses', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const hooks = geoMetrics(metrics);
    const p = pool(all, { policy: 'geo', name: 'geo.example.test' });
    const state = new PolicyStates({ locator: { locate: () => where({ country: 'DE' }) }, placed: hooks.placed });
    const choose = createChooser(() => upView(), state);
    choose(p, 4, { address: '192.0.2.1', ecs: undefined });
    choose(p, 4, { address: '192.0.2.1', ecs: undefined });
    hooks.onMiss();
    const text = await metrics.registry.metrics();
    expect(text).toContain('lbdns_geo_answers_total{pool="geo.example.test",level="country"} 2');
    expect(text).toContain('lbdns_geo_lookup_misses_total 1');
  });
});
