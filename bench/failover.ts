// Failover benchmark: how long the VIP goes unanswered for each kind of failure, over several runs, in network namespaces.
//
// npm run bench:failover [-- --runs N]
//
// Builds the same lab as test/integration/failover.test.ts (needs root, keepalived, iproute2,
// dig, the local PostgreSQL), then for each case breaks node-a while a client queries the VIP
// every 10 ms, measures the outage (first unanswered query sent → first good answer received)
// and repairs it, which also measures the fail-back. Prints median/min/max per case.
import { createTestDatabase, pgAvailable, type TestDatabase } from '../test/helpers/db.js';
import { Lab, NODES, cleanLeftovers, measureOutage, missingPrerequisites, now, socketUrl, waitFor, type Outage } from '../test/helpers/netns.js';

interface Case {
  readonly name: string;
  /** What the outage should stay within, from the targets; undefined: no target. */
  readonly targetMs?: number;
  readonly watcher: boolean;
  break(lab: Lab): Promise<void>;
  repair(lab: Lab): Promise<void>;
}

const CASES: readonly Case[] = [
  {
    name: 'dead lbdns process (shipped settings)',
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
    name: 'dead lbdns process + 0.2 s watcher',
    targetMs: 500,
    watcher: true,
    break: (lab) => lab.killLbdns('a', 'SIGKILL'),
    repair: (lab) => lab.startLbdns('a'),
  },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Row {
  readonly name: string;
  readonly targetMs?: number;
  readonly outages: Outage[];
}

async function oneRun(lab: Lab, c: Case): Promise<{ failover: Outage; failback: Outage }> {
  const prober = lab.startProber({ intervalMs: 10, timeoutMs: 250, maxMs: 90_000 });
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
    await sleep(500);
    const failback = measureOutage(prober.results, repairedAt);
    await lab.waitRole('b', 'BACKUP', 10_000);
    return { failover, failback };
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

function printTable(rows: readonly Row[]): void {
  const pad = (v: string | number, n: number) => String(v).padStart(n);
  console.log(`\n${'case'.padEnd(42)}${pad('runs', 5)}${pad('median', 8)}${pad('min', 7)}${pad('max', 7)}${pad('lost', 6)}  target`);
  for (const row of rows) {
    const ms = stats(row.outages.map((o) => o.windowMs));
    const lost = stats(row.outages.map((o) => o.lost));
    const verdict = row.targetMs === undefined ? '' : ms.median <= row.targetMs ? `≤ ${row.targetMs} ms: met` : `≤ ${row.targetMs} ms: MISSED`;
    const r = (v: number) => (Number.isFinite(v) ? Math.round(v) : 'never');
    console.log(`${row.name.padEnd(42)}${pad(row.outages.length, 5)}${pad(r(ms.median), 8)}${pad(r(ms.min), 7)}${pad(r(ms.max), 7)}${pad(lost.median, 6)}  ${verdict}`);
  }
  console.log('\nms: first unanswered query sent → first good answer received (10 ms probe interval); lost: median unanswered queries');
}

async function main(): Promise<number> {
  const runs = Number(argValue('--runs') ?? 5);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error('--runs takes an integer from 1 to 50');
  const missing = missingPrerequisites() ?? ((await pgAvailable()) ? undefined : 'no PostgreSQL answers on 127.0.0.1:5432');
  if (missing) {
    console.error(`bench:failover cannot run here: ${missing}`);
    return 2;
  }
  cleanLeftovers();
  let db: TestDatabase | undefined;
  let lab: Lab | undefined;
  const onSignal = () => void lab?.teardown().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: Row[] = [];
  const failbacks: Outage[] = [];
  let wrong = 0;
  try {
    db = await createTestDatabase();
    if (!db.url) throw new Error('createTestDatabase gave no PostgreSQL URL');
    lab = await Lab.create({ databaseUrl: socketUrl(db.url), keepDir: process.argv.includes('--keep') });
    await lab.startLbdns('a');
    await lab.startLbdns('b');
    lab.startKeepalived('a');
    await lab.waitRole('a', 'MASTER', 30_000);
    lab.startKeepalived('b');
    await lab.waitRole('b', 'BACKUP', 30_000);
    for (const c of CASES) {
      if (c.watcher) {
        lab.startWatcher('a');
        lab.startWatcher('b');
        await sleep(1000);
      }
      const row: Row = { name: c.name, targetMs: c.targetMs, outages: [] };
      rows.push(row);
      for (let i = 1; i <= runs; i++) {
        const { failover, failback } = await oneRun(lab, c);
        row.outages.push(failover);
        failbacks.push(failback);
        wrong += failover.wrong.length + failback.wrong.length;
        for (const w of [...failover.wrong, ...failback.wrong]) console.error(`WRONG ANSWER: ${w}`);
        console.log(
          `${c.name}, run ${i}/${runs}: ${Math.round(failover.windowMs)} ms (${failover.lost} lost), answered by ${failover.resumedBy}; fail-back ${Math.round(failback.windowMs)} ms (${failback.lost} lost)`,
        );
      }
      if (c.watcher) {
        await lab.stopWatcher('a');
        await lab.stopWatcher('b');
      }
    }
    rows.push({ name: 'fail-back to node-a (preempt_delay 5 s)', outages: failbacks });
    printTable(rows);
    if (wrong > 0) console.error(`\n${wrong} wrong answers through the VIP`);
    return wrong > 0 ? 1 : 0;
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
