// Reads a zone's pools, members and every node's last health report for `zone export`, and computes each pool's answerable set.
import type { Pool, PoolMember } from '../core/snapshot.js';
import { parseAddress } from '../geo/address.js';
import { freezeView } from '../health/health-view.js';
import type { PoolMemberRow } from '../store/rows.js';
import type { Store } from '../store/store.js';
import { answerableMembers } from '../xfr/pool-rrsets.js';
import type { ExportedPool } from '../zonefile/pool-export.js';

/** The zone's pools as the export writes them; health is the freshest report of any node (the CLI is no node). */
export async function exportedPools(store: Store, zone: string): Promise<ExportedPool[]> {
  const out: ExportedPool[] = [];
  for (const summary of await store.listPools({ zone })) {
    const members = await store.listMembers(summary.name);
    const status = await store.healthStatus({ pool: summary.name });
    const view = new Map<number, boolean>();
    for (const s of status) {
      const freshest = [...s.nodes].sort((a, b) => (b.lastCheck ?? 0) - (a.lastCheck ?? 0))[0];
      if (freshest) view.set(s.member.id, freshest.up);
    }
    const health = freezeView(view);
    const pool = corePool(summary.id, summary.name, zone, summary.ttl, summary.allDown, members);
    const answerable = [4, 6].flatMap((f) => answerableMembers(pool, f as 4 | 6, health).map((m) => m.address));
    out.push({ pool: summary, members, up: (m: PoolMemberRow) => view.get(m.id), answerable: [...new Set(answerable)] });
  }
  return out;
}

/** Enough of the snapshot's Pool for the candidate rules (which read ids, families, tiers, weights and drains). */
function corePool(id: number, name: string, zone: string, ttl: number, allDown: 'open' | 'servfail', rows: readonly PoolMemberRow[]): Pool {
  const members: PoolMember[] = rows.map((m) => {
    const a = parseAddress(m.address);
    return {
      id: m.id,
      address: m.address,
      probeAddress: m.probeAddress,
      family: a?.family ?? 4,
      rdata: a?.bytes ?? new Uint8Array(4),
      weight: m.weight,
      priority: m.priority,
      enabled: m.enabled,
      location: { country: m.country, continent: m.continent, region: m.region, latitude: m.latitude, longitude: m.longitude },
    };
  });
  const check = { kind: 'tcp', port: 0, path: '/', host: null, expectStatusMin: 200, expectStatusMax: 399, insecure: false, timeoutMs: 0, intervalMs: 0, rise: 1, fall: 1 } as const;
  return { id, name, zone, policy: 'wrr', ttl, count: members.length, allDown, check, members };
}
