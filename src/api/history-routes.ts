// /api/v1/history: the audit log's transactions (every edit, however it was made), as `lbdns history --json` shows them.
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import type { ApiApp, ApiContext } from './context.js';
import { domainName, loose, problems } from './schemas.js';
import type { Need } from './scopes.js';

const historyQuery = z.strictObject({
  target: domainName('zone or pool name').optional().meta({ description: 'a zone (its records, pools, members) or a pool (its members)' }),
  since: z.string().max(40).optional().meta({ description: 'a duration back from now (30m, 1h, 2d, 1h30m) or an ISO 8601 time with its zone' }),
  limit: z.coerce.number().int().min(1).max(1000).optional().meta({ description: 'transactions, newest first (20 by default)' }),
});

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1h30m" → ms back from now; an ISO time with its zone → that time; undefined when it is neither. */
function sinceOf(text: string, now: number): number | undefined {
  if (/^(\d+[smhd])+$/.test(text)) {
    let ms = 0;
    for (const m of text.matchAll(/(\d+)([smhd])/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
    return now - ms;
  }
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}

export function historyRoutes(app: ApiApp, ctx: ApiContext): void {
  app.get('/api/v1/history', {
    schema: {
      summary: 'Edits from the audit log, newest transaction first: who (token, CLI user or database role), when, and each row changed',
      tags: ['history'],
      querystring: historyQuery,
      response: { 200: loose({ transactions: z.array(loose({ txid: z.number(), at: z.number(), actor: z.string() }, 'one transaction')) }, 'as `lbdns history --json`'), ...problems(400, 404) },
    },
    config: {
      needs: async (req): Promise<Need> => {
        const target = (req.query as z.output<typeof historyQuery>).target;
        if (target === undefined) return { kind: 'zone', zone: '*', level: 'read' };
        if ((await ctx.store.getZone(target)) !== undefined) return { kind: 'zone', zone: target, level: 'read' };
        return { kind: 'pool', pool: target, zone: await ctx.poolZone(target), level: 'read' };
      },
    },
    handler: async (req) => {
      const q = req.query;
      const since = q.since === undefined ? undefined : sinceOf(q.since, Date.now());
      if (q.since !== undefined && since === undefined) {
        throw new LbdnsError('E_INPUT', `since "${q.since}" must be a duration such as 30m, 1h or 2d, or an ISO 8601 time with its zone such as 2026-12-06T04:00Z`);
      }
      return ctx.store.history({ target: q.target, since, limit: q.limit });
    },
  });
}
