// `lbdns record list|add|rm`: records, placed in the zone that is the longest suffix of their name.
import { z } from 'zod';
import type { RecordRow } from '../store/rows.js';
import { group, intOption, parseCommand, withStore, type Command } from './command.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

/**
 * RDATA text from argv words. TXT words that carry no quotes of their own are one string each, so
 * `record add x TXT "v=spf1 -all"` stores that one string rather than two.
 */
export function contentFromWords(type: string, words: readonly string[]): string {
  if (type.toUpperCase() === 'TXT' && !words.some((w) => w.includes('"'))) {
    return words.map((w) => `"${w.replace(/["\\]/g, '\\$&')}"`).join(' ');
  }
  return words.join(' ');
}

const list: Command = {
  ...USAGE['record list'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'record list',
      options: { name: { type: 'string' }, json: { type: 'boolean' } },
      schema: z.object({ name: z.string().min(1).optional(), json: z.boolean().optional() }),
      positionals: [0, 1],
      names: '[ZONE]',
    });
    const { records, zones } = await withStore(ctx, async (s) => ({
      records: await s.listRecords({ zone: positionals[0], name: values.name }),
      zones: await s.listZones(),
    }));
    if (values.json) return ctx.out(JSON.stringify(records, null, 2));
    if (records.length === 0) return ctx.out('no records');
    const zoneTtl = new Map(zones.map((z) => [z.id, z.ttl]));
    // A TTL in parentheses is the zone's default, which the record inherits.
    const ttl = (r: RecordRow): string => (r.ttl === null ? `(${zoneTtl.get(r.zoneId) ?? '?'})` : String(r.ttl));
    const nameWidth = Math.max(...records.map((r) => r.name.length)) + 2;
    const ttlWidth = Math.max(...records.map((r) => ttl(r).length)) + 2;
    for (const r of records) ctx.out(`${r.name.padEnd(nameWidth)}${ttl(r).padEnd(ttlWidth)}${r.type.padEnd(7)}${r.content}`);
  },
};

const add: Command = {
  ...USAGE['record add'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'record add',
      options: { ttl: { type: 'string' } },
      schema: z.object({ ttl: intOption(0, 2147483647) }),
      positionals: [3, Infinity],
      names: 'NAME TYPE CONTENT...',
    });
    const [name, type, ...words] = positionals;
    const { zone, record } = await withStore(ctx, (s) => s.addRecord({ name, type, ttl: values.ttl, content: contentFromWords(type, words) }));
    const ttl = record.ttl === null ? '' : ` ${record.ttl}`;
    ctx.out(`added ${record.name}${ttl} ${record.type} ${record.content} (zone ${zone.name}, serial ${zone.serial})`);
  },
};

const rm: Command = {
  ...USAGE['record rm'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, {
      command: 'record rm',
      options: {},
      schema: z.object({}),
      positionals: [2, Infinity],
      names: 'NAME TYPE [CONTENT...]',
    });
    const [name, type, ...words] = positionals;
    const content = words.length === 0 ? undefined : contentFromWords(type, words);
    const n = await withStore(ctx, (s) => s.removeRecord({ name, type, content }));
    ctx.out(`removed ${n} ${type.toUpperCase()} record${n === 1 ? '' : 's'} at ${name.toLowerCase().replace(/\.$/, '')}`);
  },
};

export const recordCommand = group('record', GROUP_SUMMARY.record, { list, add, rm });
