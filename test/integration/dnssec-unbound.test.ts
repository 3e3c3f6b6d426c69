// The DNSSEC acceptance check: a validating Unbound whose only trust anchor is the DS `lbdns dnssec enable` printed
// resolves static, wrr pool, geo pool (ECS), wildcard, CNAME-chain, MX, DNSKEY, NXDOMAIN and NODATA answers through
// lbdns with the AD flag, and delv asked directly agrees; then the key is swapped underneath (disable + enable), and
// the same answers are bogus to both while the old DS is the anchor, and secure again with the new one.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/store.js';
import { tcpServer, type Target } from '../health/servers.js';
import { createTestDatabase, pgAvailable, storeConfig, type TestDatabase } from '../helpers/db.js';
import { dig, type DigResult } from '../helpers/dig.js';
import { need, onPath } from '../helpers/prerequisite.js';
import { ROOT, startChild, type ChildServer } from '../helpers/server.js';
import { delv, startUnbound, type Unbound } from '../helpers/unbound.js';

const H = '127.0.0.1';
const ZONE = 'sec.test';
const SECRET = 'the dnssec acceptance secret';
const havePg = await pgAvailable();
const missing = ['unbound', 'unbound-control', 'delv', 'dig'].filter((t) => onPath(t) === undefined);
const why = !havePg ? 'no PostgreSQL on 127.0.0.1:5432' : missing.length ? `${missing.join(', ')} not on PATH` : undefined;

const ZONE_FILE = `$ORIGIN ${ZONE}.
$TTL 300
@       IN SOA ns1 hostmaster 1 3600 600 86400 300
        IN NS  ns1
        IN MX  10 mail
ns1     IN A   192.0.2.53
mail    IN A   192.0.2.25
www     IN A   192.0.2.80
www     IN A   192.0.2.81
*.wild  IN A   192.0.2.90
*.wild  IN TXT "wild"
chain   IN CNAME chain2
chain2  IN CNAME www
`;

/** Geo members: answered address, probe octet, country. */
const GEO = [
  ['192.0.2.11', 11, 'DE'],
  ['192.0.2.12', 12, 'DE'],
  ['192.0.2.14', 14, 'US'],
  ['192.0.2.15', 15, 'JP'],
] as const;

let db: TestDatabase;
let store: Store;
let server: ChildServer | undefined;
/** Validator only; and subnetcache in front of it, for the ECS cases (each Unbound ask its own lbdns queries). */
let plain: Unbound | undefined;
let withEcs: Unbound | undefined;
let dir = '';
let ds = '';
const targets: Target[] = [];

function lbdns(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = { ...process.env, DATABASE_URL: db.url!, LBDNS_DATA_DIR: db.dataDir, LBDNS_LOG_LEVEL: 'silent' };
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/lbdns.js'), ...args], { env: { ...base, ...env }, cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

async function sql(text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return await c.query(text, params);
  } finally {
    await c.end();
  }
}

/** `lbdns dnssec enable` through the real CLI: the DS line it printed for the new key. */
async function enable(): Promise<string> {
  const r = await lbdns(['dnssec', 'enable', ZONE], { LBDNS_KEY_SECRET: SECRET });
  if (r.code !== 0) throw new Error(`dnssec enable failed: ${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${ZONE}. IN DS `));
  if (!line) throw new Error(`no DS line in: ${r.stdout}`);
  return line;
}

const keyTagOf = (dsLine: string): number => Number(dsLine.split(/\s+/)[3]);

/** Polls `f` every 100 ms until it returns a value; fails after `ms`. */
async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The key tag of the RRSIG over the apex DNSKEY that lbdns serves now. */
async function servedKeyTag(): Promise<number | undefined> {
  const r = await dig(H, server!.dnsPort, [ZONE, 'DNSKEY', '+dnssec']);
  const sig = r.answer.find((a) => a.type === 'RRSIG' && a.data.startsWith('DNSKEY '));
  return sig ? Number(sig.data.split(/\s+/)[6]) : undefined;
}

beforeAll(async () => {
  if (why) return;
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  dir = mkdtempSync(join(tmpdir(), 'lbdns-dnssec-'));
  const file = join(dir, `${ZONE}.zone`);
  writeFileSync(file, ZONE_FILE);
  const imported = await lbdns(['zone', 'import', file]);
  if (imported.code !== 0) throw new Error(`zone import failed: ${imported.stderr}`);

  // Probe targets: one TCP acceptor per member on one port, in a random 127.x.y.0/24 of this file's own.
  const base = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
  const first = await tcpServer(`${base}.11`);
  targets.push(first);
  for (const octet of [12, 14, 15]) targets.push(await tcpServer(`${base}.${octet}`, first.port));
  await sql(
    `insert into pools (zone_id, name, policy, count, check_kind, check_port, timeout_ms, interval_ms, rise, fall)
     select id, 'geo.${ZONE}', 'geo', 2, 'tcp', $1::int, 200, 300, 1, 2 from zones where name = $2
     union all select id, 'wrr.${ZONE}', 'wrr', 2, 'tcp', $1::int, 200, 300, 1, 2 from zones where name = $2`,
    [first.port, ZONE],
  );
  for (const [address, octet, country] of GEO) {
    await sql(`insert into pool_members (pool_id, address, probe_address, country) select id, $1::inet, $2::inet, $3 from pools where name = 'geo.${ZONE}'`, [
      address,
      `${base}.${octet}`,
      country,
    ]);
  }
  for (const [address, octet] of [['198.51.100.21', 11], ['198.51.100.22', 12]] as const) {
    await sql(`insert into pool_members (pool_id, address, probe_address) select id, $1::inet, $2::inet from pools where name = 'wrr.${ZONE}'`, [address, `${base}.${octet}`]);
  }
  // Client networks (the ECS address Unbound forwards): one in Germany, one in Japan.
  await sql(`insert into geo_networks (network, country) values ('203.0.113.0/24', 'DE'), ('100.64.0.0/16', 'JP')`);

  ds = await enable();
  server = await startChild({ DATABASE_URL: db.url!, LBDNS_KEY_SECRET: SECRET, LBDNS_SEED_DIR: undefined });
  // Both pools probed up: every member answered.
  await until('both wrr members up', 15_000, async () => {
    const r = await dig(H, server!.dnsPort, [`wrr.${ZONE}`, 'A']);
    return r.answer.length === 2 ? true : undefined;
  });
  plain = await startUnbound({ zone: ZONE, ds, lbdnsPort: server.dnsPort, probeName: `www.${ZONE}` });
  withEcs = await startUnbound({ zone: ZONE, ds, lbdnsPort: server.dnsPort, ecs: true, probeName: `www.${ZONE}` });
}, 120_000);

afterAll(async () => {
  await plain?.stop();
  await withEcs?.stop();
  if (server) {
    await server.stop();
    rmSync(server.env.LBDNS_DATA_DIR, { recursive: true, force: true });
  }
  for (const t of targets) await t.close();
  await store?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Case {
  readonly title: string;
  readonly name: string;
  readonly type: string;
  readonly subnet?: string;
  /** What a validated answer holds: its data sorted, or [] for a negative one. */
  readonly data: readonly string[];
}

const CASES: readonly Case[] = [
  { title: 'a static name', name: `www.${ZONE}`, type: 'A', data: ['192.0.2.80', '192.0.2.81'] },
  { title: 'a wrr pool name', name: `wrr.${ZONE}`, type: 'A', data: ['198.51.100.21', '198.51.100.22'] },
  { title: 'a geo pool name, ECS from Germany', name: `geo.${ZONE}`, type: 'A', subnet: '203.0.113.0/24', data: ['192.0.2.11', '192.0.2.12'] },
  { title: 'a geo pool name, ECS from Japan', name: `geo.${ZONE}`, type: 'A', subnet: '100.64.7.0/24', data: ['192.0.2.15'] },
  { title: 'a wildcard (one label)', name: `x.wild.${ZONE}`, type: 'A', data: ['192.0.2.90'] },
  { title: 'a wildcard (two labels)', name: `a.b.wild.${ZONE}`, type: 'A', data: ['192.0.2.90'] },
  { title: 'a CNAME chain across two names', name: `chain.${ZONE}`, type: 'A', data: ['192.0.2.80', '192.0.2.81', `chain2.${ZONE}.`, `www.${ZONE}.`] },
  { title: 'MX at the apex', name: ZONE, type: 'MX', data: [`10 mail.${ZONE}.`] },
  { title: 'NXDOMAIN', name: `nosuch.${ZONE}`, type: 'A', data: [] },
  { title: 'NODATA', name: `www.${ZONE}`, type: 'AAAA', data: [] },
  { title: 'NODATA at a wildcard', name: `x.wild.${ZONE}`, type: 'AAAA', data: [] },
  { title: 'NODATA at a pool name (AAAA of IPv4 members)', name: `wrr.${ZONE}`, type: 'AAAA', data: [] },
];

/** The resolvers a case is asked through: the subnetcache one for ECS cases, both for the rest. */
const resolversFor = (c: Case): ('plain' | 'ecs')[] => (c.subnet ? ['ecs'] : ['plain', 'ecs']);

/** Through one of the Unbounds; with `prefix`, a name under the wildcard or a missing one that was never asked before. */
function viaUnbound(which: 'plain' | 'ecs', c: Case, prefix = ''): Promise<DigResult> {
  const u = which === 'plain' ? plain! : withEcs!;
  return dig(H, u.port, [prefix + c.name, c.type, ...(c.subnet ? [`+subnet=${c.subnet}`] : [])], { timeoutSec: 5 });
}

/** Cases whose name can be varied (a wildcard's or a missing one), so that no cache can have it. */
const VARIABLE = (c: Case): boolean => c.name.startsWith('x.wild') || c.name.startsWith('a.b.wild') || c.name.startsWith('nosuch');

/** What delv is asked directly (it sends no ECS: the geo pool answers for 127.0.0.1). */
const DELV_CASES = [
  ...CASES.filter((c) => c.subnet === undefined).map((c) => ({ ...c, negative: c.data.length === 0 })),
  { title: 'the apex DNSKEY', name: ZONE, type: 'DNSKEY', negative: false },
  { title: 'a geo pool name', name: `geo.${ZONE}`, type: 'A', negative: false },
];

/** What delv says when an answer does not validate. */
const DELV_FAILED = /validation fail|broken trust chain|insecurity proof failed|no valid (RRSIG|DS|KEY)|must-be-secure|unsigned answer/i;

const dataOf = (r: DigResult): string[] => r.answer.filter((a) => a.type !== 'RRSIG').map((a) => a.data).sort();

describe('lbdns signed answers through a validating Unbound and delv', () => {
  beforeEach((ctx) => need(ctx, why));

  it.for(CASES.flatMap((c) => resolversFor(c).map((which) => ({ ...c, which }))))('Unbound ($which) validates $title ($name $type): AD set', async (c) => {
    const r = await viaUnbound(c.which, c);
    const context = `${r.raw}\n${(c.which === 'plain' ? plain! : withEcs!).log().slice(-2000)}`;
    // Compact denial (RFC 9824) answers a missing name NOERROR with NXNAME in the NSEC; a validator that knows
    // NXNAME may say NXDOMAIN. Either way: no data, and validated.
    if (c.name.startsWith('nosuch')) expect(['NOERROR', 'NXDOMAIN'], context).toContain(r.status);
    else expect(r.status, context).toBe('NOERROR');
    expect(r.flags, context).toContain('ad');
    expect(dataOf(r), context).toEqual(c.data);
  });

  it('lbdns itself answers the missing name with compact denial: NOERROR, one NSEC at the name with NXNAME, signed', async () => {
    const r = await dig(H, server!.dnsPort, [`nosuch.${ZONE}`, 'A', '+dnssec']);
    expect(r.status).toBe('NOERROR');
    expect(r.flags).toContain('aa');
    const nsec = r.authority.filter((a) => a.type === 'NSEC');
    expect(nsec.map((a) => a.name)).toEqual([`nosuch.${ZONE}.`]);
    // dig 9.18 knows NXNAME as TYPE128.
    expect(nsec[0].data).toMatch(new RegExp(`^\\\\000\\.nosuch\\.sec\\.test\\. RRSIG NSEC (NXNAME|TYPE128)$`));
    expect(r.authority.filter((a) => a.type === 'RRSIG').map((a) => a.data.split(' ')[0]).sort()).toEqual(['NSEC', 'SOA']);
  });

  it('Unbound gets a different geo member set for each client network, each validated', async () => {
    const de = await viaUnbound('ecs', CASES[2]);
    const jp = await viaUnbound('ecs', CASES[3]);
    expect(dataOf(de)).not.toEqual(dataOf(jp));
    expect(de.flags).toContain('ad');
    expect(jp.flags).toContain('ad');
  });

  it.for(DELV_CASES)('delv against lbdns says "fully validated" for $title ($name $type)', async (c) => {
    const r = await delv(ZONE, ds, server!.dnsPort, c.name, c.type);
    expect(r.text).toMatch(c.negative ? /^; negative response, fully validated$/m : /^; fully validated$/m);
    expect(r.text).not.toMatch(DELV_FAILED);
  });

  it('a key swapped underneath (disable + enable; lbdns reloads) makes every answer bogus against the old DS, and secure with the new one', async () => {
    const oldTag = keyTagOf(ds);
    expect(await servedKeyTag()).toBe(oldTag);
    // Both Unbounds have every answer cached, validated, before the swap.
    for (const c of CASES) for (const which of resolversFor(c)) expect((await viaUnbound(which, c)).flags).toContain('ad');

    const off = await lbdns(['dnssec', 'disable', ZONE]);
    expect(off.code, off.stderr).toBe(0);
    const newDs = await enable();
    const newTag = keyTagOf(newDs);
    // Two random keys sharing a tag would make the check below meaningless: it is a 1 in 65,536 event.
    expect(newTag).not.toBe(oldTag);
    await until('lbdns serving the new key', 10_000, async () => ((await servedKeyTag()) === newTag ? true : undefined));

    const bogus = (r: DigResult, c: Case) => expect({ name: c.name, type: c.type, status: r.status, ad: r.flags.includes('ad') }, r.raw).toEqual({ name: c.name, type: c.type, status: 'SERVFAIL', ad: false });
    // The validator-only Unbound, its caches (answers, keys, bogus marks) emptied for the zone: nothing it validated
    // before can answer, and every answer lbdns gives now is bogus under the old DS.
    for (const cmd of [['flush_zone', ZONE], ['flush_bogus'], ['flush_negative'], ['flush_infra', 'all']]) expect(await plain!.control(...cmd)).toMatch(/^ok/);
    for (const c of CASES.filter((x) => !x.subnet)) bogus(await viaUnbound('plain', c), c);
    expect(plain!.log()).toMatch(/validation failure/);
    // With subnetcache, names never asked before fail at once; the ones it cached would survive flush_zone (Unbound
    // 1.17 keeps the subnetcache module's answers), so a new Unbound with the same old DS asks lbdns afresh.
    for (const c of CASES.filter(VARIABLE)) bogus(await viaUnbound('ecs', c, 'never-asked-'), c);
    await withEcs!.stop();
    withEcs = await startUnbound({ zone: ZONE, ds, lbdnsPort: server!.dnsPort, ecs: true, probeName: `www.${ZONE}`, readyStatus: 'SERVFAIL' });
    for (const c of CASES) bogus(await viaUnbound('ecs', c), c);

    // delv with the old DS: the new DNSKEY set matches no DS, so no answer validates.
    for (const c of DELV_CASES) {
      const r = await delv(ZONE, ds, server!.dnsPort, c.name, c.type);
      expect(r.text, `${c.name} ${c.type}`).not.toMatch(/fully validated/);
      expect(r.text, `${c.name} ${c.type}`).toMatch(new RegExp(`validating ${ZONE.replace('.', '\\.')}/DNSKEY: no valid signature found \\(DS\\)`));
      // The DNSKEY set itself is "no valid RRSIG"; everything under it a "broken trust chain".
      expect(r.text, `${c.name} ${c.type}`).toMatch(c.type === 'DNSKEY' ? /resolution failed: no valid RRSIG/ : /resolution failed: broken trust chain/);
    }
    // The same lbdns, the same answers, with the new DS as the anchor: secure again. The failures above were the
    // key's, not a broken server's.
    for (const c of DELV_CASES) {
      const r = await delv(ZONE, newDs, server!.dnsPort, c.name, c.type);
      expect(r.text, `${c.name} ${c.type}`).toMatch(c.negative ? /^; negative response, fully validated$/m : /^; fully validated$/m);
    }
    ds = newDs;
    for (const u of [plain!, withEcs!]) await u.stop();
    plain = await startUnbound({ zone: ZONE, ds, lbdnsPort: server!.dnsPort, probeName: `www.${ZONE}` });
    withEcs = await startUnbound({ zone: ZONE, ds, lbdnsPort: server!.dnsPort, ecs: true, probeName: `www.${ZONE}` });
    for (const c of CASES) {
      for (const which of resolversFor(c)) {
        const r = await viaUnbound(which, c);
        expect(r.flags, r.raw).toContain('ad');
        expect(dataOf(r), r.raw).toEqual(c.data);
      }
    }
  }, 120_000);
});
