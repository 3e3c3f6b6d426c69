// Renders an Explanation as numbered steps an operator can read top to bottom.
import type { ExplainedLocation, ExplainedRecord, Explanation } from './explain.js';

function columns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd());
}

function rr(r: ExplainedRecord): string {
  return `${r.name} ${r.ttl} ${r.class} ${r.type} ${r.data}`;
}

function place(l: { country: string | null; continent: string | null; region: string | null }): string {
  const parts = [l.country, l.continent, l.region === null ? null : `region ${l.region}`].filter((p) => p !== null);
  return parts.length ? parts.join(' ') : '-';
}

function where(l: ExplainedLocation): string[] {
  const lines: string[] = [];
  const from = l.lookedUpFrom === 'ecs' ? 'its ECS subnet' : "the resolver's address";
  lines.push(`client network ${l.lookedUp ?? '?'} (${from})`);
  if (l.source === 'geo_networks') lines.push(`placed by geo_networks row ${l.geoNetworkId} (${l.network}): ${place(l)}`);
  else if (l.source === 'mmdb') lines.push(`placed by the GeoIP database, network ${l.network}: ${place(l)}`);
  else lines.push(`location unknown${l.network ? ` (the GeoIP database has nothing for ${l.network})` : ''}: every candidate by weight`);
  if (l.latitude !== null && l.longitude !== null) {
    lines.push(`coordinates ${l.latitude.toFixed(2)}, ${l.longitude.toFixed(2)} (${l.coordinates === 'exact' ? 'exact' : 'country centroid'})`);
  }
  lines.push(`this location holds for ${l.scope === 0 ? 'every client' : `/${l.scope} around the client`} (ECS scope before capping at the source prefix)`);
  return lines;
}

export function renderText(e: Explanation): string {
  const out: string[] = [];
  const from = e.client.ecs ? `ECS ${e.client.ecs} via resolver ${e.client.address}` : `resolver ${e.client.address} (no ECS)`;
  out.push(`explain ${e.question.name} ${e.question.type} from ${from} on node ${e.node} (snapshot version ${e.snapshotVersion})`);
  let step = 0;
  const say = (text: string, more: readonly string[] = []): void => {
    out.push(`${++step}. ${text}`);
    for (const line of more) out.push(`   ${line}`);
  };
  say(e.zone ? `zone: ${e.zone}` : 'zone: none of ours holds this name → REFUSED (not an open resolver)');
  const p = e.pool;
  if (p) {
    const fail = p.allDownBehaviour === 'open' ? 'answer with every enabled member' : 'SERVFAIL';
    say(`pool: ${p.name} (policy ${p.policy}, ${p.count} address${p.count === 1 ? '' : 'es'} per answer, TTL ${p.ttl}; when all are down: ${fail})`);
    if (p.location) say('client location:', where(p.location));
    const rows: string[][] = [['ADDRESS', 'HEALTH', 'TIER', 'WEIGHT', 'PLACE', 'KM', 'CANDIDATE']];
    for (const m of p.members) {
      let health = m.health === 'unknown' ? 'unknown' : `${m.health}${m.since ? ` since ${m.since}` : ''}`;
      if (m.health === 'down' && m.lastError) health += ` (${m.lastError})`;
      const mark = m.answered ? ' → answered' : m.inSet ? ' → in set' : '';
      rows.push([m.address, health, String(m.tier), String(m.weight), place(m), m.distanceKm === null ? '-' : String(m.distanceKm), `${m.candidate ? 'yes' : 'no'}: ${m.reason}${mark}`]);
    }
    say(`members (IPv${p.family} asked${p.tier === null ? '' : `, tier ${p.tier} in use`}):`, columns(rows));
    const voted = p.members.filter((m) => m.votes !== null);
    if (voted.length > 0) {
      const lines = voted.map((m) => {
        const v = m.votes!;
        const each = v.votes.map((b) => `${b.vantage} ${b.up ? 'up' : 'down'} (${b.ageSeconds}s${b.counted ? '' : `, not counted: ${b.ignored ?? 'not a prober'}`})`);
        return `${m.address}: ${v.state} by ${v.rule} (${v.ups} up, ${v.downs} down; probers ${v.assigned.join(', ') || 'none'}): ${each.join(', ') || 'no votes'}`;
      });
      say('votes that decided health:', lines);
    }
    if (p.allDown) say('every enabled member is down', [p.allDownBehaviour === 'open' ? 'fail-open: all of them are answered (counted in lbdns_pool_fail_open_total)' : 'the pool answers SERVFAIL']);
    else if (p.level) {
      const set = p.members.filter((m) => m.inSet).map((m) => m.address);
      const what = p.level === 'all' ? 'all candidates' : p.level === 'nearest' ? 'the nearest candidates' : `${p.level} ${p.levelKey}`;
      say(`level: ${p.level} → ${what}: ${set.join(', ') || 'none'}`, [p.summary]);
    } else if (p.members.some((m) => m.candidate)) say(p.summary);
    else say(`no enabled IPv${p.family} member: NODATA`);
  }
  const head = `${e.rcode}${e.authoritative ? ' aa' : ''} (${e.kind})`;
  const body = [...e.answer.map(rr), ...e.authority.map((r) => `authority: ${rr(r)}`), ...e.additional.map((r) => `additional: ${rr(r)}`)];
  say(`answer: ${head}`, body);
  if (e.ecsScope !== null) say(`ECS scope: /${e.ecsScope}${e.ecsScope === 0 ? ' (valid for every client)' : ` (resolvers may reuse it for every client in the same /${e.ecsScope})`}`);
  if (e.dnssec) say(`dnssec: ${e.dnssec.note}`);
  for (const note of e.notes) out.push(`note: ${note}`);
  return out.join('\n');
}
