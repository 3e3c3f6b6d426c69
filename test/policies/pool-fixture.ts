// Builds Pool and PoolMember values for policy and health tests without a store.
import net from 'node:net';
import type { HealthCheck, Pool, PoolMember } from '../../src/core/snapshot.js';
import { freezeView, type HealthView } from '../../src/health/health-view.js';

export const CHECK: HealthCheck = {
  kind: 'http',
  port: 80,
  path: '/',
  host: null,
  expectStatusMin: 200,
  expectStatusMax: 399,
  insecure: false,
  timeoutMs: 1000,
  intervalMs: 1000,
  rise: 2,
  fall: 3,
};

let nextId = 1;
/** Every member id this fixture has handed out, for upView(). */
const made = new Set<number>();

export function member(address: string, fields: Partial<Omit<PoolMember, 'address' | 'family' | 'rdata'>> = {}): PoolMember {
  const family = net.isIPv6(address) ? 6 : 4;
  const id = fields.id ?? nextId++;
  made.add(id);
  return {
    id,
    address,
    probeAddress: fields.probeAddress ?? null,
    family,
    rdata: new Uint8Array(family === 4 ? 4 : 16),
    weight: fields.weight ?? 1,
    priority: fields.priority ?? 0,
    enabled: fields.enabled ?? true,
    location: fields.location ?? { country: null, continent: null, region: null, latitude: null, longitude: null },
  };
}

/**
 * A health view in which every member made so far by this fixture has been probed up, except `down`: a member with no
 * result is never a candidate, so tests of selection start from members that were probed.
 */
export function upView(down: readonly number[] = []): HealthView {
  const view = new Map<number, boolean>();
  for (const id of made) view.set(id, true);
  for (const id of down) view.set(id, false);
  return freezeView(view);
}

export function pool(members: PoolMember[], fields: Partial<Omit<Pool, 'members'>> = {}): Pool {
  return {
    id: fields.id ?? nextId++,
    name: fields.name ?? 'www.example.test',
    zone: fields.zone ?? 'example.test',
    policy: fields.policy ?? 'wrr',
    ttl: fields.ttl ?? 30,
    count: fields.count ?? 1,
    allDown: fields.allDown ?? 'open',
    check: fields.check ?? CHECK,
    members,
  };
}
