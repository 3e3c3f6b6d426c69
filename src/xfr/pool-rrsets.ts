// A pool as plain records: its currently answerable members (every healthy member of the best tier, or the all-down set).
import { QCLASS, QTYPE } from '../core/constants.js';
import type { RR } from '../core/answer.js';
import type { Pool, PoolMember, Zone } from '../core/snapshot.js';
import { formatAddress } from '../geo/address.js';
import type { HealthView } from '../health/health-view.js';
import { candidates } from '../policies/candidates.js';
import { encodeRdata } from '../records/content.js';

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
 * The zone's pool records as sorted "name ttl TYPE address" lines: they change exactly when some pool would
 * transfer differently, and sorting makes them independent of member order and of which node computed them.
 */
export function poolSetLines(zone: Zone, health: HealthView): string[] {
  const lines: string[] = [];
  for (const node of zone.nodes.values()) {
    if (!node.pool) continue;
    for (const rr of poolRecords(node.pool, health)) {
      const family = rr.type === QTYPE.A ? 4 : 6;
      lines.push(`${rr.name} ${rr.ttl} ${family === 4 ? 'A' : 'AAAA'} ${formatAddress(family, rr.rdata)}`);
    }
  }
  return lines.sort();
}

/** Stored pool lines ("name ttl TYPE address", see poolSetLines) back as RRs, by owner name. */
export function poolRecordsFromLines(lines: readonly string[]): Map<string, RR[]> {
  const out = new Map<string, RR[]>();
  for (const line of lines) {
    const [name, ttl, type, address] = line.split(' ');
    const rr: RR = { name, type: type === 'AAAA' ? QTYPE.AAAA : QTYPE.A, cls: QCLASS.IN, ttl: Number(ttl), rdata: encodeRdata(type, address) };
    const list = out.get(name);
    if (list) list.push(rr);
    else out.set(name, [rr]);
  }
  return out;
}
