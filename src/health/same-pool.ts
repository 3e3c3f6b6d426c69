// Whether a pool in a new snapshot probes and decides as its previous version did.
import type { Pool } from '../core/snapshot.js';

/**
 * Same id, name and zone, the same health check (quorum and probers included) and the same members in the same
 * order (id, address, probe address, enabled). A snapshot that rebuilt a zone without touching its pools (an SOA
 * edit, a serial moved by the pool serials) makes new Pool objects equal to the old ones in all of this: the
 * monitor and the vote agreement leave those alone instead of walking every member again (80,000 at scale).
 * Weights, priorities, locations and overrides only shape answers, never probing or deciding.
 */
export function samePoolForHealth(a: Pool, b: Pool): boolean {
  if (a === b) return true;
  if (a.id !== b.id || a.name !== b.name || a.zone !== b.zone || a.members.length !== b.members.length) return false;
  for (let i = 0; i < a.members.length; i++) {
    const x = a.members[i];
    const y = b.members[i];
    if (x.id !== y.id || x.address !== y.address || x.probeAddress !== y.probeAddress || x.enabled !== y.enabled) return false;
  }
  return a.check === b.check || JSON.stringify(a.check) === JSON.stringify(b.check);
}
