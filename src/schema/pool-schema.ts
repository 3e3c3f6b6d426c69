// One definition of a pool and a pool member (fields, defaults, ranges, messages, policy names) for the CLI, the store and the snapshot builder.
//
// Two forms come out of it: the input an operator gives (check settings grouped, every field optional: left out is
// "the default" on add and "unchanged" on set) and the row a pool is stored and served as (flat, every field set).
// The migrations' CHECKs and column defaults repeat the ranges and defaults as the database's own guard against plain
// SQL edits; test/store/pool-ranges.test.ts holds the two equal. Rules that span fields (timeout below interval, a
// status range in order) are the database's triggers', which see the row as it will be after a partial update.
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import { CONTINENTS } from '../geo/country-data.js';
import { findPolicy, POLICY_NAMES } from '../policies/registry.js';
import type { MemberTimedState } from '../pools/overrides.js';
import { ALL_DOWN, CHECK_KINDS, QUORUM_RULES } from './pool-constants.js';

export { ALL_DOWN, CHECK_KINDS, QUORUM_RULES };

type Range = readonly [min: number, max: number];

/** Inclusive ranges of a pool's numeric fields, by row field. */
export const POOL_RANGES = {
  ttl: [1, 3600],
  count: [1, 64],
  checkPort: [1, 65535],
  expectStatusMin: [100, 599],
  expectStatusMax: [100, 599],
  timeoutMs: [50, 60_000],
  intervalMs: [100, 3_600_000],
  rise: [1, 100],
  fall: [1, 100],
  hashPrefixV4: [1, 32],
  hashPrefixV6: [1, 128],
  probers: [1, 64],
} as const satisfies Record<string, Range>;

/** Inclusive ranges of a member's numeric fields. */
export const MEMBER_RANGES = {
  weight: [0, 1_000_000],
  priority: [0, 1000],
  latitude: [-90, 90],
  longitude: [-180, 180],
} as const satisfies Record<string, Range>;

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

// Each check is a z.custom (one message naming the field and the value); .meta() tells JSON Schema (the API's OpenAPI
// document, src/api/) the type and range that the check holds to.
export const whole = (what: string, [min, max]: Range, unit = '') =>
  z
    .custom<number>((v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max, {
      error: (iss) => `${what} ${show(iss.input)} must be a whole number${unit} from ${min} to ${max}`,
    })
    .meta({ type: 'integer', minimum: min, maximum: max });

const between = (what: string, [min, max]: Range) =>
  z
    .custom<number>((v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max, {
      error: (iss) => `${what} ${show(iss.input)} must be a number from ${min} to ${max}`,
    })
    .meta({ type: 'number', minimum: min, maximum: max });

/** Any text goes in (an operator's typing), one of `values` comes out. */
const oneOf = <T extends readonly [string, ...string[]]>(what: string, values: T) => {
  const error = (iss: { readonly input?: unknown }) => `${what} ${show(iss.input)} must be one of ${values.join(', ')}`;
  return z.string({ error }).pipe(z.enum(values, { error }));
};

const bool = (what: string) => z.boolean({ error: (iss) => `${what} ${show(iss.input)} must be true or false` });

/** Text matching `re` after `normalise`; `rule` completes "<what> "<value>" must ...". */
const text = (what: string, re: RegExp, rule: string, normalise: (s: string) => string = (s) => s) =>
  z
    .custom<string>((v) => typeof v === 'string' && re.test(normalise(v)), { error: (iss) => `${what} ${show(iss.input)} must ${rule}` })
    .meta({ type: 'string', description: `must ${rule}` })
    .transform(normalise);

// As in the schema: printable ASCII without spaces, since both go into the probe's request as they are.
const PATH = /^\/[\x21-\x7e]*$/;
const HOST = /^[A-Za-z0-9._:[\]-]{1,255}$/;
const REGION = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** An operator names a policy this build knows (a registered one too); a stored row may name any (wrr answers it). */
const policy = z
  .custom<string>((v) => typeof v === 'string' && findPolicy(v) !== undefined, {
    error: (iss) => `policy ${show(iss.input)} must be one of ${POLICY_NAMES.join(', ')}`,
  })
  .meta({ type: 'string', enum: [...POLICY_NAMES] });

/** A pool's settings by row field, each with its default. */
const POOL_FIELDS = {
  policy: policy.default('wrr'),
  ttl: whole('ttl', POOL_RANGES.ttl).default(30),
  count: whole('count', POOL_RANGES.count).default(2),
  allDown: oneOf('all-down', ALL_DOWN).default('open'),
  // The hash policy's: the prefix lengths a client network is cut to before it is hashed (src/policies/hash.ts).
  hashPrefixV4: whole('hash prefix for IPv4', POOL_RANGES.hashPrefixV4).default(24),
  hashPrefixV6: whole('hash prefix for IPv6', POOL_RANGES.hashPrefixV6).default(56),
};
/** Fields rows written before they existed may lack (test fixtures and old snapshot files): absent means the default. */
type LaterPoolFields = 'hashPrefixV4' | 'hashPrefixV6';

/** The health check's settings by their name in the input and in the core's HealthCheck; the row prefixes some. */
const CHECK_FIELDS = {
  kind: oneOf('check', CHECK_KINDS).default('http'),
  port: whole('port', POOL_RANGES.checkPort).default(80),
  path: text('path', PATH, 'start with "/" and hold no spaces').default('/'),
  host: text('host', HOST, 'be a host name or address').nullable().default(null),
  expectStatusMin: whole('expected status', POOL_RANGES.expectStatusMin).default(200),
  expectStatusMax: whole('expected status', POOL_RANGES.expectStatusMax).default(399),
  insecure: bool('insecure').default(false),
  timeoutMs: whole('timeout', POOL_RANGES.timeoutMs, ' of milliseconds').default(2000),
  intervalMs: whole('interval', POOL_RANGES.intervalMs, ' of milliseconds').default(5000),
  rise: whole('rise', POOL_RANGES.rise).default(2),
  fall: whole('fall', POOL_RANGES.fall).default(3),
  // How the vantage points' votes decide a member's state, and how many of them probe each member (null: every
  // serving node probes every member). src/health/quorum.ts says what each rule means.
  quorum: oneOf('quorum', QUORUM_RULES).default('auto'),
  probers: whole('probers', POOL_RANGES.probers).nullable().default(null),
};

/** Where each check field lives in a row (and, snake-cased, in the pools table). */
export const CHECK_ROW_FIELDS = {
  kind: 'checkKind',
  port: 'checkPort',
  path: 'checkPath',
  host: 'checkHost',
  expectStatusMin: 'expectStatusMin',
  expectStatusMax: 'expectStatusMax',
  insecure: 'checkInsecure',
  timeoutMs: 'timeoutMs',
  intervalMs: 'intervalMs',
  rise: 'rise',
  fall: 'fall',
  quorum: 'quorum',
  probers: 'probers',
} as const satisfies Record<keyof typeof CHECK_FIELDS, string>;

type CheckFields = typeof CHECK_FIELDS;
type Optional<T extends Record<string, z.ZodDefault<z.ZodType>>> = { [K in keyof T]: z.ZodOptional<T[K]['def']['innerType']> };
const optional = <T extends Record<string, z.ZodDefault<z.ZodType>>>(fields: T): Optional<T> =>
  Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.def.innerType.optional()])) as Optional<T>;

/** What an operator gives for a pool; nothing is filled in (left out: the default on add, unchanged on set). */
export const poolSettingsSchema = z.strictObject({ ...optional(POOL_FIELDS), check: z.strictObject(optional(CHECK_FIELDS)).optional() });
export type PoolSettings = z.input<typeof poolSettingsSchema>;
export type PoolCheckSettings = NonNullable<PoolSettings['check']>;

/** A pool's settings with every default filled in, check grouped as the core's HealthCheck. */
export const poolSpecSchema = z.strictObject({ ...POOL_FIELDS, check: z.strictObject(CHECK_FIELDS).prefault({}) });
export type PoolSpec = z.output<typeof poolSpecSchema>;
export type HealthCheckSpec = PoolSpec['check'];

/** Check fields rows written before they existed may lack (test fixtures and old snapshot files): see rowCheck. */
type LaterCheckFields = 'quorum' | 'probers';
type CheckRow = { readonly [K in Exclude<keyof CheckFields, LaterCheckFields> as (typeof CHECK_ROW_FIELDS)[K]]: z.output<CheckFields[K]> } & {
  readonly [K in LaterCheckFields as (typeof CHECK_ROW_FIELDS)[K]]?: z.output<CheckFields[K]>;
};

/** A load-balanced name as stored: answered with some of its healthy members' addresses. */
export type PoolRow = { readonly id: number; readonly zoneId: number; readonly name: string } & {
  readonly [K in Exclude<keyof typeof POOL_FIELDS, LaterPoolFields>]: z.output<(typeof POOL_FIELDS)[K]>;
} & { readonly [K in LaterPoolFields]?: z.output<(typeof POOL_FIELDS)[K]> } & CheckRow;

/** A pool's settings in a row: every field but its identity, in the schema's order. */
export type PoolSettingField = Exclude<keyof PoolRow, 'id' | 'zoneId' | 'name'>;
export const POOL_SETTING_FIELDS = [...Object.keys(POOL_FIELDS), ...Object.values(CHECK_ROW_FIELDS)] as readonly PoolSettingField[];

/** The check of a row, grouped. */
export function rowCheck(row: PoolRow): HealthCheckSpec {
  const check = Object.fromEntries(Object.entries(CHECK_ROW_FIELDS).map(([k, field]) => [k, row[field]])) as HealthCheckSpec;
  // Rows saved before migrations/0011 (an old snapshot file) lack the vote settings: the defaults, as the columns'.
  return { ...check, quorum: check.quorum ?? 'auto', probers: check.probers ?? null };
}

/** A row as the input form, to validate it with the same rules (policy names excepted: any name a row gives is served). */
const storedPoolSchema = poolSpecSchema.extend({ policy: z.string().min(1) });

/** Why a stored pool row cannot be served as it is, in the operator's words; undefined when it can. */
export function poolRowProblem(row: PoolRow): string | undefined {
  const { policy: name, ttl, count, allDown, hashPrefixV4, hashPrefixV6 } = row;
  const r = storedPoolSchema.safeParse({ policy: name, ttl, count, allDown, hashPrefixV4, hashPrefixV6, check: rowCheck(row) });
  return r.success ? undefined : r.error.issues[0].message;
}

const LOCATION_FIELDS = {
  country: text('country', /^[A-Z]{2}$/, 'be two letters (ISO 3166-1 alpha-2)', (s) => s.toUpperCase()).nullable().default(null),
  continent: text('continent', new RegExp(`^(${CONTINENTS.join('|')})$`), `be one of ${CONTINENTS.join(', ')}`, (s) => s.toUpperCase())
    .nullable()
    .default(null),
  region: text('region', REGION, 'be 1 to 63 letters, digits, ".", "-" or "_", starting with a letter or digit', (s) => s.toLowerCase())
    .nullable()
    .default(null),
  latitude: between('latitude', MEMBER_RANGES.latitude).nullable().default(null),
  longitude: between('longitude', MEMBER_RANGES.longitude).nullable().default(null),
};

/** A member's settings by row field, each with its default; the probe address is checked by the caller (inet). */
const MEMBER_FIELDS = {
  probeAddress: z
    .custom<string>((v) => typeof v === 'string', { error: (iss) => `probe address ${show(iss.input)} must be an address` })
    .meta({ type: 'string', description: 'an IPv4 or IPv6 address' })
    .nullable()
    .default(null),
  weight: whole('weight', MEMBER_RANGES.weight).default(1),
  priority: whole('priority', MEMBER_RANGES.priority).default(0),
  enabled: bool('enabled').default(true),
  ...LOCATION_FIELDS,
};

/** What an operator gives for a member; null clears an optional field. */
export const memberSettingsSchema = z.strictObject(optional(MEMBER_FIELDS));
export type MemberSettings = z.input<typeof memberSettingsSchema>;

/** A member as stored: a load balancer's address with its weight, tier, drain state and location. */
export type PoolMemberRow = { readonly id: number; readonly poolId: number; readonly address: string } & {
  readonly [K in keyof typeof MEMBER_FIELDS]: z.output<(typeof MEMBER_FIELDS)[K]>;
} & MemberTimedState;

/** Input checked against a schema: its output, or E_INPUT with the first problem in one line ("ttl 0 must be ..."). */
export function checked<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new LbdnsError('E_INPUT', issue.path.length > 0 && issue.code === 'unrecognized_keys' ? `${issue.path.join('.')}: ${issue.message}` : issue.message);
}

/** The location fields alone (geo networks share them with members). */
export const locationSettingsSchema = z.strictObject(optional(LOCATION_FIELDS));
