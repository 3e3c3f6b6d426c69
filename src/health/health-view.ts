// The immutable health table answers read: member id → up; a member not in it has no result yet and is not handed out.

import type { HealthView } from '../core/health-view.js';

export type { HealthView };

/** Freezes a map so that a view handed to the answer path can never change under it. */
export function freezeView(map: Map<number, boolean>): HealthView {
  const refuse = (): never => {
    throw new TypeError('a health view is immutable');
  };
  Object.defineProperties(map, { set: { value: refuse }, delete: { value: refuse }, clear: { value: refuse } });
  return Object.freeze(map);
}

export const EMPTY_HEALTH: HealthView = freezeView(new Map());

/** Up only once a probe said so: a member with no result yet is not up (see policies/candidates.ts for why). */
export function isUp(view: HealthView, memberId: number): boolean {
  return view.get(memberId) === true;
}
