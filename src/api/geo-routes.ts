// /api/v1/geo-networks: networks whose clients are placed at a location ahead of GeoIP; they steer every geo pool, so pool:*.
import { z } from 'zod';
import { locationSettingsSchema } from '../schema/pool-schema.js';
import { actorOf, type ApiApp, type ApiContext } from './context.js';
import { geoNetworkSchema, problems } from './schemas.js';
import type { Need } from './scopes.js';

const newNetwork = locationSettingsSchema.extend({
  network: z.string().max(64).meta({ description: 'CIDR or one address; host bits past the prefix are refused' }),
  note: z.string().max(200).nullable().optional(),
});

/** Geo networks steer every geo pool: pool:* (or read) to read them, pool:* write (or zone:*:write) to change them. */
const allPools = (level: 'read' | 'write'): Need => ({ kind: 'pool', pool: '*', zone: undefined, level });

export function geoRoutes(app: ApiApp, ctx: ApiContext): void {
  const { store } = ctx;
  app.get('/api/v1/geo-networks', {
    schema: { summary: 'List geo networks', tags: ['geo'], response: { 200: z.array(geoNetworkSchema), ...problems() } },
    config: { needs: () => allPools('read') },
    handler: async () => [...(await store.listGeoNetworks())],
  });
  app.post('/api/v1/geo-networks', {
    schema: { summary: 'Place the clients of a network at a location', tags: ['geo'], body: newNetwork, response: { 201: geoNetworkSchema, ...problems(400, 409) } },
    config: { needs: () => allPools('write') },
    handler: async (req, reply) => reply.code(201).send(await store.addGeoNetwork(req.body, actorOf(req))),
  });
  app.delete('/api/v1/geo-networks', {
    schema: {
      summary: 'Remove a geo network',
      tags: ['geo'],
      querystring: z.strictObject({ network: z.string().max(64) }),
      response: { 204: z.null(), ...problems(400, 404) },
    },
    config: { needs: () => allPools('write') },
    handler: async (req, reply) => {
      await store.removeGeoNetwork(req.query.network, actorOf(req));
      return reply.code(204).send(null);
    },
  });
}
