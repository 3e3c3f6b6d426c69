// `lbdns explain NAME`: asks the running node's ops port how it would answer, so the health shown is that node's own.
import { z } from 'zod';
import type { ListenAddress } from '../config.js';
import { LbdnsError } from '../errors.js';
import type { Explanation } from '../explain/explain.js';
import { renderText } from '../explain/render-text.js';
import { parseCommand, usageError, type Command } from './command.js';
import { USAGE } from './usage.js';

const TIMEOUT_MS = 5000;

function opsUrl(listen: ListenAddress): string {
  // A node listening on every address is asked on loopback.
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return `http://${listen.family === 6 || host.includes(':') ? `[${host}]` : host}:${listen.port}`;
}

async function ask(base: string, params: URLSearchParams): Promise<Explanation> {
  let url: URL;
  try {
    url = new URL(`/explain?${params}`, base);
  } catch {
    throw usageError(`explain: --url ${JSON.stringify(base)} is not a URL`);
  }
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    // fetch wraps the socket error: ECONNREFUSED and the like sit in its cause (or the cause's own list).
    const cause = (err as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
    const why =
      (err as Error).name === 'TimeoutError' ? `no reply in ${TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (err as Error).message);
    throw new LbdnsError('E_NOT_FOUND', `no lbdns node answers at ${base} (${why}); is "lbdns serve" running there? (--url to ask another node)`);
  }
  const body = (await res.json().catch(() => undefined)) as { error?: string } | undefined;
  if (res.status === 404) throw new LbdnsError('E_NOT_FOUND', `the node at ${base} does not serve /explain (LBDNS_HTTP_EXPLAIN=0?)`);
  if (res.status === 400) throw usageError(`explain: ${body?.error ?? 'the node refused the question'}`);
  if (!res.ok || body === undefined) throw new LbdnsError('E_NOT_FOUND', `the node at ${base} answered HTTP ${res.status}${body?.error ? `: ${body.error}` : ''}`);
  return body as Explanation;
}

export const explainCommand: Command = {
  ...USAGE['explain'],
  async run(args, ctx) {
    const { values, positionals } = parseCommand(args, {
      command: 'explain',
      options: { type: { type: 'string' }, client: { type: 'string' }, ecs: { type: 'string' }, json: { type: 'boolean' }, url: { type: 'string' } },
      schema: z
        .object({ type: z.string().optional(), client: z.string().optional(), ecs: z.string().optional(), json: z.boolean().optional(), url: z.string().optional() })
        .strict(),
      positionals: [1, 1],
      names: 'NAME',
    });
    if (values.client !== undefined && values.ecs !== undefined) throw usageError('explain: give --client or --ecs, not both (--ecs is the client subnet a resolver would send)');
    const params = new URLSearchParams({ name: positionals[0], type: (values.type ?? 'A').toUpperCase() });
    if (values.client !== undefined) params.set('client', values.client);
    if (values.ecs !== undefined) params.set('ecs', values.ecs);
    const base = values.url ?? opsUrl(ctx.config().http.listen);
    const e = await ask(base, params);
    ctx.out(values.json ? JSON.stringify(e, null, 2) : renderText(e));
  },
};
