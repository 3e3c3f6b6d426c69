// `npm run bench [-- --seconds N --runs N --workers N --scale --json FILE]`: lbdns beside NSD under dnsperf, per-query CPU from /proc.
//
// Creates a throwaway PostgreSQL database with a generated data set, starts lbdns (and NSD serving the same zones,
// exported with `lbdns zone export`) pinned to one set of cores while dnsperf runs pinned to another, and for each
// row measures: queries/s at saturation, CPU µs per query (utime + stime of the server's whole process tree ÷
// queries completed), lost queries, RSS, and average / p99 reply time at a light load. Medians of --runs runs go to
// stdout as a table and to --json. docs/performance.md explains every column.
// DNSSEC: a signed zone beside the unsigned one (same names, same pool) is asked with DO in the same run; then
// bench/dnssec-churn.ts churns the signature cache with 1,000,000 distinct RRsets in-process and reports the longest
// gap between answers.
import './lib/current-build.js';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { buildQuery } from '../test/helpers/wire.js';
import { cleanup, cleanupOnSignals, interrupted, onCleanup } from './lib/cleanup.js';
import { counts, createDatabase, ECS_SUBNETS, ecsHex, ecsOption, fillBase, fillScale, fillSigned, scaleNames, SCALE, SIGNED_ZONE, STATIC_NAMES } from './lib/dataset.js';
import { ask, lightLoad } from './lib/dns-client.js';
import { ensureDnsperf } from './lib/dnsperf.js';
import { dnsperf } from './lib/dnsperf-run.js';
import { bundleScript } from './lib/bundle.js';
import { ROOT, freePort, startLbdns, type LbdnsProcess } from './lib/lbdns-server.js';
import { startNsd, type NsdProcess } from './lib/nsd.js';
import { cpuTimes, ksoftirqdSeconds, openFds, parseCpuList, treeCpuSeconds, treeMemory } from './lib/proc.js';
import { fmt, median, medianOf, table } from './lib/report.js';

const run = promisify(execFile);

function usage(message: string): never {
  console.error(`bench: ${message}`);
  console.error('usage: npm run bench -- [--seconds N] [--runs N] [--workers N] [--scale] [--churn-rrsets N] [--churn-cache-mb LIST] [--json FILE] (docs/performance.md lists every option)');
  process.exit(2);
}

const OPTIONS = {
  seconds: { type: 'string', default: '10' },
  runs: { type: 'string', default: '3' },
  workers: { type: 'string' },
  scale: { type: 'boolean', default: false },
  json: { type: 'string', default: 'bench/results/latest.json' },
  clients: { type: 'string', default: '8' },
  outstanding: { type: 'string', default: '200' },
  'light-rate': { type: 'string', default: '1000' },
  'light-seconds': { type: 'string', default: '3' },
  'server-cpus': { type: 'string' },
  'load-cpus': { type: 'string' },
  'scale-timeout': { type: 'string', default: '300' },
  'cpu-prof': { type: 'string' },
  'churn-rrsets': { type: 'string', default: '1000000' },
  'churn-cache-mb': { type: 'string', default: '8,64' },
} as const;

const { values: opts } = (() => {
  try {
    return parseArgs({ options: OPTIONS });
  } catch (err) {
    return usage((err as Error).message);
  }
})();

const intOpt = (name: string, value: string | undefined, min: number, max: number): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name} must be a whole number in ${min}..${max}, not "${value}"`);
  return n;
};
const SECONDS = intOpt('seconds', opts.seconds, 1, 300);
const RUNS = intOpt('runs', opts.runs, 1, 25);
const CLIENTS = intOpt('clients', opts.clients, 1, 256);
const OUTSTANDING = intOpt('outstanding', opts.outstanding, 1, 65_535);
const LIGHT_RATE = intOpt('light-rate', opts['light-rate'], 10, 10_000);
const LIGHT_SECONDS = intOpt('light-seconds', opts['light-seconds'], 1, 30);
const SCALE_TIMEOUT = intOpt('scale-timeout', opts['scale-timeout'], 10, 3600);
// The churn row: distinct RRsets signed per run (0: no churn row), and the signature cache sizes it runs with.
const CHURN_RRSETS = intOpt('churn-rrsets', opts['churn-rrsets'], 0, 10_000_000);
const CHURN_CACHE_MB = opts['churn-cache-mb']!.split(',').map((x) => intOpt('churn-cache-mb', x, 1, 4096));
/** How long the large data set's server is left quiet after its first probe round before memory is read. */
const SETTLE_SECONDS = 60;
// LBDNS_WORKERS from --workers, else from the environment, else the server's own default.
const WORKERS = opts.workers ?? process.env.LBDNS_WORKERS;
if (WORKERS !== undefined) intOpt('workers', WORKERS, 1, 256);
const JSON_FILE = resolve(ROOT, opts.json!);
// --cpu-prof DIR: V8 CPU profiles of lbdns (written when it stops; a profiled server is slower, so not for figures).
const NODE_FLAGS = opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${resolve(opts['cpu-prof'])}`] : [];

const NPROC = cpus().length;
// The load generator keeps core 0, the server gets the rest (one core on a 2-core machine).
const SERVER_CPUS = opts['server-cpus'] ?? (NPROC >= 2 ? (NPROC === 2 ? '1' : `1-${NPROC - 1}`) : undefined);
const LOAD_CPUS = opts['load-cpus'] ?? (NPROC >= 2 ? '0' : undefined);
const SERVER_CPU_NUMBERS = SERVER_CPUS === undefined ? undefined : parseCpuList(SERVER_CPUS);

interface RowSpec {
  readonly key: string;
  readonly label: string;
  readonly server: 'lbdns' | 'nsd';
  readonly names: readonly string[];
  readonly ecs?: string;
  /** DO set on every query (dnsperf -D): the answer must carry RRSIGs. */
  readonly dnssecOk?: boolean;
  readonly expect: 'NOERROR' | 'NXDOMAIN';
}

interface RowResult {
  readonly key: string;
  readonly label: string;
  readonly server: string;
  readonly qps: number;
  readonly cpuUsPerQuery: number;
  readonly sent: number;
  readonly completed: number;
  readonly lost: number;
  readonly saturatedAvgMs: number;
  readonly lightAvgMs: number;
  readonly lightP99Ms: number;
  readonly lightLost: number;
  readonly rssMb: number;
  readonly processes: number;
  readonly unexpectedRcodes: number;
  /** CPU other processes took on the server's cores during the saturation run, in % of one core. */
  readonly otherCpuPercent: number;
  /** Interrupt time (irq, softirq, ksoftirqd) on the server's cores during the run, charged to no server process, in % of one core. */
  readonly interruptPercent: number;
  /** Time the hypervisor took from the server's cores during the run, in % of one core. */
  readonly stealPercent: number;
}

const staticNames = Array.from({ length: STATIC_NAMES }, (_, i) => `host${i}.bench.test`);
const nxNames = Array.from({ length: STATIC_NAMES }, (_, i) => `nx${i}.bench.test`);
const signedStaticNames = Array.from({ length: STATIC_NAMES }, (_, i) => `host${i}.${SIGNED_ZONE}`);
// Each signed row follows its unsigned one, so that both see the same moment of a shared machine.
const ROWS: readonly RowSpec[] = [
  { key: 'static', label: '(a) static A', server: 'lbdns', names: staticNames, expect: 'NOERROR' },
  { key: 'static-signed', label: '(a) static A (signed, DO)', server: 'lbdns', names: signedStaticNames, dnssecOk: true, expect: 'NOERROR' },
  { key: 'wrr', label: '(b) wrr pool, 8 members, count 2', server: 'lbdns', names: ['lb.bench.test'], expect: 'NOERROR' },
  { key: 'wrr-signed', label: '(b) wrr pool (signed, DO)', server: 'lbdns', names: [`lb.${SIGNED_ZONE}`], dnssecOk: true, expect: 'NOERROR' },
  { key: 'geo', label: '(c) geo pool + ECS', server: 'lbdns', names: ['geo.bench.test'], ecs: ECS_SUBNETS[0].network, expect: 'NOERROR' },
  { key: 'hash', label: '(e) hash pool + ECS, 8 members, count 2', server: 'lbdns', names: ['hash.bench.test'], ecs: ECS_SUBNETS[0].network, expect: 'NOERROR' },
  { key: 'nxdomain', label: '(d) NXDOMAIN', server: 'lbdns', names: nxNames, expect: 'NXDOMAIN' },
  { key: 'static', label: '(a) static A', server: 'nsd', names: staticNames, expect: 'NOERROR' },
  { key: 'nxdomain', label: '(d) NXDOMAIN', server: 'nsd', names: nxNames, expect: 'NXDOMAIN' },
];
const SCALE_ROWS: readonly RowSpec[] = [
  ROWS.find((r) => r.key === 'static')!,
  ROWS.find((r) => r.key === 'wrr')!,
  { key: 'static-spread', label: `(a) static A, 1,000 names over ${SCALE.zones} zones`, server: 'lbdns', names: scaleNames('static', 1000), expect: 'NOERROR' },
  { key: 'wrr-spread', label: `(b) wrr, 1,000 pools over ${SCALE.zones} zones`, server: 'lbdns', names: scaleNames('pool', 1000), expect: 'NOERROR' },
];

function log(line: string): void {
  console.error(`[bench] ${line}`);
}

/** Runs the lbdns CLI against the benchmark database. */
async function cli(databaseUrl: string, dataDir: string, ...args: string[]): Promise<string> {
  const running = run(process.execPath, [join(ROOT, 'bin/lbdns.js'), ...args], {
    env: { ...process.env, DATABASE_URL: databaseUrl, LBDNS_DATA_DIR: dataDir },
    cwd: ROOT,
    timeout: 300_000,
  });
  const forget = onCleanup(`lbdns ${args[0]}`, () => void running.child.kill('SIGKILL'));
  const { stdout } = await running.finally(forget);
  return stdout;
}

/** The probe target of every pool member: one tiny HTTP server that answers 200. */
async function startProbeServer(): Promise<number> {
  const port = await freePort();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    res.end('ok\n');
  });
  server.maxConnections = 15_000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', 4096, r));
  onCleanup('probe http server', () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return port;
}

function queryFile(dir: string, spec: RowSpec): string {
  const file = join(dir, `${spec.server}-${spec.key}.txt`);
  writeFileSync(file, spec.names.map((n) => `${n} A\n`).join(''));
  return file;
}

function lightQueries(spec: RowSpec): Buffer[] {
  const subnets = spec.ecs ? ECS_SUBNETS.map((s) => s.network) : [undefined];
  const out: Buffer[] = [];
  for (let i = 0; i < Math.max(spec.names.length, subnets.length); i++) {
    const ecs = subnets[i % subnets.length];
    out.push(buildQuery({ name: spec.names[i % spec.names.length], edns: { udpSize: 1232, dnssecOk: spec.dnssecOk === true, ...(ecs ? { ecs: ecsOption(ecs) } : {}) } }));
  }
  return out;
}

/**
 * Processes that serve: tsx's esbuild service, a child of lbdns when it runs from a checkout, counts in CPU and RSS
 * (it is part of what the server costs) but is not one.
 */
function serverProcesses(memory: readonly { name: string }[]): number {
  return memory.filter((m) => m.name !== 'esbuild').length;
}

/** One row, once: saturation with dnsperf (CPU of the server tree over it), then the light load. */
async function measure(dir: string, spec: RowSpec, port: number, rootPid: number, remember: () => void): Promise<RowResult> {
  const file = queryFile(dir, spec);
  const cpuBefore = treeCpuSeconds(rootPid);
  const coresBefore = SERVER_CPU_NUMBERS && cpuTimes(SERVER_CPU_NUMBERS);
  const softirqdBefore = SERVER_CPU_NUMBERS ? ksoftirqdSeconds(SERVER_CPU_NUMBERS) : 0;
  const wallBefore = performance.now();
  const sat = await dnsperf({ port, queryFile: file, seconds: SECONDS, clients: CLIENTS, outstanding: OUTSTANDING, cpus: LOAD_CPUS, ecsHex: spec.ecs ? ecsHex(spec.ecs) : undefined, dnssecOk: spec.dnssecOk });
  const cpu = treeCpuSeconds(rootPid) - cpuBefore;
  const wall = (performance.now() - wallBefore) / 1000;
  const coresAfter = SERVER_CPU_NUMBERS && cpuTimes(SERVER_CPU_NUMBERS);
  // Softirq work the kernel deferred to ksoftirqd is the same packet work as irq time, only run in a thread.
  const softirqd = SERVER_CPU_NUMBERS ? ksoftirqdSeconds(SERVER_CPU_NUMBERS) - softirqdBefore : 0;
  const other = coresBefore && coresAfter ? Math.max(0, coresAfter.task - coresBefore.task - cpu - softirqd) : NaN;
  const interrupt = coresBefore && coresAfter ? coresAfter.interrupt - coresBefore.interrupt + softirqd : NaN;
  const steal = coresBefore && coresAfter ? coresAfter.steal - coresBefore.steal : NaN;
  remember();
  const memory = treeMemory(rootPid);
  const light = await lightLoad(port, lightQueries(spec), LIGHT_RATE, LIGHT_SECONDS);
  const unexpected = Object.entries(sat.rcodes).reduce((n, [code, count]) => (code === spec.expect ? n : n + count), 0);
  return {
    key: spec.key,
    label: spec.label,
    server: spec.server,
    qps: sat.qps,
    cpuUsPerQuery: (cpu * 1e6) / Math.max(1, sat.completed),
    sent: sat.sent,
    completed: sat.completed,
    lost: sat.lost,
    saturatedAvgMs: sat.avgLatencyMs,
    lightAvgMs: light.avgMs,
    lightP99Ms: light.p99Ms,
    lightLost: light.sent - light.answered,
    rssMb: memory.reduce((s, m) => s + m.rssMb, 0),
    processes: serverProcesses(memory),
    unexpectedRcodes: unexpected,
    otherCpuPercent: (other / wall) * 100,
    interruptPercent: (interrupt / wall) * 100,
    stealPercent: (steal / wall) * 100,
  };
}

/** Short dnsperf runs that are not counted: JIT-compiled paths and warm caches before the first measured run. */
async function warmUp(dir: string, specs: readonly RowSpec[], port: number): Promise<void> {
  for (const spec of specs) {
    await dnsperf({ port, queryFile: queryFile(dir, spec), seconds: Math.min(2, SECONDS), clients: CLIENTS, outstanding: OUTSTANDING, cpus: LOAD_CPUS, ecsHex: spec.ecs ? ecsHex(spec.ecs) : undefined, dnssecOk: spec.dnssecOk });
  }
}

/** CPU the server uses with nothing to answer (probes, timers), in % of one core. */
async function idleCpuPercent(rootPid: number, seconds = 3): Promise<number> {
  const before = treeCpuSeconds(rootPid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return ((treeCpuSeconds(rootPid) - before) / seconds) * 100;
}

/** Bounded wait until lb.bench.test answers its 2 addresses: one probe round is done and pools are served. */
async function waitForPools(port: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  let answers = 0;
  while (Date.now() < deadline) {
    const r = await ask(port, buildQuery({ name: 'lb.bench.test', edns: { udpSize: 1232 } }), 500);
    answers = r?.answers.filter((a: { type: number }) => a.type === 1).length ?? 0;
    if (answers === 2) return answers;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`lb.bench.test does not answer 2 addresses (last answer: ${answers})`);
}

/** What each row's question gets, once, for the record (and to catch a data set that did not load). */
async function sampleAnswers(port: number, specs: readonly RowSpec[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const q = lightQueries(spec)[0];
    const r = await ask(port, q, 1000);
    const rcode = r ? (['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'][r.rcode] ?? String(r.rcode)) : 'no reply';
    const addrs = r?.answers.map((a: { address?: string }) => a.address).filter(Boolean).join(' ') ?? '';
    const scope = r?.ecs ? ` ecs scope /${r.ecs.scopePrefixLength ?? r.ecs.scope ?? '?'}` : '';
    const rrsigs = r?.answers.filter((a: { type: number }) => a.type === 46).length ?? 0;
    out[`${spec.server} ${spec.key}`] = `${rcode}${addrs ? ` ${addrs}` : ''}${scope}${spec.dnssecOk ? ` RRSIG ${rrsigs}` : ''}`;
    if (rcode !== spec.expect) throw new Error(`${spec.server} ${spec.label}: expected ${spec.expect}, got ${rcode}`);
    // A signed row answered without signatures would measure nothing: a key that did not load, a secret not passed.
    if (spec.dnssecOk && rrsigs === 0) throw new Error(`${spec.server} ${spec.label}: the answer carries no RRSIG (is ${SIGNED_ZONE} signed and LBDNS_KEY_SECRET set?)`);
  }
  return out;
}

function machine(): Record<string, unknown> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: NPROC,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? '?',
    mhz: Number(/^cpu MHz\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? NaN),
    node: process.version,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    date: new Date().toISOString(),
  };
}

function printRows(title: string, rows: readonly RowResult[]): void {
  console.log(`\n${title}\n`);
  console.log(
    table(
      ['row', 'server', 'queries/s', 'CPU µs/query', 'avg ms (light)', 'p99 ms (light)', 'lost (sat.)', 'lost (light)', 'RSS MB', 'procs', 'irq %', 'others %'],
      rows.map((r) => [
        r.label,
        r.server,
        fmt(r.qps, 0),
        fmt(r.cpuUsPerQuery, 1),
        fmt(r.lightAvgMs, 3),
        fmt(r.lightP99Ms, 3),
        fmt(r.lost, 0),
        fmt(r.lightLost, 0),
        fmt(r.rssMb, 0),
        fmt(r.processes, 0),
        fmt(r.interruptPercent, 0),
        fmt(r.otherCpuPercent, 0),
      ]),
    ),
  );
}

async function measureSet(dir: string, specs: readonly RowSpec[], lbdns: LbdnsProcess, nsd: NsdProcess | undefined): Promise<{ runs: RowResult[][]; medians: RowResult[] }> {
  const runs: RowResult[][] = [];
  for (let i = 0; i < RUNS; i++) {
    const results: RowResult[] = [];
    for (const spec of specs) {
      log(`run ${i + 1}/${RUNS}: ${spec.server} ${spec.label}`);
      const r =
        spec.server === 'lbdns'
          ? await measure(dir, spec, lbdns.dnsPort, lbdns.id.pid, () => void lbdns.pids())
          : await measure(dir, spec, nsd!.port, nsd!.id.pid, () => {});
      if (spec.server === 'lbdns' && lbdns.exited()) throw new Error('lbdns exited during the benchmark');
      results.push(r);
    }
    runs.push(results);
  }
  const medians = specs.map((_, j) => medianOf(runs.map((r) => r[j])));
  return { runs, medians };
}

/** Full reloads forced during a steady query load, and what the answers saw meanwhile. */
interface ReloadPhase {
  readonly label: string;
  readonly reloads: number;
  /** The server's own 'snapshot loaded' times for these reloads (read the store, build aside, adopt, swap). */
  readonly reloadMs: readonly number[];
  readonly sent: number;
  readonly lost: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const RELOADS = 4;
const RELOAD_EVERY_MS = 2500;

/**
 * Sends LIGHT_RATE queries/s (static and pool names over every zone) for as long as RELOADS edits spaced
 * RELOAD_EVERY_MS take, each edit forcing a full reload of the 100k/10k data set: a geo_networks edit (a change no
 * zone owns) or an SOA timer of every zone (so every zone is rebuilt and adopted, the worst case).
 */
async function measureReloads(databaseUrl: string, big: LbdnsProcess, label: string, edit: ((c: pg.Client, i: number) => Promise<unknown>) | undefined): Promise<ReloadPhase> {
  const queries = [...lightQueries(SCALE_ROWS[2]), ...lightQueries(SCALE_ROWS[3])];
  const before = big.snapshotMs.length;
  const seconds = Math.ceil(((RELOADS + 1) * RELOAD_EVERY_MS) / 1000) + 2;
  const load = lightLoad(big.dnsPort, queries, LIGHT_RATE, seconds);
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    for (let i = 0; i < RELOADS; i++) {
      await sleep(RELOAD_EVERY_MS);
      await edit?.(c, i);
    }
  } finally {
    await c.end();
  }
  const result = await load;
  const deadline = Date.now() + 30_000;
  while (edit && big.snapshotMs.length - before < RELOADS && Date.now() < deadline) await sleep(100);
  const reloadMs = big.snapshotMs.slice(before);
  return { label, reloads: reloadMs.length, reloadMs, sent: result.sent, lost: result.sent - result.answered, p99Ms: result.p99Ms, maxMs: result.maxMs };
}

/**
 * The large data set: fill it, start a fresh lbdns on it, report start-up (snapshot build, start → ready, RSS per
 * process) and the static and wrr rows again. A server that does not get ready in --scale-timeout is reported as
 * such, with what it had used by then, and ended.
 */
async function measureScale(dir: string, databaseUrl: string, probePort: number): Promise<{ report: Record<string, unknown>; medians: RowResult[] | undefined }> {
  log(`filling the large data set (${SCALE.zones * SCALE.recordsPerZone} records, ${SCALE.zones * SCALE.poolsPerZone} pools of ${SCALE.membersPerPool})`);
  const fillStart = performance.now();
  await fillScale(databaseUrl, probePort);
  const fillSeconds = (performance.now() - fillStart) / 1000;
  const dataSet = await counts(databaseUrl);
  log(`data set: ${JSON.stringify(dataSet)} (filled in ${fmt(fillSeconds, 1)} s)`);
  const scaleDataDir = join(dir, 'lbdns-scale-data');
  mkdirSync(scaleDataDir);
  log(`starting lbdns on it (waiting up to ${SCALE_TIMEOUT} s for /readyz)`);
  const big = await startLbdns({ databaseUrl, dataDir: scaleDataDir, cpus: SERVER_CPUS, workers: WORKERS, readyTimeoutMs: SCALE_TIMEOUT * 1000, nodeFlags: NODE_FLAGS });
  const health = (): { membersUp: number; membersDown: number } => ({ membersUp: big.counts.get('member up') ?? 0, membersDown: big.counts.get('member down') ?? 0 });
  const snapshotMax = big.snapshotMs.length ? Math.max(...big.snapshotMs) : NaN;
  if (!big.ready) {
    const memory = treeMemory(big.id.pid);
    const report = {
      ready: false,
      readyTimeoutSeconds: SCALE_TIMEOUT,
      dataSet,
      fillSeconds,
      snapshotLoadedMs: big.snapshotMs,
      memoryAtTimeout: memory,
      openFdsAtTimeout: big.pids().map((pid) => ({ pid, fds: openFds(pid) })),
      cpuSecondsUsed: treeCpuSeconds(big.id.pid),
      logLinesByMessage: Object.fromEntries(big.counts),
      probeTransitions: health(),
      warnings: big.problems,
      targets: {
        snapshotUnder2s: { value: snapshotMax, met: snapshotMax < 2000 },
        rssUnder400MbPerProcess: { value: Math.max(...memory.map((m) => m.rssMb)), met: Math.max(...memory.map((m) => m.rssMb)) < 400 },
      },
    };
    log(`lbdns did not get ready within ${SCALE_TIMEOUT} s; ending it`);
    await big.stop();
    return { report, medians: undefined };
  }
  await waitForPools(big.dnsPort);
  // DNS opens once the first probe round has given every member a result (or at its logged bound), so this wait
  // normally ends at once. Idle CPU and memory are read once every member has its first result.
  const probeRoundStart = performance.now();
  const enabledMembers = dataSet.pool_members;
  const probed = () => health().membersUp + health().membersDown;
  while (probed() < enabledMembers && performance.now() - probeRoundStart < SCALE_TIMEOUT * 1000) await sleep(250);
  const probeRoundAfterReadyMs = performance.now() - probeRoundStart;
  log(`first probe round: ${probed()} of ${enabledMembers} members decided ${fmt(probeRoundAfterReadyMs, 0)} ms after ready`);
  // The round leaves hundreds of MB of garbage that V8 collects and returns to the system only once the process has
  // been quiet for a while: memory is read after SETTLE_SECONDS, with the samples on the way kept in the JSON.
  const rssSamples: { afterRoundSeconds: number; rssMb: number }[] = [];
  const settleStart = performance.now();
  for (let t = 0; t <= SETTLE_SECONDS; t += 5) {
    if (t > 0) await sleep(5000);
    rssSamples.push({ afterRoundSeconds: Math.round((performance.now() - settleStart) / 1000), rssMb: Math.round(Math.max(...treeMemory(big.id.pid).map((m) => m.rssMb))) });
  }
  log(`RSS after the round: ${rssSamples.map((x) => `${x.afterRoundSeconds} s ${x.rssMb} MB`).join(', ')}`);
  const memoryAtReady = treeMemory(big.id.pid);
  const samples = await sampleAnswers(big.dnsPort, SCALE_ROWS);
  for (const [k, v] of Object.entries(samples)) log(`sample ${k}: ${v}`);
  const idle = await idleCpuPercent(big.id.pid);
  log(`lbdns ready in ${fmt(big.readyMs, 0)} ms, snapshot built in ${big.snapshotMs.join('/')} ms, idle CPU ${fmt(idle, 2)} %`);
  await warmUp(dir, SCALE_ROWS, big.dnsPort);
  const set = await measureSet(dir, SCALE_ROWS, big, undefined);
  const memoryAfter = treeMemory(big.id.pid);
  log(`full reloads under ${LIGHT_RATE} queries/s: none, then ${RELOADS} geo_networks edits, ${RELOADS} edits of every zone's SOA, ${RELOADS} of a record in every zone, ${RELOADS} that read everything`);
  const reloadPhases = [
    // The same load with no edit: what the answers see without a reload, in this run (the client, the machine).
    await measureReloads(databaseUrl, big, 'no edit (baseline, not a target)', undefined),
    await measureReloads(databaseUrl, big, 'geo_networks edit (no zone changed)', (c, i) =>
      c.query(`update geo_networks set region = $1 where network = '100.64.4.0/24'`, [i % 2 === 0 ? 'bench-reload' : null]),
    ),
    // SOA fields only (what the pool serials do when a member shared by every zone changes): heads sent, bodies kept.
    await measureReloads(databaseUrl, big, 'every zone\'s SOA edited (heads only)', (c) => c.query(`update zones set refresh = refresh + 1 where name like '%.scale.test'`)),
    // A record of every zone: every zone built again on the build thread and sent as a patch (the changed nodes).
    await measureReloads(databaseUrl, big, 'a record in every zone (each zone patched)', (c) =>
      c.query(
        `update records set ttl = coalesce(ttl, 300) + 1
          where id in (select min(r.id) from records r join zones z on z.id = r.zone_id where z.name like '%.scale.test' group by r.zone_id)`,
      ),
    ),
    // A record in one zone, seen as polling sees a change (table "*", as after LISTEN fell back or in poll mode):
    // every table of the store read again (100,000 records, 80,000 members), every zone fingerprinted, one rebuilt.
    await measureReloads(databaseUrl, big, 'everything read (a change seen by polling)', async (c) => {
      await c.query('begin');
      await c.query(`update records set ttl = coalesce(ttl, 300) + 1 where id = (select min(r.id) from records r join zones z on z.id = r.zone_id where z.name = 'z0.scale.test')`);
      await c.query(`select pg_notify('lbdns_changes', json_build_object('table', '*', 'zone', null, 'version', (select version from config_version))::text)`);
      await c.query('commit');
    }),
  ];
  const edited = reloadPhases.slice(1);
  for (const r of reloadPhases) log(`${r.label}: ${r.reloads} reloads (${r.reloadMs.join('/')} ms), ${r.lost} of ${r.sent} queries lost, p99 ${fmt(r.p99Ms, 2)} ms, max ${fmt(r.maxMs, 1)} ms`);
  await big.stop();
  const rssMax = Math.max(...memoryAfter.map((m) => m.rssMb), ...memoryAtReady.map((m) => m.rssMb));
  return {
    medians: set.medians,
    report: {
      ready: true,
      dataSet,
      fillSeconds,
      readyMs: big.readyMs,
      snapshotLoadedMs: big.snapshotMs,
      idleCpuPercent: idle,
      probeRoundAfterReadyMs,
      membersDecided: probed(),
      rssAfterRound: rssSamples,
      memoryAtReady,
      memoryAfterRows: memoryAfter,
      maxRssMbPerProcess: rssMax,
      probeTransitions: health(),
      warnings: big.problems,
      samples,
      rows: set.medians,
      runs: set.runs,
      reloadsUnderLoad: reloadPhases,
      targets: {
        snapshotUnder2s: { value: snapshotMax, met: snapshotMax < 2000 },
        rssUnder400MbPerProcess: { value: rssMax, met: rssMax < 400 },
        reloadsLoseNothing: { value: Math.max(...edited.map((r) => r.lost)), met: edited.every((r) => r.lost === 0) },
        reloadP99AtMost5Ms: { value: Math.max(...edited.map((r) => r.p99Ms)), met: edited.every((r) => r.p99Ms <= 5) },
      },
    },
  };
}

/** What bench/dnssec-churn.ts --json prints (the fields the benchmark reads). */
interface ChurnRun {
  readonly rrsets: number;
  readonly answers: number;
  readonly cacheMb: number;
  readonly seconds: number;
  readonly answersPerSecond: number;
  readonly signatures: { readonly misses: number; readonly hits: number };
  readonly worstGapMs: number;
  readonly gapP999Ms: number;
  readonly gapP9999Ms: number;
  readonly gapsOver10Ms: number;
  readonly worstCpuInGapMs: number;
  readonly cpuInGapP9999Ms: number;
  readonly runQueueWaitSeconds: number;
  readonly gc: { readonly maxPauseMs: number; readonly minor: { readonly count: number; readonly maxMs: number }; readonly major: { readonly count: number; readonly maxMs: number } };
  readonly heapUsedMbAtEnd: number;
  /** The same thread's clock-only loop after the run: the machine's own gaps (dnssec-churn.ts, clockLoop). */
  readonly machine: { readonly seconds: number; readonly worstGapMs: number; readonly gapsOver1Ms: number; readonly gapsOver5Ms: number };
}

interface ChurnRow {
  readonly cacheMb: number;
  readonly median: {
    worstGapMs: number;
    gapP9999Ms: number;
    gapsOver10Ms: number;
    worstCpuInGapMs: number;
    cpuInGapP9999Ms: number;
    gcMaxPauseMs: number;
    answersPerSecond: number;
    runQueueWaitSeconds: number;
    seconds: number;
    machineWorstGapMs: number;
  };
  readonly worstOfRunsMs: number;
  readonly runs: ChurnRun[];
}

/**
 * The churn row: bench/dnssec-churn.ts in its own process on the server's cores (nothing else of the benchmark runs
 * then), --runs times for each --churn-cache-mb, the sizes taking turns so that each sees the same machine. It runs
 * bundled, as the server runs dist/ (bench/lib/bundle.ts: under tsx a loader thread's collections shared the core).
 */
async function measureChurn(): Promise<ChurnRow[]> {
  const runs = new Map<number, ChurnRun[]>(CHURN_CACHE_MB.map((mb) => [mb, []]));
  const script = await bundleScript('bench/dnssec-churn.ts');
  for (let i = 0; i < RUNS; i++) {
    for (const mb of CHURN_CACHE_MB) {
      log(`run ${i + 1}/${RUNS}: signature cache churn, ${CHURN_RRSETS.toLocaleString('en-US')} distinct RRsets, ${mb} MiB cache`);
      const node = [process.execPath, script, '--json', '--rrsets', String(CHURN_RRSETS), '--cache-mb', String(mb)];
      const [cmd, argv] = SERVER_CPUS ? ['taskset', ['-c', SERVER_CPUS, ...node]] : [node[0], node.slice(1)];
      // Bounded: a run takes about a minute per million RRsets on one core; the kill is only for a hang.
      const running = run(cmd, argv, { cwd: ROOT, maxBuffer: 16 << 20, timeout: 1800_000, killSignal: 'SIGKILL' });
      const forget = onCleanup('dnssec churn', () => void running.child.kill('SIGKILL'));
      const { stdout } = await running.finally(forget);
      const result = JSON.parse(stdout.trim().split('\n').pop()!) as ChurnRun;
      log(`  worst gap ${fmt(result.worstGapMs, 2)} ms (CPU within a gap at most ${fmt(result.worstCpuInGapMs, 2)} ms), ${fmt(result.answersPerSecond, 0)} answers/s, waited ${fmt(result.runQueueWaitSeconds, 1)} s for a CPU; the machine's own worst gap ${fmt(result.machine.worstGapMs, 2)} ms`);
      runs.get(mb)!.push(result);
    }
  }
  return CHURN_CACHE_MB.map((mb) => {
    const rs = runs.get(mb)!;
    const m = (f: (r: ChurnRun) => number): number => median(rs.map(f));
    return {
      cacheMb: mb,
      median: {
        worstGapMs: m((r) => r.worstGapMs),
        gapP9999Ms: m((r) => r.gapP9999Ms),
        gapsOver10Ms: m((r) => r.gapsOver10Ms),
        worstCpuInGapMs: m((r) => r.worstCpuInGapMs),
        cpuInGapP9999Ms: m((r) => r.cpuInGapP9999Ms),
        gcMaxPauseMs: m((r) => r.gc.maxPauseMs),
        answersPerSecond: m((r) => r.answersPerSecond),
        runQueueWaitSeconds: m((r) => r.runQueueWaitSeconds),
        seconds: m((r) => r.seconds),
        machineWorstGapMs: m((r) => r.machine.worstGapMs),
      },
      worstOfRunsMs: Math.max(...rs.map((r) => r.worstGapMs)),
      runs: rs,
    };
  });
}

function printChurn(rows: readonly ChurnRow[]): void {
  console.log(
    `\nDNSSEC signature cache churned by ${CHURN_RRSETS.toLocaleString('en-US')} distinct RRsets (in-process, bench/dnssec-churn.ts: respond() with DO, ` +
      `distinct names of a signed zone, every 4th query a hot name; pinned like the server; medians of ${RUNS} run(s))\n`,
  );
  console.log(
    table(
      ['cache', 'worst gap ms', 'p99.99 gap ms', 'gaps > 10 ms', 'worst CPU in a gap ms', 'worst GC pause ms', 'answers/s', 'waited for CPU s', 'worst of runs ms', 'machine worst gap ms'],
      rows.map((r) => [
        `${r.cacheMb} MiB`,
        fmt(r.median.worstGapMs, 2),
        fmt(r.median.gapP9999Ms, 2),
        fmt(r.median.gapsOver10Ms, 0),
        fmt(r.median.worstCpuInGapMs, 2),
        fmt(r.median.gcMaxPauseMs, 2),
        fmt(r.median.answersPerSecond, 0),
        fmt(r.median.runQueueWaitSeconds, 1),
        fmt(r.worstOfRunsMs, 2),
        fmt(r.median.machineWorstGapMs, 2),
      ]),
    ),
  );
  const worst = Math.max(...rows.map((r) => r.median.worstGapMs));
  console.log(`\n  worst gap between answers (median of runs) ${fmt(worst, 2)} ms   (target ≤ 10 ms: ${worst <= 10 ? 'met' : 'MISSED'})`);
  console.log('  machine worst gap: a loop on the same thread that only reads the clock, as long as the answering ran (the machine\'s own gaps, in every figure above)');
}

async function main(): Promise<number> {
  cleanupOnSignals();
  await ensureDnsperf();
  if (LOAD_CPUS !== undefined) {
    // This process (the latency client and the probe target) stays with the load generator, off the server's cores.
    execFileSync('taskset', ['-a', '-p', '-c', LOAD_CPUS, String(process.pid)], { stdio: 'ignore' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'lbdns-bench-'));
  // The key of the signed zone is sealed with it, and the server opens the key with it (a throwaway per run).
  process.env.LBDNS_KEY_SECRET = randomBytes(24).toString('hex');
  onCleanup(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const probePort = await startProbeServer();

  log('creating the database');
  const databaseUrl = await createDatabase();
  const cliDir = join(dir, 'cli');
  mkdirSync(cliDir);
  await cli(databaseUrl, cliDir, 'migrate');
  await cli(databaseUrl, cliDir, 'zone', 'import', join(ROOT, 'zones/example.test.zone'));
  await fillBase(databaseUrl, probePort);
  await fillSigned(databaseUrl, probePort);
  log(`signing ${SIGNED_ZONE}: ${(await cli(databaseUrl, cliDir, 'dnssec', 'enable', SIGNED_ZONE)).trim().split('\n')[0]}`);
  const nsdDir = join(dir, 'nsd');
  mkdirSync(nsdDir);
  for (const zone of ['bench.test', 'example.test']) await cli(databaseUrl, cliDir, 'zone', 'export', zone, '--out', join(nsdDir, `${zone}.zone`));
  const baseCounts = await counts(databaseUrl);
  log(`data set: ${JSON.stringify(baseCounts)}`);

  const pinning =
    SERVER_CPUS === undefined
      ? `not pinned: this machine has ${NPROC} CPU, so the server and dnsperf share it`
      : `server on CPU ${SERVER_CPUS} (taskset -c ${SERVER_CPUS}), dnsperf and the latency client on CPU ${LOAD_CPUS}`;
  log(pinning);
  log('starting lbdns (LBDNS_RRL_RATE=0: response rate limiting off, for throughput from one client address)');
  const dataDir = join(dir, 'lbdns-data');
  mkdirSync(dataDir);
  const lbdns = await startLbdns({ databaseUrl, dataDir, cpus: SERVER_CPUS, workers: WORKERS, readyTimeoutMs: 120_000, nodeFlags: NODE_FLAGS });
  if (!lbdns.ready) throw new Error('lbdns did not get ready within 120 s with the base data set');
  await waitForPools(lbdns.dnsPort);
  log(`nsd: starting`);
  const nsdPort = await freePort();
  const nsd = await startNsd({ dir: nsdDir, port: nsdPort, zones: ['bench.test', 'example.test'], cpus: SERVER_CPUS });
  const samples = await sampleAnswers(lbdns.dnsPort, ROWS.filter((r) => r.server === 'lbdns'));
  Object.assign(samples, await sampleAnswers(nsd.port, ROWS.filter((r) => r.server === 'nsd')));
  for (const [k, v] of Object.entries(samples)) log(`sample ${k}: ${v}`);
  const lbdnsIdle = await idleCpuPercent(lbdns.id.pid);
  const lbdnsProcesses = serverProcesses(treeMemory(lbdns.id.pid));
  log(`lbdns on 127.0.0.1:${lbdns.dnsPort} ready in ${fmt(lbdns.readyMs, 0)} ms, snapshot built in ${lbdns.snapshotMs.join('/')} ms, ${lbdnsProcesses} process(es), idle CPU ${fmt(lbdnsIdle, 2)} %`);

  log('warming up');
  await warmUp(dir, ROWS.filter((r) => r.server === 'lbdns'), lbdns.dnsPort);
  await warmUp(dir, ROWS.filter((r) => r.server === 'nsd'), nsd.port);
  const base = await measureSet(dir, ROWS, lbdns, nsd);
  const baseMemory = treeMemory(lbdns.id.pid);
  await nsd.stop();
  await lbdns.stop();

  const by = (server: string, key: string): RowResult | undefined => base.medians.find((r) => r.server === server && r.key === key);
  const nsdStatic = by('nsd', 'static')!.cpuUsPerQuery;
  const ratios = {
    staticVsNsdStatic: by('lbdns', 'static')!.cpuUsPerQuery / nsdStatic,
    wrrVsNsdStatic: by('lbdns', 'wrr')!.cpuUsPerQuery / nsdStatic,
    geoVsNsdStatic: by('lbdns', 'geo')!.cpuUsPerQuery / nsdStatic,
    hashVsNsdStatic: by('lbdns', 'hash')!.cpuUsPerQuery / nsdStatic,
    nxdomainVsNsdNxdomain: by('lbdns', 'nxdomain')!.cpuUsPerQuery / by('nsd', 'nxdomain')!.cpuUsPerQuery,
  };
  const wrr = by('lbdns', 'wrr')!.cpuUsPerQuery;
  // Signed ÷ unsigned queries/s, taken within each run (the two rows run back to back) and then the median.
  const perRun = (signed: string, unsigned: string, field: 'qps' | 'cpuUsPerQuery'): number =>
    median(base.runs.map((run) => run.find((r) => r.server === 'lbdns' && r.key === signed)![field] / run.find((r) => r.server === 'lbdns' && r.key === unsigned)![field]));
  const signing = {
    staticQpsRatio: perRun('static-signed', 'static', 'qps'),
    wrrQpsRatio: perRun('wrr-signed', 'wrr', 'qps'),
    staticCpuRatio: perRun('static-signed', 'static', 'cpuUsPerQuery'),
    wrrCpuRatio: perRun('wrr-signed', 'wrr', 'cpuUsPerQuery'),
  };
  const targets = {
    wrrAtMost16Us: { value: wrr, met: wrr <= 16 },
    wrrAtMost3xNsdStatic: { value: ratios.wrrVsNsdStatic, met: ratios.wrrVsNsdStatic <= 3 },
    signedWrrAtLeast50PercentOfWrr: { value: signing.wrrQpsRatio, met: signing.wrrQpsRatio >= 0.5 },
    signedStaticAtLeast80PercentOfStatic: { value: signing.staticQpsRatio, met: signing.staticQpsRatio >= 0.8 },
  };
  const churn = CHURN_RRSETS > 0 ? await measureChurn() : [];
  const churnWorst = churn.length ? Math.max(...churn.map((c) => c.median.worstGapMs)) : NaN;
  if (churn.length) Object.assign(targets, { churnWorstGapAtMost10Ms: { value: churnWorst, met: churnWorst <= 10 } });

  const scaleResult = opts.scale ? await measureScale(dir, databaseUrl, probePort) : undefined;
  const scale = scaleResult?.report;
  const scaleMedians = scaleResult?.medians;

  const result = {
    machine: machine(),
    settings: {
      seconds: SECONDS,
      runs: RUNS,
      dnsperf: { clients: CLIENTS, outstanding: OUTSTANDING, edns: true },
      light: { queriesPerSecond: LIGHT_RATE, seconds: LIGHT_SECONDS },
      pinning,
      serverCpus: SERVER_CPUS ?? null,
      loadCpus: LOAD_CPUS ?? null,
      rrl: 'off (LBDNS_RRL_RATE=0)',
      lbdnsWorkers: WORKERS ?? 'server default',
      lbdnsProcesses,
      nsd: nsd.version,
    },
    dataSet: baseCounts,
    lbdns: { readyMs: lbdns.readyMs, snapshotLoadedMs: lbdns.snapshotMs, idleCpuPercent: lbdnsIdle, memory: baseMemory, warnings: lbdns.problems },
    samples,
    rows: base.medians,
    ratios,
    signing,
    churn,
    targets,
    runs: base.runs,
    scale: scale ?? null,
  };
  mkdirSync(dirname(JSON_FILE), { recursive: true });
  writeFileSync(JSON_FILE, JSON.stringify(result, null, 2) + '\n');

  const m = result.machine;
  console.log(`\nlbdns benchmark — ${m.date}`);
  console.log(`machine: ${m.nproc} CPU (${m.cpuModel}), Node.js ${m.node}, Linux ${m.kernel}; ${pinning}`);
  console.log(
    `lbdns: ${WORKERS === undefined ? 'LBDNS_WORKERS unset (server default)' : `LBDNS_WORKERS=${WORKERS}`}, ${lbdnsProcesses} process(es), RRL off; NSD ${nsd.version}, 1 server process; ` +
      `dnsperf -c ${CLIENTS} -q ${OUTSTANDING} -e for ${SECONDS} s per row; light load ${LIGHT_RATE} q/s for ${LIGHT_SECONDS} s; medians of ${RUNS} run(s)`,
  );
  printRows('Base data set', base.medians);
  console.log('\nCPU per query, lbdns ÷ NSD');
  console.log(`  static A ÷ NSD static A          ${fmt(ratios.staticVsNsdStatic, 2)}×`);
  console.log(`  wrr pool ÷ NSD static A          ${fmt(ratios.wrrVsNsdStatic, 2)}×   (target ≤ 3×: ${targets.wrrAtMost3xNsdStatic.met ? 'met' : 'NOT met'})`);
  console.log(`  geo pool + ECS ÷ NSD static A    ${fmt(ratios.geoVsNsdStatic, 2)}×`);
  console.log(`  hash pool + ECS ÷ NSD static A   ${fmt(ratios.hashVsNsdStatic, 2)}×`);
  console.log(`  NXDOMAIN ÷ NSD NXDOMAIN          ${fmt(ratios.nxdomainVsNsdNxdomain, 2)}×`);
  console.log(`  wrr pool CPU µs/query            ${fmt(wrr, 1)}   (target ≤ 16: ${targets.wrrAtMost16Us.met ? 'met' : 'NOT met'})`);
  const pct = (x: number): string => `${fmt(x * 100, 0)} %`;
  console.log('\nDNSSEC: signed (DO) ÷ unsigned, the same server and run (median of the runs\' ratios)');
  console.log(`  static A: queries/s ${pct(signing.staticQpsRatio).padStart(6)}, CPU/query ${fmt(signing.staticCpuRatio, 2)}×   (target ≥ 80 %: ${targets.signedStaticAtLeast80PercentOfStatic.met ? 'met' : 'MISSED'})`);
  console.log(`  wrr pool: queries/s ${pct(signing.wrrQpsRatio).padStart(6)}, CPU/query ${fmt(signing.wrrCpuRatio, 2)}×   (target ≥ 50 %: ${targets.signedWrrAtLeast50PercentOfWrr.met ? 'met' : 'MISSED'})`);
  if (churn.length) printChurn(churn);
  if (scale) {
    const t = scale.targets as Record<string, { value: number; met: boolean }>;
    const title = `Large data set (${SCALE.zones * SCALE.recordsPerZone} records, ${SCALE.zones * SCALE.poolsPerZone} pools of ${SCALE.membersPerPool} members)`;
    const memory = (scale.memoryAfterRows ?? scale.memoryAtTimeout) as { rssMb: number; peakRssMb: number }[];
    if (scaleMedians) printRows(title, scaleMedians);
    else console.log(`\n${title}\n\n  NOT READY: /readyz did not say 200 within ${SCALE_TIMEOUT} s, so no rows were measured.`);
    console.log(`\n  start → ready                    ${scale.ready ? `${fmt(scale.readyMs as number, 0)} ms` : `not within ${SCALE_TIMEOUT} s`}`);
    console.log(`  snapshot loaded (server log)     ${(scale.snapshotLoadedMs as number[]).join(' / ') || '–'} ms   (target < 2,000: ${t.snapshotUnder2s.met ? 'met' : 'NOT met'})`);
    console.log(`  RSS per process                  ${memory.map((p) => `${fmt(p.rssMb, 0)} MB`).join(', ')}   (target < 400: ${t.rssUnder400MbPerProcess.met ? 'met' : 'NOT met'})`);
    console.log(`  peak RSS per process (VmHWM)     ${memory.map((p) => `${fmt(p.peakRssMb, 0)} MB`).join(', ')}   (snapshot build and the start-up probe round)`);
    if (scale.ready) console.log(`  RSS after the probe round        ${(scale.rssAfterRound as { afterRoundSeconds: number; rssMb: number }[]).map((x) => `${x.afterRoundSeconds} s: ${x.rssMb}`).join(', ')} MB (memory and rows are read after the last)`);
    if (scale.ready) {
      console.log(`  first probe round done           ${fmt(scale.probeRoundAfterReadyMs as number, 0)} ms after ready (${scale.membersDecided} members decided)`);
      console.log(`  idle CPU after that              ${fmt(scale.idleCpuPercent as number, 2)} % of a core`);
    }
    else console.log(`  open files at the timeout        ${(scale.openFdsAtTimeout as { fds: number }[]).map((p) => p.fds).join(', ')}; CPU used ${fmt(scale.cpuSecondsUsed as number, 1)} s`);
    if (scale.ready) {
      console.log(`\n  Full reloads under ${LIGHT_RATE} queries/s (target: 0 lost, p99 ≤ 5 ms)`);
      for (const r of scale.reloadsUnderLoad as ReloadPhase[]) {
        const verdict = r.label.startsWith('no edit') ? '' : `   (${r.lost === 0 && r.p99Ms <= 5 ? 'met' : 'MISSED'})`;
        console.log(`  ${r.label.padEnd(40)} ${r.reloads} reloads (${r.reloadMs.join(' / ')} ms): ${r.lost} of ${r.sent} lost, p99 ${fmt(r.p99Ms, 2)} ms, max ${fmt(r.maxMs, 1)} ms${verdict}`);
      }
    }
    const h = scale.probeTransitions as { membersUp: number; membersDown: number };
    console.log(`  probe results logged             ${h.membersUp} members up, ${h.membersDown} down (of ${(scale.dataSet as Record<string, number>).pool_members})`);
  }
  const busy = [...base.medians, ...(scaleMedians ?? [])].filter((r) => r.otherCpuPercent > 5 || r.stealPercent > 5);
  if (busy.length > 0) {
    console.log(
      `warning: the server's cores were not quiet (other processes or the hypervisor took over 5 % of a core during ${busy.length} row(s)): ` +
        'throughput and latency are then understated; CPU µs/query, counted from the server\'s own processes, holds up better. Run again on an idle machine.',
    );
  }
  const lostRows = [...base.medians, ...(scaleMedians ?? [])].filter((r) => r.lost > 0 || r.lightLost > 0 || r.unexpectedRcodes > 0);
  for (const r of lostRows) console.log(`note: ${r.server} ${r.label}: ${r.lost} lost at saturation, ${r.lightLost} lost at light load, ${r.unexpectedRcodes} unexpected rcodes`);
  console.log(`\nJSON: ${JSON_FILE}`);
  // An incomplete measurement is a failure; a target not met is a result.
  return scale && !scale.ready ? 1 : 0;
}

let status = 1;
try {
  status = await main();
} catch (err) {
  if (!interrupted()) console.error(`bench failed: ${(err as Error).message}`);
} finally {
  await cleanup();
}
process.exit(status);
