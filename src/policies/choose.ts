// The pool chooser the answer core calls: health view + candidates + the pool's policy → PoolChoice. Synchronous.
import type { AnswerContext, Client, PoolChoice } from '../core/answer.js';
import type { Pool, PoolMember } from '../core/snapshot.js';
import type { HealthView } from '../health/health-view.js';
import { candidates } from './candidates.js';
import { findPolicy, policies, type Policy, type PolicyState } from './policy.js';

/** Counting happens at the edge: these are bound to prom-client children (or test spies) by the caller. */
export interface ChooserHooks {
  /** Every enabled member of the family was down and the pool answered all of them. */
  readonly failOpen?: (pool: Pool, family: 4 | 6) => void;
  /** The members handed out in one answer (fail-open answers included). */
  readonly answered?: (pool: Pool, members: readonly PoolMember[]) => void;
  /** A pool names a policy this build does not know; called once per pool and policy name, then wrr answers. */
  readonly unknownPolicy?: (pool: Pool) => void;
}

const EMPTY: PoolChoice = Object.freeze({ members: Object.freeze([]) as readonly PoolMember[], scope: 0, allDown: false });
const SERVFAIL: PoolChoice = Object.freeze({ members: Object.freeze([]) as readonly PoolMember[], scope: 0, allDown: true });

export function createChooser(health: () => HealthView, state: PolicyState, hooks: ChooserHooks = {}): AnswerContext['choose'] {
  const warned = new Set<string>();
  const policyOf = (pool: Pool): Policy => {
    const found = findPolicy(pool.policy);
    if (found) return found;
    const key = `${pool.name}\0${pool.policy}`;
    if (!warned.has(key)) {
      warned.add(key);
      hooks.unknownPolicy?.(pool);
    }
    return policies.wrr;
  };
  return (pool: Pool, family: 4 | 6, client: Client): PoolChoice => {
    // One read of the health reference per query, as with the snapshot.
    const view = health();
    const found = candidates(pool, family, (id) => view.get(id) !== false);
    if (found.allDown) {
      if (pool.allDown === 'servfail') return SERVFAIL;
      hooks.failOpen?.(pool, family);
      hooks.answered?.(pool, found.failOpen);
      return { members: found.failOpen, scope: 0, allDown: true };
    }
    if (found.list.length === 0) return EMPTY;
    const selection = policyOf(pool).select(pool, found, client, state);
    hooks.answered?.(pool, selection.members);
    return { members: selection.members, scope: selection.scope, allDown: false };
  };
}
