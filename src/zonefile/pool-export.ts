// The pools of a zone in an exported zone file: a comment block with each pool's definition, and its answerable set as records.
import type { PoolMemberRow, PoolRow } from '../schema/pool-schema.js';

export const POOL_EXPORT_MODES = ['comment', 'records', 'none', 'comment,records'] as const;
export type PoolExportMode = (typeof POOL_EXPORT_MODES)[number];

export interface ExportedPool {
  readonly pool: PoolRow & { readonly name: string };
  readonly members: readonly PoolMemberRow[];
  /** Each member's state as last reported by any node (the freshest report wins); undefined: never probed. */
  readonly up: (member: PoolMemberRow) => boolean | undefined;
  /** The addresses a secondary should serve now (src/xfr/pool-rrsets.ts rules), as the CLI computed them. */
  readonly answerable: readonly string[];
}

const abs = (name: string): string => `${name}.`;

function state(up: boolean | undefined): string {
  return up === undefined ? 'unknown' : up ? 'up' : 'down';
}

/**
 * Lines to append to the zone file. The comment says what lbdns does with the name (health-aware answers of
 * `count` members) so that nobody mistakes the records for the pool; the records are the answerable set at
 * export time, which is what a zone transfer carries too. Records at a pool name cannot be imported back
 * beside the pool (export with --pools comment to re-import).
 */
export function poolSection(pools: readonly ExportedPool[], mode: PoolExportMode): string[] {
  if (pools.length === 0 || mode === 'none') return [];
  const out: string[] = [];
  const comment = mode.includes('comment');
  const records = mode.includes('records');
  if (comment) {
    out.push(
      ';',
      '; Pools: lbdns answers these names itself, with `count` healthy members per answer chosen by the policy.',
      records
        ? '; The records after each definition are the answerable set at export time (as a zone transfer carries it);'
        : '; No records are written for them (--pools comment): another server would not answer these names.',
    );
    if (records) out.push('; re-importing this file into lbdns needs an export with --pools comment.');
  }
  for (const p of pools) {
    const r = p.pool;
    if (comment) {
      const check = r.checkKind === 'tcp' ? `tcp port ${r.checkPort}` : `${r.checkKind} port ${r.checkPort} path ${r.checkPath}${r.checkHost ? ` host ${r.checkHost}` : ''} expect ${r.expectStatusMin}-${r.expectStatusMax}`;
      out.push(';', `; pool ${r.name}: policy ${r.policy}, ttl ${r.ttl}, count ${r.count}, all-down ${r.allDown}, check ${check}, interval ${r.intervalMs} ms, rise ${r.rise}, fall ${r.fall}`);
      for (const m of p.members) {
        const where = [m.country, m.continent, m.region].filter((x) => x !== null).join('/');
        out.push(`;   member ${m.address} weight ${m.weight} priority ${m.priority} ${m.enabled ? 'enabled' : 'drained'} ${state(p.up(m))}${where ? ` ${where}` : ''}`);
      }
      if (p.answerable.length === 0) out.push(';   answerable now: none');
    }
    if (records) {
      for (const a of p.answerable) out.push(`${abs(r.name)} ${r.ttl} IN ${a.includes(':') ? 'AAAA' : 'A'} ${a}`);
    }
  }
  return out;
}
