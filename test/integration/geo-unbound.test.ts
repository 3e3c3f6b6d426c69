// A real resolver in front: Unbound with its subnetcache module forwards ECS to lbdns and caches each answer for the
// scope lbdns returned, so clients in different networks get their own members through one resolver.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig, type DigResult } from '../helpers/dig.js';
import { closedPort } from '../health/servers.js';
import { createGeoFixture, startGeoNode, type GeoFixture, type GeoNode } from './geo-node.js';

const H = '127.0.0.1';
let fx: GeoFixture;
let node: GeoNode;
let unbound: ChildProcess | undefined;
let port = 0;
let dir = '';

async function lbdnsQueries(): Promise<number> {
  const text = await node.metrics.registry.metrics();
  let total = 0;
  for (const m of text.matchAll(/^lbdns_dns_queries_total\{[^}]*\} (\d+)$/gm)) total += Number(m[1]);
  return total;
}

beforeAll(async () => {
  fx = await createGeoFixture();
  node = await startGeoNode(fx.store);
  dir = mkdtempSync(join(tmpdir(), 'lbdns-unbound-'));
  port = await closedPort(H);
  writeFileSync(
    join(dir, 'unbound.conf'),
    [
      'server:',
      `  interface: ${H}`,
      `  port: ${port}`,
      '  do-ip6: no',
      `  directory: "${dir}"`,
      '  chroot: ""',
      '  username: ""',
      `  pidfile: "${join(dir, 'unbound.pid')}"`,
      '  use-syslog: no',
      `  logfile: "${join(dir, 'unbound.log')}"`,
      '  verbosity: 1',
      '  access-control: 127.0.0.0/8 allow',
      '  do-not-query-localhost: no',
      '  module-config: "subnetcache iterator"',
      `  send-client-subnet: ${H}`,
      '  max-client-subnet-ipv4: 24',
      '  qname-minimisation: no',
      '  num-threads: 1',
      // Unbound answers the special-use test. zone itself (RFC 6761) unless told not to.
      '  local-zone: "test." nodefault',
      'stub-zone:',
      '  name: "example.test"',
      `  stub-addr: ${H}@${node.dnsPort}`,
      '',
    ].join('\n'),
  );
  unbound = spawn('unbound', ['-d', '-c', join(dir, 'unbound.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  unbound.stderr!.on('data', (d) => (stderr += d));
  const t0 = Date.now();
  for (;;) {
    const r = await dig(H, port, ['static.example.test', 'A'], { timeoutSec: 1 }).catch(() => undefined);
    if (r?.status === 'NOERROR') break;
    if (unbound.exitCode !== null || Date.now() - t0 > 10_000) {
      const log = existsSync(join(dir, 'unbound.log')) ? readFileSync(join(dir, 'unbound.log'), 'utf8') : '';
      throw new Error(`unbound did not answer (last: ${r?.status ?? 'no reply'}): ${stderr}${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  if (unbound && unbound.exitCode === null) {
    const exited = new Promise((r) => unbound!.once('exit', r));
    unbound.kill('SIGTERM');
    await exited;
  }
  await node?.stop();
  await fx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const viaResolver = (subnet: string, name = 'geo.example.test') => dig(H, port, [name, 'A', `+subnet=${subnet}`]);
const addresses = (r: DigResult) => r.answer.map((a) => a.data).sort();

describe('lbdns behind Unbound (subnetcache)', () => {
  it('gives each client network its own members', async () => {
    expect(addresses(await viaResolver('203.0.113.0/24'))).toEqual(['192.0.2.11', '192.0.2.12']);
    expect(addresses(await viaResolver('8.8.8.0/24'))).toEqual(['192.0.2.14']);
    expect(addresses(await viaResolver('1.1.1.0/24'))).toEqual(['192.0.2.15']);
    const r = await viaResolver('100.64.5.0/24');
    expect(addresses(r)).toEqual(['192.0.2.14']);
    expect(r.flags).toContain('ra');
  });

  it('caches by the scope lbdns returned: a geo answer per network, a wrr answer for everyone', async () => {
    await viaResolver('203.0.113.0/24');
    const before = await lbdnsQueries();
    // Same /24 as the cached DE answer (scope 24): from the cache.
    expect(addresses(await viaResolver('203.0.113.200/32'))).toEqual(['192.0.2.11', '192.0.2.12']);
    expect(await lbdnsQueries()).toBe(before);
    // 8.9.0.0 is in the database's 8.8.0.0/15, the scope of the cached US answer: from the cache too.
    expect(addresses(await viaResolver('8.9.1.0/24'))).toEqual(['192.0.2.14']);
    expect(await lbdnsQueries()).toBe(before);
    // Another network: asked again.
    expect(addresses(await viaResolver('203.0.112.0/24'))).toHaveLength(2);
    expect(await lbdnsQueries()).toBe(before + 1);
    // The wrr pool answers scope 0: one answer serves every network.
    await viaResolver('203.0.113.0/24', 'wrr.example.test');
    const afterWrr = await lbdnsQueries();
    await viaResolver('8.8.8.0/24', 'wrr.example.test');
    await viaResolver('1.1.1.0/24', 'wrr.example.test');
    expect(await lbdnsQueries()).toBe(afterWrr);
  });
});
