// The one contract every selection policy implements, and the registry that names them (a new policy: one file, one line).
import type { Client } from '../core/answer.js';
import type { Pool, PoolMember } from '../core/snapshot.js';
import type { Candidates } from './candidates.js';
import { geo, type GeoState } from './geo.js';
import { wrr, type WrrState } from './wrr.js';

export interface Selection {
  /** Distinct members, at most pool.count of them, first one first in the answer. */
  readonly members: readonly PoolMember[];
  /** ECS scope prefix length the selection depended on (RFC 7871 §7.2.1); 0 when the client did not matter. */
  readonly scope: number;
}

/** Mutable per-node selection memory, owned by the caller and shared by every query; policies add their slice here. */
export interface PolicyState {
  readonly wrr: WrrState;
  readonly geo: GeoState;
}

export interface Policy {
  readonly name: string;
  /** Called only with a non-empty candidates.list; must not throw, must not wait. */
  select(pool: Pool, candidates: Candidates, client: Client, state: PolicyState): Selection;
}

export const policies = {
  wrr,
  geo,
} as const satisfies Record<string, Policy>;

export type PolicyName = keyof typeof policies;

export function findPolicy(name: string): Policy | undefined {
  return Object.hasOwn(policies, name) ? policies[name as PolicyName] : undefined;
}

export function createPolicyState(geo: Partial<GeoState> = {}): PolicyState {
  return { wrr: new Map(), geo: { locator: geo.locator, decided: geo.decided } };
}
