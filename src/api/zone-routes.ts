// /api/v1/zones: zones, their records, and master-file import and export, through the store functions the CLI uses.
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import { whole } from '../schema/pool-schema.js';
import { exportedPools } from '../xfr/export-pools.js';
import { exportZone } from '../zonefile/export.js';
import { parseZoneFile } from '../zonefile/parse.js';
import { POOL_EXPORT_MODES, poolSection } from '../zonefile/pool-export.js';
import { actorOf, checkInZone, mayRead, type ApiApp, type ApiContext } from './context.js';
import { domainName, problems, recordSchema, zoneParams, zoneSchema } from './schemas.js';
import type { Need } from './scopes.js';

const MAX_TTL = 2147483647;
/** A master file of ~10,000 records; the store imports it in one transaction. */
export const IMPORT_BODY_LIMIT = 1024 * 1024;

const newZone = z.strictObject({
  name: z.string().max(300),
  mname: z.string().max(300).optional(),
  rname: z.string().max(300).optional(),
  serial: whole('serial', [1, 4294967295]).optional(),
  ttl: whole('ttl', [1, MAX_TTL]).optional(),
  refresh: whole('refresh', [0, MAX_TTL]).optional(),
  retry: whole('retry', [0, MAX_TTL]).optional(),
  expire: whole('expire', [0, MAX_TTL]).optional(),
  minimum: whole('minimum', [0, MAX_TTL]).optional(),
});

const newRecord = z.strictObject({
  name: z.string().max(300).meta({ description: 'owner name, absolute (a trailing dot is optional)' }),
  type: z.string().max(20),
  ttl: whole('TTL', [0, MAX_TTL]).optional().meta({ description: 'absent: the zone default' }),
  content: z.string().max(65535).meta({ description: 'RDATA in master-file form, e.g. "10 mail.example.test." for MX' }),
});

const recordSelector = z.strictObject({
  name: z.string().max(300),
  type: z.string().max(20),
  content: z.string().max(65535).optional().meta({ description: 'absent: every record of the name and type' }),
});

export function zoneRoutes(app: ApiApp, ctx: ApiContext): void {
  const { store } = ctx;

  app.get('/api/v1/zones', {
    schema: { summary: 'List the zones the token may read', tags: ['zones'], response: { 200: z.array(zoneSchema), ...problems() } },
    config: { needs: 'authenticated' },
    handler: async (req) => (await store.listZones()).filter((zone) => mayRead(req, { kind: 'zone', zone: zone.name, level: 'read' })),
  });

  app.post('/api/v1/zones', {
    schema: { summary: 'Create an empty zone', tags: ['zones'], body: newZone, response: { 201: zoneSchema, ...problems(400, 409) } },
    config: { needs: async (req): Promise<Need> => ({ kind: 'zone', zone: await parsedName(req.body, 'zone name'), level: 'write' }) },
    handler: async (req, reply) => reply.code(201).send(await store.addZone(req.body, actorOf(req))),
  });

  app.get('/api/v1/zones/:zone', {
    schema: { summary: 'One zone', tags: ['zones'], params: zoneParams, response: { 200: zoneSchema, ...problems(400, 404) } },
    config: { needs: zoneNeed('read') },
    handler: async (req) => {
      const zone = await store.getZone(req.params.zone);
      if (zone === undefined) throw new LbdnsError('E_NOT_FOUND', `no zone "${req.params.zone}"`);
      return zone;
    },
  });

  app.delete('/api/v1/zones/:zone', {
    schema: { summary: 'Remove a zone and all its records', tags: ['zones'], params: zoneParams, response: { 200: z.object({ records: z.number() }), ...problems(400, 404) } },
    config: { needs: zoneNeed('write') },
    handler: async (req) => store.removeZone(req.params.zone, actorOf(req)),
  });

  app.get('/api/v1/zones/:zone/export', {
    schema: {
      summary: 'The zone as a master file',
      description: 'pools: comment (their definitions), records (their answerable set now), none, or both (the default)',
      tags: ['zones'],
      params: zoneParams,
      querystring: z.strictObject({ pools: z.enum(POOL_EXPORT_MODES).optional() }),
      response: { 200: { content: { 'text/dns': { schema: z.string() } } }, ...problems(400, 404) },
    },
    config: { needs: zoneNeed('read') },
    handler: async (req, reply) => {
      const mode = req.query.pools ?? 'comment,records';
      const { zone, records } = await store.zoneForExport(req.params.zone);
      const pools = mode === 'none' ? [] : await exportedPools(store, zone.name);
      return reply.type('text/dns; charset=utf-8').serializer((s: string) => s).send(exportZone(zone, records, poolSection(pools, mode)));
    },
  });

  app.put('/api/v1/zones/:zone/import', {
    bodyLimit: IMPORT_BODY_LIMIT,
    schema: {
      summary: 'Load a master file into the zone, in one transaction',
      description: 'The body is the file (text/dns or text/plain); names without a trailing dot are relative to the zone. replace=true replaces an existing zone and all its records.',
      tags: ['zones'],
      params: zoneParams,
      querystring: z.strictObject({ replace: z.enum(['true', 'false']).optional() }),
      body: z.string().meta({ description: 'a master file (RFC 1035 section 5)' }),
      response: { 200: z.object({ zone: zoneSchema, records: z.number(), replaced: z.boolean() }), ...problems(400, 409, 413, 415) },
    },
    config: { needs: zoneNeed('write') },
    handler: async (req) => {
      const origin = req.params.zone;
      // Parsed before the store is touched: a bad file changes nothing (the same parser as `lbdns zone import`).
      const parsed = parseZoneFile(req.body, { file: 'body', origin });
      const replace = req.query.replace === 'true';
      try {
        return await store.importZone(parsed, { replace }, actorOf(req));
      } catch (err) {
        if (err instanceof LbdnsError && err.code === 'E_CONFLICT' && !replace && err.message === `zone ${origin} already exists`) {
          throw new LbdnsError('E_CONFLICT', `${err.message} (add ?replace=true to overwrite it)`);
        }
        throw err;
      }
    },
  });

  app.get('/api/v1/zones/:zone/records', {
    schema: {
      summary: "The zone's records, or those of one name",
      tags: ['records'],
      params: zoneParams,
      querystring: z.strictObject({ name: z.string().max(300).optional() }),
      response: { 200: z.array(recordSchema), ...problems(400, 404) },
    },
    config: { needs: zoneNeed('read') },
    handler: async (req) => [...(await store.listRecords({ zone: req.params.zone, name: req.query.name }))],
  });

  app.post('/api/v1/zones/:zone/records', {
    schema: {
      summary: 'Add a record to the zone',
      tags: ['records'],
      params: zoneParams,
      body: newRecord,
      response: { 201: z.object({ zone: zoneSchema, record: recordSchema }), ...problems(400, 404, 409) },
    },
    config: { needs: zoneNeed('write') },
    handler: async (req, reply) => {
      await checkInZone(ctx, await parsedName(req.body, 'record name', true), req.params.zone, 'record name');
      return reply.code(201).send(await store.addRecord(req.body, actorOf(req)));
    },
  });

  app.delete('/api/v1/zones/:zone/records', {
    schema: {
      summary: 'Remove the records of a name and type, or the one with this content',
      tags: ['records'],
      params: zoneParams,
      querystring: recordSelector,
      response: { 200: z.object({ removed: z.number() }), ...problems(400, 404) },
    },
    config: { needs: zoneNeed('write') },
    handler: async (req) => {
      await checkInZone(ctx, await parsedName(req.query, 'record name', true), req.params.zone, 'record name');
      return { removed: await store.removeRecord(req.query, actorOf(req)) };
    },
  });
}

const zoneNeed =
  (level: 'read' | 'write') =>
  (req: { readonly params: unknown }): Need => ({ kind: 'zone', zone: (req.params as z.output<typeof zoneParams>).zone, level });

/** The canonical form of a body's (or query's) `name`, as the store will read it. */
async function parsedName(input: unknown, what: string, wildcard = false): Promise<string> {
  const r = domainName(what, wildcard).safeParse((input as { name?: unknown }).name);
  if (!r.success) throw new LbdnsError('E_INPUT', r.error.issues[0].message);
  return r.data;
}
