// The one contract every selection policy implements: create / select / describe / forget, its state opaque to the rest.
import type { Client } from '../core/answer.js';
import type { Pool, PoolMember } from '../core/snapshot.js';
import type { GeoLevel } from '../geo/geo-level.js';
import type { Locator } from '../geo/locator.js';
import type { Candidates } from './candidates.js';

export interface Selection {
  /** Distinct members, at most pool.count of them, first one first in the answer. */
  readonly members: readonly PoolMember[];
  /** ECS scope prefix length the selection depended on (RFC 7871 §7.2.1); 0 when the client did not matter. */
  readonly scope: number;
}

/** What a policy tells explain about one selection, beside the selection itself. */
export interface Description {
  readonly selection: Selection;
  /** The member ids the policy narrowed the candidates to before choosing; undefined: it chose among all of them. */
  readonly set?: readonly number[];
  /** What decided the set (a geo level such as "country") and the value it matched ("DE"). */
  readonly level?: string;
  readonly levelKey?: string;
  /** How the policy chose, in a line ("weighted round robin picks 2 of 3"); absent: "the <name> policy picks <count>". */
  readonly summary?: string;
  /** Sentences for the operator: how the next answer may differ, what the choice depended on. */
  readonly notes: readonly string[];
}

/** Services the composition root hands every policy on each call: where clients are, and what to count. */
export interface PolicyEnv {
  /** undefined: no location is known for anyone. */
  readonly locator?: Pick<Locator, 'locate'>;
  /** A client was placed at a level of the geo hierarchy (metrics). */
  readonly placed?: (pool: Pool, level: GeoLevel) => void;
}

export const NO_ENV: PolicyEnv = Object.freeze({});

/**
 * A policy and its per-node memory S, which only the policy reads or writes. Declared as methods so that a Policy<S>
 * fits where a Policy<unknown> is asked for (the registry, the chooser), which never look inside S.
 */
export interface Policy<S = unknown> {
  readonly name: string;
  /** A fresh, empty memory for one node (one per process, shared by every query of every pool of this policy). */
  create(): S;
  /** Called only with a non-empty candidates.list; must not throw, must not wait. */
  select(pool: Pool, candidates: Candidates, client: Client, state: S, env: PolicyEnv): Selection;
  /** What select would answer now, with why; must leave `state` as it was (explain never moves a rotation). */
  describe(pool: Pool, candidates: Candidates, client: Client, state: S, env: PolicyEnv): Description;
  /** Drops what the state holds for pools no longer served (called after a snapshot swap). */
  forget(state: S, livePoolIds: ReadonlySet<number>): void;
}
