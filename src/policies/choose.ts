// The pool chooser the answer core calls: health view + candidates + the pool's policy → PoolChoice. Synchronous.
import type { AnswerContext, Client, PoolChoice } from '../core/answer.js';
import type { Pool, PoolMember } from '../core/snapshot.js';
import type { HealthView } from '../core/health-view.js';
import { hasTimedState, poolOverrides, type PoolOverrides } from '../pools/overrides.js';
import { candidates, type Candidates } from './candidates.js';
import type { Description, Policy, PolicyEnv, Selection } from './policy.js';
import type { PolicyStates } from './policy-states.js';
import { DEFAULT_POLICY, findPolicy } from './registry.js';

/** Counting happens at the edge: these are bound to prom-client children (or test spies) by the caller. */
export interface ChooserHooks {
  /** Every enabled member of the family was down and the pool answered all of them. */
  readonly failOpen?: (pool: Pool, family: 4 | 6) => void;
  /** The members handed out in one answer (fail-open answers included). */
  readonly answered?: (pool: Pool, members: readonly PoolMember[]) => void;
  /** A pool names a policy this build does not know; called once per pool and policy name, then wrr answers. */
  readonly unknownPolicy?: (pool: Pool) => void;
  /** The time overrides and maintenance windows are judged at (ms since the epoch); default Date.now. */
  readonly clock?: () => number;
}

const EMPTY: PoolChoice = Object.freeze({ members: Object.freeze([]) as readonly PoolMember[], scope: 0, allDown: false });
const SERVFAIL: PoolChoice = Object.freeze({ members: Object.freeze([]) as readonly PoolMember[], scope: 0, allDown: true });

/** Explain's chooser: policies describe instead of select, under explain's own services, and nothing moves. */
export interface DescribeOptions {
  readonly env: PolicyEnv;
  readonly described: (pool: Pool, description: Description) => void;
}

/** The candidates of one pool object under one health view, per family: they change only when either does. */
interface Slot {
  /** The pool's policy and this node's state of it, looked up once per pool object. */
  readonly policy: Policy;
  readonly state: unknown;
  view: HealthView;
  v4: Candidates | undefined;
  v6: Candidates | undefined;
  /** The pool has overrides or windows: its candidates also depend on the time. */
  readonly timed: boolean;
  /** The overrides in force, and the time they were judged valid until (then judged again). */
  forced: PoolOverrides | undefined;
}

export function createChooser(health: () => HealthView, states: PolicyStates, hooks: ChooserHooks = {}, describing?: DescribeOptions): AnswerContext['choose'] {
  const warned = new Set<string>();
  const policyOf = (pool: Pool): Policy => {
    const found = findPolicy(pool.policy);
    if (found) return found;
    const key = `${pool.name}\0${pool.policy}`;
    if (!warned.has(key)) {
      warned.add(key);
      hooks.unknownPolicy?.(pool);
    }
    return DEFAULT_POLICY;
  };
  const env = describing?.env ?? states.env;
  const clock = hooks.clock ?? Date.now;
  const run: (policy: Policy, pool: Pool, found: Candidates, client: Client, state: unknown) => Selection = describing
    ? (policy, pool, found, client, state) => {
        const d = policy.describe(pool, found, client, state, env);
        describing.described(pool, d);
        return d.selection;
      }
    : (policy, pool, found, client, state) => policy.select(pool, found, client, state, env);
  // Keyed by the snapshot's pool objects: a reload brings new objects, and the old slots go with the old snapshot.
  const slots = new WeakMap<Pool, Slot>();
  const slotOf = (pool: Pool, view: HealthView): Slot => {
    let slot = slots.get(pool);
    if (slot === undefined) {
      const policy = policyOf(pool);
      slot = { policy, state: states.of(policy), view, v4: undefined, v6: undefined, timed: hasTimedState(pool), forced: undefined };
      slots.set(pool, slot);
    } else if (slot.view !== view) {
      slot.view = view;
      slot.v4 = undefined;
      slot.v6 = undefined;
    }
    return slot;
  };
  const candidatesOf = (slot: Slot, pool: Pool, family: 4 | 6): Candidates => {
    let found = family === 4 ? slot.v4 : slot.v6;
    if (found === undefined) {
      const view = slot.view;
      found = candidates(pool, family, (id) => view.get(id), slot.forced?.active);
      if (family === 4) slot.v4 = found;
      else slot.v6 = found;
    }
    return found;
  };
  return (pool: Pool, family: 4 | 6, client: Client): PoolChoice => {
    // One read of the health reference per query, as with the snapshot.
    const slot = slotOf(pool, health());
    if (slot.timed) {
      // Expiries and windows are judged on every query at the injected clock: answers change at the minute, with no
      // timer involved and the database possibly away. Judged again only when the set can have changed.
      const now = clock();
      if (slot.forced === undefined || now >= slot.forced.next) {
        slot.forced = poolOverrides(pool, now);
        slot.v4 = undefined;
        slot.v6 = undefined;
      }
    }
    const found = candidatesOf(slot, pool, family);
    if (found.allDown) {
      if (pool.allDown === 'servfail') return SERVFAIL;
      hooks.failOpen?.(pool, family);
      hooks.answered?.(pool, found.failOpen);
      return { members: found.failOpen, scope: 0, allDown: true };
    }
    if (found.list.length === 0) return EMPTY;
    const selection = run(slot.policy, pool, found, client, slot.state);
    hooks.answered?.(pool, selection.members);
    return { members: selection.members, scope: selection.scope, allDown: false };
  };
}
