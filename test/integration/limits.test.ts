// Rate limiting and TCP limits on the real server: floods are limited per network, slow TCP clients never block UDP.
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { startInProcess, type TestServer } from '../helpers/server.js';
import { buildQuery, decodeReply } from '../helpers/wire.js';

let db: TestDatabase;
let server: TestServer;
const H = '127.0.0.1';

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startInProcess({
    DATABASE_URL: db.url,
    LBDNS_DATA_DIR: db.dataDir,
    LBDNS_RRL_RATE: '50',
    LBDNS_RRL_SLIP: '2',
    LBDNS_TCP_MAX_CONNECTIONS: '1100',
    LBDNS_TCP_MAX_PER_CLIENT: '25',
    LBDNS_TCP_MAX_QUERIES: '5',
    LBDNS_TCP_IDLE_MS: '1500',
    LBDNS_TCP_MAX_BUFFERED: '4096',
  });
});

afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

function frame(q: Buffer): Buffer {
  const f = Buffer.alloc(q.length + 2);
  f.writeUInt16BE(q.length);
  q.copy(f, 2);
  return f;
}

function connect(localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: H, port: server.dnsPort, localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

const closed = (s: net.Socket, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (s.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.on('error', () => undefined);
  });

describe('response rate limiting', () => {
  it('limits a flood from one /24 while another network is answered', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    let replies = 0;
    let truncated = 0;
    sock.on('message', (m) => {
      replies++;
      if (decodeReply(m).tc) truncated++;
    });
    const q = buildQuery({ name: 'www.example.test' });
    const t0 = Date.now();
    for (let i = 0; i < 1000 && Date.now() - t0 < 2000; i++) {
      sock.send(q, server.dnsPort, H);
      if (i % 100 === 99) {
        const other = await dig(H, server.dnsPort, ['www.example.test', '-b', '127.0.1.1']);
        expect(other.status).toBe('NOERROR');
        expect(other.flags).not.toContain('tc');
        expect(other.answer.length).toBeGreaterThan(0);
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    // 50/s with a one-second burst: well under the 1000 sent, about half the rest slipped as TC.
    expect(replies).toBeGreaterThanOrEqual(50);
    expect(replies).toBeLessThan(800);
    expect(truncated).toBeGreaterThan(50);
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/lbdns_rrl_limited_total\{action="drop"\} [1-9]/);
    expect(metrics).toMatch(/lbdns_rrl_limited_total\{action="slip"\} [1-9]/);
  });

  it('never limits TCP', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await dig(H, server.dnsPort, ['www.example.test', '+tcp']);
      expect(r.status).toBe('NOERROR');
    }
  });
});

describe('TCP limits', () => {
  it('keeps answering UDP with 1,000 idle TCP connections open', async () => {
    const sockets: net.Socket[] = [];
    try {
      const opened = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => connect(`127.0.2.${1 + Math.floor(i / 20)}`)));
      for (const o of opened) if (o.status === 'fulfilled') sockets.push(o.value);
      expect(sockets.length).toBe(1000);
      const t0 = Date.now();
      const r = await dig(H, server.dnsPort, ['www.example.test', '-b', '127.0.3.1']);
      expect(r.status).toBe('NOERROR');
      expect(Date.now() - t0).toBeLessThan(1500);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('closes connections beyond the per-client limit', async () => {
    const sockets = await Promise.all(Array.from({ length: 26 }, () => connect('127.0.4.1')));
    try {
      const results = await Promise.all(sockets.map((s) => closed(s, 500)));
      expect(results.filter(Boolean).length).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('closes a connection after its query limit', async () => {
    const s = await connect('127.0.4.2');
    let answers = 0;
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answers++;
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
    });
    s.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(buildQuery({ id: i, name: 'www.example.test' })))));
    expect(await closed(s, 2000)).toBe(true);
    expect(answers).toBe(5);
  });

  it('closes an idle connection after the idle timeout', async () => {
    const s = await connect('127.0.4.3');
    const t0 = Date.now();
    expect(await closed(s, 5000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThan(1000);
  });

  it('closes a connection that buffers more than allowed', async () => {
    const s = await connect('127.0.4.4');
    const big = Buffer.alloc(6000);
    big.writeUInt16BE(65000);
    s.write(big);
    expect(await closed(s, 2000)).toBe(true);
    const r = await dig(H, server.dnsPort, ['www.example.test', '+tcp']);
    expect(r.status).toBe('NOERROR');
  });
});
