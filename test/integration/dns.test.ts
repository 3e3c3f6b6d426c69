// The real server on real sockets against a throwaway PostgreSQL, checked with dig's own output.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { need } from '../helpers/prerequisite.js';
import { ROOT, startInProcess, type TestServer } from '../helpers/server.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

const run = promisify(execFile);
let db: TestDatabase;
let server: TestServer;
const H = '127.0.0.1';

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

async function sql(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  if (!db.url) throw new Error('needs PostgreSQL');
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return await c.query(text, params);
  } finally {
    await c.end();
  }
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<{ value: T; elapsed: number }> {
  const t0 = Date.now();
  for (;;) {
    const value = await f();
    if (ok(value) || Date.now() - t0 > ms) return { value, elapsed: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('dig against lbdns', () => {
  it('answers the sample zone authoritatively over UDP and TCP', async () => {
    for (const transport of ['+notcp', '+tcp']) {
      const r = await dig(H, server.dnsPort, ['www.example.test', 'A', transport]);
      expect(r.status).toBe('NOERROR');
      expect(r.flags).toContain('aa');
      expect(r.flags).not.toContain('ra');
      expect(r.answer.map((a) => a.data).sort()).toEqual(['192.0.2.10', '192.0.2.11']);
    }
  });

  it('refuses names outside every zone with nothing else', async () => {
    const r = await dig(H, server.dnsPort, ['www.example.org', 'A']);
    expect(r.status).toBe('REFUSED');
    expect(r.flags).not.toContain('aa');
    expect(r.answer).toEqual([]);
    expect(r.authority).toEqual([]);
  });

  it('gives NXDOMAIN with the SOA in authority, over UDP and TCP', async () => {
    for (const transport of ['+notcp', '+tcp']) {
      const r = await dig(H, server.dnsPort, ['missing.example.test', 'A', transport]);
      expect(r.status).toBe('NXDOMAIN');
      expect(r.flags).toContain('aa');
      expect(r.authority).toHaveLength(1);
      expect(r.authority[0]).toMatchObject({ name: 'example.test.', type: 'SOA' });
      expect(r.authority[0].ttl).toBe(300);
    }
  });

  it('sets TC for a large RRset at +bufsize=512, and answers it whole over TCP', async () => {
    const udp = await dig(H, server.dnsPort, ['big.example.test', 'A', '+bufsize=512', '+ignore']);
    expect(udp.flags).toContain('tc');
    expect(udp.answer).toEqual([]);
    const tcp = await dig(H, server.dnsPort, ['big.example.test', 'A', '+tcp']);
    expect(tcp.flags).not.toContain('tc');
    expect(tcp.answer.length).toBeGreaterThan(20);
  });

  it('echoes EDNS with udp 1232 and ECS with scope 0 for a static name', async () => {
    const r = await dig(H, server.dnsPort, ['www.example.test', '+subnet=198.51.100.0/24']);
    expect(r.opt.join(' ')).toMatch(/udp: 1232/);
    expect(r.opt.join(' ')).toMatch(/CLIENT-SUBNET: 198\.51\.100\.0\/24\/0/);
  });

  it('chases CNAMEs, answers wildcards and ENTs, and refers delegations with glue', async () => {
    const web = await dig(H, server.dnsPort, ['web.example.test', 'A']);
    expect(web.answer[0]).toMatchObject({ type: 'CNAME', data: 'www.example.test.' });
    expect(web.answer.filter((a) => a.type === 'A')).toHaveLength(2);
    const wild = await dig(H, server.dnsPort, ['anything.wild.example.test', 'A']);
    expect(wild.status).toBe('NOERROR');
    expect(wild.answer[0].name).toBe('anything.wild.example.test.');
    const ent = await dig(H, server.dnsPort, ['b.deep.example.test', 'A']);
    expect(ent.status).toBe('NOERROR');
    expect(ent.answer).toEqual([]);
    const ref = await dig(H, server.dnsPort, ['host.sub.example.test', 'A', '+norec']);
    expect(ref.status).toBe('NOERROR');
    expect(ref.flags).not.toContain('aa');
    expect(ref.authority.every((a) => a.type === 'NS' && a.name === 'sub.example.test.')).toBe(true);
    expect(ref.additional.some((a) => a.name === 'ns.sub.example.test.' && a.type === 'A')).toBe(true);
  });

  it('names the node for CH TXT id.server and echoes the question case', async () => {
    const id = await dig(H, server.dnsPort, ['id.server', 'CH', 'TXT']);
    expect(id.answer[0].data).toBe('"test-node"');
    const mixed = await dig(H, server.dnsPort, ['WwW.ExAmPlE.TeSt', 'A']);
    expect(mixed.question[0]).toMatch(/^WwW\.ExAmPlE\.TeSt\./);
    expect(mixed.answer[0].name).toBe('WwW.ExAmPlE.TeSt.');
  });

  it('answers several queries on one TCP connection', async () => {
    const sock = net.connect(server.dnsPort, H);
    await new Promise((r) => sock.once('connect', r));
    const frames = [1, 2, 3].map((id) => {
      const q = buildQuery({ id, name: 'www.example.test' });
      const f = Buffer.alloc(q.length + 2);
      f.writeUInt16BE(q.length);
      q.copy(f, 2);
      return f;
    });
    const got: number[] = [];
    let buf = Buffer.alloc(0);
    const done = new Promise<void>((resolve) =>
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          got.push(decodeReply(buf.subarray(2, 2 + buf.readUInt16BE(0))).id);
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          if (got.length === 3) resolve();
        }
      }),
    );
    sock.write(Buffer.concat(frames));
    await done;
    expect(got).toEqual([1, 2, 3]);
    sock.destroy();
  });

  it('keeps answering after 500 random and mutated packets', async () => {
    const sock = dgram.createSocket('udp4');
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const valid = buildQuery({ name: 'www.example.test', edns: { ecs: { family: 1, source: 24, address: [1, 2, 3] } } });
    for (let i = 0; i < 500; i++) {
      const p = i % 2 ? Buffer.from(Array.from({ length: Math.floor(rand() * 100) }, () => Math.floor(rand() * 256))) : Buffer.from(valid);
      if (i % 2 === 0) for (let k = 0; k < 4; k++) p[Math.floor(rand() * p.length)] = Math.floor(rand() * 256);
      sock.send(p, server.dnsPort, H);
    }
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    const r = await dig(H, server.dnsPort, ['www.example.test']);
    expect(r.status).toBe('NOERROR');
    expect(r.answer).toHaveLength(2);
  });

  it('serves an SQL edit within a second, and a CLI edit too', async (ctx) => {
    need(ctx, db.url === undefined ? 'no PostgreSQL on 127.0.0.1:5432: this test edits with plain SQL over a pg connection' : undefined);
    await sql(`insert into records (zone_id, name, type, ttl, content) select id, 'fresh.example.test', 'A', 60, '192.0.2.77' from zones where name = 'example.test'`);
    const viaSql = await until(() => dig(H, server.dnsPort, ['fresh.example.test', '+short']), (r) => r.raw.includes('192.0.2.77'), 3000);
    expect(viaSql.value.raw).toContain('192.0.2.77');
    expect(viaSql.elapsed).toBeLessThan(1000);

    await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'record', 'add', 'cli.example.test', 'A', '192.0.2.78', '--ttl', '60'], { env: { ...process.env, DATABASE_URL: db.url } });
    const viaCli = await until(() => dig(H, server.dnsPort, ['cli.example.test']), (r) => r.answer.length === 1, 3000);
    expect(viaCli.value.answer[0].data).toBe('192.0.2.78');
    expect(viaCli.elapsed).toBeLessThan(1000);
  });

  it('bumps the SOA serial that dig sees after an edit', async () => {
    const before = await dig(H, server.dnsPort, ['example.test', 'SOA']);
    const serial = Number(before.answer[0].data.split(' ')[2]);
    await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'record', 'add', 'serial.example.test', 'TXT', '"bump"'], { env: { ...process.env, DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir } });
    const after = await until(() => dig(H, server.dnsPort, ['example.test', 'SOA']), (r) => Number(r.answer[0]?.data.split(' ')[2]) > serial, 3000);
    expect(Number(after.value.answer[0].data.split(' ')[2])).toBeGreaterThan(serial);
  });

  it('rejects an invalid record from the CLI and changes nothing', async () => {
    const before = await dig(H, server.dnsPort, ['example.test', 'SOA']);
    const err = await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'record', 'add', 'x.example.test', 'A', '300.1.1.1'], { env: { ...process.env, DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir } }).catch((e) => e);
    expect(err.code).not.toBe(0);
    expect(err.stderr.trim().split('\n')).toHaveLength(1);
    expect(err.stderr).toMatch(/300\.1\.1\.1.*not an IPv4 address/);
    await new Promise((r) => setTimeout(r, 300));
    const after = await dig(H, server.dnsPort, ['example.test', 'SOA']);
    expect(after.answer[0].data).toBe(before.answer[0].data);
    expect((await dig(H, server.dnsPort, ['x.example.test'])).status).toBe('NXDOMAIN');
  });

  it('reports readiness, health and metrics on the ops port', async () => {
    const base = `http://127.0.0.1:${server.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/lbdns_dns_queries_total\{qtype="A",rcode="NOERROR",transport="udp"\} \d+/);
    expect(metrics).toMatch(/lbdns_snapshot_age_seconds \d/);
    expect(metrics).toMatch(/lbdns_zone_serial\{zone="example.test"\} \d+/);
    expect(metrics).toMatch(/lbdns_dns_answer_duration_seconds_bucket/);
    expect(metrics).toMatch(/lbdns_process_cpu_seconds_total/);
  });
});
