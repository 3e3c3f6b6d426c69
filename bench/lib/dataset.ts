// The benchmark's throwaway PostgreSQL database and its generated data sets, written with plain bulk SQL.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { onCleanup } from './cleanup.js';

export const ADMIN_URL = process.env.LBDNS_BENCH_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates an empty database (dropped again by cleanup) and returns its URL. */
export async function createDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `no PostgreSQL answers at ${new URL(ADMIN_URL).host} (${(err as Error).message}): the benchmark needs a real PostgreSQL ` +
        '(set LBDNS_BENCH_PG_ADMIN_URL to a superuser URL of another one)',
    );
  }
  const name = `lbdns_bench_${randomBytes(5).toString('hex')}`;
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  onCleanup(`drop database ${name}`, async () => {
    const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      // WITH (FORCE): a server that did not stop cleanly must not keep the database alive.
      await c.query(`drop database if exists ${name} with (force)`);
    } finally {
      await c.end();
    }
  });
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('begin');
    const r = await f(c);
    await c.query('commit');
    return r;
  } catch (err) {
    await c.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    await c.end();
  }
}

/** Static names host0..host{STATIC_NAMES-1}.bench.test: what the static row asks, in turn. */
export const STATIC_NAMES = 1000;

/**
 * ECS subnets the geo row and its latency client send, each placed by a geo_networks row in a country where the
 * geo pool has members. 100.64.0.0/10 (RFC 6598) is no one's public address, so GeoIP never disagrees.
 */
export const ECS_SUBNETS = [
  { network: '100.64.1.0/24', country: 'DE', continent: 'EU' },
  { network: '100.64.2.0/24', country: 'US', continent: 'NA' },
  { network: '100.64.3.0/24', country: 'JP', continent: 'AS' },
  { network: '100.64.4.0/24', country: 'BR', continent: 'SA' },
] as const;

/** The ECS option data (RFC 7871 section 6) for an IPv4 /24: family 1, source 24, scope 0, three address octets. */
export function ecsHex(network: string): string {
  const [a, b, c] = network.split('/')[0].split('.').map(Number);
  return Buffer.from([0, 1, 24, 0, a, b, c]).toString('hex');
}

export function ecsOption(network: string): { family: number; source: number; address: number[] } {
  const [a, b, c] = network.split('/')[0].split('.').map(Number);
  return { family: 1, source: 24, address: [a, b, c] };
}

/**
 * bench.test: apex NS and its glue, STATIC_NAMES A records, the `wrr` pool lb.bench.test (8 members, weights 1..8,
 * count 2), the `geo` pool geo.bench.test (8 members in DE, FR, US, JP, BR, AU, count 2), the `hash` pool
 * hash.bench.test (8 members, weights 1..8, count 2), with geo_networks rows
 * for ECS_SUBNETS. Answered addresses are documentation addresses (nothing is sent to them); every member's probes
 * go to the benchmark's own HTTP server on 127.0.0.1:probePort, which answers 200, so every member is up.
 */
export async function fillBase(url: string, probePort: number): Promise<void> {
  await withClient(url, async (c) => {
    const zone = (
      await c.query(`insert into zones (name, mname, rname, serial, minimum, ttl) values ('bench.test', 'ns1.bench.test', 'hostmaster.bench.test', 1, 300, 3600) returning id`)
    ).rows[0].id as number;
    await c.query(
      `insert into records (zone_id, name, type, ttl, content) values
         ($1, 'bench.test', 'NS', null, 'ns1.bench.test'),
         ($1, 'ns1.bench.test', 'A', null, '127.0.0.1')`,
      [zone],
    );
    await c.query(
      `insert into records (zone_id, name, type, ttl, content)
       select $1, 'host' || i || '.bench.test', 'A', 300, '192.0.2.' || (i % 254 + 1)
         from generate_series(0, $2::int - 1) i`,
      [zone, STATIC_NAMES],
    );
    // rise 1: the first good probe is enough; interval 10 s: probing stays out of the figures.
    const check = `'http', $3::int, '/', 1000, 10000, 1, 3`;
    const wrr = (
      await c.query(
        `insert into pools (zone_id, name, policy, count, ttl, check_kind, check_port, check_path, timeout_ms, interval_ms, rise, fall)
         values ($1, $2, 'wrr', 2, 30, ${check}) returning id`,
        [zone, 'lb.bench.test', probePort],
      )
    ).rows[0].id as number;
    await c.query(
      `insert into pool_members (pool_id, address, probe_address, weight)
       select $1, ('198.51.100.' || i)::inet, '127.0.0.1', i from generate_series(1, 8) i`,
      [wrr],
    );
    const geo = (
      await c.query(
        `insert into pools (zone_id, name, policy, count, ttl, check_kind, check_port, check_path, timeout_ms, interval_ms, rise, fall)
         values ($1, $2, 'geo', 2, 30, ${check}) returning id`,
        [zone, 'geo.bench.test', probePort],
      )
    ).rows[0].id as number;
    await c.query(
      `insert into pool_members (pool_id, address, probe_address, weight, country, continent, latitude, longitude) values
         ($1, '203.0.113.1', '127.0.0.1', 1, 'DE', 'EU', 50.1, 8.7),
         ($1, '203.0.113.2', '127.0.0.1', 1, 'DE', 'EU', 52.5, 13.4),
         ($1, '203.0.113.3', '127.0.0.1', 1, 'FR', 'EU', 48.9, 2.4),
         ($1, '203.0.113.4', '127.0.0.1', 1, 'US', 'NA', 39.0, -77.5),
         ($1, '203.0.113.5', '127.0.0.1', 1, 'US', 'NA', 37.4, -122.1),
         ($1, '203.0.113.6', '127.0.0.1', 1, 'JP', 'AS', 35.7, 139.7),
         ($1, '203.0.113.7', '127.0.0.1', 1, 'BR', 'SA', -23.5, -46.6),
         ($1, '203.0.113.8', '127.0.0.1', 1, 'AU', 'OC', -33.9, 151.2)`,
      [geo],
    );
    const hash = (
      await c.query(
        `insert into pools (zone_id, name, policy, count, ttl, check_kind, check_port, check_path, timeout_ms, interval_ms, rise, fall)
         values ($1, $2, 'hash', 2, 30, ${check}) returning id`,
        [zone, 'hash.bench.test', probePort],
      )
    ).rows[0].id as number;
    await c.query(
      `insert into pool_members (pool_id, address, probe_address, weight)
       select $1, ('198.51.100.' || (100 + i))::inet, '127.0.0.1', i from generate_series(1, 8) i`,
      [hash],
    );
    for (const s of ECS_SUBNETS) {
      await c.query(`insert into geo_networks (network, country, continent, note) values ($1, $2, $3, 'lbdns benchmark')`, [s.network, s.country, s.continent]);
    }
  });
}

/** The signed zone of the DNSSEC rows: the same static names and wrr pool as bench.test, under a zone key. */
export const SIGNED_ZONE = 'signed.test';

/**
 * signed.test: apex NS and its glue, STATIC_NAMES A records host<i>.signed.test and the `wrr` pool lb.signed.test
 * (8 members, weights 1..8, count 2), as in bench.test, so that a signed row differs from its unsigned one only in
 * the signing. The caller signs it (`lbdns dnssec enable signed.test`).
 */
export async function fillSigned(url: string, probePort: number): Promise<void> {
  await withClient(url, async (c) => {
    const zone = (
      await c.query(`insert into zones (name, mname, rname, serial, minimum, ttl) values ($1, 'ns1.' || $1, 'hostmaster.' || $1, 1, 300, 3600) returning id`, [SIGNED_ZONE])
    ).rows[0].id as number;
    await c.query(
      `insert into records (zone_id, name, type, ttl, content) values ($1, $2, 'NS', null, 'ns1.' || $2), ($1, 'ns1.' || $2, 'A', null, '127.0.0.1')`,
      [zone, SIGNED_ZONE],
    );
    await c.query(
      `insert into records (zone_id, name, type, ttl, content)
       select $1, 'host' || i || '.' || $3, 'A', 300, '192.0.2.' || (i % 254 + 1)
         from generate_series(0, $2::int - 1) i`,
      [zone, STATIC_NAMES, SIGNED_ZONE],
    );
    const wrr = (
      await c.query(
        `insert into pools (zone_id, name, policy, count, ttl, check_kind, check_port, check_path, timeout_ms, interval_ms, rise, fall)
         values ($1, $2, 'wrr', 2, 30, 'http', $3::int, '/', 1000, 10000, 1, 3) returning id`,
        [zone, `lb.${SIGNED_ZONE}`, probePort],
      )
    ).rows[0].id as number;
    await c.query(
      `insert into pool_members (pool_id, address, probe_address, weight)
       select $1, ('198.51.100.' || i)::inet, '127.0.0.1', i from generate_series(1, 8) i`,
      [wrr],
    );
  });
}

export const SCALE = { zones: 100, recordsPerZone: 1000, poolsPerZone: 100, membersPerPool: 8 } as const;

/**
 * Names the scale rows ask: `count` distinct names spread over every zone of the large data set. 7919 is a prime
 * that shares no factor with the sizes, so i × 7919 modulo the size visits distinct (zone, name) pairs in a scattered
 * order.
 */
export function scaleNames(kind: 'static' | 'pool', count: number): string[] {
  const perZone = kind === 'static' ? SCALE.recordsPerZone : SCALE.poolsPerZone;
  const size = SCALE.zones * perZone;
  const out: string[] = [];
  for (let i = 0; i < Math.min(count, size); i++) {
    const k = (i * 7919) % size;
    out.push(`${kind === 'static' ? 'h' : 'p'}${Math.floor(k / SCALE.zones)}.z${k % SCALE.zones}.scale.test`);
  }
  return out;
}

/**
 * The large data set on top of the base one: SCALE.zones zones z<i>.scale.test, each with SCALE.recordsPerZone A
 * records h<j> and SCALE.poolsPerZone `wrr` pools p<j> of SCALE.membersPerPool members (100,000 records, 10,000
 * pools, 80,000 members). Every member is probed over HTTP on the benchmark's server; the interval is the longest
 * the schema allows (1 h), so that after the start-up round probing costs next to nothing during the rows.
 */
export async function fillScale(url: string, probePort: number): Promise<void> {
  const zoneIds = await withClient(url, async (c) => {
    const r = await c.query(
      `insert into zones (name, serial, minimum, ttl)
       select 'z' || i || '.scale.test', 1, 300, 3600 from generate_series(0, $1::int - 1) i returning id`,
      [SCALE.zones],
    );
    return r.rows.map((row: { id: number }) => row.id);
  });
  // Small transactions (at most BATCH names): one transaction over all 110,000 rows once ran out of the lock table
  // PostgreSQL shares between all its sessions (max_locks_per_transaction × max_connections) with the per-name
  // locks the triggers took; batches stay clear of it whatever the triggers lock.
  const BATCH = 250;
  for (const zone of zoneIds) {
    for (let from = 0; from < SCALE.recordsPerZone; from += BATCH) {
      await withClient(url, (c) =>
        c.query(
          `insert into records (zone_id, name, type, ttl, content)
           select z.id, 'h' || j || '.' || z.name, 'A', 300, '10.' || (z.id % 256) || '.' || (j / 256) || '.' || (j % 256)
             from zones z cross join generate_series($2::int, $3::int) j
            where z.id = $1`,
          [zone, from, Math.min(SCALE.recordsPerZone, from + BATCH) - 1],
        ),
      );
    }
    await withClient(url, async (c) => {
      await c.query(
        `insert into pools (zone_id, name, policy, count, ttl, check_kind, check_port, check_path, timeout_ms, interval_ms, rise, fall)
         select z.id, 'p' || j || '.' || z.name, 'wrr', 2, 30, 'http', $3::int, '/', 2000, 3600000, 1, 3
           from zones z cross join generate_series(0, $2::int - 1) j
          where z.id = $1`,
        [zone, SCALE.poolsPerZone, probePort],
      );
      await c.query(
        `insert into pool_members (pool_id, address, probe_address, weight)
         select p.id, ('192.0.2.' || k)::inet, '127.0.0.1', k
           from pools p cross join generate_series(1, $2::int) k
          where p.zone_id = $1`,
        [zone, SCALE.membersPerPool],
      );
    });
  }
}

/** Row counts, to print what was measured against. */
export async function counts(url: string): Promise<Record<string, number>> {
  return withClient(url, async (c) => {
    const out: Record<string, number> = {};
    for (const t of ['zones', 'records', 'pools', 'pool_members', 'geo_networks']) {
      out[t] = Number((await c.query(`select count(*) as n from ${t}`)).rows[0].n);
    }
    return out;
  });
}
