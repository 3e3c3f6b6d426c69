// LBDNS_WORKERS > 1: worker processes share the sockets, each gets every edit, and a dead worker is replaced.
import dgram from 'node:dgram';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { startChild, type ChildServer } from '../helpers/server.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

let db: TestDatabase;
let server: ChildServer;

beforeAll(async () => {
  db = await createTestDatabase();
  // Every query logged: each line carries the pid of the worker that answered it.
  server = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_WORKERS: '2', LBDNS_RRL_RATE: '0', LBDNS_QUERY_LOG_SAMPLE: '1' }, 90_000);
}, 120_000);

afterAll(async () => {
  expect(await server?.stop()).toBe(0);
  await db?.drop();
});

const ready = async () => (await fetch(`http://127.0.0.1:${server.httpPort}/readyz`)).json() as Promise<any>;

/** Sends `n` queries from fresh source ports (so they spread over the workers) and collects the answers. */
async function burst(name: string, n: number): Promise<string[]> {
  const answers: string[] = [];
  const sockets: dgram.Socket[] = [];
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const s = dgram.createSocket('udp4');
      sockets.push(s);
      return new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        s.on('message', (m) => {
          const r = decodeReply(m);
          answers.push(r.answers.map((a: any) => a.address).sort().join(',') || `rcode ${r.rcode}`);
          clearTimeout(t);
          resolve();
        });
        s.send(buildQuery({ id: i, name }), server.dnsPort, '127.0.0.1');
      });
    }),
  );
  for (const s of sockets) s.close();
  return answers;
}

/** Each thread's nice value in a process (field 19 of /proc/<pid>/task/<tid>/stat), by thread id. */
function threadNices(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return out;
}

describe('DNS workers', () => {
  it('keeps each process\'s main thread at its own priority and every other thread at nice 19', async (ctx) => {
    if (!existsSync('/proc/self/task')) return ctx.skip('no /proc/self/task: thread priorities are Linux only');
    const listening = server.logs.find((l) => l.msg === 'dns listening');
    expect(listening.helperThreadsLowered).toBeGreaterThan(0);
    const own = threadNices(process.pid).get(process.pid)!;
    const pids = [server.child.pid!, ...((await ready()).workers.pids as number[])];
    for (const pid of pids) {
      const nices = threadNices(pid);
      // V8's platform workers, libuv's pool, the primary's build thread: more than the main thread in every process.
      expect(nices.size, `threads of ${pid}`).toBeGreaterThan(3);
      expect(nices.get(pid), `main thread of ${pid}`).toBe(own);
      for (const [tid, nice] of nices) if (tid !== pid) expect(nice, `thread ${tid} of ${pid}`).toBe(19);
    }
  });


  it('runs the asked number of workers and answers from them', async () => {
    const r = await ready();
    expect(r.ready).toBe(true);
    expect(r.workers.ready).toBe(2);
    expect(r.workers.pids).toHaveLength(2);
    const answers = await burst('www.example.test', 40);
    expect(answers).toHaveLength(40);
    expect(new Set(answers)).toEqual(new Set(['192.0.2.10,192.0.2.11']));
  });

  it('delivers an edit to every worker within a second', async () => {
    const { pids } = (await ready()).workers as { pids: number[] };
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query(`insert into records (zone_id, name, type, content) select id, 'workers.example.test', 'A', '192.0.2.88' from zones where name = 'example.test'`);
    await c.end();
    await new Promise((r) => setTimeout(r, 1000));
    // Which worker reads a datagram off the shared socket is the kernel's choice: ask until both have answered.
    const logged = () => server.logs.filter((l) => l.event === 'query' && l.qname === 'workers.example.test');
    for (let round = 0; round < 10 && new Set(logged().map((l) => l.pid)).size < 2; round++) {
      const answers = await burst('workers.example.test', 60);
      expect(answers).toHaveLength(60);
      expect(new Set(answers)).toEqual(new Set(['192.0.2.88']));
      await new Promise((r) => setTimeout(r, 100));
    }
    const lines = logged();
    expect(new Set(lines.map((l) => l.pid))).toEqual(new Set(pids));
    expect(lines.every((l) => l.rcode === 0 && JSON.stringify(l.answers) === '["192.0.2.88"]')).toBe(true);
  });

  it('gives workers the primary\u2019s built snapshot to adopt, and they answer as it does', async () => {
    // Each worker adopts images (a complete one at start, then each reload's) instead of building from rows.
    const adopted = server.logs.filter((l) => l.msg === 'snapshot adopted' && l.worker !== undefined);
    expect(new Set(adopted.map((l) => l.worker)).size).toBeGreaterThanOrEqual(2);
    // A worker's first image is complete, so it carries bytes; a later one holds only what changed, which can be
    // nothing at all (a change that touched no zone's rows), so only its timing is checked.
    const firstOf = new Map<number, { imageBytes: number }>();
    for (const l of adopted) if (!firstOf.has(l.worker)) firstOf.set(l.worker, l);
    expect([...firstOf.values()].every((l) => l.imageBytes > 0)).toBe(true);
    expect(adopted.every((l) => l.imageBytes >= 0 && l.ms >= 0)).toBe(true);
    const primary = server.logs.filter((l) => l.msg === 'snapshot loaded');
    expect(Math.max(...adopted.map((l) => l.version))).toBe(Math.max(...primary.map((l) => l.version)));
    // Every name asked from many source ports (so both workers answer) gets the answer the zone holds.
    for (const [name, want] of [['www.example.test', '192.0.2.10,192.0.2.11'], ['workers.example.test', '192.0.2.88']]) {
      const answers = await burst(name, 30);
      expect(answers).toHaveLength(30);
      expect(new Set(answers)).toEqual(new Set([want]));
    }
  });

  it('adds up the workers\u2019 counters on /metrics', async () => {
    const before = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    const count = (t: string) => Number(/lbdns_dns_queries_total\{qtype="TXT",rcode="NOERROR",transport="udp"\} (\d+)/.exec(t)?.[1] ?? 0);
    const n = 30;
    const sockets = await Promise.all(Array.from({ length: n }, () => dig('127.0.0.1', server.dnsPort, ['example.test', 'TXT'])));
    expect(sockets.every((r) => r.status === 'NOERROR')).toBe(true);
    const after = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    expect(count(after) - count(before)).toBe(n);
    expect(after.match(/^# TYPE lbdns_dns_queries_total counter$/gm)).toHaveLength(1);
  });

  it('replaces a worker that dies while the other keeps answering', async () => {
    const { pids } = (await ready()).workers;
    process.kill(pids[0], 'SIGKILL');
    let failures = 0;
    const t0 = Date.now();
    for (let i = 0; i < 40 && Date.now() - t0 < 10_000; i++) {
      const r = await dig('127.0.0.1', server.dnsPort, ['www.example.test'], { timeoutSec: 1 }).catch(() => undefined);
      if (r?.status !== 'NOERROR') failures++;
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(failures).toBe(0);
    let r = await ready();
    for (let i = 0; i < 100 && r.workers.ready < 2; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await ready();
    }
    expect(r.workers.ready).toBe(2);
    expect(r.workers.restarts).toBe(1);
    expect(r.workers.pids).not.toContain(pids[0]);
    expect(server.logs.some((l) => l.msg === 'dns worker died; the others keep answering')).toBe(true);
  });
});
