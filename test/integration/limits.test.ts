// Rate limiting and TCP limits on the real server: floods are limited per network, slow TCP clients never block UDP, the total TCP limit holds.
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

describe('the total TCP connection limit', () => {
  // A server of its own: a total far below the 1,000 connections above and an idle timeout long enough that none of
  // the connections held open here can close by itself while the test runs.
  const TOTAL = 40;
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startInProcess({
      DATABASE_URL: db.url,
      LBDNS_DATA_DIR: db.dataDir,
      LBDNS_TCP_MAX_CONNECTIONS: String(TOTAL),
      LBDNS_TCP_MAX_PER_CLIENT: '25',
      LBDNS_TCP_IDLE_MS: '60000',
    });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  function open(localAddress: string): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: H, port: limited.dnsPort, localAddress });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  /** One query over `s`: the reply's id, or undefined when the connection closes (or stays silent) first. */
  function ask(s: net.Socket, id: number, ms = 2000): Promise<number | undefined> {
    return new Promise((resolve) => {
      let buf = Buffer.alloc(0);
      const done = (v: number | undefined) => {
        clearTimeout(timer);
        s.off('data', onData);
        s.off('close', onClose);
        resolve(v);
      };
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(buf.readUInt16BE(2));
      };
      const onClose = () => done(undefined);
      const timer = setTimeout(() => done(undefined), ms);
      s.on('data', onData);
      s.once('close', onClose);
      s.on('error', () => undefined);
      if (!s.destroyed) s.write(frame(buildQuery({ id, name: 'www.example.test' })));
    });
  }

  async function metric(pattern: RegExp): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${limited.httpPort}/metrics`)).text();
    return Number(pattern.exec(text)?.[1] ?? 0);
  }

  it('refuses a connection past the total from a client that has none, and takes one again once another closes', async () => {
    const sockets: net.Socket[] = [];
    try {
      // Two clients of 20, each under its per-client limit of 25: only the total can refuse the next one.
      for (let i = 0; i < TOTAL; i++) sockets.push(await open(`127.0.8.${1 + (i % 2)}`));
      const ids = await Promise.all(sockets.map((s, i) => ask(s, 1000 + i)));
      expect(ids).toEqual(sockets.map((_, i) => 1000 + i));
      expect(await metric(/^lbdns_dns_tcp_connections (\d+)$/m)).toBe(TOTAL);

      const extra = await open('127.0.8.3');
      expect(await ask(extra, 7)).toBeUndefined();
      expect(await closed(extra, 1000)).toBe(true);
      expect(await metric(/^lbdns_dns_tcp_rejected_total\{limit="total"\} (\d+)$/m)).toBe(1);
      expect(await metric(/^lbdns_dns_tcp_rejected_total\{limit="per_client"\} (\d+)$/m)).toBe(0);
      // The connections already open are untouched, and UDP is answered all along.
      expect(await ask(sockets[0], 8)).toBe(8);
      expect((await dig(H, limited.dnsPort, ['www.example.test', '-b', '127.0.8.3'])).status).toBe('NOERROR');

      sockets.pop()!.destroy();
      for (let i = 0; i < 100 && (await metric(/^lbdns_dns_tcp_connections (\d+)$/m)) !== TOTAL - 1; i++) await new Promise((r) => setTimeout(r, 20));
      const again = await open('127.0.8.3');
      sockets.push(again);
      expect(await ask(again, 9)).toBe(9);
      expect(await metric(/^lbdns_dns_tcp_rejected_total\{limit="total"\} (\d+)$/m)).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});
