// `lbdns member add|set|rm|list`: a pool's load-balancer addresses, their weight, tier, drain state and location.
import { z } from 'zod';
import type { PoolMemberRow } from '../store/rows.js';
import { checked, memberSettingsSchema, type MemberSettings } from '../schema/pool-schema.js';
import { group, numberOption, parseCommand, usageError, withStore, type Command } from './command.js';
import { cliActor, overrideFields, overrideLine, overrideOptions, overrideRequest } from './override-options.js';
import { table } from './table.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

const options = {
  weight: { type: 'string' },
  priority: { type: 'string' },
  'probe-address': { type: 'string' },
  country: { type: 'string' },
  continent: { type: 'string' },
  region: { type: 'string' },
  lat: { type: 'string' },
  lon: { type: 'string' },
} as const;

// "" means "clear it" for the optional fields; lat/lon both "" clear the coordinates.
const optionalText = z.string().transform((s) => (s === '' ? null : s)).optional();
const optionalNumber = z
  .string()
  .regex(/^(-?([0-9]+(\.[0-9]*)?|\.[0-9]+))?$/, 'must be a number')
  .transform((s) => (s === '' ? null : Number(s)))
  .optional();

const fields = {
  weight: numberOption(),
  priority: numberOption(),
  'probe-address': optionalText,
  country: optionalText,
  continent: optionalText,
  region: optionalText,
  lat: optionalNumber,
  lon: optionalNumber,
};

function settingsFrom(v: { [K in keyof typeof fields]?: z.infer<(typeof fields)[K]> }): MemberSettings {
  const settings = {
    weight: v.weight,
    priority: v.priority,
    probeAddress: v['probe-address'],
    country: v.country,
    continent: v.continent,
    region: v.region,
    latitude: v.lat,
    longitude: v.lon,
  };
  // Checked here too, by the schema the store checks with: a mistake is reported before any database is opened.
  checked(memberSettingsSchema, settings);
  return settings;
}

function location(m: PoolMemberRow): string {
  const parts = [m.country, m.continent, m.region].filter((x) => x !== null);
  if (m.latitude !== null) parts.push(`${m.latitude},${m.longitude}`);
  return parts.join(' ') || '-';
}

function describe(m: PoolMemberRow): string {
  const probe = m.probeAddress === null ? '' : `, probed at ${m.probeAddress}`;
  const where = location(m);
  return `weight ${m.weight}, priority ${m.priority}, ${m.enabled ? 'enabled' : 'disabled (drained)'}${where === '-' ? '' : `, ${where}`}${probe}`;
}

const add: Command = {
  ...USAGE['member add'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'member add',
      options: { ...options, disabled: { type: 'boolean' } },
      schema: z.object({ ...fields, disabled: z.boolean().optional() }),
      positionals: [2, 2],
      names: 'POOL ADDRESS',
    });
    const [pool, address] = positionals;
    const settings = { ...settingsFrom(values), enabled: values.disabled ? false : undefined };
    const m = await withStore(ctx, (s) => s.addMember(pool, { address, ...settings }));
    ctx.out(`added member ${m.address} to pool ${pool.toLowerCase().replace(/\.$/, '')}: ${describe(m)}`);
  },
};

const set: Command = {
  ...USAGE['member set'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'member set',
      options: { ...options, enable: { type: 'boolean' }, disable: { type: 'boolean' }, ...overrideOptions },
      schema: z.object({ ...fields, enable: z.boolean().optional(), disable: z.boolean().optional(), ...overrideFields }),
      positionals: [2, 2],
      names: 'POOL ADDRESS',
    });
    if (values.enable && values.disable) throw usageError('member set: --enable and --disable contradict each other');
    const [pool, address] = positionals;
    const settings = { ...settingsFrom(values), enabled: values.enable ? true : values.disable ? false : undefined };
    const now = Date.now();
    const forced = overrideRequest(values, Object.values(settings).some((x) => x !== undefined), now);
    if (forced !== undefined) {
      const m = await withStore(ctx, (s) => (forced.kind === 'clear' ? s.clearOverride(pool, address, cliActor()) : s.setOverride(pool, address, forced.change, cliActor())));
      return ctx.out(`member ${m.address} of pool ${pool.toLowerCase().replace(/\.$/, '')}: ${overrideLine(m.override, now)}`);
    }
    const m = await withStore(ctx, (s) => s.setMember(pool, address, settings));
    ctx.out(`updated member ${m.address} of pool ${pool.toLowerCase().replace(/\.$/, '')}: ${describe(m)}`);
  },
};

const rm: Command = {
  ...USAGE['member rm'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'member rm', options: {}, schema: z.object({}), positionals: [2, 2], names: 'POOL ADDRESS' });
    const [pool, address] = positionals;
    await withStore(ctx, (s) => s.removeMember(pool, address));
    ctx.out(`removed member ${address} from pool ${pool.toLowerCase().replace(/\.$/, '')}`);
  },
};

const list: Command = {
  ...USAGE['member list'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'member list',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [1, 1],
      names: 'POOL',
    });
    const members = await withStore(ctx, (s) => s.listMembers(positionals[0]));
    if (values.json) return ctx.out(JSON.stringify(members, null, 2));
    if (members.length === 0) return ctx.out('no members');
    const rows = members.map((m) => [m.address, String(m.weight), String(m.priority), m.enabled ? 'enabled' : 'drained', location(m), m.probeAddress ?? '-']);
    for (const line of table([['ADDRESS', 'WEIGHT', 'PRIORITY', 'STATE', 'LOCATION', 'PROBE'], ...rows])) ctx.out(line);
  },
};

export const memberCommand = group('member', GROUP_SUMMARY.member, { add, set, rm, list });
