// Overrides and maintenance windows judged at an injected clock: the candidate rule, the chooser's expiry, window maths.
import { describe, expect, it } from 'vitest';
import type { Client } from '../../src/core/answer.js';
import type { MaintenanceWindow, MemberOverride } from '../../src/core/override.js';
import type { Pool, PoolMember } from '../../src/core/snapshot.js';
import { candidates } from '../../src/policies/candidates.js';
import { createChooser } from '../../src/policies/choose.js';
import { PolicyStates } from '../../src/policies/policy-states.js';
import { cronProblem, nextWindow, windowAt } from '../../src/pools/maintenance.js';
import { overrideText, poolOverrides } from '../../src/pools/overrides.js';
import { member, pool, upView } from '../policies/pool-fixture.js';

const client: Client = { address: '198.51.100.7', ecs: undefined };
const T0 = Date.parse('2026-12-06T01:00:00Z');

const forced = (m: PoolMember, o: Partial<MemberOverride>): PoolMember => ({
  ...m,
  override: { state: 'down', reason: 'disk swap', by: 'alice', at: T0 - 60_000, until: null, ...o },
});
const windowed = (m: PoolMember, w: Partial<MaintenanceWindow>): PoolMember => ({
  ...m,
  maintenance: [{ id: 7, cron: '* * * * *', durationMs: 20_000, tz: null, reason: 'patching', by: 'bob', ...w }],
});

function threeMembers(overrideOf: (m: PoolMember, i: number) => PoolMember): Pool {
  return pool([0, 1, 2].map((i) => overrideOf(member(`192.0.2.${i + 1}`), i)), { count: 3 });
}

describe('the candidate rule with overrides in force', () => {
  it('forced down and drained members are out (fail-open included), forced up is in whatever its probes say', () => {
    const p = threeMembers((m, i) => (i === 0 ? forced(m, { state: 'down' }) : i === 1 ? forced(m, { state: 'up' }) : m));
    const [a, b, c] = p.members;
    const active = poolOverrides(p, T0).active;
    // b's probes say down; forced up, it is answered; a is out though up.
    const found = candidates(p, 4, (id) => id !== b.id, active);
    expect(found.list.map((x) => x.member.address)).toEqual([b.address, c.address]);
    // Nothing up by probes but b (forced): no fail-open, b answers.
    expect(candidates(p, 4, () => false, active).list.map((x) => x.member.address)).toEqual([b.address]);
    // Without the force-up, every probe down: fail-open hands out c only, never the forced-down a.
    const downOnly = poolOverrides(threeMembers((m, i) => (i === 0 ? forced(m, { state: 'drain' }) : m)), T0);
    const p2 = threeMembers((m, i) => (i === 0 ? forced(m, { state: 'drain' }) : m));
    const open = candidates(p2, 4, () => false, poolOverrides(p2, T0).active);
    expect(open.allDown).toBe(true);
    expect(open.failOpen.map((m) => m.address)).toEqual(['192.0.2.2', '192.0.2.3']);
    expect(downOnly.active.size).toBe(1);
    expect(a.override?.state).toBe('down');
  });

  it('an expired override counts for nothing, and says when the set changes next', () => {
    const p = threeMembers((m, i) => (i === 0 ? forced(m, { until: T0 + 5000 }) : i === 1 ? forced(m, { until: T0 - 1 }) : m));
    const now = poolOverrides(p, T0);
    expect([...now.active.keys()]).toEqual([p.members[0].id]);
    expect(now.next).toBe(T0 + 5000);
    expect(poolOverrides(p, T0 + 5000).active.size).toBe(0);
    expect(overrideText(now.active.get(p.members[0].id)!)).toBe('forced down until 2026-12-06T01:00:05Z by alice: disk swap');
  });
});

describe('the chooser judges expiry at its clock, on every query, with no timer', () => {
  it('leaves the member out until the expiry, and hands it out again from that millisecond', () => {
    let now = T0;
    const p = threeMembers((m, i) => (i === 0 ? forced(m, { until: T0 + 60_000 }) : m));
    const health = upView();
    const choose = createChooser(() => health, new PolicyStates(), { clock: () => now });
    const seen = (n: number) => new Set(Array.from({ length: n }, () => choose(p, 4, client).members.map((m) => m.address)).flat());
    expect(seen(30).has('192.0.2.1')).toBe(false);
    now = T0 + 59_999;
    expect(seen(30).has('192.0.2.1')).toBe(false);
    now = T0 + 60_000;
    expect(seen(3).has('192.0.2.1')).toBe(true);
  });

  it('drains a member while its maintenance window is open', () => {
    let now = Date.parse('2026-12-06T01:30:05Z');
    const p = threeMembers((m, i) => (i === 2 ? windowed(m, {}) : m));
    const health = upView();
    const choose = createChooser(() => health, new PolicyStates(), { clock: () => now });
    const seen = () => new Set(Array.from({ length: 30 }, () => choose(p, 4, client).members.map((m) => m.address)).flat());
    expect(seen().has('192.0.2.3')).toBe(false);
    now = Date.parse('2026-12-06T01:30:20Z');
    expect(seen().has('192.0.2.3')).toBe(true);
    now = Date.parse('2026-12-06T01:31:00Z');
    expect(seen().has('192.0.2.3')).toBe(false);
  });
});

describe('maintenance windows from cron + duration + time zone', () => {
  const weekly = { cron: '0 2 * * 0', durationMs: 2 * 3600_000 };
  it('is open from the firing for the duration, in the window time zone, and knows the next one', () => {
    // Sunday 2026-12-06 02:00 in Berlin (CET, UTC+1) is 01:00Z.
    const berlin = { ...weekly, tz: 'Europe/Berlin' };
    expect(windowAt(berlin, Date.parse('2026-12-06T00:59:59Z'))).toEqual({ open: false, opensAt: Date.parse('2026-12-06T01:00:00Z'), closesAt: Date.parse('2026-12-06T03:00:00Z') });
    expect(windowAt(berlin, Date.parse('2026-12-06T01:00:00Z')).open).toBe(true);
    // A node that starts mid-window knows it is open, and until when.
    expect(windowAt(berlin, Date.parse('2026-12-06T02:59:59Z'))).toMatchObject({ open: true, closesAt: Date.parse('2026-12-06T03:00:00Z') });
    expect(windowAt(berlin, Date.parse('2026-12-06T03:00:00Z')).open).toBe(false);
    expect(nextWindow(berlin, Date.parse('2026-12-06T02:00:00Z')).opensAt).toBe(Date.parse('2026-12-13T01:00:00Z'));
    // In July Berlin is UTC+2.
    expect(windowAt(berlin, Date.parse('2026-07-05T00:30:00Z'))).toMatchObject({ open: true, opensAt: Date.parse('2026-07-05T00:00:00Z') });
    // No zone: UTC.
    expect(windowAt({ ...weekly, tz: null }, Date.parse('2026-12-06T01:30:00Z')).opensAt).toBe(Date.parse('2026-12-06T02:00:00Z'));
  });

  it('chains firings that fall inside an open window into one', () => {
    const w = { cron: '*/10 * * * *', durationMs: 15 * 60_000, tz: null };
    const s = windowAt(w, Date.parse('2026-12-06T01:05:00Z'));
    expect(s.open).toBe(true);
    // Every 10 minutes for 15: never closed; it closes on paper after the chain it walked, and is judged again then.
    expect(s.closesAt).toBeGreaterThan(Date.parse('2026-12-06T02:00:00Z'));
  });

  it('names what is wrong with an expression or a zone', () => {
    expect(cronProblem('0 2 * * 0', 'Europe/Berlin')).toBeUndefined();
    expect(cronProblem('61 * * * *', null)).toMatch(/^cron "61 \* \* \* \*": /);
    expect(cronProblem('* * * * *', 'Mars/Olympus')).toBe('time zone "Mars/Olympus" is not an IANA zone name such as Europe/Berlin');
  });
});
