// /api/v1/tokens: API tokens, for a token with the admin scope (as `lbdns token add|list|rm`).
import { z } from 'zod';
import { isoTime } from '../health/status-report.js';
import type { TokenRow } from '../store/store.js';
import { actorOf, type ApiApp, type ApiContext } from './context.js';
import { problems, tokenSchema } from './schemas.js';
import type { Need } from './scopes.js';

const ADMIN = (): Need => ({ kind: 'admin' });

export const tokenJson = (t: TokenRow) => ({
  name: t.name,
  scopes: [...t.scopes],
  createdAt: isoTime(t.createdAt),
  createdBy: t.createdBy,
  lastUsedAt: t.lastUsedAt === null ? null : isoTime(t.lastUsedAt),
  revokedAt: t.revokedAt === null ? null : isoTime(t.revokedAt),
});

export function tokenRoutes(app: ApiApp, ctx: ApiContext): void {
  const { store } = ctx;
  app.get('/api/v1/tokens', {
    schema: {
      summary: 'List tokens (never their text)',
      tags: ['tokens'],
      querystring: z.strictObject({ revoked: z.enum(['true', 'false']).optional() }),
      response: { 200: z.array(tokenSchema), ...problems(400) },
    },
    config: { needs: ADMIN },
    handler: async (req) => (await store.listTokens({ revoked: req.query.revoked === 'true' })).map(tokenJson),
  });
  app.post('/api/v1/tokens', {
    schema: {
      summary: 'Create a token; its text is in this answer and nowhere else',
      tags: ['tokens'],
      body: z.strictObject({ name: z.string().max(64), scopes: z.array(z.string().max(300)).max(64) }),
      response: { 201: tokenSchema.extend({ token: z.string() }), ...problems(400, 409) },
    },
    config: { needs: ADMIN },
    handler: async (req, reply) => {
      const { token, row } = await store.addToken(req.body.name, req.body.scopes, actorOf(req));
      return reply.code(201).header('cache-control', 'no-store').send({ ...tokenJson(row), token });
    },
  });
  app.delete('/api/v1/tokens/:name', {
    schema: { summary: 'Revoke a token at once', tags: ['tokens'], params: z.strictObject({ name: z.string().max(64) }), response: { 200: tokenSchema, ...problems(400, 404) } },
    config: { needs: ADMIN },
    handler: async (req) => tokenJson(await store.revokeToken(req.params.name, actorOf(req))),
  });
}
