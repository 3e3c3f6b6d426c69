// `lbdns zone list|add|rm|import|export`: zones and their SOA fields.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import { isValidDomainName } from '../records/domain-name.js';
import { exportZone } from '../zonefile/export.js';
import { POOL_EXPORT_MODES, poolSection, type PoolExportMode } from '../zonefile/pool-export.js';
import { exportedPools } from '../xfr/export-pools.js';
import { parseZoneFile } from '../zonefile/parse.js';
import { group, intOption, parseCommand, withStore, type Command } from './command.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';
import { zoneSet } from './zone-set-command.js';

const MAX_TTL = 2147483647;

const list: Command = {
  ...USAGE['zone list'],
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'zone list',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [0, 0],
      names: 'no arguments',
    });
    const zones = await withStore(ctx, (s) => s.listZones());
    if (values.json) return ctx.out(JSON.stringify(zones, null, 2));
    if (zones.length === 0) return ctx.out('no zones');
    const width = Math.max(4, ...zones.map((z) => z.name.length)) + 2;
    ctx.out(`${'ZONE'.padEnd(width)}${'SERIAL'.padEnd(12)}${'TTL'.padEnd(8)}RECORDS`);
    for (const z of zones) ctx.out(`${z.name.padEnd(width)}${String(z.serial).padEnd(12)}${String(z.ttl).padEnd(8)}${z.records}`);
  },
};

const soaOptions = {
  mname: { type: 'string' },
  rname: { type: 'string' },
  ttl: { type: 'string' },
  refresh: { type: 'string' },
  retry: { type: 'string' },
  expire: { type: 'string' },
  minimum: { type: 'string' },
} as const;

const add: Command = {
  ...USAGE['zone add'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'zone add',
      options: soaOptions,
      schema: z.object({
        mname: z.string().optional(),
        rname: z.string().optional(),
        ttl: intOption(1, MAX_TTL),
        refresh: intOption(0, MAX_TTL),
        retry: intOption(0, MAX_TTL),
        expire: intOption(0, MAX_TTL),
        minimum: intOption(0, MAX_TTL),
      }),
      positionals: [1, 1],
      names: 'NAME',
    });
    const zone = await withStore(ctx, (s) => s.addZone({ name: positionals[0], ...values }));
    ctx.out(`added zone ${zone.name} (serial ${zone.serial})`);
  },
};

const rm: Command = {
  ...USAGE['zone rm'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'zone rm', options: {}, schema: z.object({}), positionals: [1, 1], names: 'NAME' });
    const { records } = await withStore(ctx, (s) => s.removeZone(positionals[0]));
    ctx.out(`removed zone ${positionals[0].toLowerCase().replace(/\.$/, '')} and its ${records} record${records === 1 ? '' : 's'}`);
  },
};

/** The zone a file is named after ("zones/example.test.zone" → example.test), if it is a valid name. */
function originFromFileName(file: string): string | undefined {
  const name = basename(file).toLowerCase().replace(/\.zone$/, '');
  return file.endsWith('.zone') && isValidDomainName(name) ? name : undefined;
}

const importCmd: Command = {
  ...USAGE['zone import'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'zone import',
      options: { origin: { type: 'string' }, replace: { type: 'boolean' } },
      schema: z.object({ origin: z.string().optional(), replace: z.boolean().optional() }),
      positionals: [1, 1],
      names: 'FILE',
    });
    const file = positionals[0];
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new LbdnsError('E_NOT_FOUND', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    // Parsed before the store is opened: a bad file touches nothing.
    const parsed = parseZoneFile(text, { file, origin: values.origin ?? originFromFileName(file) });
    const replace = values.replace ?? false;
    const result = await withStore(ctx, async (s) => {
      try {
        return await s.importZone(parsed, { replace });
      } catch (err) {
        if (err instanceof LbdnsError && err.code === 'E_CONFLICT' && !replace && err.message === `zone ${parsed.origin} already exists`) {
          throw new LbdnsError('E_CONFLICT', `${err.message} (add --replace to overwrite it)`);
        }
        throw err;
      }
    });
    const verb = result.replaced ? 'replaced' : 'imported';
    ctx.out(`${verb} zone ${result.zone.name}: ${result.records} record${result.records === 1 ? '' : 's'}, serial ${result.zone.serial}`);
  },
};

const exportCmd: Command = {
  ...USAGE['zone export'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'zone export',
      options: { out: { type: 'string' }, pools: { type: 'string' } },
      schema: z.object({ out: z.string().min(1).optional(), pools: z.enum([...POOL_EXPORT_MODES, 'records,comment']).optional() }),
      positionals: [1, 1],
      names: 'NAME',
    });
    const mode: PoolExportMode = values.pools === undefined || values.pools === 'records,comment' ? 'comment,records' : values.pools;
    const { zone, records, pools } = await withStore(ctx, async (s) => {
      const found = await s.zoneForExport(positionals[0]);
      return { ...found, pools: mode === 'none' ? [] : await exportedPools(s, found.zone.name) };
    });
    const text = exportZone(zone, records, poolSection(pools, mode));
    if (values.out === undefined) return ctx.out(text.replace(/\n$/, ''));
    try {
      writeFileSync(values.out, text);
    } catch (err) {
      throw new LbdnsError('E_INPUT', `cannot write ${values.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    ctx.out(`wrote zone ${zone.name} (${records.length} records, serial ${zone.serial}) to ${values.out}`);
  },
};

export const zoneCommand = group('zone', GROUP_SUMMARY.zone, { list, add, set: zoneSet, rm, import: importCmd, export: exportCmd });
