// A pool as plain records: its currently answerable members (every healthy member of the best tier, or the all-down set).
import { QCLASS, QTYPE } from '../core/constants.js';
import type { RR } from '../core/answer.js';
import type { Pool, PoolMember, Zone } from '../core/snapshot.js';
import { formatAddress } from '../geo/address.js';
import type { HealthView } from '../health/health-view.js';
import { candidates } from '../policies/candidates.js';

/**
 * The A and AAAA RRsets a secondary should serve for the pool: not `count` of them (that is a per-answer choice)
 * but every member a policy could hand out now, with the pool's TTL. When no member is up the all-down behaviour
 * applies: every enabled member (fail-open), or nothing for 'servfail' (a secondary then answers NODATA).
 */
export function poolRecords(pool: Pool, health: HealthView): RR[] {
  const out: RR[] = [];
  for (const family of [4, 6] as const) {
    const seen = new Set<string>();
    for (const m of answerableMembers(pool, family, health)) {
      // RFC 2181 §5: an RRset holds no duplicate; two members may share an address (different probe targets).
      if (seen.has(m.address)) continue;
      seen.add(m.address);
      out.push({ name: pool.name, type: family === 4 ? QTYPE.A : QTYPE.AAAA, cls: QCLASS.IN, ttl: pool.ttl, rdata: m.rdata });
    }
  }
  return out;
}

/** The members of one family a policy may hand out now, or the all-down set (none for 'servfail'). */
export function answerableMembers(pool: Pool, family: 4 | 6, health: HealthView): readonly PoolMember[] {
  const c = candidates(pool, family, (id) => health.get(id));
  return c.allDown ? (pool.allDown === 'open' ? c.failOpen : []) : c.list.map((x) => x.member);
}

/**
 * Text that changes exactly when some pool of the zone would transfer differently: its name, TTL and answerable
 * addresses (sorted, so member order and which node computed it do not matter).
 */
export function poolFingerprint(zone: Zone, health: HealthView): string {
  const parts: string[] = [];
  for (const node of zone.nodes.values()) {
    if (!node.pool) continue;
    const addrs = poolRecords(node.pool, health).map((rr) => formatAddress(rr.type === QTYPE.A ? 4 : 6, rr.rdata)).sort();
    parts.push(`${node.pool.name} ${node.pool.ttl} ${addrs.join(',')}`);
  }
  return parts.sort().join('\n');
}
