// `lbdns geo add|rm|list`: networks whose clients are placed at a given location, ahead of the GeoIP database.
import { z } from 'zod';
import type { GeoNetworkSummary } from '../store/store.js';
import { group, numberOption, parseCommand, withStore, type Command } from './command.js';
import { table } from './table.js';
import { GROUP_SUMMARY, USAGE } from './usage.js';

function location(g: GeoNetworkSummary): string {
  const parts = [g.country, g.continent, g.region].filter((x) => x !== null);
  if (g.latitude !== null) parts.push(`${g.latitude},${g.longitude}`);
  return parts.join(' ');
}

const add: Command = {
  ...USAGE['geo add'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'geo add',
      options: {
        country: { type: 'string' },
        continent: { type: 'string' },
        region: { type: 'string' },
        lat: { type: 'string' },
        lon: { type: 'string' },
        note: { type: 'string' },
      },
      schema: z.object({
        country: z.string().optional(),
        continent: z.string().optional(),
        region: z.string().optional(),
        lat: numberOption(),
        lon: numberOption(),
        note: z.string().optional(),
      }),
      positionals: [1, 1],
      names: 'CIDR',
    });
    const { lat, lon, ...rest } = values;
    const g = await withStore(ctx, (s) => s.addGeoNetwork({ network: positionals[0], ...rest, latitude: lat, longitude: lon }));
    ctx.out(`added geo network ${g.network}: ${location(g)}${g.note === null ? '' : ` (${g.note})`}`);
  },
};

const rm: Command = {
  ...USAGE['geo rm'],
  async run(args, ctx) {
    const { positionals } = parseCommand(args, { command: 'geo rm', options: {}, schema: z.object({}), positionals: [1, 1], names: 'CIDR' });
    await withStore(ctx, (s) => s.removeGeoNetwork(positionals[0]));
    ctx.out(`removed geo network ${positionals[0]}`);
  },
};

const list: Command = {
  ...USAGE['geo list'],
  async run(args, ctx) {
    const { values } = parseCommand(args, {
      command: 'geo list',
      options: { json: { type: 'boolean' } },
      schema: z.object({ json: z.boolean().optional() }),
      positionals: [0, 0],
      names: 'no arguments',
    });
    const networks = await withStore(ctx, (s) => s.listGeoNetworks());
    if (values.json) return ctx.out(JSON.stringify(networks, null, 2));
    if (networks.length === 0) return ctx.out('no geo networks');
    const rows = networks.map((g) => [g.network, g.country ?? '-', g.continent ?? '-', g.region ?? '-', g.latitude === null ? '-' : `${g.latitude},${g.longitude}`, g.note ?? '']);
    for (const line of table([['NETWORK', 'COUNTRY', 'CONTINENT', 'REGION', 'LAT,LON', 'NOTE'], ...rows])) ctx.out(line);
  },
};

export const geoCommand = group('geo', GROUP_SUMMARY.geo, { add, rm, list });
