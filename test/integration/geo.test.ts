// GeoDNS end to end: a geo pool with members in DE, FR, US and JP, geo_networks rows in PostgreSQL, real health probes,
// the bundled GeoIP database, and dig +subnet= against the real DNS server.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, type DigResult } from '../helpers/dig.js';
import { ROOT } from '../helpers/server.js';
import { closedPort, tcpServer, type Target } from '../health/servers.js';
import { createGeoFixture, scope, startGeoNode, type GeoFixture, type GeoNode } from './geo-node.js';

const run = promisify(execFile);
const H = '127.0.0.1';
let fx: GeoFixture;
let node: GeoNode;

beforeAll(async () => {
  fx = await createGeoFixture();
  node = await startGeoNode(fx.store);
});

afterAll(async () => {
  await node?.stop();
  await fx?.stop();
});

const sql = (text: string, params: unknown[] = []) => fx.sql(text, params);
const targets = { get: (probe: string) => fx.targets.get(probe), set: (probe: string, t: Target) => fx.targets.set(probe, t) };

const ask = (subnet: string, type = 'A', name = 'geo.example.test') => dig(H, node.dnsPort, [name, type, `+subnet=${subnet}`]);
const addresses = (r: DigResult) => r.answer.map((a) => a.data).sort();

describe('geo pool over dig +subnet', () => {
  it('a DE network gets the DE members, with the geo_networks prefix as scope', async () => {
    const r = await ask('203.0.113.0/24');
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    expect(addresses(r)).toEqual(['192.0.2.11', '192.0.2.12']);
    expect(r.answer[0].ttl).toBe(30);
    expect(scope(r)).toBe(24);
  });

  it('a /32 subnet is looked up as its /24 and scoped to it', async () => {
    const r = await ask('203.0.113.77/32');
    expect(addresses(r)).toEqual(['192.0.2.11', '192.0.2.12']);
    expect(scope(r)).toBe(24);
    expect(r.opt.find((l) => l.startsWith('CLIENT-SUBNET:'))).toBe('CLIENT-SUBNET: 203.0.113.77/32/24');
  });

  it('a region label picks its one member', async () => {
    const r = await ask('100.65.9.0/24');
    expect(addresses(r)).toEqual(['192.0.2.11']);
    expect(scope(r)).toBe(16);
  });

  it('another European country without members gets the continent (DE and FR)', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await ask('203.0.112.0/24');
      expect(r.answer).toHaveLength(2);
      for (const a of r.answer) seen.add(a.data);
      expect(scope(r)).toBe(24);
    }
    expect([...seen].sort()).toEqual(['192.0.2.11', '192.0.2.12', '192.0.2.13']);
  });

  it('an unlisted continent gets the nearest members (São Paulo → the US member)', async () => {
    const r = await ask('100.64.5.0/24');
    expect(addresses(r)).toEqual(['192.0.2.14']);
    expect(scope(r)).toBe(16);
  });

  it('IPv6: a geo_networks /48 places an ECS /56 in JP, AAAA answers scoped /48', async () => {
    const r = await ask('2001:db8:aa:bb00::/56', 'AAAA');
    expect(addresses(r)).toEqual(['2001:db8::15']);
    expect(scope(r)).toBe(48);
  });

  it('through the bundled GeoIP database: 8.8.8.0/24 is in the US network 8.8.0.0/15', async () => {
    const r = await ask('8.8.8.0/24');
    expect(addresses(r)).toEqual(['192.0.2.14']);
    expect(scope(r)).toBe(15);
  });

  it('through the bundled GeoIP database: 1.1.1.0/24 is AU, Oceania has no member, Tokyo is nearest', async () => {
    const r = await ask('1.1.1.0/24');
    expect(addresses(r)).toEqual(['192.0.2.15']);
    expect(scope(r)).toBe(24);
  });

  it('a wrr pool and a static record answer with scope 0', async () => {
    expect(scope(await ask('203.0.113.0/24', 'A', 'wrr.example.test'))).toBe(0);
    const s = await ask('203.0.113.0/24', 'A', 'static.example.test');
    expect(addresses(s)).toEqual(['192.0.2.80']);
    expect(scope(s)).toBe(0);
  });

  it('a zero-length source prefix: located by the resolver (127.0.0.1: unknown), scope 0', async () => {
    const r = await ask('0.0.0.0/0');
    expect(r.answer).toHaveLength(2);
    expect(scope(r)).toBe(0);
  });

  it('counts answers by level in /metrics', async () => {
    const text = await (await fetch(`http://${H}:${node.httpPort}/metrics`)).text();
    expect(text).toMatch(/lbdns_geo_answers_total\{pool="geo.example.test",level="country"\} \d+/);
    expect(text).toMatch(/lbdns_geo_answers_total\{pool="geo.example.test",level="continent"\} 6/);
    expect(text).toMatch(/lbdns_geo_answers_total\{pool="geo.example.test",level="nearest"\} 2/);
    // The /0 query: 127.0.0.1 is placed by nothing.
    expect(text).toContain('lbdns_geo_lookup_misses_total 1');
  });
});

describe('explain against the same node', () => {
  it('/explain shows the decision the wire gives', async () => {
    const res = await fetch(`http://${H}:${node.httpPort}/explain?name=geo.example.test&type=A&ecs=203.0.112.0/24`);
    const e = await res.json();
    expect(e.pool).toMatchObject({ level: 'continent', levelKey: 'EU', scope: 24 });
    expect(e.pool.location).toMatchObject({ source: 'geo_networks', network: '203.0.112.0/24', country: 'AT' });
    const r = await ask('203.0.112.0/24');
    // The wire answer is the next one in the rotation explain described, from the same set.
    expect(r.answer.map((a) => a.data)).toEqual(e.answer.map((a: { data: string }) => a.data));
  });

  it('lbdns explain asks the node and prints the steps, or JSON', async () => {
    const url = `http://${H}:${node.httpPort}`;
    const text = await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'explain', 'geo.example.test', '--ecs', '203.0.113.0/24', '--url', url]);
    expect(text.stdout).toMatch(/^explain geo\.example\.test A from ECS 203\.0\.113\.0\/24/);
    expect(text.stdout).toContain('placed by geo_networks row');
    expect(text.stdout).toContain('level: country → country DE: 192.0.2.11, 192.0.2.12');
    const json = await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'explain', 'geo.example.test', '--type', 'aaaa', '--client', '8.8.8.8', '--json', '--url', url]);
    expect(JSON.parse(json.stdout)).toMatchObject({ question: { type: 'AAAA' }, pool: { level: 'country', levelKey: 'US' }, answer: [{ data: '2001:db8::14' }] });
  });

  it('lbdns explain says so in one line when no node answers', async () => {
    const port = await closedPort(H);
    const err = await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'explain', 'geo.example.test', '--url', `http://${H}:${port}`]).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr.trim()).toBe(`lbdns: no lbdns node answers at http://${H}:${port} (ECONNREFUSED); is "lbdns serve" running there? (--url to ask another node)`);
  });
});

describe('health moves clients between levels', () => {
  it('stopping the DE members moves DE clients to the continent level within the health timing, and back', async () => {
    await targets.get(fx.probe(11))!.close();
    await targets.get(fx.probe(12))!.close();
    const t0 = Date.now();
    let r = await ask('203.0.113.0/24');
    while (addresses(r).join() !== '192.0.2.13' && Date.now() - t0 < 5000) {
      await new Promise((res) => setTimeout(res, 50));
      r = await ask('203.0.113.0/24');
    }
    const elapsed = Date.now() - t0;
    expect(addresses(r)).toEqual(['192.0.2.13']);
    expect(scope(r)).toBe(24);
    // fall 2 at a 200 ms interval with 100 ms timeouts: two failed probes, well under a second.
    expect(elapsed).toBeLessThan(1500);
    const e = await (await fetch(`http://${H}:${node.httpPort}/explain?name=geo.example.test&ecs=203.0.113.0/24`)).json();
    expect(e.pool.level).toBe('continent');
    expect(e.pool.members.find((m: { address: string }) => m.address === '192.0.2.11')).toMatchObject({ health: 'down', reason: 'down' });
    expect(e.pool.members.find((m: { address: string }) => m.address === '192.0.2.11').lastError).toMatch(/ECONNREFUSED/);
    // Back up: rise 1.
    const port = targets.get(fx.probe(13))!.port;
    targets.set(fx.probe(11), await tcpServer(fx.probe(11), port));
    targets.set(fx.probe(12), await tcpServer(fx.probe(12), port));
    const t1 = Date.now();
    while (addresses(r).join() !== '192.0.2.11,192.0.2.12' && Date.now() - t1 < 5000) {
      await new Promise((res) => setTimeout(res, 50));
      r = await ask('203.0.113.0/24');
    }
    expect(addresses(r)).toEqual(['192.0.2.11', '192.0.2.12']);
  });

  it('a geo_networks edit applies on the next snapshot', async () => {
    await sql(`update geo_networks set country = 'JP' where network = '203.0.113.0/24'`);
    await node.reload();
    expect(addresses(await ask('203.0.113.0/24'))).toEqual(['192.0.2.15']);
  });
});
