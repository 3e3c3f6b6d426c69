// Writes a zone as an RFC 1035 master file that named-checkzone accepts and parseZoneFile reads back unchanged.
import { LbdnsError } from '../errors.js';
import { isNativeType, nativeFileText, parseContent } from '../records/content.js';
import type { RecordRow, ZoneRow } from '../records/record-rows.js';

/** Absolute presentation form of a canonical name. */
const abs = (name: string): string => (name === '.' ? '.' : `${name}.`);

/** Content with every name made absolute, since the file sets $ORIGIN and a bare name would be relative. */
function fileContent(record: RecordRow): string {
  let content: string;
  try {
    ({ content } = parseContent(record.type, record.content));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new LbdnsError('E_INPUT', `record ${record.id} (${record.name} ${record.type}): ${message}`, { cause: err });
  }
  const parts = content.split(' ');
  switch (record.type.toUpperCase()) {
    case 'NS':
    case 'CNAME':
    case 'PTR':
      return abs(content);
    case 'MX':
      return `${parts[0]} ${abs(parts[1])}`;
    case 'SRV':
      return `${parts.slice(0, 3).join(' ')} ${abs(parts[3])}`;
    default: {
      const type = record.type.toUpperCase();
      return isNativeType(type) ? nativeFileText(type, content) : content;
    }
  }
}

/** DNSSEC canonical name order (RFC 4034 §6.1): compare labels from the right, so a name precedes its children. */
function compareNames(a: string, b: string): number {
  const la = a.split('.').reverse();
  const lb = b.split('.').reverse();
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return la[i] < lb[i] ? -1 : 1;
  }
  return la.length - lb.length;
}

/** `trailer`: lines appended after the records (the pools, see ./pool-export.ts). */
export function exportZone(zone: ZoneRow, records: readonly RecordRow[], trailer: readonly string[] = []): string {
  const sorted = [...records].sort(
    (a, b) => compareNames(a.name, b.name) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0),
  );
  const rows = sorted.map((r) => [abs(r.name), r.ttl === null ? '' : String(r.ttl), 'IN', r.type.toUpperCase(), fileContent(r)]);
  const width = Math.max(abs(zone.name).length, ...rows.map((r) => r[0].length)) + 1;
  const ttlWidth = Math.max(0, ...rows.map((r) => r[1].length)) + 1;
  const line = (cols: readonly string[]): string =>
    `${cols[0].padEnd(width)}${cols[1].padEnd(ttlWidth)}${cols.slice(2).join(' ')}`;
  const soa = `${abs(zone.mname)} ${abs(zone.rname)} ${zone.serial} ${zone.refresh} ${zone.retry} ${zone.expire} ${zone.minimum}`;
  return [
    `; zone ${zone.name}, serial ${zone.serial}`,
    `$ORIGIN ${abs(zone.name)}`,
    `$TTL ${zone.ttl}`,
    line([abs(zone.name), '', 'IN', 'SOA', soa]),
    ...rows.map(line),
    ...trailer,
    '',
  ].join('\n');
}
