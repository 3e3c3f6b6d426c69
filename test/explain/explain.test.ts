// explain: the same decision as the wire, without moving the live WRR rotation; text and JSON; the /explain route.
import { describe, expect, it } from 'vitest';
import { QTYPE } from '../../src/core/constants.js';
import { respond } from '../../src/core/respond.js';
import type { Snapshot } from '../../src/core/snapshot.js';
import { explain } from '../../src/explain/explain.js';
import { explainRoute, parseEcs } from '../../src/explain/explain-route.js';
import { renderText } from '../../src/explain/render-text.js';
import { createLocator } from '../../src/geo/locator.js';
import { freezeView, type HealthView } from '../../src/health/health-view.js';
import type { MemberHealth } from '../../src/health/tracker.js';
import { createChooser } from '../../src/policies/choose.js';
import { wrr } from '../../src/policies/wrr.js';
import { geo } from '../../src/policies/geo.js';
import { PolicyStates } from '../../src/policies/policy-states.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';
import { contents, MEMBERS } from './fixture.js';

const snapshot: Snapshot = buildSnapshot(contents()).snapshot;

function setup(down: number[] = []) {
  const locator = createLocator({ networks: () => snapshot.geoNetworks, geoip: undefined });
  const state = new PolicyStates({ locator });
  const health: HealthView = freezeView(new Map([...Object.values(MEMBERS).map((m) => [m.id, true] as [number, boolean]), ...down.map((id) => [id, false] as [number, boolean])]));
  const states: MemberHealth[] = down.map((id) => ({
    memberId: id,
    poolName: 'geo.example.test',
    address: '',
    status: 'down',
    up: false,
    since: Date.UTC(2026, 0, 2, 3, 4, 5),
    okStreak: 0,
    failStreak: 3,
    lastCheck: Date.UTC(2026, 0, 2, 3, 4, 6),
    lastLatencyMs: null,
    lastError: 'connect ECONNREFUSED',
    lastErrorAt: null,
  }));
  const deps = { nodeName: 'node-a', policies: state, locator, memberStates: () => states };
  const wire = (name: string, ecs: { family: number; source: number; address: number[] }, qtype = QTYPE.A) => {
    const out = respond(snapshot, buildQuery({ name, qtype, edns: { ecs } }), '192.0.2.250', false, { nodeName: 'node-a', choose: createChooser(() => health, state) });
    return decodeReply(out.reply!);
  };
  return { state, health, deps, wire };
}

const DE_ECS = { family: 1, source: 24, address: [203, 0, 113] };
const deClient = { address: '192.0.2.250', ecs: { family: 1 as const, sourcePrefix: 24, address: Uint8Array.from([203, 0, 113, 0]) } };

describe('explain', () => {
  it('says what the wire says, and leaves the live rotation where it was', () => {
    const { state, health, deps, wire } = setup();
    const before = JSON.stringify([...state.of(wrr), ...state.of(geo)].map(([k, v]) => [k, [...v], [...v.credits()]]));
    const e = explain(snapshot, health, 'geo.example.test', QTYPE.A, deClient, deps);
    expect(JSON.stringify([...state.of(wrr), ...state.of(geo)].map(([k, v]) => [k, [...v], [...v.credits()]]))).toBe(before);
    const reply = wire('geo.example.test', DE_ECS);
    expect(e.answer.map((r) => r.data)).toEqual(reply.answers.map((a: any) => a.address));
    expect(e.ecsScope).toBe(reply.ecs.scopePrefixLength);
    // The wire moved the rotation; explain now agrees with the next answer, not the last.
    const next = explain(snapshot, health, 'geo.example.test', QTYPE.A, deClient, deps);
    expect(next.answer.map((r) => r.data)).toEqual(wire('geo.example.test', DE_ECS).answers.map((a: any) => a.address));
  });

  it('explains a geo answer: location, level, members, scope', () => {
    const { health, deps } = setup();
    const e = explain(snapshot, health, 'GEO.example.test.', QTYPE.A, deClient, deps);
    expect(e).toMatchObject({ node: 'node-a', snapshotVersion: 7, zone: 'example.test', kind: 'answer', rcode: 'NOERROR', authoritative: true, ecsScope: 24 });
    expect(e.question).toEqual({ name: 'geo.example.test', type: 'A' });
    expect(e.client).toEqual({ address: '192.0.2.250', ecs: '203.0.113.0/24' });
    expect(e.pool).toMatchObject({ name: 'geo.example.test', policy: 'geo', family: 4, tier: 0, level: 'country', levelKey: 'DE', scope: 24, allDown: false });
    expect(e.pool!.location).toMatchObject({ source: 'geo_networks', geoNetworkId: 1, network: '203.0.113.0/24', country: 'DE', continent: 'EU', coordinates: 'centroid', lookedUp: '203.0.113.0/24', lookedUpFrom: 'ecs' });
    const byAddress = Object.fromEntries(e.pool!.members.map((m) => [m.address, m]));
    expect(byAddress['192.0.2.11']).toMatchObject({ health: 'up', candidate: true, inSet: true, answered: true, tier: 0, weight: 1, country: 'DE', region: 'eu-central' });
    expect(byAddress['192.0.2.13']).toMatchObject({ candidate: true, inSet: false, answered: false });
    expect(byAddress['192.0.2.15'].distanceKm).toBeGreaterThan(9000);
    expect(byAddress['2001:db8::16']).toMatchObject({ candidate: false, reason: 'IPv6: not asked' });
    expect(e.answer.map((r) => r.data).sort()).toEqual(['192.0.2.11', '192.0.2.12']);
    expect(e.answer[0]).toMatchObject({ name: 'geo.example.test.', ttl: 30, class: 'IN', type: 'A' });
    expect(e.notes[0]).toMatch(/next real answer may start with another member/);
  });

  it('shows down members with since and last error, and the next level answering', () => {
    const { health, deps } = setup([11, 12]);
    const e = explain(snapshot, health, 'geo.example.test', QTYPE.A, deClient, deps);
    expect(e.pool).toMatchObject({ level: 'continent', levelKey: 'EU' });
    const de1 = e.pool!.members.find((m) => m.id === 11)!;
    expect(de1).toMatchObject({ health: 'down', candidate: false, reason: 'down', since: '2026-01-02T03:04:05.000Z', lastError: 'connect ECONNREFUSED' });
    expect(e.answer.map((r) => r.data)).toEqual(['192.0.2.13']);
    const text = renderText(e);
    expect(text).toContain('down since 2026-01-02T03:04:05.000Z (connect ECONNREFUSED)');
    expect(text).toContain('level: continent → continent EU: 192.0.2.13');
  });

  it('follows a CNAME into the pool, and reports the pool', () => {
    const { health, deps } = setup();
    const e = explain(snapshot, health, 'www.example.test', QTYPE.A, deClient, deps);
    expect(e.answer[0]).toEqual({ name: 'www.example.test.', ttl: 300, class: 'IN', type: 'CNAME', data: 'geo.example.test.' });
    expect(e.pool?.name).toBe('geo.example.test');
  });

  it('a wrr pool: no location, scope 0', () => {
    const { health, deps } = setup();
    const e = explain(snapshot, health, 'wrr.example.test', QTYPE.A, deClient, deps);
    expect(e.pool).toMatchObject({ policy: 'wrr', location: null, level: null, scope: 0 });
    expect(e.ecsScope).toBe(0);
  });

  it.each([
    ['static.example.test', QTYPE.A, 'answer', 'NOERROR', ['192.0.2.80']],
    ['missing.example.test', QTYPE.A, 'nxdomain', 'NXDOMAIN', []],
    ['static.example.test', QTYPE.TXT, 'nodata', 'NOERROR', []],
    ['www.example.org', QTYPE.A, 'refused', 'REFUSED', []],
  ])('%s %s → %s', (name, qtype, kind, rcode, data) => {
    const { health, deps } = setup();
    const e = explain(snapshot, health, name, qtype, { address: '192.0.2.1', ecs: undefined }, deps);
    expect(e).toMatchObject({ kind, rcode, pool: null, ecsScope: null });
    expect(e.answer.map((r) => r.data)).toEqual(data);
    if (kind === 'nxdomain') expect(e.authority[0]).toMatchObject({ type: 'SOA', data: 'ns1.example.test. hostmaster.example.test. 1 3600 600 86400 300' });
  });

  it('renders readable steps', () => {
    const { health, deps } = setup();
    const text = renderText(explain(snapshot, health, 'geo.example.test', QTYPE.A, deClient, deps));
    const lines = text.split('\n');
    expect(lines[0]).toBe('explain geo.example.test A from ECS 203.0.113.0/24 via resolver 192.0.2.250 on node node-a (snapshot version 7)');
    expect(lines[1]).toBe('1. zone: example.test');
    expect(lines[2]).toMatch(/^2\. pool: geo\.example\.test \(policy geo, 2 addresses per answer, TTL 30; when all are down: answer with every enabled member\)$/);
    expect(text).toContain('placed by geo_networks row 1 (203.0.113.0/24): DE EU');
    expect(text).toMatch(/ADDRESS\s+HEALTH\s+TIER\s+WEIGHT\s+PLACE\s+KM\s+CANDIDATE/);
    expect(text).toContain('level: country → country DE: 192.0.2.11, 192.0.2.12');
    expect(text).toContain('ECS scope: /24');
    expect(text).toMatch(/note: Weighted round robin rotates/);
  });
});

describe('/explain route', () => {
  const { state, health } = setup();
  const route = explainRoute({ nodeName: 'node-a', policies: state, snapshot: () => snapshot, health: () => health });
  const get = (q: string) => route(new URL(`http://localhost/explain?${q}`)) as { status: number; body: any };

  it('answers JSON, and text on request', () => {
    const r = get('name=geo.example.test&type=A&ecs=203.0.113.9/24');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ pool: { level: 'country' }, client: { ecs: '203.0.113.0/24' } });
    const t = get('name=geo.example.test&ecs=203.0.113.0/24&format=text');
    expect(typeof t.body).toBe('string');
    expect(t.body).toMatch(/^explain geo\.example\.test A from ECS/);
  });

  it('uses client= as the resolver address, 127.0.0.1 without it', () => {
    expect(get('name=geo.example.test&client=100.65.3.4').body.pool).toMatchObject({ level: 'region', location: { lookedUp: '100.65.3.4/32', lookedUpFrom: 'resolver' } });
    expect(get('name=geo.example.test').body.client).toEqual({ address: '127.0.0.1', ecs: null });
  });

  it.each([
    ['type=A', 'name= is required'],
    ['name=x.example.test&type=BOGUS', 'type "BOGUS" is not a record type'],
    ['name=x.example.test&client=nowhere', 'client "nowhere" is not an IP address'],
    ['name=x.example.test&ecs=1.2.3.4/33', 'ecs "1.2.3.4/33": prefix must be 0–32'],
    ['name=x.example.test&ecs=zzz', 'ecs "zzz" is not an address or CIDR'],
  ])('%s → 400', (q, message) => {
    const r = get(q);
    expect(r.status).toBe(400);
    expect(r.body.error).toContain(message);
  });

  it('parses ECS like a resolver sends it: host bits cleared, a bare address as /24 or /56', () => {
    expect(parseEcs('203.0.113.77/24')).toEqual({ family: 1, sourcePrefix: 24, address: Uint8Array.from([203, 0, 113, 0]) });
    expect(parseEcs('203.0.113.77')).toMatchObject({ sourcePrefix: 24 });
    expect(parseEcs('2001:db8:aa::1')).toMatchObject({ family: 2, sourcePrefix: 56 });
    expect(parseEcs('0.0.0.0/0')).toMatchObject({ family: 1, sourcePrefix: 0 });
  });
});
