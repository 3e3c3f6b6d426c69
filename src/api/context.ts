// What every API route is handed: the store, the caller's token, and how a request's scope is decided.
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { LbdnsError } from '../errors.js';
import { isInZone } from '../records/domain-name.js';
import type { Scope } from '../schema/token-schema.js';
import type { Route } from '../server/ops-http.js';
import type { Actor, Store, TokenRow } from '../store/store.js';
import { allows, type Need } from './scopes.js';

export type ApiApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/** The caller, once its token is known. */
export interface Caller {
  readonly token: TokenRow;
  readonly scopes: readonly Scope[];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without a token (the OpenAPI document). */
    readonly public?: boolean;
    /**
     * The scope the request needs, from its validated params, query and body; 'authenticated' for lists, which show
     * only what the token may read. Every route that is not public says which.
     */
    readonly needs?: 'authenticated' | ((req: FastifyRequest, ctx: ApiContext) => Need | Promise<Need>);
  }
  interface FastifyRequest {
    caller?: Caller;
  }
}

export interface ApiContext {
  readonly store: Store;
  /** The node's own explain (src/explain/explain-route.ts), as the ops port serves it. */
  readonly explain: Route;
  /** The zone that holds `name`: the longest existing zone it is in; undefined when none. */
  zoneHolding(name: string): Promise<string | undefined>;
  /** The zone of a pool, existing or not yet (the zone it would go into). */
  poolZone(pool: string): Promise<string | undefined>;
}

export function apiContext(store: Store, explain: Route): ApiContext {
  const zoneHolding = async (name: string): Promise<string | undefined> => {
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) {
      const candidate = labels.slice(i).join('.');
      if ((await store.getZone(candidate)) !== undefined) return candidate;
    }
    return undefined;
  };
  return {
    store,
    explain,
    zoneHolding,
    poolZone: async (pool) => (await store.getPool(pool))?.zone ?? zoneHolding(pool),
  };
}

export function callerOf(req: FastifyRequest): Caller {
  if (req.caller === undefined) throw new LbdnsError('E_STARTUP', 'route reached without a caller');
  return req.caller;
}

/** Recorded by the database's triggers as who made a write: "token:NAME". */
export const actorOf = (req: FastifyRequest): Actor => ({ user: `token:${callerOf(req).token.name}` });

/** For lists: whether the caller may read this one. */
export const mayRead = (req: FastifyRequest, need: Need): boolean => allows(callerOf(req).scopes, need);

/** E_INPUT unless `name` lies in `zone` itself rather than outside it or in a zone below it. */
export async function checkInZone(ctx: ApiContext, name: string, zone: string, what: string): Promise<void> {
  if (!isInZone(name, zone)) throw new LbdnsError('E_INPUT', `${what} ${name} is not in zone ${zone}`);
  const holder = await ctx.zoneHolding(name);
  if (holder !== undefined && holder !== zone) throw new LbdnsError('E_INPUT', `${what} ${name} belongs to zone ${holder}, not ${zone}`);
}
