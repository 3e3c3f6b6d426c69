// `lbdns tsig add|list|show|rm|allow-update|deny-update`: TSIG keys (RFC 8945) for zone transfers and RFC 2136 updates; a new key is printed once, in BIND's format.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import type { UpdateRule } from '../store/store.js';
import { TSIG_ALGORITHMS, type TsigAlgorithm } from '../store/transfer-queries.js';
import { bindKeyText, hashSize } from '../xfr/tsig.js';
import { group, parseCommand, usageError, withStore, type Command } from './command.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

const add: Command = {
  ...USAGE['tsig add'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'tsig add',
      options: { algorithm: { type: 'string' } },
      schema: z.object({ algorithm: z.enum(TSIG_ALGORITHMS).optional() }),
      positionals: [1, 1],
      names: 'NAME',
    });
    const algorithm: TsigAlgorithm = values.algorithm ?? 'hmac-sha256';
    // RFC 8945 §6: a key as long as the hash output.
    const secret = randomBytes(hashSize(algorithm)).toString('base64');
    const name = positionals[0].toLowerCase().replace(/\.$/, '');
    await withStore(ctx, (s) => s.addTsigKey({ name, algorithm, secret }));
    ctx.out(bindKeyText({ name, algorithm, secret }));
  },
};

const list: Command = {
  ...USAGE['tsig list'],
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'tsig list',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [0, 0],
      names: 'no arguments',
    });
    const [keys, zones, rules] = await withStore(ctx, (s) => Promise.all([s.tsigKeys(), s.transferSettings(), s.listUpdateRules()]));
    // Secrets are shown only once, by `tsig add`: a listing ends up in terminals and tickets.
    const rows = keys.map((k) => ({ name: k.name, algorithm: k.algorithm, zones: zones.filter((z) => z.keys.includes(k.name)).map((z) => z.zone) }));
    if (values.json) return ctx.out(JSON.stringify(rows.map((r) => ({ ...r, updates: rules.filter((u) => u.key === r.name).map(({ zone, pattern, types }) => ({ zone, name: pattern, types })) })), null, 2));
    if (rows.length === 0) return ctx.out('no tsig keys');
    const width = Math.max(4, ...rows.map((r) => r.name.length)) + 2;
    ctx.out(`${'NAME'.padEnd(width)}${'ALGORITHM'.padEnd(13)}ZONES`);
    for (const r of rows) ctx.out(`${r.name.padEnd(width)}${r.algorithm.padEnd(13)}${r.zones.join(',') || '-'}`);
  },
};

const rm: Command = {
  ...USAGE['tsig rm'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'tsig rm', options: {}, schema: z.object({}), positionals: [1, 1], names: 'NAME' });
    await withStore(ctx, (s) => s.removeTsigKey(positionals[0]));
    ctx.out(`removed tsig key ${positionals[0].toLowerCase().replace(/\.$/, '')}`);
  },
};

const keyName = (text: string): string => text.toLowerCase().replace(/\.$/, '');
const ruleText = (r: UpdateRule): string => `${r.types.join(',')} at ${r.pattern} in zone ${r.zone}`;

const show: Command = {
  ...USAGE['tsig show'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'tsig show',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [1, 1],
      names: 'NAME',
    });
    const name = keyName(positionals[0]);
    const [keys, zones, rules] = await withStore(ctx, (s) => Promise.all([s.tsigKeys(), s.transferSettings(), s.listUpdateRules(name)]));
    const key = keys.find((k) => k.name === name);
    if (key === undefined) throw new LbdnsError('E_NOT_FOUND', `no tsig key "${name}"`);
    const transfers = zones.filter((s) => s.keys.includes(name)).map((s) => s.zone);
    const updates = rules.map(({ zone, pattern, types }) => ({ zone, name: pattern, types }));
    if (values.json) return ctx.out(JSON.stringify({ name, algorithm: key.algorithm, zones: transfers, updates }, null, 2));
    ctx.out(`key ${name} (${key.algorithm})`);
    ctx.out(`transfers: ${transfers.join(', ') || 'none'}`);
    if (rules.length === 0) return ctx.out('updates: none (an update signed with it is REFUSED)');
    ctx.out('updates:');
    const zw = Math.max(4, ...rules.map((r) => r.zone.length)) + 2;
    const nw = Math.max(4, ...rules.map((r) => r.pattern.length)) + 2;
    ctx.out(`  ${'ZONE'.padEnd(zw)}${'NAME'.padEnd(nw)}TYPES`);
    for (const r of rules) ctx.out(`  ${r.zone.padEnd(zw)}${r.pattern.padEnd(nw)}${r.types.join(',')}`);
  },
};

const allowUpdate: Command = {
  ...USAGE['tsig allow-update'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'tsig allow-update',
      options: { zone: { type: 'string' }, name: { type: 'string' }, type: { type: 'string' } },
      schema: z.object({ zone: z.string().optional(), name: z.string().optional(), type: z.string().optional() }),
      positionals: [1, 1],
      names: 'KEY',
    });
    if (values.zone === undefined || values.name === undefined || values.type === undefined) {
      throw usageError('tsig allow-update: --zone, --name and --type are required');
    }
    const types = values.type.split(',').map((t) => t.trim()).filter((t) => t !== '');
    const rule = await withStore(ctx, (s) => s.allowUpdate({ key: positionals[0], zone: values.zone!, pattern: values.name!, types }));
    ctx.out(`key ${rule.key} may update ${ruleText(rule)}`);
  },
};

const denyUpdate: Command = {
  ...USAGE['tsig deny-update'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'tsig deny-update',
      options: { zone: { type: 'string' }, name: { type: 'string' } },
      schema: z.object({ zone: z.string().optional(), name: z.string().optional() }),
      positionals: [1, 1],
      names: 'KEY',
    });
    const removed = await withStore(ctx, (s) => s.denyUpdate(positionals[0], { zone: values.zone, pattern: values.name }));
    for (const r of removed) ctx.out(`key ${r.key} no longer updates ${ruleText(r)}`);
  },
};

export const tsigCommand = group('tsig', GROUP_SUMMARY.tsig, { add, list, show, rm, 'allow-update': allowUpdate, 'deny-update': denyUpdate });
