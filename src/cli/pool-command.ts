// `lbdns pool add|set|rm|list`: load-balanced names, their answer settings and their health check.
import { z } from 'zod';
import { checked, poolSettingsSchema, type PoolCheckSettings, type PoolSettings } from '../schema/pool-schema.js';
import type { PoolSummary } from '../store/store.js';
import { group, numberOption, parseCommand, usageError, withStore, type Command } from './command.js';
import { table } from './table.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

const options = {
  policy: { type: 'string' },
  ttl: { type: 'string' },
  count: { type: 'string' },
  'all-down': { type: 'string' },
  'hash-prefix': { type: 'string' },
  check: { type: 'string' },
  port: { type: 'string' },
  path: { type: 'string' },
  host: { type: 'string' },
  expect: { type: 'string' },
  insecure: { type: 'boolean' },
  secure: { type: 'boolean' },
  timeout: { type: 'string' },
  interval: { type: 'string' },
  rise: { type: 'string' },
  fall: { type: 'string' },
  quorum: { type: 'string' },
  probers: { type: 'string' },
} as const;

const schema = z.object({
  policy: z.string().optional(),
  ttl: numberOption(),
  count: numberOption(),
  'all-down': z.string().optional(),
  // "/24,/56", "24,56", "20" (IPv4 only) or ",48" (IPv6 only): the hash policy's client-network prefix lengths.
  'hash-prefix': z
    .string()
    .regex(/^(\/?[0-9]{1,3})?(,(\/?[0-9]{1,3}))?$/, 'must be IPv4,IPv6 prefix lengths such as 24,56')
    .transform((s) => s.split(',').map((p) => (p === '' ? undefined : Number(p.replace('/', '')))))
    .optional(),
  check: z.string().optional(),
  port: numberOption(),
  path: z.string().optional(),
  host: z.string().optional(),
  expect: z
    .string()
    .regex(/^[0-9]{1,3}(-[0-9]{1,3})?$/, 'must be a status or a range such as 200-399')
    .transform((s) => s.split('-').map(Number))
    .optional(),
  insecure: z.boolean().optional(),
  secure: z.boolean().optional(),
  timeout: numberOption(),
  interval: numberOption(),
  rise: numberOption(),
  fall: numberOption(),
  quorum: z.string().optional(),
  // A count, or "all" (or "") for every serving node probing every member: null, the default.
  probers: z
    .string()
    .regex(/^(all|-?([0-9]+(\.[0-9]*)?|\.[0-9]+))?$/, 'must be a number or all')
    .transform((s) => (s === '' || s === 'all' ? null : Number(s)))
    .optional(),
});

function settingsFrom(command: string, v: z.infer<typeof schema>): PoolSettings {
  if (v.insecure && v.secure) throw usageError(`${command}: --insecure and --secure contradict each other`);
  const check: PoolCheckSettings = {
    kind: v.check,
    port: v.port,
    path: v.path,
    // An empty --host goes back to the default: the probed address.
    host: v.host === undefined ? undefined : v.host === '' ? null : v.host,
    expectStatusMin: v.expect?.[0],
    expectStatusMax: v.expect?.[1] ?? v.expect?.[0],
    insecure: v.insecure ? true : v.secure ? false : undefined,
    timeoutMs: v.timeout,
    intervalMs: v.interval,
    rise: v.rise,
    fall: v.fall,
    quorum: v.quorum,
    probers: v.probers,
  };
  const given = Object.values(check).some((x) => x !== undefined);
  const [hashPrefixV4, hashPrefixV6] = v['hash-prefix'] ?? [];
  const settings = { policy: v.policy, ttl: v.ttl, count: v.count, allDown: v['all-down'], hashPrefixV4, hashPrefixV6, check: given ? check : undefined };
  // Checked here too, by the schema the store checks with: a mistake is reported before any database is opened.
  checked(poolSettingsSchema, settings);
  return settings;
}

/** "http :80/health", "tcp :443", "https :8443/ insecure". */
export function checkText(p: PoolSummary): string {
  if (p.checkKind === 'tcp') return `tcp :${p.checkPort}`;
  const host = p.checkHost === null ? '' : ` host ${p.checkHost}`;
  const insecure = p.checkKind === 'https' && p.checkInsecure ? ' insecure' : '';
  return `${p.checkKind} :${p.checkPort}${p.checkPath}${host}${insecure}`;
}

/** "quorum majority, probers 2": how votes decide, when not the defaults (auto, every node probing); "" otherwise. */
export function votesText(p: PoolSummary): string {
  const parts: string[] = [];
  if (p.quorum !== undefined && p.quorum !== 'auto') parts.push(`quorum ${p.quorum}`);
  if (p.probers != null) parts.push(`probers ${p.probers}`);
  return parts.join(', ');
}

function describe(p: PoolSummary): string {
  return (
    `${p.name} (zone ${p.zone}): ${p.policy}${p.policy === 'hash' ? ` on /${p.hashPrefixV4}, /${p.hashPrefixV6}` : ''}, ttl ${p.ttl}, ${p.count} per answer, all down: ${p.allDown}; ` +
    `check ${checkText(p)} expecting ${p.expectStatusMin}-${p.expectStatusMax}, every ${p.intervalMs} ms, ` +
    `timeout ${p.timeoutMs} ms, rise ${p.rise}, fall ${p.fall}` +
    (votesText(p) === '' ? '' : `; ${votesText(p)}`)
  );
}

const add: Command = {
  ...USAGE['pool add'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, { command: 'pool add', options, schema, positionals: [1, 1], names: 'NAME' });
    const settings = settingsFrom('pool add', values);
    const pool = await withStore(ctx, (s) => s.addPool({ name: positionals[0], ...settings }));
    ctx.out(`added pool ${describe(pool)}`);
  },
};

const set: Command = {
  ...USAGE['pool set'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, { command: 'pool set', options, schema, positionals: [1, 1], names: 'NAME' });
    const settings = settingsFrom('pool set', values);
    const pool = await withStore(ctx, (s) => s.setPool(positionals[0], settings));
    ctx.out(`updated pool ${describe(pool)}`);
  },
};

const rm: Command = {
  ...USAGE['pool rm'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'pool rm', options: {}, schema: z.object({}), positionals: [1, 1], names: 'NAME' });
    const { members } = await withStore(ctx, (s) => s.removePool(positionals[0]));
    ctx.out(`removed pool ${positionals[0].toLowerCase().replace(/\.$/, '')} and its ${members} member${members === 1 ? '' : 's'}`);
  },
};

const list: Command = {
  ...USAGE['pool list'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'pool list',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [0, 1],
      names: '[ZONE]',
    });
    const pools = await withStore(ctx, (s) => s.listPools({ zone: positionals[0] }));
    if (values.json) return ctx.out(JSON.stringify(pools, null, 2));
    if (pools.length === 0) return ctx.out('no pools');
    const rows = pools.map((p) => [p.name, p.zone, p.policy, String(p.ttl), String(p.count), p.allDown, String(p.members), checkText(p) + (votesText(p) === '' ? '' : `; ${votesText(p)}`)]);
    for (const line of table([['POOL', 'ZONE', 'POLICY', 'TTL', 'COUNT', 'ALL-DOWN', 'MEMBERS', 'CHECK'], ...rows])) ctx.out(line);
  },
};

export const poolCommand = group('pool', GROUP_SUMMARY.pool, { add, set, rm, list });
