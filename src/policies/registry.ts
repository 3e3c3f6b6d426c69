// The policies this build knows, by the name a pool row gives: a new policy is one file and one line here.
import { geo } from './geo.js';
import { hash } from './hash.js';
import type { Policy } from './policy.js';
import { wrr } from './wrr.js';

export const policies = {
  wrr,
  geo,
  hash,
} as const satisfies Record<string, Policy>;

export type PolicyName = keyof typeof policies;

/** The names the pool schema accepts, in registry order. */
export const POLICY_NAMES = Object.keys(policies) as [PolicyName, ...PolicyName[]];

/** What a pool naming an unknown policy is answered by (with a warning): weight alone. */
export const DEFAULT_POLICY: Policy = wrr;

/** Registered at run time (a test's fixture policy); looked up after the built-in ones. */
const extra = new Map<string, Policy>();

export function findPolicy(name: string): Policy | undefined {
  return Object.hasOwn(policies, name) ? policies[name as PolicyName] : extra.get(name);
}

/** Adds a policy under its name; returns the function that removes it again. */
export function registerPolicy(policy: Policy): () => void {
  if (findPolicy(policy.name)) throw new Error(`policy ${policy.name} is already registered`);
  extra.set(policy.name, policy);
  return () => void extra.delete(policy.name);
}
