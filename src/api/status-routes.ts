// /api/v1/status (every member's health, as `lbdns status --json`) and /api/v1/explain (this node's own reasoning for one question).
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import { readStatus, statusJson } from '../health/status-report.js';
import type { ApiApp, ApiContext } from './context.js';
import { domainName, loose, problems } from './schemas.js';
import type { Need } from './scopes.js';

const statusQuery = z.strictObject({ pool: domainName('pool name').optional() });
const explainQuery = z.strictObject({
  name: domainName('name', true),
  type: z.string().max(20).optional().meta({ description: 'record type, A by default' }),
  client: z.string().max(64).optional().meta({ description: 'the client address to answer for' }),
  ecs: z.string().max(64).optional().meta({ description: 'a client subnet as a resolver sends it (EDNS Client Subnet)' }),
  do: z.enum(['0', '1']).optional().meta({ description: '1: as for a query with the DNSSEC OK bit' }),
});

export function statusRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get('/api/v1/status', {
    schema: {
      summary: "Every member's state as each node reports it, the votes and the state they decide, overrides and maintenance",
      tags: ['status'],
      querystring: statusQuery,
      response: { 200: z.array(loose({ pool: z.string(), address: z.string(), state: z.string() }, 'a member as `lbdns status --json` shows it')), ...problems(400, 404) },
    },
    config: {
      needs: async (req): Promise<Need> => {
        const pool = (req.query as z.output<typeof statusQuery>).pool;
        return pool === undefined ? { kind: 'pool', pool: '*', zone: undefined, level: 'read' } : { kind: 'pool', pool, zone: await ctx.poolZone(pool), level: 'read' };
      },
    },
    handler: async (req) => statusJson(await readStatus(ctx.store, req.query.pool), Date.now()),
  });

  app.get('/api/v1/explain', {
    schema: {
      summary: 'How this node would answer a question: zone, pool, client location, members, answer',
      tags: ['status'],
      querystring: explainQuery,
      response: { 200: loose({}, 'the explanation, as the ops port serves it at /explain'), ...problems(400) },
    },
    config: {
      needs: async (req): Promise<Need> => {
        const name = (req.query as z.output<typeof explainQuery>).name;
        return { kind: 'zone', zone: (await ctx.zoneHolding(name)) ?? '*', level: 'read' };
      },
    },
    handler: async (req) => {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(req.query)) if (v !== undefined) params.set(k, String(v));
      const result = await ctx.explain(new URL(`/explain?${params}`, 'http://localhost'));
      if (result.status === 400) throw new LbdnsError('E_INPUT', (result.body as { error: string }).error);
      return result.body as object;
    },
  });
}
