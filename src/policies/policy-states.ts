// One node's selection memory: each policy's own state, created on first use, kept opaque, and forgotten by pool.
import type { Policy, PolicyEnv } from './policy.js';

export class PolicyStates {
  readonly #states = new Map<Policy, unknown>();

  /** `env`: the services every policy is called with (locator, metrics hooks). */
  constructor(readonly env: PolicyEnv = {}) {}

  /** The policy's state on this node, created on first use. */
  of<S>(policy: Policy<S>): S {
    const p = policy as Policy;
    if (!this.#states.has(p)) this.#states.set(p, p.create());
    return this.#states.get(p) as S;
  }

  /** Lets every policy drop what it keeps for pools not in `livePoolIds` (after a snapshot swap). */
  forget(livePoolIds: ReadonlySet<number>): void {
    for (const [policy, state] of this.#states) policy.forget(state, livePoolIds);
  }
}
