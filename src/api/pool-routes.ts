// /api/v1/pools: pools, their members (weights, drain, overrides) and maintenance windows, through the store functions the CLI uses.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { OVERRIDE_STATES } from '../core/override.js';
import { LbdnsError } from '../errors.js';
import { memberSettingsSchema, poolSettingsSchema } from '../schema/pool-schema.js';
import { parseHostAddress } from '../store/inet.js';
import { actorOf, mayRead, type ApiApp, type ApiContext } from './context.js';
import { domainName, memberParams, memberSchema, poolParams, poolSchema, problems, windowSchema } from './schemas.js';
import type { Need } from './scopes.js';

const newPool = poolSettingsSchema.extend({ name: z.string().max(300) });
const newMember = memberSettingsSchema.extend({ address: z.string().max(64).meta({ description: 'IPv4 or IPv6 address of the load balancer' }) });

const override = z
  .strictObject({
    state: z.enum(OVERRIDE_STATES).meta({ description: 'down, drain: out of answers whatever the probes say; up: answered whatever they say' }),
    reason: z.string().max(200).meta({ description: 'shown by status and explain: one line, 1 to 200 characters' }),
    until: z.iso.datetime({ offset: true }).nullable().optional().meta({ description: 'ISO 8601 time with its zone; absent or null: until cleared' }),
  })
  .nullable()
  .meta({ description: 'null clears the override' });

/** Member settings, or an override (with nothing else, as `member set --force` and `--clear` go alone). */
const memberChange = memberSettingsSchema.extend({ override: override.optional() });

/** Drain scope: enabled and override only; anything else is a write. */
const DRAIN_FIELDS = new Set(['enabled', 'override']);

const newWindow = z.strictObject({
  cron: z.string().max(200).meta({ description: 'node-cron syntax: 5 fields, or 6 with seconds first' }),
  durationSeconds: z.number().meta({ description: 'whole seconds, 1 s to 7 days' }),
  tz: z.string().max(64).nullable().optional().meta({ description: 'IANA time zone; absent or null: UTC' }),
  reason: z.string().max(200),
});

type PoolParams = z.output<typeof poolParams>;

export function poolRoutes(app: ApiApp, ctx: ApiContext): void {
  const { store } = ctx;
  const poolNeed =
    (level: 'read' | 'drain' | 'write') =>
    async (req: FastifyRequest): Promise<Need> => {
      const pool = (req.params as PoolParams).pool;
      return { kind: 'pool', pool, zone: await ctx.poolZone(pool), level };
    };

  app.get('/api/v1/pools', {
    schema: {
      summary: 'List the pools the token may read',
      tags: ['pools'],
      querystring: z.strictObject({ zone: z.string().max(300).optional() }),
      response: { 200: z.array(poolSchema), ...problems(400, 404) },
    },
    config: { needs: 'authenticated' },
    handler: async (req) => (await store.listPools({ zone: req.query.zone })).filter((p) => mayRead(req, { kind: 'pool', pool: p.name, zone: p.zone, level: 'read' })),
  });

  app.post('/api/v1/pools', {
    schema: { summary: 'Declare a load-balanced name in the zone that holds it', tags: ['pools'], body: newPool, response: { 201: poolSchema, ...problems(400, 404, 409) } },
    config: {
      needs: async (req): Promise<Need> => {
        const r = domainName('pool name').safeParse((req.body as { name?: unknown }).name);
        if (!r.success) throw new LbdnsError('E_INPUT', r.error.issues[0].message);
        return { kind: 'pool', pool: r.data, zone: await ctx.zoneHolding(r.data), level: 'write' };
      },
    },
    handler: async (req, reply) => reply.code(201).send(await store.addPool(req.body, actorOf(req))),
  });

  app.get('/api/v1/pools/:pool', {
    schema: { summary: 'One pool', tags: ['pools'], params: poolParams, response: { 200: poolSchema, ...problems(400, 404) } },
    config: { needs: poolNeed('read') },
    handler: async (req) => {
      const pool = await store.getPool(req.params.pool);
      if (pool === undefined) throw new LbdnsError('E_NOT_FOUND', `no pool "${req.params.pool}"`);
      return pool;
    },
  });

  app.patch('/api/v1/pools/:pool', {
    schema: { summary: 'Change some settings of a pool', tags: ['pools'], params: poolParams, body: poolSettingsSchema, response: { 200: poolSchema, ...problems(400, 404) } },
    config: { needs: poolNeed('write') },
    handler: async (req) => store.setPool(req.params.pool, req.body, actorOf(req)),
  });

  app.delete('/api/v1/pools/:pool', {
    schema: { summary: 'Remove a pool and its members', tags: ['pools'], params: poolParams, response: { 200: z.object({ members: z.number() }), ...problems(400, 404) } },
    config: { needs: poolNeed('write') },
    handler: async (req) => store.removePool(req.params.pool, actorOf(req)),
  });

  app.get('/api/v1/pools/:pool/members', {
    schema: { summary: "A pool's members", tags: ['members'], params: poolParams, response: { 200: z.array(memberSchema), ...problems(400, 404) } },
    config: { needs: poolNeed('read') },
    handler: async (req) => [...(await store.listMembers(req.params.pool))],
  });

  app.post('/api/v1/pools/:pool/members', {
    schema: { summary: 'Add a load balancer to a pool', tags: ['members'], params: poolParams, body: newMember, response: { 201: memberSchema, ...problems(400, 404, 409) } },
    config: { needs: poolNeed('write') },
    handler: async (req, reply) => reply.code(201).send(await store.addMember(req.params.pool, req.body, actorOf(req))),
  });

  app.patch('/api/v1/pools/:pool/members/:address', {
    schema: {
      summary: 'Change a member: weight, priority, location, enabled (false drains it), or its override',
      description: 'A token with pool:NAME:drain may change enabled and override only. override goes alone: {"override": {"state": "drain", "reason": "...", "until": "..."}} sets it, {"override": null} clears it.',
      tags: ['members'],
      params: memberParams,
      body: memberChange,
      response: { 200: memberSchema, ...problems(400, 404) },
    },
    config: {
      needs: async (req) => {
        const drainOnly = Object.keys(req.body as object).every((k) => DRAIN_FIELDS.has(k));
        return poolNeed(drainOnly ? 'drain' : 'write')(req);
      },
    },
    handler: async (req) => {
      const { override: o, ...settings } = req.body;
      const { pool, address } = req.params;
      if (o === undefined) return store.setMember(pool, address, settings, actorOf(req));
      if (Object.keys(settings).length > 0) throw new LbdnsError('E_INPUT', 'override goes without other settings (as member set --force and --clear)');
      if (o === null) return store.clearOverride(pool, address, actorOf(req));
      return store.setOverride(pool, address, { state: o.state, reason: o.reason, until: o.until == null ? null : Date.parse(o.until) }, actorOf(req));
    },
  });

  app.delete('/api/v1/pools/:pool/members/:address', {
    schema: { summary: 'Remove a member from a pool', tags: ['members'], params: memberParams, response: { 204: z.null(), ...problems(400, 404) } },
    config: { needs: poolNeed('write') },
    handler: async (req, reply) => {
      await store.removeMember(req.params.pool, req.params.address, actorOf(req));
      return reply.code(204).send(null);
    },
  });

  app.get('/api/v1/maintenance', {
    schema: { summary: 'Every maintenance window the token may read', tags: ['maintenance'], response: { 200: z.array(windowSchema), ...problems() } },
    config: { needs: 'authenticated' },
    handler: async (req) => {
      const zones = new Map<string, string | undefined>();
      const out = [];
      for (const w of await store.listMaintenance()) {
        if (!zones.has(w.pool)) zones.set(w.pool, await ctx.poolZone(w.pool));
        if (mayRead(req, { kind: 'pool', pool: w.pool, zone: zones.get(w.pool), level: 'read' })) out.push(w);
      }
      return out;
    },
  });

  app.get('/api/v1/pools/:pool/members/:address/maintenance', {
    schema: { summary: "A member's maintenance windows", tags: ['maintenance'], params: memberParams, response: { 200: z.array(windowSchema), ...problems(400, 404) } },
    config: { needs: poolNeed('read') },
    handler: async (req) => {
      const member = await memberOf(ctx, req.params.pool, req.params.address);
      return (await store.listMaintenance()).filter((w) => w.memberId === member.id);
    },
  });

  app.post('/api/v1/pools/:pool/members/:address/maintenance', {
    schema: {
      summary: 'Drain the member for durationSeconds every time cron fires',
      tags: ['maintenance'],
      params: memberParams,
      body: newWindow,
      response: { 201: windowSchema, ...problems(400, 404) },
    },
    config: { needs: poolNeed('write') },
    handler: async (req, reply) => {
      const { cron, durationSeconds, tz, reason } = req.body;
      const w = await store.addMaintenance(req.params.pool, req.params.address, { cron, durationMs: durationSeconds * 1000, tz: tz ?? null, reason }, actorOf(req));
      return reply.code(201).send(w);
    },
  });

  app.delete('/api/v1/pools/:pool/members/:address/maintenance/:id', {
    schema: {
      summary: 'Remove a maintenance window',
      tags: ['maintenance'],
      params: memberParams.extend({ id: z.string().regex(/^[1-9][0-9]{0,9}$/, 'must be a window number').transform(Number) }),
      response: { 200: windowSchema, ...problems(400, 404) },
    },
    config: { needs: poolNeed('write') },
    handler: async (req) => {
      const member = await memberOf(ctx, req.params.pool, req.params.address);
      const w = (await store.listMaintenance()).find((x) => x.id === req.params.id);
      if (w === undefined || w.memberId !== member.id) throw new LbdnsError('E_NOT_FOUND', `no maintenance window ${req.params.id} on member ${member.address} of pool ${req.params.pool}`);
      return store.removeMaintenance(w.id, actorOf(req));
    },
  });
}

async function memberOf(ctx: ApiContext, pool: string, address: string) {
  const members = await ctx.store.listMembers(pool);
  const wanted = parseHostAddress(address, 'member address');
  const m = members.find((x) => x.address === wanted);
  if (m === undefined) throw new LbdnsError('E_NOT_FOUND', `no member ${wanted} in pool ${pool}`);
  return m;
}
