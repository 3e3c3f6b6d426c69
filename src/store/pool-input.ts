// Validates pool, member and geo network input with the pool schema and turns it into column values, before any SQL runs.
//
// The schema (src/schema/pool-schema.ts) gives the operator the field and the value ("weight -1 must be a whole number
// from 0 to 1000000"); the migrations' CHECKs and triggers stay as the database's own guard for plain SQL edits.
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import { CHECK_ROW_FIELDS, checked, locationSettingsSchema, memberSettingsSchema, poolSettingsSchema, type MemberSettings, type PoolSettings } from '../schema/pool-schema.js';
import { columnName } from './column-name.js';
import { parseHostAddress, parseNetwork } from './inet.js';
import type { GeoNetworksTable, PoolMembersTable, PoolsTable } from './schema.js';
import type { HealthReport, NewGeoNetwork } from './store.js';
import type { Insertable } from 'kysely';

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

const geoSchema = locationSettingsSchema.extend({
  note: z
    .custom<string>((v) => typeof v === 'string' && v.length <= 200 && !/[\x00-\x1f\x7f]/.test(v), {
      error: () => 'note must be one line of at most 200 characters',
    })
    .nullable()
    .optional(),
});

/** Drops the keys whose value is undefined: left out means "unchanged" (set) or "default" (add). */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

type PoolColumns = Omit<Insertable<PoolsTable>, 'id' | 'zone_id' | 'name'>;
type MemberColumns = Omit<Insertable<PoolMembersTable>, 'id' | 'pool_id' | 'address'>;
type GeoColumns = Omit<Insertable<GeoNetworksTable>, 'id' | 'network'>;

/** Validated pool settings as columns (each field's own, the check's by its row field); only the given ones. */
export function poolColumns(settings: PoolSettings): Partial<PoolColumns> {
  const { check, ...top } = checked(poolSettingsSchema, settings);
  const fields: [string, unknown][] = [...Object.entries(top), ...Object.entries(check ?? {}).map(([k, v]): [string, unknown] => [CHECK_ROW_FIELDS[k as keyof typeof CHECK_ROW_FIELDS], v])];
  return defined(Object.fromEntries(fields.map(([f, v]) => [columnName(f), v]))) as Partial<PoolColumns>;
}

/** Validated member settings as columns; `adding` also requires coordinates to come in pairs. */
export function memberColumns(settings: MemberSettings, adding: boolean): Partial<MemberColumns> {
  const m = checked(memberSettingsSchema, settings);
  if (adding && (m.latitude == null) !== (m.longitude == null)) {
    throw new LbdnsError('E_INPUT', 'latitude and longitude must be given together');
  }
  return defined({
    probe_address: m.probeAddress == null ? m.probeAddress : parseHostAddress(m.probeAddress, 'probe address'),
    weight: m.weight,
    priority: m.priority,
    enabled: m.enabled,
    country: m.country,
    continent: m.continent,
    region: m.region,
    latitude: m.latitude,
    longitude: m.longitude,
  });
}

/** A validated geo network row: canonical CIDR and its location. */
export function geoColumns(input: NewGeoNetwork): { readonly network: string; readonly columns: Partial<GeoColumns> } {
  const { network, ...rest } = input;
  const canonical = parseNetwork(typeof network === 'string' ? network : String(network));
  const g = checked(geoSchema, rest);
  if ((g.latitude == null) !== (g.longitude == null)) throw new LbdnsError('E_INPUT', 'latitude and longitude must be given together');
  if (g.country == null && g.continent == null && g.region == null && g.latitude == null) {
    throw new LbdnsError('E_INPUT', `network ${canonical}: give at least a country, continent, region or coordinates`);
  }
  return { network: canonical, columns: defined({ ...g }) };
}

const reportSchema = z.array(
  z.strictObject({
    memberId: z.number().int().positive(),
    up: z.boolean(),
    since: z.number().finite(),
    lastCheck: z.number().finite().nullable(),
    latencyMs: z.number().finite().nonnegative().nullable(),
    lastError: z.string().nullable(),
    transitions: z.number().int().nonnegative(),
    heartbeatSeconds: z.number().finite().positive().optional(),
  }),
);

// As LBDNS_NODE_NAME is validated (src/config.ts) and as member_health.node is checked.
const NODE = /^[\x21-\x7e]{1,255}$/;

/** The rows of one health report, one per member (the last report of a member wins); throws on malformed input. */
export function healthRows(node: string, reports: readonly HealthReport[]): Record<string, unknown>[] {
  if (!NODE.test(node)) throw new Error(`node name ${show(node)} must be 1 to 255 printable characters without spaces`);
  const parsed = reportSchema.safeParse(reports);
  if (!parsed.success) throw new Error(`malformed health report: ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}`);
  const byMember = new Map<number, Record<string, unknown>>();
  for (const r of parsed.data) {
    byMember.set(r.memberId, {
      member_id: r.memberId,
      up: r.up,
      since: new Date(r.since).toISOString(),
      last_check: r.lastCheck === null ? null : new Date(r.lastCheck).toISOString(),
      latency_ms: r.latencyMs,
      // Probe errors are short, but a stray HTML body must not fill the table.
      last_error: r.lastError === null ? null : r.lastError.slice(0, 500),
      transitions: Math.min(r.transitions, 2147483647),
      heartbeat_interval: r.heartbeatSeconds ?? null,
    });
  }
  return [...byMember.values()];
}
