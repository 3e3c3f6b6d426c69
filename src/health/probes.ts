// One health probe of one target (http, https or tcp): ok or not, with a short reason. Never throws, never hangs.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { HealthCheck } from '../core/snapshot.js';

export interface ProbeTarget {
  readonly address: string;
  readonly check: HealthCheck;
}

export interface ProbeResult {
  readonly ok: boolean;
  /** e.g. `HTTP 200`, `HTTP 503`, `connected`, `ECONNREFUSED`, `timeout after 2000 ms`. */
  readonly reason: string;
  readonly latencyMs: number;
}

export type ProbeFn = (target: ProbeTarget, signal?: AbortSignal) => Promise<ProbeResult>;

const USER_AGENT = 'lbdns-health-check';

/** System errors say enough by their code; TLS and protocol errors need their message too. */
function reasonOf(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (typeof e?.code === 'string') return /^E[A-Z]+$/.test(e.code) ? e.code : `${e.code} (${e.message})`;
  return e instanceof Error ? e.message : String(error);
}

/**
 * A stuck target gets an RST rather than a FIN: a server that stopped reading never sees a FIN and would keep the
 * connection in CLOSE_WAIT, and we keep no TIME_WAIT either. Only for an established plain TCP connection: while
 * connecting there is nothing to reset (and Node would wait for the connect), and a TLS socket has no TCP handle.
 */
function reset(socket: net.Socket | undefined): void {
  if (!socket || socket.connecting || socket.destroyed || socket instanceof tls.TLSSocket) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * One hard deadline covers connect, TLS, headers and body: when it fires the socket is destroyed, so a target that
 * accepts and never answers costs one timeout and keeps no socket open. `agent: false` and `Connection: close` give
 * every probe its own connection, so no pooled socket outlives it.
 */
export const probe: ProbeFn = (target, signal) =>
  new Promise<ProbeResult>((resolve) => {
    const { address, check } = target;
    const started = performance.now();
    let done = false;
    let socket: () => net.Socket | undefined = () => undefined;
    let destroy: () => void = () => {};
    const finish = (ok: boolean, reason: string, cut = false): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (cut) reset(socket());
      destroy();
      resolve({ ok, reason, latencyMs: Math.round((performance.now() - started) * 1000) / 1000 });
    };
    const onAbort = (): void => finish(false, 'aborted', true);
    const timer = setTimeout(() => finish(false, `timeout after ${check.timeoutMs} ms`, true), check.timeoutMs);
    if (signal?.aborted) return finish(false, 'aborted');
    signal?.addEventListener('abort', onAbort, { once: true });

    // Bad input (a path with spaces, port 0) throws synchronously in node:http and node:net: a failed probe all the same.
    try {
      if (check.kind === 'tcp') {
        const conn = net.connect({ host: address, port: check.port });
        socket = () => conn;
        destroy = () => conn.destroy();
        conn.once('connect', () => finish(true, 'connected'));
        conn.on('error', (e) => finish(false, reasonOf(e)));
        return;
      }

      const v6 = net.isIPv6(address);
      const options: https.RequestOptions = {
        host: address,
        port: check.port,
        path: check.path,
        method: 'GET',
        agent: false,
        headers: { host: check.host ?? (v6 ? `[${address}]` : address), 'user-agent': USER_AGENT, accept: '*/*', connection: 'close' },
      };
      if (check.kind === 'https') {
        options.rejectUnauthorized = !check.insecure;
        // SNI only for names (RFC 6066 §3 forbids literal addresses); '' also stops Node deriving it from the Host header.
        options.servername = check.host !== null && net.isIP(check.host) === 0 ? check.host : '';
      }
      const req = (check.kind === 'https' ? https : http).request(options);
      socket = () => req.socket ?? undefined;
      destroy = () => req.destroy();
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const ok = status >= check.expectStatusMin && status <= check.expectStatusMax;
        res.on('error', (e) => finish(false, reasonOf(e)));
        res.on('end', () => finish(ok, `HTTP ${status}`));
        res.on('close', () => finish(false, `HTTP ${status}, body cut short`));
        res.resume();
      });
      req.on('error', (e) => finish(false, reasonOf(e)));
      req.end();
    } catch (e) {
      finish(false, reasonOf(e));
    }
  });
