// The HTTP API (docs/api.md): fastify with zod schemas, scoped bearer tokens, problem details, and its OpenAPI 3.1 document.
import { readFileSync } from 'node:fs';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ListenAddress } from '../config.js';
import { LbdnsError } from '../errors.js';
import type { Logger } from '../obs/log.js';
import { parseScope, TOKEN_PREFIX } from '../schema/token-schema.js';
import type { Route } from '../server/ops-http.js';
import type { Store } from '../store/store.js';
import { apiContext, callerOf, type ApiApp } from './context.js';
import { FailureLimiter } from './failure-limiter.js';
import { geoRoutes } from './geo-routes.js';
import { poolRoutes } from './pool-routes.js';
import { problem, toProblem, type Problem } from './problem.js';
import { alternativeText, allows, needText } from './scopes.js';
import { statusRoutes } from './status-routes.js';
import { historyRoutes } from './history-routes.js';
import { tokenRoutes } from './token-routes.js';
import { zoneRoutes } from './zone-routes.js';

/** Every JSON body but a zone import's: a pool with every setting is ~1 KiB. */
export const BODY_LIMIT = 64 * 1024;
/** Authentication failures one address may make per minute; the next request gets 429 until the minute is over. */
export const AUTH_FAILURES_PER_MINUTE = 10;
/** Addresses whose failures are remembered: ~100 bytes each, so at most a few MiB under a spray of addresses. */
const MAX_TRACKED_ADDRESSES = 10_000;
/** Zone names may be 253 characters, escaped in a path up to three times that; find-my-way stops at 100 by default. */
const MAX_PARAM_LENGTH = 800;

export const OPENAPI_PATH = '/api/openapi.json';

export interface ApiOptions {
  readonly store: Store;
  /** The node's explain (the ops port's /explain route). */
  readonly explain: Route;
  readonly log: Logger;
  /** PEM certificate and key: served over HTTPS; absent, plain HTTP (config allows that on loopback only). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  readonly authFailuresPerMinute?: number;
  readonly now?: () => number;
}

export interface BuiltApi {
  readonly app: ApiApp;
  /** "GET /api/v1/zones/{zone}" for every route registered (HEAD routes aside), for the document's test. */
  readonly routes: readonly string[];
}

const bearer = (req: FastifyRequest): string | undefined => {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h) : null;
  return m?.[1];
};

function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  // Problems skip the route's response schema: each route declares them, but their shape is this one everywhere.
  return reply.code(p.status).type('application/problem+json').serializer(JSON.stringify).send(p);
}

/** The API, routes registered, not listening. */
export async function buildApi(opts: ApiOptions): Promise<BuiltApi> {
  const log = opts.log;
  const limiter = new FailureLimiter({ limit: opts.authFailuresPerMinute ?? AUTH_FAILURES_PER_MINUTE, windowMs: 60_000, maxAddresses: MAX_TRACKED_ADDRESSES, now: opts.now });
  const fastify = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
  }) as unknown as ApiApp;
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // A master file comes as text; "text/dns" is its media type (RFC 4027).
  app.addContentTypeParser(['text/dns', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => done(null, body));

  const routes: string[] = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push(`${m} ${r.url.replace(/:([A-Za-z]+)/g, '{$1}')}`);
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'lbdns API',
        version: '1',
        description:
          'Zones, records, pools, members and geo networks of an lbdns store, with the rules and one-line errors of the lbdns CLI. ' +
          'Every route but this document needs "Authorization: Bearer <token>" (lbdns token add); errors are problem details (RFC 9457).',
      },
      components: { securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'a token from `lbdns token add NAME --scope ...`' } } },
      security: [{ token: [] }],
    },
    transform: jsonSchemaTransform,
  });

  // Every use of a token is audited: its last_used_at (useToken), the writes' actor in the database, and this line.
  app.addHook('onResponse', async (req, reply) => {
    log.info(
      { method: req.method, path: req.url.split('?', 1)[0], token: req.caller?.token.name ?? null, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, client: req.ip },
      'api request',
    );
  });

  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.config.public) return;
    const wait = limiter.blockedFor(req.ip);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      return sendProblem(reply, problem(429, 'too many failures', `too many authentication failures from this address; try again in ${wait} s`));
    }
    const token = bearer(req);
    const found = token === undefined ? undefined : await opts.store.useToken(token);
    if (found === undefined) {
      limiter.failed(req.ip);
      const why = token === undefined ? 'no token given' : token.startsWith(TOKEN_PREFIX) ? 'unknown or revoked token' : 'not an lbdns token';
      log.warn({ client: req.ip, path: req.url.split('?', 1)[0], why }, 'api authentication failed');
      reply.header('www-authenticate', 'Bearer realm="lbdns"');
      const detail = token === undefined ? 'send "Authorization: Bearer <token>" (lbdns token add)' : 'the token is unknown or revoked';
      return sendProblem(reply, problem(401, 'unauthorized', detail));
    }
    req.caller = { token: found, scopes: found.scopes.map(parseScope) };
  });

  const ctx = apiContext(opts.store, opts.explain);
  // After validation: the scope a write needs may depend on its body (the name of a new zone or pool).
  app.addHook('preHandler', async (req, reply) => {
    const { public: open, needs } = req.routeOptions.config;
    // The not-found handler has no scope to check: any token learns only that the route does not exist.
    if (open || needs === 'authenticated' || req.is404) return;
    if (needs === undefined) throw new LbdnsError('E_STARTUP', `route ${req.routeOptions.url} declares no scope`);
    const need = await needs(req, ctx);
    if (!allows(callerOf(req).scopes, need)) {
      const alternative = alternativeText(need);
      return sendProblem(reply, problem(403, 'forbidden', `needs scope ${needText(need)}${alternative ? ` (or ${alternative})` : ''}`));
    }
  });

  app.setErrorHandler((err, req, reply) =>
    sendProblem(
      reply,
      toProblem(err, (e) => log.error({ err: e instanceof Error ? e.message : String(e), method: req.method, path: req.url.split('?', 1)[0] }, 'api request failed')),
    ),
  );
  app.setNotFoundHandler((req, reply) => sendProblem(reply, problem(404, 'no such route', `no route ${req.method} ${req.url.split('?', 1)[0]} (the routes are in ${OPENAPI_PATH})`)));

  app.get(OPENAPI_PATH, {
    schema: { summary: 'This document (no token needed)', tags: ['api'], security: [], response: { 200: z.looseObject({ openapi: z.string() }) } },
    config: { public: true },
    handler: async () => app.swagger() as unknown as { openapi: string },
  });
  zoneRoutes(app, ctx);
  poolRoutes(app, ctx);
  geoRoutes(app, ctx);
  statusRoutes(app, ctx);
  historyRoutes(app, ctx);
  tokenRoutes(app, ctx);
  await app.ready();
  return { app, routes };
}

export interface Api {
  readonly port: number;
  /** "http://127.0.0.1:PORT" or "https://...". */
  readonly url: string;
  close(): Promise<void>;
}

export interface StartApiOptions {
  readonly listen: ListenAddress;
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly store: Store;
  readonly explain: Route;
  readonly log: Logger;
}

/** Reads the certificate and key (one line when either cannot be read), builds the API and listens. */
export async function startApi(opts: StartApiOptions): Promise<Api> {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new LbdnsError('E_STARTUP', `cannot read the API's TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const tls = opts.tls ? { cert: read(opts.tls.certFile, 'certificate'), key: read(opts.tls.keyFile, 'key') } : undefined;
  let built: BuiltApi;
  try {
    built = await buildApi({ store: opts.store, explain: opts.explain, log: opts.log, tls });
  } catch (err) {
    throw err instanceof LbdnsError ? err : new LbdnsError('E_STARTUP', `cannot start the API: ${(err as Error).message.split('\n', 1)[0]}`, { cause: err });
  }
  const { app } = built;
  try {
    await app.listen({ host: opts.listen.host, port: opts.listen.port });
  } catch (err) {
    await app.close();
    throw new LbdnsError('E_STARTUP', `cannot listen for the API on ${opts.listen.host}:${opts.listen.port}: ${(err as Error).message.split('\n', 1)[0]}`, { cause: err });
  }
  const port = (app.server.address() as { port: number }).port;
  const host = opts.listen.family === 6 ? `[${opts.listen.host}]` : opts.listen.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  opts.log.info({ url, tls: tls !== undefined, routes: built.routes.length }, 'api listening');
  return { port, url, close: () => app.close() };
}
