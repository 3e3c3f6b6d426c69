// A geo-serving lbdns node assembled from the real pieces (store, snapshot, monitor, geo, chooser, DNS and ops
// servers), wired the way the composition root wires them, on free loopback ports; and the store it serves.
import { Writable } from 'node:stream';
import pg from 'pg';
import type { AnswerContext } from '../../src/core/answer.js';
import { EMPTY_SNAPSHOT, type Snapshot } from '../../src/core/snapshot.js';
import { explainRoute } from '../../src/explain/explain-route.js';
import { setUpGeo, type GeoSetup } from '../../src/geo/setup.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { createLogger } from '../../src/obs/log.js';
import { createMetrics, type Metrics } from '../../src/obs/metrics.js';
import { choiceMetrics } from '../../src/policies/choice-metrics.js';
import { createChooser } from '../../src/policies/choose.js';
import { PolicyStates } from '../../src/policies/policy-states.js';
import { startDnsServer, type DnsServer } from '../../src/server/dns-server.js';
import { startOpsHttp, type OpsHttp } from '../../src/server/ops-http.js';
import { buildSnapshot } from '../../src/snapshot/build.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import type { DigResult } from '../helpers/dig.js';
import { tcpServer, type Target } from '../health/servers.js';

export interface GeoNode {
  readonly dnsPort: number;
  readonly httpPort: number;
  readonly metrics: Metrics;
  readonly monitor: HealthMonitor;
  readonly geo: GeoSetup;
  snapshot(): Snapshot;
  /** Reads the store again and swaps the snapshot in (what the change feed triggers in lbdns serve). */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

export async function startGeoNode(store: Store, nodeName = 'geo-node'): Promise<GeoNode> {
  const log = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
  const metrics = createMetrics({ defaultMetrics: false });
  const monitor = new HealthMonitor({ logger: log, metrics });
  let snapshot: Snapshot = EMPTY_SNAPSHOT;
  const geo = await setUpGeo({ databasePath: undefined, snapshot: () => snapshot, metrics });
  const policies = new PolicyStates(geo.env);
  const reload = async (): Promise<void> => {
    snapshot = buildSnapshot(await store.loadContents()).snapshot;
    monitor.setPools(snapshot.pools);
  };
  await reload();
  await monitor.firstRound();
  const context: AnswerContext = { nodeName, choose: createChooser(() => monitor.health(), policies, choiceMetrics(metrics)) };
  let dns: DnsServer | undefined;
  let http: OpsHttp | undefined;
  try {
    dns = await startDnsServer({ listen: [{ host: '127.0.0.1', port: 0, family: 4 }], tcpIdleMs: 5000, snapshot: () => snapshot, context, metrics, log, querySample: 0 });
    http = await startOpsHttp({
      listen: { host: '127.0.0.1', port: 0, family: 4 },
      metrics,
      log,
      readiness: () => ({ ready: true, detail: {} }),
      routes: {
        '/explain': explainRoute({ nodeName, policies, locator: geo.locator, memberStates: () => monitor.states(), snapshot: () => snapshot, health: () => monitor.health() }),
      },
    });
  } catch (err) {
    monitor.stop();
    await dns?.close();
    throw err;
  }
  const d = dns;
  const h = http;
  return {
    dnsPort: d.addresses.find((a) => a.transport === 'udp')!.port,
    httpPort: h.port,
    metrics,
    monitor,
    geo,
    snapshot: () => snapshot,
    reload,
    async stop() {
      monitor.stop();
      await d.close();
      await h.close();
    },
  };
}

/** The scope of the reply's ECS option, from dig's "CLIENT-SUBNET: 203.0.113.0/24/24". */
export function scope(r: DigResult): number {
  const line = r.opt.find((l) => l.startsWith('CLIENT-SUBNET:'));
  if (!line) throw new Error(`no ECS in the reply:\n${r.raw}`);
  return Number(line.split('/').pop());
}

export interface GeoFixture {
  readonly db: TestDatabase;
  readonly store: Store;
  /** Probe targets by address: a TCP acceptor per member, all on one port (the pools' check port). */
  readonly targets: Map<string, Target>;
  /** The probe address of GEO_MEMBERS' octet (11–15), in this fixture's own 127/8 network. */
  probe(octet: number): string;
  sql(text: string, params?: unknown[]): Promise<pg.QueryResult>;
  stop(): Promise<void>;
}

/** Members: answered address, last octet of where probes go, country, region, latitude, longitude. */
export const GEO_MEMBERS = [
  ['192.0.2.11', 11, 'DE', 'eu-central', 50.11, 8.68],
  ['192.0.2.12', 12, 'DE', null, 52.52, 13.4],
  ['192.0.2.13', 13, 'FR', null, 48.86, 2.35],
  ['192.0.2.14', 14, 'US', null, 39.04, -77.49],
  ['192.0.2.15', 15, 'JP', null, 35.68, 139.65],
  ['2001:db8::15', 15, 'JP', null, 35.68, 139.65],
  ['2001:db8::14', 14, 'US', null, 39.04, -77.49],
] as const;

/**
 * One TCP acceptor per probe octet, all on one port, in a random 127.x.y.0/24 so that test files running at once
 * never meet; a port some other socket holds on one of the addresses means another try.
 */
async function probeTargets(): Promise<{ base: string; targets: Map<string, Target> }> {
  for (let attempt = 0; ; attempt++) {
    const base = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    const targets = new Map<string, Target>();
    try {
      const first = await tcpServer(`${base}.11`);
      targets.set(`${base}.11`, first);
      for (const octet of [12, 13, 14, 15]) targets.set(`${base}.${octet}`, await tcpServer(`${base}.${octet}`, first.port));
      return { base, targets };
    } catch (err) {
      for (const t of targets.values()) await t.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 5) throw err;
    }
  }
}

/**
 * A throwaway PostgreSQL database holding example.test with a static record, a geo pool (members above, TCP checks
 * every 200 ms, fall 2, rise 1), a wrr pool, and geo_networks rows: 203.0.113.0/24 DE, 203.0.112.0/24 AT (Vienna),
 * 100.64.0.0/16 BR (São Paulo), 100.65.0.0/16 DE region eu-central, 2001:db8:aa::/48 JP.
 */
export async function createGeoFixture(): Promise<GeoFixture> {
  const db = await createTestDatabase();
  if (!db.url) throw new Error('the geo integration tests need the local PostgreSQL');
  const url = db.url;
  const sql = async (text: string, params: unknown[] = []): Promise<pg.QueryResult> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await c.query(text, params);
    } finally {
      await c.end();
    }
  };
  const store = await openStore({ databaseUrl: url, dataDir: db.dataDir, embeddedListen: { host: '127.0.0.1', port: 0, family: 4 } }, { role: 'client', migrate: true });
  const { base, targets } = await probeTargets();
  const probe = (octet: number): string => `${base}.${octet}`;
  const checkPort = targets.get(probe(11))!.port;
  await sql(`insert into zones (name, mname, rname) values ('example.test', 'ns1.example.test', 'hostmaster.example.test')`);
  await sql(`insert into records (zone_id, name, type, content) select id, 'static.example.test', 'A', '192.0.2.80' from zones`);
  await sql(
    `insert into pools (zone_id, name, policy, count, check_kind, check_port, timeout_ms, interval_ms, rise, fall)
     select id, 'geo.example.test', 'geo', 2, 'tcp', $1::int, 100, 200, 1, 2 from zones
     union all select id, 'wrr.example.test', 'wrr', 2, 'tcp', $1::int, 100, 200, 1, 2 from zones`,
    [checkPort],
  );
  for (const [address, octet, country, region, lat, lon] of GEO_MEMBERS) {
    await sql(
      `insert into pool_members (pool_id, address, probe_address, country, region, latitude, longitude)
       select id, $1::inet, $2::inet, $3, $4, $5::float8, $6::float8 from pools where name = 'geo.example.test'`,
      [address, probe(octet), country, region, lat, lon],
    );
  }
  await sql(`insert into pool_members (pool_id, address, probe_address) select id, '198.51.100.21', $1::inet from pools where name = 'wrr.example.test'`, [probe(11)]);
  await sql(`insert into pool_members (pool_id, address, probe_address) select id, '198.51.100.22', $1::inet from pools where name = 'wrr.example.test'`, [probe(12)]);
  await sql(`insert into geo_networks (network, country) values ('203.0.113.0/24', 'DE'), ('2001:db8:aa::/48', 'JP')`);
  await sql(`insert into geo_networks (network, country, latitude, longitude) values ('203.0.112.0/24', 'AT', 48.21, 16.37), ('100.64.0.0/16', 'BR', -23.55, -46.63)`);
  await sql(`insert into geo_networks (network, country, region) values ('100.65.0.0/16', 'DE', 'eu-central')`);
  return {
    db,
    store,
    targets,
    probe,
    sql,
    async stop() {
      for (const t of targets.values()) await t.close();
      await store.close();
      await db.drop();
    },
  };
}
