// The embedded store: PGlite in the data dir, served on a local PostgreSQL socket so psql and the CLI can edit it.
//
// Files in the data dir: pgdata/ (PGlite's cluster) and embedded.json {url, pid} while a server runs.
// The server process itself also talks to PGlite through that socket, never in-process: PGlite is one
// session, and an in-process query issued while a socket client is inside a transaction runs inside
// that transaction (measured with PGlite 0.5.14: it sees the client's uncommitted rows). The socket
// server queues each client's statements and keeps a transaction's statements together.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Logger } from 'pino';
import { redactUrl, type ListenAddress } from '../config.js';
import { LbdnsError } from '../errors.js';

// The socket server turns clients away beyond this; the server uses a few, psql and the CLI the rest.
const MAX_SOCKET_CONNECTIONS = 16;
// PGlite accepts any user, password and database name on the socket.
const SOCKET_USER = 'postgres';

export interface EmbeddedInfo {
  readonly url: string;
  readonly pid: number;
}

export interface EmbeddedHost {
  /** Connection string of the socket server. */
  readonly url: string;
  close(): Promise<void>;
}

export const pgdataDir = (dataDir: string): string => join(dataDir, 'pgdata');
const infoFile = (dataDir: string): string => join(dataDir, 'embedded.json');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function answers(url: string, timeoutMs = 1000): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The running server's socket, when embedded.json names a live process that answers on it. */
export async function findEmbeddedServer(dataDir: string): Promise<EmbeddedInfo | undefined> {
  let info: EmbeddedInfo;
  try {
    info = JSON.parse(readFileSync(infoFile(dataDir), 'utf8')) as EmbeddedInfo;
  } catch {
    return undefined;
  }
  if (typeof info.url !== 'string' || typeof info.pid !== 'number' || !pidAlive(info.pid)) return undefined;
  return (await answers(info.url)) ? info : undefined;
}

/** Opens PGlite on the data dir, in this process only (no server is running). */
export async function openPglite(dataDir: string): Promise<PGlite> {
  mkdirSync(dataDir, { recursive: true });
  try {
    return await PGlite.create(pgdataDir(dataDir));
  } catch (err) {
    throw new LbdnsError('E_STORE', `cannot open the embedded database in ${dataDir}: ${(err as Error).message}`, { cause: err });
  }
}

/** Starts PGlite and its socket server, and announces them in embedded.json. */
export async function startEmbedded(dataDir: string, listen: ListenAddress, logger?: Logger): Promise<EmbeddedHost> {
  const running = await findEmbeddedServer(dataDir);
  if (running !== undefined) {
    throw new LbdnsError('E_STARTUP', `the data dir ${dataDir} is in use by lbdns pid ${running.pid} (${running.url})`);
  }
  const db = await openPglite(dataDir);
  const server = new PGLiteSocketServer({ db, host: listen.host, port: listen.port, maxConnections: MAX_SOCKET_CONNECTIONS });
  try {
    await server.start();
  } catch (err) {
    await db.close().catch(() => {});
    const where = listen.family === 6 ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
    throw new LbdnsError('E_STARTUP', `cannot listen on ${where} for the embedded PostgreSQL: ${(err as Error).message}`, { cause: err });
  }
  // getServerConn() reports the bound port, which matters when the configured port is 0.
  const port = Number(server.getServerConn().split(':').pop());
  const host = listen.family === 6 ? `[${listen.host}]` : listen.host;
  const url = `postgres://${SOCKET_USER}:${SOCKET_USER}@${host}:${port}/postgres`;
  const file = infoFile(dataDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ url, pid: process.pid } satisfies EmbeddedInfo)}\n`);
  renameSync(`${file}.tmp`, file);
  logger?.info({ dataDir, url: redactUrl(url) }, 'embedded PostgreSQL listening');

  let closed = false;
  return {
    url,
    async close() {
      if (closed) return;
      closed = true;
      try {
        const info = JSON.parse(readFileSync(file, 'utf8')) as EmbeddedInfo;
        if (info.pid === process.pid) rmSync(file, { force: true });
      } catch {
        // already gone
      }
      await server.stop();
      await db.close();
    },
  };
}
