// `npx tsx bench/health-writes.ts [--members N --seconds S --interval W --before S]`: member_health rows written per second by
// one node's HealthReporter against a real PostgreSQL, fed synthetic probe results, as the database counts them.
//
// 80,000 members (10,000 pools × 8) each get a result every 5 s (16,000 a second, staggered as the monitor
// staggers probes), a few per second flip state. The same feed runs twice: heartbeat 0 (every result written,
// the behaviour before LBDNS_HEALTH_WRITE_INTERVAL) and the default 30 s. The figure is the delta of
// pg_stat_user_tables n_tup_ins + n_tup_upd of member_health, per second, over each run's steady window
// (after the first write round and the first heartbeats), next to the reporter's own count.
import { parseArgs } from 'node:util';
import pg from 'pg';
import pino from 'pino';
import { HealthReporter } from '../src/health/reporter.js';
import type { ProbeReport } from '../src/health/monitor.js';
import { openStore } from '../src/store/store.js';
import { createTestDatabase, pgAvailable, storeConfig } from '../test/helpers/db.js';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '80000' },
    seconds: { type: 'string', default: '150' },
    interval: { type: 'string', default: '30' },
    before: { type: 'string', default: '40' },
    'probe-interval': { type: 'string', default: '5' },
    flips: { type: 'string', default: '20' },
  },
});
const MEMBERS = Number(values.members);
const PROBE_MS = Number(values['probe-interval']) * 1000;
const FLIPS_PER_SECOND = Number(values.flips);
if (!(await pgAvailable())) {
  console.error('health-writes needs PostgreSQL on 127.0.0.1:5432 (LBDNS_TEST_PG_ADMIN_URL for another)');
  process.exit(1);
}

const db = await createTestDatabase();
const store = await openStore(storeConfig(db), { role: 'client', migrate: true });
const sql = new pg.Client({ connectionString: db.url });
await sql.connect();
const POOLS = Math.ceil(MEMBERS / 8);
await sql.query(`insert into zones (name, serial, minimum, ttl) values ('hw.test', 1, 300, 3600)`);
await sql.query(
  `insert into pools (zone_id, name, policy, count, ttl, check_kind, check_port, check_path, timeout_ms, interval_ms, rise, fall)
   select z.id, 'p' || j || '.hw.test', 'wrr', 2, 30, 'tcp', 80, '/', 2000, ${PROBE_MS}, 1, 3
     from zones z cross join generate_series(0, ${POOLS - 1}) j`,
);
await sql.query(
  `insert into pool_members (pool_id, address, weight)
   select p.id, ('10.' || (p.id / 256 % 256) || '.' || (p.id % 256) || '.' || k)::inet, 1
     from pools p cross join generate_series(1, 8) k`,
);
const ids: number[] = (await sql.query(`select id from pool_members order by id limit ${MEMBERS}`)).rows.map((r) => r.id);

// Votes (migrations/0011): every row written is a vote, and a vote that moves is NOTIFYed. Counted here to show
// that notifications follow state changes, not row writes.
const listener = new pg.Client({ connectionString: db.url });
await listener.connect();
let notifications = 0;
let notifiedVotes = 0;
listener.on('notification', (n) => {
  notifications++;
  notifiedVotes += (n.payload ?? '').split(' ')[1]?.split(',').length ?? 0;
});
await listener.query('LISTEN lbdns_votes');

async function tuples(): Promise<number> {
  // Counters reach the statistics collector when a backend's transaction ends, within about a second.
  const r = await sql.query(`select n_tup_ins + n_tup_upd as n from pg_stat_user_tables where relname = 'member_health'`);
  return Number(r.rows[0]?.n ?? 0);
}

function result(memberId: number, up: boolean, at: number, transition: boolean): ProbeReport {
  const state = { memberId, poolName: 'p', address: '10.0.0.1', status: up ? 'up' : 'down', up, since: at, okStreak: 1, failStreak: 0, lastCheck: at, lastLatencyMs: 1.5, lastError: up ? null : 'connect ECONNREFUSED', lastErrorAt: null, target: '10.0.0.1', kind: 'tcp' };
  const t = transition ? { memberId, poolName: 'p', address: '10.0.0.1', from: up ? 'down' : 'up', to: up ? 'up' : 'down', reason: 'bench' } : undefined;
  return { result: { ok: up, latencyMs: 1.5 }, state, transition: t } as unknown as ProbeReport;
}

interface Run {
  readonly label: string;
  readonly perSecond: number;
  readonly peak: number;
  readonly reporterPerSecond: number;
  readonly resultsPerSecond: number;
  readonly busyShare: number;
  readonly notificationsPerSecond: number;
  readonly notifiedVotesPerSecond: number;
}

/** Feeds results for `seconds` and returns the row rate over the window from `from` seconds on. */
async function run(label: string, heartbeatMs: number, seconds: number, from: number): Promise<Run> {
  await sql.query('truncate member_health');
  // Time spent inside the write statements: how much of the wall clock the database spent on this node's rows.
  let busyMs = 0;
  const busy: { t: number; ms: number }[] = [];
  const reporter = new HealthReporter({
    log: pino({ level: 'warn' }),
    heartbeatMs,
    tickMs: 2000,
    write: async (rows) => {
      const t0 = performance.now();
      try {
        return await store.reportHealth('bench-node', rows);
      } finally {
        busyMs += performance.now() - t0;
        busy.push({ t: (Date.now() - started) / 1000, ms: busyMs });
      }
    },
  });
  const up = new Map<number, boolean>();
  const started = Date.now();
  const notified = { at: notifications, votes: notifiedVotes };
  let steadyNotified: { t: number; n: number; votes: number } | undefined;
  const samples: { t: number; n: number; written: number }[] = [];
  let results = 0;
  let slot = 0;
  const STEP = 100;
  const slots = PROBE_MS / STEP;
  const flipEvery = Math.max(1, Math.round(MEMBERS / ((FLIPS_PER_SECOND * PROBE_MS) / 1000)));
  let next = started;
  while (Date.now() - started < seconds * 1000) {
    // One slot of the probe interval: the members whose staggered probe falls in it.
    for (let i = slot; i < ids.length; i += slots) {
      const id = ids[i];
      const flip = (i + Math.floor((Date.now() - started) / PROBE_MS)) % flipEvery === 0;
      const was = up.get(id);
      const now = was === undefined ? true : flip ? !was : was;
      up.set(id, now);
      reporter.record(result(id, now, Date.now(), was !== undefined && was !== now));
      results++;
    }
    slot = (slot + 1) % slots;
    if (slot % 10 === 0) {
      const t = (Date.now() - started) / 1000;
      samples.push({ t, n: await tuples(), written: reporter.rowsWritten });
      if (steadyNotified === undefined && t >= Math.min(from, seconds / 2)) steadyNotified = { t, n: notifications, votes: notifiedVotes };
    }
    next += STEP;
    await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
  }
  await reporter.stop();
  const window = samples.filter((s) => s.t >= Math.min(from, seconds / 2));
  const first = window[0];
  const last = window.at(-1)!;
  const span = last.t - first.t;
  // The reporter writes every 2 s and the statistics arrive per transaction: the busiest 5 s says more than any 1 s.
  let peak = 0;
  for (let i = 0, j = 0; i < window.length; i++) {
    while (window[i].t - window[j].t > 5) j++;
    if (window[i].t - window[j].t >= 4.5) peak = Math.max(peak, (window[i].n - window[j].n) / (window[i].t - window[j].t));
  }
  const busyAt = (t: number) => busy.filter((b) => b.t <= t).at(-1)?.ms ?? 0;
  const busyShare = (busyAt(last.t) - busyAt(first.t)) / 1000 / span;
  const steady = steadyNotified ?? { t: 0, n: notified.at, votes: notified.votes };
  const stillSpan = (Date.now() - started) / 1000 - steady.t;
  const out = {
    label,
    notificationsPerSecond: (notifications - steady.n) / stillSpan,
    notifiedVotesPerSecond: (notifiedVotes - steady.votes) / stillSpan,
    perSecond: (last.n - first.n) / span,
    peak,
    reporterPerSecond: (last.written - first.written) / span,
    resultsPerSecond: results / ((Date.now() - started) / 1000),
    busyShare,
  };
  console.log(
    `  ${label.padEnd(34)} ${out.perSecond.toFixed(0).padStart(6)} rows/s (pg_stat n_tup_ins+upd, ${first.t.toFixed(0)}-${last.t.toFixed(0)} s), ` +
      `busiest 5 s ${peak.toFixed(0)}/s, reporter ${out.reporterPerSecond.toFixed(0)}/s, writing ${(100 * busyShare).toFixed(0)} % of the time, ` +
      `probe results ${out.resultsPerSecond.toFixed(0)}/s; NOTIFY lbdns_votes ${out.notificationsPerSecond.toFixed(1)}/s carrying ${out.notifiedVotesPerSecond.toFixed(1)} votes/s`,
  );
  return out;
}

try {
  const pgVersion = (await sql.query('show server_version')).rows[0].server_version;
  console.log(`member_health writes: ${ids.length} members, a result each every ${PROBE_MS / 1000} s, ~${FLIPS_PER_SECOND} state changes/s, PostgreSQL ${pgVersion}`);
  const interval = Number(values.interval);
  await run('every result (heartbeat 0, before)', 0, Number(values.before), 10);
  // The window starts once the first heartbeats (1 to 2 intervals after the first round) have settled.
  await run(`heartbeat ${interval} s (LBDNS_HEALTH_WRITE_INTERVAL)`, interval * 1000, Number(values.seconds), 2 * interval + 10);
  console.log('  + one vantage_points heartbeat per LBDNS_VANTAGE_HEARTBEAT (2 s) per vantage point: 0.5 rows/s each, whatever the members');
} finally {
  await listener.end();
  await sql.end();
  await store.close();
  await db.drop();
}
