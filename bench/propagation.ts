// `npm run bench:propagation [-- --edits N --flips N --rows listen,poll,votes,api]`: time from COMMIT of an edit to the first answer that
// reflects it, with LISTEN/NOTIFY and with polling only (LBDNS_CHANGE_FEED=poll), against a real PostgreSQL; (row "votes") time
// from COMMIT of deciding votes to the moment both nodes of a pair answer by them (docs/vantage.md; target p99 ≤ 1 s); and
// (row "api") time from an HTTP API drain or undrain request (docs/api.md) to both nodes answering by it (target ≤ 1 s).
import './lib/current-build.js';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { join } from 'node:path';
import net from 'node:net';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createTestDatabase, pgAvailable } from '../test/helpers/db.js';
import { ROOT, startChild } from '../test/helpers/server.js';
import { buildQuery, decodeReply } from '../test/helpers/wire.js';

const { values } = parseArgs({ options: { edits: { type: 'string', default: '100' }, poll: { type: 'string', default: '2' }, flips: { type: 'string', default: '40' }, rows: { type: 'string', default: 'listen,poll,votes,api' } } });
const rows = new Set(values.rows.split(','));
const edits = Math.min(1000, Number(values.edits));
const flips = Math.min(1000, Number(values.flips));
if (!(await pgAvailable())) {
  console.error('bench:propagation needs PostgreSQL on 127.0.0.1:5432');
  process.exit(1);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function measure(mode: 'listen' | 'poll'): Promise<number[]> {
  const db = await createTestDatabase();
  const server = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_CHANGE_FEED: mode, LBDNS_POLL_INTERVAL: values.poll, LBDNS_RRL_RATE: '0' }, 90_000);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let id = 0;
  const ask = () =>
    new Promise<string>((resolve) => {
      const qid = ++id & 0xffff;
      const timer = setTimeout(() => resolve(''), 1000);
      const on = (m: Buffer) => {
        if (m.readUInt16BE(0) !== qid) return;
        clearTimeout(timer);
        sock.off('message', on);
        resolve(decodeReply(m).answers.map((a: any) => a.address).join(','));
      };
      sock.on('message', on);
      sock.send(buildQuery({ id: qid, name: 'prop.example.test' }), server.dnsPort, '127.0.0.1');
    });
  const latencies: number[] = [];
  try {
    await client.query(`insert into records (zone_id, name, type, ttl, content) select id, 'prop.example.test', 'A', 5, '198.51.100.0' from zones where name = 'example.test'`);
    while ((await ask()) !== '198.51.100.0') await new Promise((r) => setTimeout(r, 20));
    for (let i = 1; i <= edits; i++) {
      const address = `198.51.${100 + (i >> 8)}.${i & 255}`;
      await client.query(`update records set content = $1 where name = 'prop.example.test'`, [address]);
      const committed = performance.now();
      // Bounded: an edit not seen within 10 s counts as 10 s and the run goes on.
      while ((await ask()) !== address && performance.now() - committed < 10_000);
      latencies.push(performance.now() - committed);
      // Polling ticks on its own clock: a random pause spreads the edits over its phase.
      await new Promise((r) => setTimeout(r, mode === 'poll' ? Math.random() * Number(values.poll) * 1000 : 30));
    }
  } finally {
    sock.close();
    await client.end();
    await server.stop();
    await db.drop();
  }
  return latencies;
}

/** A UDP asker of one server: the A addresses of `name`, '' after `timeoutMs` without an answer (counted as lost). */
async function asker(port: number, name: string, timeoutMs = 1000): Promise<{ ask: () => Promise<string>; close: () => void; lost: () => number }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let id = 0;
  let lost = 0;
  const ask = () =>
    new Promise<string>((resolve) => {
      const qid = ++id & 0xffff;
      const timer = setTimeout(() => {
        sock.off('message', on);
        lost++;
        resolve('');
      }, timeoutMs);
      const on = (m: Buffer) => {
        if (m.readUInt16BE(0) !== qid) return;
        clearTimeout(timer);
        sock.off('message', on);
        resolve(decodeReply(m).answers.map((a: any) => a.address).sort().join(','));
      };
      sock.on('message', on);
      sock.send(buildQuery({ id: qid, name }), port, '127.0.0.1');
    });
  return { ask, close: () => sock.close(), lost: () => lost };
}

/**
 * Two nodes on one database, a pool of two members both nodes probe up (TCP servers of this process), quorum majority,
 * and three vantage points the benchmark plays (their heartbeats kept fresh here). All three voting a member down
 * outvote the two nodes (3 down, 2 up): measured from the COMMIT of those three votes (one statement) until both nodes
 * answer without it; then they vote it up again, measured until both answer it again.
 */
async function measureVotes(): Promise<number[]> {
  const db = await createTestDatabase();
  const servers = await Promise.all(
    ['127.0.0.1', '127.0.0.2'].map(
      (host) =>
        new Promise<net.Server>((resolve) => {
          const srv = net.createServer((c) => c.destroy());
          srv.listen(0, host, () => resolve(srv));
        }),
    ),
  );
  // Both members are probed on one port: the second server listens on the first one's port.
  const port = (servers[0].address() as net.AddressInfo).port;
  servers[1].close();
  servers[1] = await new Promise<net.Server>((resolve, reject) => {
    const srv = net.createServer((c) => c.destroy());
    srv.once('error', reject);
    srv.listen(port, '127.0.0.2', () => resolve(srv));
  });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const nodes: Awaited<ReturnType<typeof startChild>>[] = [];
  const askers: Awaited<ReturnType<typeof asker>>[] = [];
  let beat: NodeJS.Timeout | undefined;
  const latencies: number[] = [];
  try {
    const first = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_NODE_NAME: 'bench-a', LBDNS_SEED_DIR: undefined, LBDNS_RRL_RATE: '0' }, 90_000);
    nodes.push(first);
    await client.query(`insert into zones (name) values ('votes.test')`);
    await client.query(
      `insert into pools (zone_id, name, ttl, count, check_kind, check_port, interval_ms, timeout_ms, rise, fall, quorum)
       select id, 'lb.votes.test', 5, 2, 'tcp', ${port}, 1000, 300, 1, 1, 'majority' from zones where name = 'votes.test'`,
    );
    await client.query(`insert into pool_members (pool_id, address) select id, a::inet from pools, unnest(array['127.0.0.1', '127.0.0.2']) a`);
    const ghosts = ['bench-g1', 'bench-g2', 'bench-g3'];
    const heartbeat = () => client.query(`insert into vantage_points (name, kind, heartbeat_interval) select unnest($1::text[]), 'agent', 1 on conflict (name) do update set heartbeat_at = now()`, [ghosts]);
    await heartbeat();
    beat = setInterval(() => void heartbeat().catch(() => {}), 300);
    nodes.push(await startChild({ DATABASE_URL: db.url, LBDNS_NODE_NAME: 'bench-b', LBDNS_SEED_DIR: undefined, LBDNS_RRL_RATE: '0' }, 90_000));
    const x = (await client.query(`select id from pool_members where address = '127.0.0.1'`)).rows[0].id as number;
    const vote = (up: boolean) =>
      client.query(
        `insert into member_health (member_id, node, up, since, last_check, transitions, heartbeat_interval)
         select $1, g, $2, now(), now(), 1, 30 from unnest($3::text[]) g
         on conflict (member_id, node) do update set up = excluded.up, since = excluded.since, last_check = excluded.last_check, heartbeat_at = now()`,
        [x, up, ghosts],
      );
    // A query left unanswered is asked again after 200 ms rather than holding the measurement for a second.
    for (const n of nodes) askers.push(await asker(n.dnsPort, 'lb.votes.test', 200));
    const both = '127.0.0.1,127.0.0.2';
    const waitFor = async (want: string, since: number): Promise<number> => {
      const seen = askers.map(() => false);
      // Bounded: a change not seen within 10 s counts as 10 s.
      while (seen.some((s) => !s) && performance.now() - since < 10_000) {
        for (let i = 0; i < askers.length; i++) if (!seen[i] && (await askers[i].ask()) === want) seen[i] = true;
      }
      return performance.now() - since;
    };
    // A vantage point's votes count once a node has seen its heartbeat (at the node's next one): wait for that.
    for (const n of nodes) {
      for (let t = 0; t < 100; t++) {
        const live: string[] = ((await (await fetch(`http://127.0.0.1:${n.httpPort}/readyz`)).json()) as any).votes?.live ?? [];
        if (ghosts.every((g) => live.includes(g))) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await vote(true);
    await waitFor(both, performance.now());
    for (let i = 0; i < flips; i++) {
      const up = i % 2 === 1;
      await vote(up);
      latencies.push(await waitFor(up ? both : '127.0.0.2', performance.now()));
      if (process.env.BENCH_TRACE) console.log(i, up, latencies.at(-1)!.toFixed(1));
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
    const lost = askers.reduce((n, a) => n + a.lost(), 0);
    if (lost > 0) console.log(`  (votes: ${lost} queries unanswered within 200 ms and asked again)`);
  } finally {
    if (beat) clearInterval(beat);
    for (const a of askers) a.close();
    for (const n of nodes) await n.stop();
    await client.end();
    for (const s of servers) s.close();
    await db.drop();
  }
  return latencies;
}

/**
 * Two nodes on one database, node A serving the HTTP API; a pool of two members both probe up. A token allowed to
 * drain that pool drains one member (PATCH enabled: false), then undrains it; measured from sending the request until
 * both nodes answer by it (the request's own time included).
 */
async function measureApi(): Promise<number[]> {
  const db = await createTestDatabase();
  const servers: net.Server[] = [];
  for (const host of ['127.0.0.1', '127.0.0.2']) {
    const port = servers.length ? (servers[0].address() as net.AddressInfo).port : 0;
    servers.push(await new Promise<net.Server>((resolve, reject) => {
      const srv = net.createServer((c) => c.destroy());
      srv.once('error', reject);
      srv.listen(port, host, () => resolve(srv));
    }));
  }
  const port = (servers[0].address() as net.AddressInfo).port;
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const nodes: Awaited<ReturnType<typeof startChild>>[] = [];
  const askers: Awaited<ReturnType<typeof asker>>[] = [];
  const latencies: number[] = [];
  try {
    const a = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_NODE_NAME: 'api-a', LBDNS_SEED_DIR: undefined, LBDNS_RRL_RATE: '0', LBDNS_API_LISTEN: '127.0.0.1:0' }, 90_000);
    nodes.push(a);
    await client.query(`insert into zones (name) values ('api.test')`);
    await client.query(
      `insert into pools (zone_id, name, ttl, count, check_kind, check_port, interval_ms, timeout_ms, rise, fall)
       select id, 'lb.api.test', 5, 2, 'tcp', ${port}, 1000, 300, 1, 1 from zones where name = 'api.test'`,
    );
    await client.query(`insert into pool_members (pool_id, address) select id, a::inet from pools, unnest(array['127.0.0.1', '127.0.0.2']) a`);
    nodes.push(await startChild({ DATABASE_URL: db.url, LBDNS_NODE_NAME: 'api-b', LBDNS_SEED_DIR: undefined, LBDNS_RRL_RATE: '0' }, 90_000));
    let url: string | undefined;
    for (let t = 0; t < 100 && !url; t++) {
      url = a.logs.find((l: any) => l.msg === 'api listening')?.url;
      if (!url) await new Promise((r) => setTimeout(r, 100));
    }
    if (!url) throw new Error('node A did not say where its API listens');
    const out = execFileSync(process.execPath, [join(ROOT, 'bin/lbdns.js'), 'token', 'add', 'bench-drain', '--scope', 'pool:lb.api.test:drain'], {
      env: { ...process.env, DATABASE_URL: db.url, LBDNS_SKIP_BUILD_CHECK: '1' },
      encoding: 'utf8',
    });
    const token = /lbdns_[A-Za-z0-9_-]+/.exec(out)?.[0];
    if (!token) throw new Error('no token printed');
    for (const n of nodes) askers.push(await asker(n.dnsPort, 'lb.api.test', 200));
    const both = '127.0.0.1,127.0.0.2';
    const waitFor = async (want: string, since: number): Promise<number> => {
      const seen = askers.map(() => false);
      while (seen.some((s) => !s) && performance.now() - since < 10_000) {
        for (let i = 0; i < askers.length; i++) if (!seen[i] && (await askers[i].ask()) === want) seen[i] = true;
      }
      return performance.now() - since;
    };
    await waitFor(both, performance.now());
    for (let i = 0; i < flips; i++) {
      const enabled = i % 2 === 1;
      const started = performance.now();
      const res = await fetch(`${url}/api/v1/pools/lb.api.test/members/127.0.0.1`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ enabled }),
      });
      if (!res.ok) throw new Error(`PATCH answered ${res.status}: ${await res.text()}`);
      latencies.push(await waitFor(enabled ? both : '127.0.0.2', started));
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  } finally {
    for (const k of askers) k.close();
    for (const n of nodes) await n.stop();
    await client.end();
    for (const srv of servers) srv.close();
    await db.drop();
  }
  return latencies;
}

console.log(`propagation: ${edits} edits, COMMIT → first answer reflecting it (poll interval ${values.poll} s)`);
console.log('mode     p50 ms    p99 ms    max ms');
for (const mode of (['listen', 'poll'] as const).filter((m) => rows.has(m))) {
  const l = await measure(mode);
  console.log(`${mode.padEnd(6)} ${pct(l, 50).toFixed(1).padStart(8)} ${pct(l, 99).toFixed(1).padStart(9)} ${Math.max(...l).toFixed(1).padStart(9)}`);
}
if (rows.has('votes')) {
  const l = await measureVotes();
  const p99 = pct(l, 99);
  console.log(`${'votes'.padEnd(6)} ${pct(l, 50).toFixed(1).padStart(8)} ${p99.toFixed(1).padStart(9)} ${Math.max(...l).toFixed(1).padStart(9)}   ${flips} vote flips, COMMIT → both nodes of a pair answer by them; target p99 ≤ 1000 ms: ${p99 <= 1000 ? 'met' : 'MISSED'}`);
}
if (rows.has('api')) {
  const l = await measureApi();
  const p50 = pct(l, 50);
  console.log(`${'api'.padEnd(6)} ${p50.toFixed(1).padStart(8)} ${pct(l, 99).toFixed(1).padStart(9)} ${Math.max(...l).toFixed(1).padStart(9)}   ${flips} API drains/undrains, request → both nodes of a pair answer by it; target ≤ 1000 ms: ${Math.max(...l) <= 1000 ? 'met' : p50 <= 1000 ? 'met at p50, not every time' : 'MISSED'}`);
}
