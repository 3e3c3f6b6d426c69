// Real probe targets for health tests: HTTP(S) servers with fixed routes, TCP acceptors, black holes; open sockets counted.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HealthCheck } from '../../src/core/snapshot.js';

export interface Target {
  readonly address: string;
  readonly port: number;
  /** Server-side sockets currently open. */
  open(): number;
  /** Every request seen: path, Host header, SNI name (HTTPS). */
  readonly seen: { path: string; host: string | undefined; servername: string | undefined }[];
  close(): Promise<void>;
}

type Server = http.Server | https.Server | net.Server;

async function listen(server: Server, address: string, port = 0): Promise<Target> {
  const sockets = new Set<net.Socket>();
  const seen: Target['seen'] = [];
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    // Probes reset connections they give up on: expected here, not a test failure.
    s.on('error', () => {});
  };
  // TLS servers report the raw socket on 'connection' as well, which is what we count.
  server.on('connection', track);
  server.on('request', (req: http.IncomingMessage) => {
    seen.push({ path: req.url ?? '', host: req.headers.host, servername: (req.socket as { servername?: string | false }).servername || undefined });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  const bound = (server.address() as net.AddressInfo).port;
  return {
    address,
    port: bound,
    open: () => sockets.size,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Routes: /status/NNN answers NNN; /big sends 1 MiB; /stall sends headers and never finishes the body; else 200. */
function route(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  const status = /^\/status\/(\d{3})$/.exec(url);
  if (status) {
    res.writeHead(Number(status[1]), Number(status[1]) >= 300 && Number(status[1]) < 400 ? { location: '/' } : {});
    res.end('status\n');
  } else if (url === '/big') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(Buffer.alloc(1 << 20));
  } else if (url === '/stall') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
  } else {
    res.end('ok\n');
  }
}

export function httpServer(address: string, port = 0): Promise<Target> {
  return listen(http.createServer(route), address, port);
}

/** A self-signed certificate for the given IPs and name, made with the openssl CLI into a temp dir. */
export function selfSigned(ips: string[], name: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lbdns-cert-'));
  try {
    const san = [...ips.map((ip) => `IP:${ip}`), `DNS:${name}`].join(',');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=${san}`], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function httpsServer(address: string, tls: { key: string; cert: string }): Promise<Target> {
  return listen(https.createServer(tls, route), address);
}

/** Accepts connections and closes them at once (what a TCP check needs). */
export function tcpServer(address: string, port = 0): Promise<Target> {
  return listen(net.createServer((s) => s.end()), address, port);
}

/**
 * Accepts connections and never says anything. `read: false` also never reads, like a wedged process: such a server
 * only notices a peer that resets, never one that closes politely.
 */
export function blackHole(address: string, options: { read: boolean } = { read: true }): Promise<Target> {
  return listen(net.createServer((s) => (options.read ? s.resume() : undefined)), address);
}

/** A port on `address` with nothing listening (bound, then released). */
export async function closedPort(address: string): Promise<number> {
  const t = await tcpServer(address);
  await t.close();
  return t.port;
}

export function check(fields: Partial<HealthCheck>): HealthCheck {
  return {
    kind: 'http',
    port: 80,
    path: '/',
    host: null,
    expectStatusMin: 200,
    expectStatusMax: 399,
    insecure: false,
    timeoutMs: 1000,
    intervalMs: 200,
    rise: 2,
    fall: 2,
    ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
  };
}

/** Polls until `predicate` holds or `ms` pass; returns whether it held. */
export async function until(predicate: () => boolean, ms: number, step = 10): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, step));
  }
  return predicate();
}
