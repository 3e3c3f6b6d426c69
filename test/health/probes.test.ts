// Probes against real servers on loopback: status ranges, Host and SNI, TCP, refused, black holes, TLS, IPv6.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe } from '../../src/health/probes.js';
import { blackHole, check, closedPort, httpServer, httpsServer, selfSigned, tcpServer, until, type Target } from './servers.js';

let web: Target;
let web6: Target;
let tcp: Target;
let hole: Target;
let mute: Target;
let secure: Target;
let refusedPort: number;

beforeAll(async () => {
  [web, web6, tcp, hole, mute, secure, refusedPort] = await Promise.all([
    httpServer('127.0.0.2'),
    httpServer('::1'),
    tcpServer('127.0.0.3'),
    blackHole('127.0.0.4'),
    blackHole('127.0.0.7', { read: false }),
    httpsServer('127.0.0.5', selfSigned(['127.0.0.5'], 'lb.example.test')),
    closedPort('127.0.0.6'),
  ]);
});

afterAll(async () => {
  await Promise.all([web, web6, tcp, hole, mute, secure].map((t) => t?.close()));
});

describe('http probes', () => {
  const cases: { path: string; min?: number; max?: number; ok: boolean; reason: string }[] = [
    { path: '/', ok: true, reason: 'HTTP 200' },
    { path: '/status/503', ok: false, reason: 'HTTP 503' },
    { path: '/status/301', ok: true, reason: 'HTTP 301' },
    { path: '/status/301', max: 299, ok: false, reason: 'HTTP 301' },
    { path: '/status/404', ok: false, reason: 'HTTP 404' },
    { path: '/status/404', min: 404, max: 404, ok: true, reason: 'HTTP 404' },
    { path: '/status/204', min: 204, max: 204, ok: true, reason: 'HTTP 204' },
    { path: '/big', ok: true, reason: 'HTTP 200' },
  ];
  for (const c of cases) {
    it(`GET ${c.path} with range ${c.min ?? 200}–${c.max ?? 399}: ${c.ok ? 'up' : 'down'}`, async () => {
      const result = await probe({ address: web.address, check: check({ port: web.port, path: c.path, expectStatusMin: c.min, expectStatusMax: c.max }) });
      expect(result).toMatchObject({ ok: c.ok, reason: c.reason });
      expect(result.latencyMs).toBeGreaterThan(0);
    });
  }

  it('sends the configured Host header, else the probed address', async () => {
    const before = web.seen.length;
    await probe({ address: web.address, check: check({ port: web.port, path: '/with-host', host: 'lb.example.test' }) });
    await probe({ address: web.address, check: check({ port: web.port, path: '/without-host' }) });
    expect(web.seen.slice(before).map((s) => [s.path, s.host])).toEqual([
      ['/with-host', 'lb.example.test'],
      ['/without-host', '127.0.0.2'],
    ]);
  });

  it('works over IPv6, with a bracketed Host header', async () => {
    const result = await probe({ address: '::1', check: check({ port: web6.port, path: '/v6' }) });
    expect(result).toMatchObject({ ok: true, reason: 'HTTP 200' });
    expect(web6.seen.at(-1)).toMatchObject({ path: '/v6', host: '[::1]' });
  });

  it('connection refused is down with the error code', async () => {
    expect(await probe({ address: '127.0.0.6', check: check({ port: refusedPort }) })).toMatchObject({ ok: false, reason: 'ECONNREFUSED' });
  });

  it('a server that accepts and never answers costs one timeout and leaves no socket open', async () => {
    const started = Date.now();
    const result = await probe({ address: hole.address, check: check({ port: hole.port, timeoutMs: 300 }) });
    expect(result).toMatchObject({ ok: false, reason: 'timeout after 300 ms' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await until(() => hole.open() === 0, 1000)).toBe(true);
  });

  it('a server that never even reads is reset at the timeout, so its socket does not linger either', async () => {
    const result = await probe({ address: mute.address, check: check({ port: mute.port, timeoutMs: 200 }) });
    expect(result).toMatchObject({ ok: false, reason: 'timeout after 200 ms' });
    expect(await until(() => mute.open() === 0, 1000)).toBe(true);
  });

  it('a body that never ends is a timeout too, and the socket is closed', async () => {
    const result = await probe({ address: web.address, check: check({ port: web.port, path: '/stall', timeoutMs: 300 }) });
    expect(result).toMatchObject({ ok: false, reason: 'timeout after 300 ms' });
    expect(await until(() => web.open() === 0, 1000)).toBe(true);
  });

  it('many probes of a black hole leave no socket behind on either side', async () => {
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    const before = sockets();
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(Array.from({ length: 20 }, () => probe({ address: hole.address, check: check({ port: hole.port, timeoutMs: 150 }) })));
      expect(results.every((r) => r.reason === 'timeout after 150 ms')).toBe(true);
    }
    expect(await until(() => hole.open() === 0, 1000)).toBe(true);
    expect(await until(() => sockets() <= before, 1000)).toBe(true);
  });

  it('an abort ends the probe at once and closes its socket', async () => {
    const controller = new AbortController();
    const pending = probe({ address: hole.address, check: check({ port: hole.port, timeoutMs: 5000 }) }, controller.signal);
    expect(await until(() => hole.open() === 1, 1000)).toBe(true);
    controller.abort();
    expect(await pending).toMatchObject({ ok: false, reason: 'aborted' });
    expect(await until(() => hole.open() === 0, 1000)).toBe(true);
  });
});

describe('bad input fails the probe instead of throwing', () => {
  const cases = [
    { name: 'a path with a space', target: { address: '127.0.0.2', check: check({ path: '/a b', port: 80 }) }, reason: /ERR_UNESCAPED_CHARACTERS/ },
    { name: 'an http port out of range', target: { address: '127.0.0.2', check: check({ port: 70_000 }) }, reason: /ERR_SOCKET_BAD_PORT/ },
    { name: 'a tcp port out of range', target: { address: '127.0.0.2', check: check({ kind: 'tcp', port: -1 }) }, reason: /ERR_SOCKET_BAD_PORT/ },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const result = await probe(c.target);
      expect(result.ok).toBe(false);
      expect(result.reason).toMatch(c.reason);
    });
  }
});

describe('https probes', () => {
  it('a self-signed certificate is up when insecure', async () => {
    const result = await probe({ address: secure.address, check: check({ kind: 'https', port: secure.port, insecure: true, path: '/tls' }) });
    expect(result).toMatchObject({ ok: true, reason: 'HTTP 200' });
  });

  it('a self-signed certificate is down with a certificate reason when checked', async () => {
    const result = await probe({ address: secure.address, check: check({ kind: 'https', port: secure.port, insecure: false }) });
    expect(result.ok).toBe(false);
    expect(result.reason).toMatch(/CERT|certificate/i);
  });

  it('sends SNI for a Host name, none for an address', async () => {
    await probe({ address: secure.address, check: check({ kind: 'https', port: secure.port, insecure: true, path: '/sni', host: 'lb.example.test' }) });
    await probe({ address: secure.address, check: check({ kind: 'https', port: secure.port, insecure: true, path: '/no-sni' }) });
    expect(secure.seen.filter((s) => s.path === '/sni' || s.path === '/no-sni')).toEqual([
      { path: '/sni', host: 'lb.example.test', servername: 'lb.example.test' },
      { path: '/no-sni', host: '127.0.0.5', servername: undefined },
    ]);
  });

  it('a TLS handshake that never comes is one timeout', async () => {
    const result = await probe({ address: hole.address, check: check({ kind: 'https', port: hole.port, timeoutMs: 200 }) });
    expect(result).toMatchObject({ ok: false, reason: 'timeout after 200 ms' });
    expect(await until(() => hole.open() === 0, 1000)).toBe(true);
  });
});

describe('tcp probes', () => {
  it('a connection accepted is up', async () => {
    expect(await probe({ address: tcp.address, check: check({ kind: 'tcp', port: tcp.port }) })).toMatchObject({ ok: true, reason: 'connected' });
    expect(await until(() => tcp.open() === 0, 1000)).toBe(true);
  });

  it('a black hole that accepts is up for tcp, and the probe closes its connection', async () => {
    expect(await probe({ address: hole.address, check: check({ kind: 'tcp', port: hole.port }) })).toMatchObject({ ok: true });
    expect(await until(() => hole.open() === 0, 1000)).toBe(true);
  });

  it('connection refused is down', async () => {
    expect(await probe({ address: '127.0.0.6', check: check({ kind: 'tcp', port: refusedPort }) })).toMatchObject({ ok: false, reason: 'ECONNREFUSED' });
  });

  it('works over IPv6', async () => {
    expect(await probe({ address: '::1', check: check({ kind: 'tcp', port: web6.port }) })).toMatchObject({ ok: true });
  });

  it('an unroutable address times out', async () => {
    // TEST-NET-1 is never routed; either the timeout or an immediate network error, but never up or a hang.
    const result = await probe({ address: '192.0.2.1', check: check({ kind: 'tcp', port: 9, timeoutMs: 200 }) });
    expect(result.ok).toBe(false);
    expect(result.latencyMs).toBeLessThan(1000);
  });
});
