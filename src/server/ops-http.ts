// The ops HTTP port: /metrics, /healthz, /readyz, plus routes other components register (status, explain).
import http from 'node:http';
import type { ListenAddress } from '../config.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';

export interface RouteResult {
  readonly status: number;
  readonly body: unknown;
  /** A text body's type (default text/plain; JSON bodies are always application/json). */
  readonly contentType?: string;
}

export type Route = (url: URL) => RouteResult | Promise<RouteResult>;

export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

export interface OpsHttpOptions {
  readonly listen: ListenAddress;
  readonly metrics: Metrics;
  /** The /metrics body when it is not just this process's registry (e.g. merged from DNS workers). */
  readonly metricsText?: () => Promise<string>;
  readonly log: Logger;
  readonly readiness: () => Readiness;
  readonly routes?: Readonly<Record<string, Route>>;
}

export interface OpsHttp {
  readonly port: number;
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, contentType = 'text/plain; charset=utf-8'): void {
  // A route that answers text (e.g. /explain?format=text, the status page) gets it as it is.
  if (typeof body === 'string') {
    res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
    return;
  }
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

export async function startOpsHttp(opts: OpsHttpOptions): Promise<OpsHttp> {
  const routes: Record<string, Route> = {
    '/healthz': () => ({ status: 200, body: { alive: true } }),
    '/readyz': () => {
      const r = opts.readiness();
      return { status: r.ready ? 200 : 503, body: { ready: r.ready, ...r.detail } };
    },
    ...opts.routes,
  };
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'only GET' });
      if (url.pathname === '/metrics') {
        const text = opts.metricsText ? await opts.metricsText() : await opts.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': opts.metrics.registry.contentType });
        return res.end(text);
      }
      const route = routes[url.pathname];
      if (!route) return sendJson(res, 404, { error: `no route ${url.pathname}`, routes: ['/metrics', ...Object.keys(routes)] });
      const result = await route(url);
      sendJson(res, result.status, result.body, result.contentType);
    } catch (err) {
      opts.log.error({ err }, 'ops request failed');
      if (!res.headersSent) sendJson(res, 500, { error: (err as Error).message });
      else res.end();
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
