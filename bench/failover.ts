// Failover benchmark: how long the VIP goes unanswered for each kind of failure and at each fail-back, in network namespaces.
//
// npm run bench:failover [-- --runs N] [--case TEXT] [--keep]
//
// Builds the same lab as test/integration/failover.test.ts (needs root, keepalived, iproute2,
// dig, the local PostgreSQL), then for each case breaks node-a while a client queries the VIP
// every 10 ms, measures the outage (first unanswered query sent → first good answer received)
// and repairs it, which also measures the fail-back. Prints median/min/max per case, the worst
// fail-back (target: at most 1 lost query in every run), and every VRRP transition nobody
// caused (false takeovers). --case runs only the cases whose name contains TEXT; --keep leaves the
// lab's directory (configs, logs, role files).
import './lib/current-build.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../test/helpers/db.js';
import { Lab, NODES, ROOT, cleanLeftovers, judge, measureOutage, missingPrerequisites, now, socketUrl, waitFor, type NodeId, type Outage, type ProbeResult } from '../test/helpers/netns.js';

interface Case {
  readonly name: string;
  /** What the outage should stay within, from the issue's targets; undefined: no target. */
  readonly targetMs?: number;
  readonly watcher: boolean;
  break(lab: Lab): Promise<void>;
  repair(lab: Lab): Promise<void>;
}

const CASES: readonly Case[] = [
  {
    name: 'dead lbdns process, watcher off',
    targetMs: 2000,
    watcher: false,
    break: (lab) => lab.killLbdns('a', 'SIGKILL'),
    repair: (lab) => lab.startLbdns('a'),
  },
  {
    name: 'dead link',
    watcher: false,
    break: async (lab) => lab.setLink('a', false),
    repair: async (lab) => lab.setLink('a', true),
  },
  {
    name: 'dead lbdns process, watcher (default)',
    targetMs: 500,
    watcher: true,
    break: (lab) => lab.killLbdns('a', 'SIGKILL'),
    repair: (lab) => lab.startLbdns('a'),
  },
];

/** The fail-back target of issue 12: at most this many unanswered queries (10 ms apart) per fail-back. */
const FAILBACK_MAX_LOST = 1;
/** The watcher's target: a killed process costs at most this, in every run, with no false takeover. */
const WATCHER_TARGET_MS = 500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** One stretch of consecutive unanswered queries. */
interface Gap {
  /** When its first query was sent, ms after the reference time. */
  readonly atMs: number;
  /** First unanswered query sent → next good answer received. */
  readonly ms: number;
  readonly lost: number;
}

/** The stretches of unanswered queries among those sent in [from, to]; times relative to `from`. */
function gaps(results: readonly ProbeResult[], from: number, to = Infinity): Gap[] {
  const inRange = results.filter((r) => r.sent >= from && r.sent <= to).sort((x, y) => x.sent - y.sent);
  const out: Gap[] = [];
  let start: ProbeResult | undefined;
  let lost = 0;
  for (const r of inRange) {
    if (!judge(r).ok) {
      start ??= r;
      lost++;
    } else if (start) {
      out.push({ atMs: start.sent - from, ms: r.recv! - start.sent, lost });
      start = undefined;
      lost = 0;
    }
  }
  if (start) out.push({ atMs: start.sent - from, ms: Infinity, lost });
  return out;
}

/** Transition lines (notify.sh's role.log) of a node, as [time ms, state]. */
function transitions(lab: Lab, id: NodeId): [number, string][] {
  return lab
    .transitions(id)
    .split('\n')
    .flatMap((line) => {
      const m = /^(\S+) lbdns-ha INSTANCE \S+ -> (\w+)/.exec(line);
      return m ? [[Date.parse(m[1]), m[2]] as [number, string]] : [];
    });
}

interface RunResult {
  readonly failover: Outage;
  readonly failback: Outage;
  readonly failbackGaps: Gap[];
  /** ms from the repair to node-a's MASTER transition. */
  readonly masterAfterMs: number;
  /** Transitions beyond the ones the case causes (node-a: FAULT, BACKUP, MASTER; node-b: MASTER, BACKUP). */
  readonly extra: string[];
}

const EXPECTED: Record<NodeId, readonly string[]> = { a: ['FAULT', 'BACKUP', 'MASTER'], b: ['MASTER', 'BACKUP'] };

async function oneRun(lab: Lab, c: Case): Promise<RunResult> {
  const prober = lab.startProber({ intervalMs: 10, timeoutMs: 250, maxMs: 90_000 });
  const before = { a: transitions(lab, 'a').length, b: transitions(lab, 'b').length };
  try {
    await waitFor('node-a answering on the VIP', 15_000, () => prober.latestNode() === NODES.a.name, 20);
    await sleep(300);
    const brokenAt = now();
    await c.break(lab);
    await waitFor('node-b answering on the VIP', 15_000, () => prober.latestNode() === NODES.b.name, 20);
    await sleep(500);
    const failover = measureOutage(prober.results, brokenAt);
    const repairedAt = now();
    await c.repair(lab);
    await lab.waitRole('a', 'MASTER', 30_000);
    await waitFor('node-a answering on the VIP again', 15_000, () => prober.latestNode() === NODES.a.name, 20);
    await lab.waitRole('b', 'BACKUP', 10_000);
    // Long enough for a client whose ARP entry still names node-b to have found out (DELAY 5 s + 3 probes).
    await sleep(1500);
    const failback = measureOutage(prober.results, repairedAt);
    const failbackGaps = gaps(prober.results, repairedAt);
    const masterAt = transitions(lab, 'a').slice(before.a).filter(([, s]) => s === 'MASTER').at(-1)?.[0] ?? NaN;
    const extra: string[] = [];
    for (const id of ['a', 'b'] as const) {
      const seen = transitions(lab, id).slice(before[id]).map(([, s]) => s);
      if (seen.join(' ') !== EXPECTED[id].join(' ')) extra.push(`${NODES[id].name}: ${seen.join(' → ')}`);
    }
    return { failover, failback, failbackGaps, masterAfterMs: masterAt - repairedAt, extra };
  } finally {
    await prober.stop();
  }
}

function stats(values: readonly number[]): { median: number; min: number; max: number } {
  const s = [...values].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1] };
}

const r = (v: number) => (Number.isFinite(v) ? Math.round(v) : 'never');
const describeGaps = (g: readonly Gap[]) => (g.length ? g.map((x) => `${x.lost} lost at +${r(x.atMs)} ms (${r(x.ms)} ms)`).join(', ') : 'none lost');

interface Row {
  readonly name: string;
  readonly targetMs?: number;
  readonly runs: RunResult[];
}

function printTable(rows: readonly Row[], load: string): boolean {
  const pad = (v: string | number, n: number) => String(v).padStart(n);
  console.log(`\nload average at the start: ${load}`);
  console.log(`\n${'failover: case'.padEnd(42)}${pad('runs', 5)}${pad('median', 8)}${pad('min', 7)}${pad('max', 7)}${pad('lost', 6)}  target`);
  let met = true;
  for (const row of rows) {
    const ms = stats(row.runs.map((x) => x.failover.windowMs));
    const lost = stats(row.runs.map((x) => x.failover.lost));
    let verdict = '';
    if (row.targetMs !== undefined) {
      verdict = ms.median <= row.targetMs ? `median ≤ ${row.targetMs} ms: met` : `median ≤ ${row.targetMs} ms: MISSED`;
    }
    console.log(`${row.name.padEnd(42)}${pad(row.runs.length, 5)}${pad(r(ms.median), 8)}${pad(r(ms.min), 7)}${pad(r(ms.max), 7)}${pad(lost.median, 6)}  ${verdict}`);
  }
  console.log('ms: first unanswered query sent → first good answer received (10 ms probe interval); lost: median unanswered queries');

  const all = rows.flatMap((row) => row.runs);
  const worst = all.reduce((w, x) => (x.failback.lost > w.failback.lost || (x.failback.lost === w.failback.lost && x.failback.windowMs > w.failback.windowMs) ? x : w));
  const over = all.filter((x) => x.failback.lost > FAILBACK_MAX_LOST).length;
  const after = stats(all.map((x) => x.masterAfterMs));
  console.log(`\nfail-back to node-a (rise 2, preempt_delay 5 s; node-a MASTER ${r(after.min)}–${r(after.max)} ms after the repair), ${all.length} runs:`);
  for (const row of rows) {
    const lost = stats(row.runs.map((x) => x.failback.lost));
    console.log(`  after ${row.name.padEnd(36)} lost per fail-back: median ${lost.median}, max ${lost.max}`);
  }
  const failbackMet = over === 0;
  met &&= failbackMet;
  console.log(
    `  worst fail-back: ${worst.failback.lost} lost, ${r(worst.failback.windowMs)} ms (${describeGaps(worst.failbackGaps)}); ` +
      `≤ ${FAILBACK_MAX_LOST} lost in every run: ${failbackMet ? 'met' : `MISSED (${over} of ${all.length} runs)`}`,
  );

  const watcher = rows.find((row) => CASES.find((c) => c.name === row.name)?.watcher);
  if (watcher) {
    const worstMs = Math.max(...watcher.runs.map((x) => x.failover.windowMs));
    const falseMoves = watcher.runs.reduce((n, x) => n + x.extra.length, 0);
    const ok = worstMs <= WATCHER_TARGET_MS && falseMoves === 0;
    console.log(`\nwatcher: killed process worst ${r(worstMs)} ms, ${falseMoves} unexpected transitions in ${watcher.runs.length} runs; ≤ ${WATCHER_TARGET_MS} ms in every run without false takeovers: ${ok ? 'met' : 'MISSED'}`);
  }
  const unexpected = rows.flatMap((row) => row.runs.flatMap((x) => x.extra.map((e) => `${row.name}: ${e}`)));
  console.log(`\nunexpected VRRP transitions (false takeovers or flaps): ${unexpected.length ? unexpected.join('; ') : 'none'}`);
  return met;
}

async function main(): Promise<number> {
  const runs = Number(argValue('--runs') ?? 5);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error('--runs takes an integer from 1 to 50');
  const missing = missingPrerequisites() ?? ((await pgAvailable()) ? undefined : 'no PostgreSQL answers on 127.0.0.1:5432');
  if (missing) {
    console.error(`bench:failover cannot run here: ${missing}`);
    return 2;
  }
  // What runs is the build of the sources as they are now, kept fixed for the whole run.
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });
  process.env.LBDNS_SKIP_BUILD_CHECK = '1';
  cleanLeftovers();
  const load = execFileSync('uptime', { encoding: 'utf8' }).replace(/.*load average:\s*/, '').trim();
  let db: TestDatabase | undefined;
  let lab: Lab | undefined;
  const onSignal = () => void lab?.teardown().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: Row[] = [];
  let wrong = 0;
  try {
    db = await createTestDatabase();
    if (!db.url) throw new Error('createTestDatabase gave no PostgreSQL URL');
    lab = await Lab.create({ databaseUrl: socketUrl(db.url), keepDir: process.argv.includes('--keep') });
    if (process.argv.includes('--keep')) console.log(`lab directory (kept): ${lab.dir}`);
    await lab.startLbdns('a');
    await lab.startLbdns('b');
    lab.startKeepalived('a');
    await lab.waitRole('a', 'MASTER', 30_000);
    lab.startKeepalived('b');
    await lab.waitRole('b', 'BACKUP', 30_000);
    const only = argValue('--case');
    const cases = CASES.filter((c) => only === undefined || c.name.includes(only));
    if (cases.length === 0) throw new Error(`no case matches --case ${only}`);
    for (const c of cases) {
      if (c.watcher) {
        lab.startWatcher('a');
        lab.startWatcher('b');
        await sleep(1000);
      }
      const row: Row = { name: c.name, targetMs: c.targetMs, runs: [] };
      rows.push(row);
      for (let i = 1; i <= runs; i++) {
        const res = await oneRun(lab, c);
        row.runs.push(res);
        const { failover, failback } = res;
        wrong += failover.wrong.length + failback.wrong.length;
        for (const w of [...failover.wrong, ...failback.wrong]) console.error(`WRONG ANSWER: ${w}`);
        console.log(
          `${c.name}, run ${i}/${runs}: ${r(failover.windowMs)} ms (${failover.lost} lost), answered by ${failover.resumedBy}; ` +
            `fail-back at +${r(res.masterAfterMs)} ms: ${describeGaps(res.failbackGaps)}${res.extra.length ? `; UNEXPECTED ${res.extra.join('; ')}` : ''}`,
        );
      }
      if (c.watcher) {
        await lab.stopWatcher('a');
        await lab.stopWatcher('b');
      }
    }
    const met = printTable(rows, load);
    if (wrong > 0) console.error(`\n${wrong} wrong answers through the VIP`);
    return wrong > 0 ? 1 : met ? 0 : 3;
  } catch (err) {
    console.error(`bench:failover failed: ${(err as Error).message}`);
    if (lab) console.error(lab.diagnostics());
    return 1;
  } finally {
    await lab?.teardown();
    await db?.drop().catch(() => undefined);
  }
}

process.exitCode = await main();
