// `npm run bench:audit [-- --rows N --runs R]`: what the audit triggers (migrations/0013_audit.sql) add to bulk SQL edits.
//
// On a throwaway database of the local PostgreSQL, one zone, plain SQL as an operator would type it in psql:
//   insert  INSERT ... SELECT generate_series: N new A records
//   update  UPDATE records SET ttl = ttl + 1 WHERE zone_id = X: every one of them
//   delete  DELETE FROM records WHERE zone_id = X
// each its own transaction, timed from the client (one round trip each), beside 40,000 records of another zone. A round runs the three with the audit triggers
// of records enabled and again with them disabled (ALTER TABLE ... DISABLE TRIGGER records_audit_*), in alternating
// order; a warm-up round is not counted; then R rounds (default 5) and the medians. Every other trigger of records (the
// checks, the serial, the IXFR journal, the change notification) runs both times, so the difference is the audit's.
// Target (the issue): the triggers add at most 20 % to the 10,000-record edits.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openStore } from '../src/store/store.js';
import { createTestDatabase, pgAvailable, storeConfig } from '../test/helpers/db.js';
import { fmt, median, table } from './lib/report.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '10000' }, runs: { type: 'string', default: '5' }, samples: { type: 'boolean' } } });
const ROWS = Number(values.rows);
const RUNS = Number(values.runs);
if (!(Number.isInteger(ROWS) && ROWS >= 1 && ROWS <= 1_000_000 && Number.isInteger(RUNS) && RUNS >= 1 && RUNS <= 50)) {
  console.error('bench:audit: --rows must be 1..1000000 and --runs 1..50');
  process.exit(2);
}
const TARGET = 0.2;
/** Records of another zone, there all along. */
const BACKGROUND = 40_000;
const OPS = ['insert', 'update', 'delete'] as const;
type Op = (typeof OPS)[number];

if (!(await pgAvailable())) {
  console.error('bench:audit needs PostgreSQL on 127.0.0.1:5432 (LBDNS_TEST_PG_ADMIN_URL for another)');
  process.exit(1);
}
const db = await createTestDatabase();
try {
  await (await openStore(storeConfig(db), { role: 'server', migrate: true })).close();
  const sql = new pg.Client({ connectionString: db.url, application_name: 'bench-audit' });
  await sql.connect();
  try {
    // The table is never empty, as in real use: an emptied and vacuumed records table makes the per-row checks of
    // records_before plan a sequential scan (measured: 3.4 s instead of 0.4 s to insert 10,000 rows), which would hide
    // the audit's cost in a baseline nobody has.
    await sql.query(`insert into zones (name) values ('background.test')`);
    await sql.query(`insert into records (zone_id, name, type, ttl, content)
                     select z.id, 'b' || i || '.background.test', 'A', 300, '10.' || (i >> 16) % 256 || '.' || (i >> 8) % 256 || '.' || i % 256
                       from zones z, generate_series(1, ${BACKGROUND}) i where z.name = 'background.test'`);
    await sql.query('vacuum analyze');
    const zone = Number((await sql.query(`insert into zones (name) values ('audit-bench.test') returning id`)).rows[0].id);
    const statements: Record<Op, string> = {
      insert: `insert into records (zone_id, name, type, ttl, content)
               select ${zone}, 'r' || i || '.audit-bench.test', 'A', 300, '10.' || (i >> 16) % 256 || '.' || (i >> 8) % 256 || '.' || i % 256
                 from generate_series(1, ${ROWS}) i`,
      update: `update records set ttl = ttl + 1 where zone_id = ${zone}`,
      delete: `delete from records where zone_id = ${zone}`,
    };
    const setAudit = async (on: boolean): Promise<void> => {
      for (const t of ['records_audit_ins', 'records_audit_upd', 'records_audit_del']) await sql.query(`alter table records ${on ? 'enable' : 'disable'} trigger ${t}`);
    };
    const round = async (on: boolean): Promise<Record<Op, number>> => {
      await setAudit(on);
      const out = {} as Record<Op, number>;
      for (const op of OPS) {
        const t0 = performance.now();
        const r = await sql.query(statements[op]);
        out[op] = performance.now() - t0;
        if (r.rowCount !== ROWS) throw new Error(`${op} changed ${r.rowCount} rows, not ${ROWS}`);
      }
      // The next round starts from the same table, not one full of dead rows.
      await sql.query('vacuum analyze records');
      return out;
    };
    const times: Record<'on' | 'off', Record<Op, number[]>> = { on: { insert: [], update: [], delete: [] }, off: { insert: [], update: [], delete: [] } };
    await round(true);
    await round(false);
    for (let i = 0; i < RUNS; i++) {
      for (const on of i % 2 === 0 ? [true, false] : [false, true]) {
        const r = await round(on);
        for (const op of OPS) times[on ? 'on' : 'off'][op].push(r[op]);
      }
    }
    await setAudit(true);
    const audited = Number((await sql.query(`select count(*) as n from audit_log where table_name = 'records' and coalesce(new, old) ->> 'zone_id' = '${zone}'`)).rows[0].n);
    const expectedRows = (RUNS + 1) * ROWS * 3;
    if (audited !== expectedRows) throw new Error(`the audit log holds ${audited} records rows, not ${expectedRows}: were the triggers on?`);
    const rows = OPS.map((op) => {
      const off = median(times.off[op]);
      const on = median(times.on[op]);
      const added = (on - off) / off;
      // The fastest run of each: the least disturbed by anything else the machine was doing.
      const bestOff = Math.min(...times.off[op]);
      const bestOn = Math.min(...times.on[op]);
      return { op, off, on, added, bestOff, bestOn, bestAdded: (bestOn - bestOff) / bestOff };
    });
    const version = (await sql.query('show server_version')).rows[0].server_version;
    console.log(`audit triggers on bulk SQL edits of ${ROWS.toLocaleString('en-US')} records (PostgreSQL ${version}; medians of ${RUNS}; ms per statement)\n`);
    console.log(
      table(
        ['statement', 'without audit', 'with audit', 'added', 'fastest without', 'fastest with', 'added (fastest)'],
        rows.map((r) => [r.op, fmt(r.off), fmt(r.on), `${fmt(r.added * 100)} %`, fmt(r.bestOff), fmt(r.bestOn), `${fmt(r.bestAdded * 100)} %`]),
      ),
    );
    if (values.samples) {
      for (const op of OPS) console.log(`${op}: without ${times.off[op].map((t) => fmt(t)).join(' ')}; with ${times.on[op].map((t) => fmt(t)).join(' ')}`);
    }
    // One verdict per statement: a missed one says by how many milliseconds, beside what the statement costs without audit.
    const verdicts = rows.map((r) => (r.added <= TARGET ? `${r.op} met` : `${r.op} MISSED (+${fmt(r.on - r.off)} ms on ${fmt(r.off)} ms)`));
    console.log(`\ntarget ≤ ${TARGET * 100} %: ${rows.every((r) => r.added <= TARGET) ? 'met' : 'MISSED'}: ${verdicts.join(', ')}`);
  } finally {
    await sql.end();
  }
} finally {
  await db.drop();
}
