// Builds Pool and PoolMember values for policy and health tests without a store.
import net from 'node:net';
import type { HealthCheck, Pool, PoolMember } from '../../src/core/snapshot.js';

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

export function member(address: string, fields: Partial<Omit<PoolMember, 'address' | 'family' | 'rdata'>> = {}): PoolMember {
  const family = net.isIPv6(address) ? 6 : 4;
  return {
    id: fields.id ?? nextId++,
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
