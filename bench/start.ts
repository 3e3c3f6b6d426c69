// `npm run bench:start [-- --runs N --scale]`: CLI wall time, server start to first answer, embedded store start and RSS.
//
// What an operator waits for, measured as they would meet it: each CLI command is a fresh `node bin/lbdns.js`
// process timed from spawn to exit (p50 and p90 of --runs runs, against a real PostgreSQL); a server start is
// timed from spawn to the first UDP answer that carries a pool's addresses (so the snapshot is loaded, the
// first probe round has decided every member and the sockets are open). Targets from the runtime issue:
// CLI ≤ 300 ms, --help ≤ 150 ms, first answer ≤ 1.0 s (small data) and ≤ 4 s (--scale: 100,000 records,
// 10,000 pools × 8 members), embedded store warm start ≤ 3 s and ≤ 150 MB added RSS.
import './lib/current-build.js';
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { buildQuery } from '../test/helpers/wire.js';
import { cleanup, onCleanup } from './lib/cleanup.js';
import { createDatabase, fillBase, fillScale } from './lib/dataset.js';
import { ask } from './lib/dns-client.js';
import { freePort, ROOT } from './lib/lbdns-server.js';
import { fmt, median, table } from './lib/report.js';

const { values: opts } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, 'server-runs': { type: 'string', default: '5' }, scale: { type: 'boolean', default: false }, 'no-embedded': { type: 'boolean', default: false } },
});
const RUNS = Math.min(200, Math.max(1, Number(opts.runs)));
const SERVER_RUNS = Math.min(50, Math.max(1, Number(opts['server-runs'])));
const BIN = join(ROOT, 'bin/lbdns.js');
const log = (line: string): void => void process.stderr.write(`${line}\n`);

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** One CLI process, spawn to exit, in ms; a non-zero exit is an error (the figure would be a failure's). */
function timeCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { env, timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`lbdns ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(performance.now() - t0);
    });
  });
}

/** The probe target of every member: answers 200 at once, so every member is up after one probe. */
async function startProbeServer(): Promise<number> {
  const port = await freePort();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { connection: 'close' });
    res.end('ok\n');
  });
  server.maxConnections = 15_000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', 4096, r));
  onCleanup('probe http server', () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return port;
}

interface StartResult {
  readonly firstAnswerMs: number;
  readonly readyLogMs: number;
}

/** Spawns `lbdns serve`, asks lb.bench.test every 5 ms until 2 addresses come back, then stops it. */
/**
 * `settleVotes`: after the first answer, the run goes on until this node has a vote (member_health row) on that many
 * members before it is stopped, as a node that has been serving for a while has: what the next run resumes from.
 */
async function timeServerStart(databaseUrl: string, workers: number, timeoutMs: number, nodeName: string, settleVotes = 0, keptDataDir?: string): Promise<StartResult> {
  const dnsPort = await freePort();
  // A node's data folder outlives its restarts (the snapshot file and its image are in it); a cold start has a new one.
  const dataDir = keptDataDir ?? mkdtempSync(join(tmpdir(), 'lbdns-start-'));
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    LBDNS_LISTEN: `127.0.0.1:${dnsPort}`,
    LBDNS_HTTP_LISTEN: '127.0.0.1:0',
    LBDNS_DATA_DIR: dataDir,
    LBDNS_WORKERS: String(workers),
    LBDNS_NODE_NAME: nodeName,
    LBDNS_RRL_RATE: '0',
    LBDNS_LOG_LEVEL: 'info',
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let readyLogMs = NaN;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    if (Number.isNaN(readyLogMs) && d.toString().includes('"dns listening"')) readyLogMs = performance.now() - t0;
  });
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const query = buildQuery({ name: 'lb.bench.test', edns: { udpSize: 1232 } });
    while (performance.now() - t0 < timeoutMs) {
      if (child.exitCode !== null) throw new Error(`lbdns serve exited ${child.exitCode}: ${stderr.trim().split('\n').pop()}`);
      const r = await ask(dnsPort, query, 5);
      if ((r?.answers.filter((a: { type: number }) => a.type === 1).length ?? 0) === 2) {
        const result = { firstAnswerMs: performance.now() - t0, readyLogMs };
        if (settleVotes > 0) await waitForVotes(databaseUrl, nodeName, settleVotes, 300_000);
        return result;
      }
    }
    throw new Error(`no answer within ${timeoutMs} ms`);
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (keptDataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Waits until `node` has votes on at least `members` members (its first probe round written), or the deadline. */
async function waitForVotes(databaseUrl: string, node: string, members: number, timeoutMs: number): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const n = Number((await c.query('select count(*) as n from member_health where node = $1', [node])).rows[0].n);
      if (n >= members) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${node} had votes on fewer than ${members} members after ${timeoutMs} ms`);
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const probePort = await startProbeServer();
  const databaseUrl = await createDatabase();
  const env = { ...process.env, DATABASE_URL: databaseUrl, LBDNS_LOG_LEVEL: 'silent' };
  await timeCli(['migrate'], env);
  await fillBase(databaseUrl, probePort);
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const member = (await c.query(`select host(address) as a from pool_members m join pools p on p.id = m.pool_id where p.name = 'lb.bench.test' limit 1`)).rows[0].a as string;
  await c.end();

  // 1. CLI wall time.
  log(`CLI: ${RUNS} runs of each command`);
  const cliRows: string[][] = [];
  const cli: Record<string, { p50: number; p90: number; target: number }> = {};
  const commands: [string, number, (i: number) => string[]][] = [
    ['--help', 150, () => ['--help']],
    ['record add', 300, (i) => ['record', 'add', `start${i}.bench.test`, 'A', '192.0.2.77']],
    ['member set', 300, (i) => ['member', 'set', 'lb.bench.test', member, '--weight', String((i % 9) + 1)]],
    ['status', 300, () => ['status', 'lb.bench.test']],
    ['zone list', 300, () => ['zone', 'list']],
  ];
  for (const [label, target, args] of commands) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await timeCli(args(i), env));
    const p50 = median(times);
    cli[label] = { p50, p90: percentile(times, 90), target };
    cliRows.push([`lbdns ${label}`, fmt(p50, 0), fmt(percentile(times, 90), 0), `≤ ${target}`, p50 <= target ? 'met' : 'MISSED']);
  }

  // 2. Server start to first answer, small data.
  log(`server start, small data: ${SERVER_RUNS} runs each with 1 and 2 workers`);
  const startRows: string[][] = [];
  const startFigures: Record<string, number> = {};
  for (const workers of [1, 2]) {
    const runs: StartResult[] = [];
    // A node name of its own per run: each is a cold start (no previous run of it to resume from).
    for (let i = 0; i < SERVER_RUNS; i++) runs.push(await timeServerStart(databaseUrl, workers, 30_000, `bench-cold-${workers}-${i}`));
    const first = median(runs.map((r) => r.firstAnswerMs));
    startFigures[`small-${workers}`] = first;
    startRows.push([`small data, ${workers} worker${workers > 1 ? 's' : ''}`, fmt(first, 0), fmt(Math.max(...runs.map((r) => r.firstAnswerMs)), 0), '≤ 1,000', first <= 1000 ? 'met' : 'MISSED']);
  }

  // 3. The same at scale (optional: filling takes a minute).
  if (opts.scale) {
    log('server start, --scale data: filling 100,000 records and 10,000 pools × 8 members');
    await fillScale(databaseUrl, probePort);
    // A cold start (a node name never seen: every member waits for its first probe) once, then restarts of one
    // node name, each within seconds of the previous run's exit: they resume from its votes (README, *A restart
    // resumes*). Each run goes on until its votes cover every member (as a node that has served for a while) and is
    // then stopped; the cold run is that name's first, so the first restart has votes to resume from.
    const members = await (async () => {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        return Number((await c.query('select count(*) as n from pool_members where enabled')).rows[0].n);
      } finally {
        await c.end();
      }
    })();
    const scaleDir = mkdtempSync(join(tmpdir(), 'lbdns-start-scale-'));
    onCleanup('scale data folder', () => rmSync(scaleDir, { recursive: true, force: true }));
    const cold = await timeServerStart(databaseUrl, 1, 300_000, 'bench-scale', members, scaleDir);
    startFigures['scale-cold-1'] = cold.firstAnswerMs;
    startRows.push(['--scale data, cold start, 1 worker', fmt(cold.firstAnswerMs, 0), '(one run)', '≤ 4,000', cold.firstAnswerMs <= 4000 ? 'met' : 'MISSED']);
    for (const workers of [1, 2]) {
      const runs: StartResult[] = [];
      for (let i = 0; i < Math.min(SERVER_RUNS, 3); i++) runs.push(await timeServerStart(databaseUrl, workers, 300_000, 'bench-scale', members, scaleDir));
      const first = median(runs.map((r) => r.firstAnswerMs));
      startFigures[`scale-restart-${workers}`] = first;
      startRows.push([`--scale data, restart, ${workers} worker${workers > 1 ? 's' : ''}`, fmt(first, 0), fmt(Math.max(...runs.map((r) => r.firstAnswerMs)), 0), '≤ 4,000', first <= 4000 ? 'met' : 'MISSED']);
    }
  }

  // 4. The embedded store candidates (bench/embedded.ts measures each engine the same way).
  let embeddedRows: string[][] = [];
  if (!opts['no-embedded']) {
    log('embedded store candidates');
    const { measureEmbeddedCandidates } = await import('./embedded.js');
    const rows = await measureEmbeddedCandidates();
    embeddedRows = rows.map((r) => [
      r.engine,
      fmt(r.coldStartMs, 0),
      fmt(r.warmStartMs, 0),
      fmt(r.addedRssMb, 0),
      r.notify ? 'yes' : 'no',
      r.warmStartMs <= 3000 && r.addedRssMb <= 150 ? 'met' : 'MISSED',
    ]);
  }

  console.log(`\nlbdns start-up and CLI (node ${process.version}, ${RUNS} CLI runs, ${SERVER_RUNS} server runs)\n`);
  console.log(table(['CLI command (wall time)', 'p50 ms', 'p90 ms', 'target', ''], cliRows));
  console.log();
  console.log(table(['server: spawn → first pool answer', 'median ms', 'worst ms', 'target', ''], startRows));
  if (embeddedRows.length) {
    console.log();
    console.log(table(['embedded store', 'cold start ms', 'warm start ms', 'added RSS MB', 'LISTEN/NOTIFY', 'target'], embeddedRows));
  }
}

main()
  .catch((err) => {
    console.error(`bench:start failed: ${(err as Error).message}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
