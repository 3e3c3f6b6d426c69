// The HTTP API on a running node (real PostgreSQL, real DNS, dig): scoped tokens, problem details, nothing changed by bad input, the OpenAPI document.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import pg from 'pg';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApi, OPENAPI_PATH, startApi } from '../../src/api/api-server.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/obs/log.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, pgAvailable, storeConfig, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { need, onPath, underCi } from '../helpers/prerequisite.js';
import { ROOT, startInProcess, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const havePg = await pgAvailable();
if (!havePg && underCi()) throw new Error('PostgreSQL must answer on 127.0.0.1:5432 in CI');
const haveDig = onPath('dig') !== undefined;
if (!haveDig && underCi()) throw new Error('dig must be installed in CI');

const POOL = 'api.example.test';
const MEMBERS = ['192.0.2.61', '192.0.2.62', '192.0.2.63'];

let db: TestDatabase;
let server: TestServer;
let api = '';
let backend: http.Server;
const tokens: Record<string, string> = {};

async function query(text: string, values: unknown[] = []): Promise<any[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows;
  } finally {
    await c.end();
  }
}

/** Every row an API write could touch: compared before and after a refused request. */
async function everything(): Promise<unknown> {
  const tables = ['records', 'pools', 'pool_members', 'geo_networks', 'maintenance_windows'];
  const out: Record<string, unknown> = {};
  for (const t of tables) out[t] = await query(`select * from ${t} order by 1`);
  // The serving node moves a zone's serial, and records that, when a pool's answerable set changes (src/xfr): what
  // the API could change in a zone is the rest, and every API write is in the audit log under its token.
  out.zones = await query('select id, name, mname, rname, refresh, retry, expire, minimum, ttl from zones order by 1');
  out.audit = await query(`select * from audit_log where actor like 'token:%' order by id`);
  // A refused request still used its token: last_used_at moves, nothing else.
  out.api_tokens = await query('select id, name, token_hash, scopes, created_at, created_by, revoked_at from api_tokens order by 1');
  return out;
}

async function lbdns(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [`${ROOT}/bin/lbdns.js`, ...args], { env: { ...process.env, DATABASE_URL: db.url, LBDNS_LOG_LEVEL: 'silent' } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function addToken(name: string, ...scopes: string[]): Promise<string> {
  const r = await lbdns(['token', 'add', name, ...scopes.flatMap((s) => ['--scope', s])]);
  expect(r.stderr).toBe('');
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toBe(`added token ${name} with scopes ${scopes.join(' ')}; this is the only time it is shown:`);
  expect(lines[1]).toMatch(/^lbdns_[A-Za-z0-9_-]{43}$/);
  tokens[name] = lines[1];
  return lines[1];
}

interface Answer {
  readonly status: number;
  readonly type: string;
  readonly body: any;
}

async function call(method: string, path: string, opts: { token?: string; json?: unknown; body?: string; type?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined = opts.body;
  if (opts.json !== undefined) body = JSON.stringify(opts.json);
  if (body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
  const res = await fetch(`${api}${path}`, { method, headers, body });
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  return { status: res.status, type, body: type.includes('json') && text !== '' ? JSON.parse(text) : text };
}

/** Retries `check` until it passes or `ms` have gone by (then its last failure is the test's). */
async function eventually(check: () => Promise<void>, ms: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() - t0 > ms) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** The pool's answer, as a resolver would get it. */
async function answered(): Promise<Set<string>> {
  const r = await dig('127.0.0.1', server.dnsPort, [POOL, 'A']);
  return new Set(r.answer.filter((a) => a.type === 'A').map((a) => a.data));
}

beforeAll(async () => {
  if (!havePg) return;
  backend = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const port = (backend.address() as { port: number }).port;
  db = await createTestDatabase();
  server = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_RRL_RATE: '0', LBDNS_API_LISTEN: '127.0.0.1:0' });
  api = server.logs.find((l) => l.msg === 'api listening').url;
  await query(`insert into pools (zone_id, name, count, check_kind, check_port, interval_ms, timeout_ms, rise, fall)
               select id, $1, 3, 'http', $2, 300, 200, 1, 1 from zones where name = 'example.test'`, [POOL, port]);
  for (const a of MEMBERS) await query(`insert into pool_members (pool_id, address, probe_address) select id, $1, '127.0.0.1' from pools where name = $2`, [a, POOL]);
  const t0 = Date.now();
  while ((await answered()).size < 3) {
    if (Date.now() - t0 > 10_000) throw new Error('pool never answered with its 3 members');
    await new Promise((r) => setTimeout(r, 100));
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await db?.drop();
  if (backend) await new Promise((r) => backend.close(r));
});

describe.skipIf(!havePg)('the HTTP API on a running node', { timeout: 60_000 }, () => {
  it('token add prints the token once and stores only its SHA-256; list never shows it', async () => {
    const token = await addToken('ops-drain', `pool:${POOL}:drain`);
    await addToken('admin', 'admin', 'read', 'zone:*:write');
    const rows = await query(`select name, encode(token_hash, 'hex') as hash, scopes, created_by, row_to_json(t)::text as everything from api_tokens t where name = 'ops-drain'`);
    expect(rows).toHaveLength(1);
    expect(rows[0].hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(rows[0].scopes).toEqual([`pool:${POOL}:drain`]);
    expect(rows[0].everything).not.toContain(token.slice(6));
    const list = await lbdns(['token', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^ops-drain +\\S+Z +\\S+ +- +pool:${POOL}:drain$`, 'm'));
    expect(list.stdout + (await lbdns(['token', 'list', '--json'])).stdout).not.toContain(token);
    // Same name twice, a bad scope: one line each, nothing written.
    const before = await everything();
    expect((await lbdns(['token', 'add', 'ops-drain', '--scope', 'read'])).stderr).toBe('lbdns: token ops-drain already exists\n');
    expect((await lbdns(['token', 'add', 'x', '--scope', 'pool:lb.example.test:delete'])).stderr).toBe('lbdns: scope "pool:lb.example.test:delete" must end in :read, :drain, :write\n');
    expect((await lbdns(['token', 'add', 'x', '--scope', 'zone:../etc:write'])).stderr).toMatch(/^lbdns: zone name in scope "..\/etc" is not a valid domain name: it has an empty label\n$/);
    expect(await everything()).toEqual(before);
  });

  it('a drain-only token drains a member, which leaves the answers within a second; a record edit is refused with the scope named', async () => {
    const victim = MEMBERS[0];
    const t0 = Date.now();
    const r = await call('PATCH', `/api/v1/pools/${POOL}/members/${victim}`, { token: tokens['ops-drain'], json: { enabled: false } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ address: victim, enabled: false });
    let gone = -1;
    while (Date.now() - t0 < 1000) {
      if (!(await answered()).has(victim)) {
        gone = Date.now() - t0;
        break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    console.log(`API drain → answers without the member after ${gone} ms`);
    expect(gone).toBeGreaterThanOrEqual(0);
    expect(gone).toBeLessThan(1000);
    expect(await answered()).toEqual(new Set(MEMBERS.slice(1)));
    // The audit log's triggers recorded the token as the writer.
    const [audit] = await query(`select actor from audit_log where table_name = 'pool_members' order by id desc limit 1`);
    expect(audit.actor).toBe('token:ops-drain');

    // An override through the API is recorded as the token's doing.
    const forced = await call('PATCH', `/api/v1/pools/${POOL}/members/${MEMBERS[1]}`, { token: tokens['ops-drain'], json: { override: { state: 'drain', reason: 'LB firmware', until: new Date(Date.now() + 3600_000).toISOString() } } });
    expect(forced.status).toBe(200);
    expect(forced.body.override).toMatchObject({ state: 'drain', reason: 'LB firmware', by: 'token:ops-drain' });
    expect((await call('PATCH', `/api/v1/pools/${POOL}/members/${MEMBERS[1]}`, { token: tokens['ops-drain'], json: { override: null } })).body.override).toBeNull();

    const before = await everything();
    const refused = await call('POST', '/api/v1/zones/example.test/records', { token: tokens['ops-drain'], json: { name: 'x.example.test', type: 'A', content: '192.0.2.99' } });
    expect(refused).toMatchObject({ status: 403, type: expect.stringContaining('application/problem+json') });
    expect(refused.body).toEqual({ type: 'urn:lbdns:problem:forbidden', title: 'forbidden', status: 403, detail: 'needs scope zone:example.test:write' });
    const weight = await call('PATCH', `/api/v1/pools/${POOL}/members/${victim}`, { token: tokens['ops-drain'], json: { enabled: true, weight: 5 } });
    expect(weight.body.detail).toBe(`needs scope pool:${POOL}:write (or zone:example.test:write)`);
    expect((await call('GET', '/api/v1/geo-networks', { token: tokens['ops-drain'] })).body.detail).toBe('needs scope pool:*:read');
    // Lists show only what the token may read.
    expect((await call('GET', '/api/v1/pools', { token: tokens['ops-drain'] })).body.map((p: any) => p.name)).toEqual([POOL]);
    expect((await call('GET', '/api/v1/zones', { token: tokens['ops-drain'] })).body).toEqual([]);
    expect(await everything()).toEqual(before);

    expect((await call('PATCH', `/api/v1/pools/${POOL}/members/${victim}`, { token: tokens['ops-drain'], json: { enabled: true } })).status).toBe(200);
    await eventually(async () => expect((await answered()).size).toBe(3), 2000);
  });

  it('GET /api/v1/history shows the drain as the token’s doing, scoped like a read of the pool', async () => {
    const h = await call('GET', `/api/v1/history?target=${POOL}&since=1h`, { token: tokens['ops-drain'] });
    expect(h.status).toBe(200);
    const drains = h.body.transactions.filter((t: any) => t.changes.some((c: any) => c.table === 'pool_members' && c.old?.enabled === true && c.new?.enabled === false));
    expect(drains.length).toBeGreaterThan(0);
    expect(drains[0].actor).toBe('token:ops-drain');
    // The whole log needs zone:*:read, which a drain token lacks; a bad `since` is one line.
    expect((await call('GET', '/api/v1/history', { token: tokens['ops-drain'] })).body.detail).toBe('needs scope zone:*:read');
    const bad = await call('GET', `/api/v1/history?target=${POOL}&since=yesterday`, { token: tokens['ops-drain'] });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain('since "yesterday" must be a duration');
  });

  it('no token, an unknown one or a revoked one: 401, and nothing read or written', async () => {
    const before = await everything();
    const none = await call('GET', '/api/v1/zones');
    expect(none).toMatchObject({ status: 401, body: { title: 'unauthorized', detail: 'send "Authorization: Bearer <token>" (lbdns token add)' } });
    const unknown = await call('DELETE', '/api/v1/zones/example.test', { token: `lbdns_${'A'.repeat(43)}` });
    expect(unknown).toMatchObject({ status: 401, body: { detail: 'the token is unknown or revoked' } });
    expect((await call('GET', '/api/v1/zones', { token: 'not-a-token' })).status).toBe(401);
    const revoked = await addToken('short-lived', 'read');
    expect((await call('GET', '/api/v1/zones', { token: revoked })).status).toBe(200);
    expect((await lbdns(['token', 'rm', 'short-lived'])).stdout).toBe('revoked token short-lived: it stops working at once\n');
    expect((await call('GET', '/api/v1/zones', { token: revoked })).status).toBe(401);
    const after = (await everything()) as Record<string, unknown>;
    // Only the token table moved: the new token, its use and its revocation.
    expect({ ...after, api_tokens: undefined }).toEqual({ ...(before as Record<string, unknown>), api_tokens: undefined });
  });

  it('malformed JSON, unknown fields, wrong types, oversize bodies and bad names: one clear line each, nothing changed', async () => {
    const admin = tokens.admin;
    const before = await everything();
    const cases: [string, string, { json?: unknown; body?: string; type?: string }, number, string | RegExp][] = [
      ['POST', '/api/v1/zones', { body: '{"name": "a.test",' }, 400, 'the body is not valid JSON'],
      ['POST', '/api/v1/zones', { body: '' }, 400, 'the body is empty; send a JSON object'],
      ['POST', '/api/v1/zones', { json: ['a.test'] }, 400, 'the body must be a JSON object'],
      ['POST', '/api/v1/zones', { json: { name: 'a.test', colour: 'red' } }, 400, 'unknown field "colour"'],
      ['POST', '/api/v1/zones', { json: { name: 5 } }, 400, 'name must be a string'],
      ['POST', '/api/v1/zones', { json: { name: 'a.test', ttl: 0 } }, 400, 'ttl 0 must be a whole number from 1 to 2147483647'],
      ['POST', '/api/v1/zones', { json: { name: 'a.test', ttl: 'ten' } }, 400, 'ttl "ten" must be a whole number from 1 to 2147483647'],
      ['POST', '/api/v1/zones', { json: { name: 'a/../b.test' } }, 400, 'zone name "a/../b.test" is not a valid domain name: label "a/" may hold only letters, digits, "-" and "_"'],
      ['POST', '/api/v1/zones', { json: { name: 'x'.repeat(70 * 1024) } }, 413, 'the body is larger than this route takes'],
      ['POST', '/api/v1/zones', { body: '{"name":"a.test","__proto__":{"x":1}}' }, 400, 'the body is not valid JSON'],
      ['POST', '/api/v1/zones', { body: '{"name":"a.test","constructor":{"prototype":{"x":1}}}' }, 400, 'the body is not valid JSON'],
      ['POST', '/api/v1/zones', { body: 'name=a.test', type: 'application/x-www-form-urlencoded' }, 415, /takes application\/json/],
      ['GET', '/api/v1/zones/..%2Fetc%2Fpasswd', {}, 400, 'zone name "../etc/passwd" is not a valid domain name: it has an empty label'],
      ['DELETE', '/api/v1/zones/example.test%00', {}, 400, /^zone name "example\.test\\u0000" is not a valid domain name: label "test\u0000" may hold only letters/],
      ['GET', '/api/v1/zones/a..b', {}, 400, 'zone name "a..b" is not a valid domain name: it has an empty label'],
      // A client resolves "%2E%2E" as ".." before sending: what arrives is another route, which does not exist.
      ['GET', '/api/v1/zones/%2E%2E/records', {}, 404, 'no route GET /api/v1/records (the routes are in /api/openapi.json)'],
      ['POST', `/api/v1/pools/${POOL}/members`, { json: { address: '192.0.2.64', weight: -1 } }, 400, 'weight -1 must be a whole number from 0 to 1000000'],
      ['POST', `/api/v1/pools/${POOL}/members`, { json: { address: '192.0.2.64', check: {} } }, 400, 'unknown field "check"'],
      ['PATCH', `/api/v1/pools/${POOL}`, { json: { check: { port: 70000 } } }, 400, 'port 70000 must be a whole number from 1 to 65535'],
      ['PATCH', `/api/v1/pools/${POOL}`, { json: { check: { colour: 'red' } } }, 400, 'check: unknown field "colour"'],
      ['PATCH', `/api/v1/pools/${POOL}`, { json: {} }, 400, `pool ${POOL}: nothing to change`],
      ['PATCH', `/api/v1/pools/${POOL}/members/${MEMBERS[0]}`, { json: { weight: 2, override: null } }, 400, 'override goes without other settings (as member set --force and --clear)'],
      ['PATCH', `/api/v1/pools/${POOL}/members/${MEMBERS[0]}`, { json: { override: { state: 'down', reason: 'x', until: '2020-01-01T00:00:00Z' } } }, 400, 'expiry 2020-01-01T00:00:00.000Z is not in the future'],
      ['POST', '/api/v1/zones/example.test/records', { json: { name: 'www.example.test', type: 'A', content: '999.1.1.1' } }, 400, /^A record content "999.1.1.1"/],
      ['POST', '/api/v1/zones/example.test/records', { json: { name: 'www.other.test', type: 'A', content: '192.0.2.1' } }, 400, 'record name www.other.test is not in zone example.test'],
      ['PUT', '/api/v1/zones/example.test/import?replace=true', { body: '@ IN SOA ns1 hostmaster 1 2 3 4 5\nwww IN A 300.0.0.1\n', type: 'text/dns' }, 400, /^body:2: /],
      ['POST', '/api/v1/geo-networks', { json: { network: '198.51.100.1/24', country: 'DE' } }, 400, 'network "198.51.100.1/24" has bits set beyond /24 (did you mean 198.51.100.0/24?)'],
      ['POST', '/api/v1/tokens', { json: { name: 'x', scopes: ['everything'] } }, 400, /^scope "everything" must be read, admin/],
    ];
    for (const [method, path, opts, status, detail] of cases) {
      const r = await call(method, path, { token: admin, ...opts });
      const line = typeof detail === 'string' ? detail : expect.stringMatching(detail);
      expect({ method, path, status: r.status, type: r.type, detail: r.body?.detail }).toEqual({ method, path, status, type: expect.stringContaining('application/problem+json'), detail: line });
      expect(r.body.detail).not.toContain('\n');
    }
    expect(await everything()).toEqual(before);
    // The CLI says the same about the same mistake.
    expect((await lbdns(['member', 'add', POOL, '192.0.2.64', '--weight', '-1'])).stderr).toBe('lbdns: weight -1 must be a whole number from 0 to 1000000\n');
  });

  it('zones, records, import and export, pools, members, maintenance, geo networks, status and explain, as the CLI does them', async () => {
    const admin = tokens.admin;
    const zone = await call('POST', '/api/v1/zones', { token: admin, json: { name: 'API.Test.', ttl: 600 } });
    expect(zone).toMatchObject({ status: 201, body: { name: 'api.test', ttl: 600 } });
    expect((await call('POST', '/api/v1/zones', { token: admin, json: { name: 'api.test' } })).body).toMatchObject({ status: 409, detail: 'zone api.test already exists', code: 'E_CONFLICT' });
    const rec = await call('POST', '/api/v1/zones/api.test/records', { token: admin, json: { name: 'www.api.test', type: 'a', content: '192.0.2.7' } });
    expect(rec).toMatchObject({ status: 201, body: { record: { name: 'www.api.test', type: 'A', content: '192.0.2.7' } } });
    await eventually(async () => expect((await dig('127.0.0.1', server.dnsPort, ['www.api.test', 'A'])).answer.map((a) => a.data)).toEqual(['192.0.2.7']), 1000);
    const file = (await call('GET', '/api/v1/zones/api.test/export', { token: admin })) as Answer;
    expect(file.type).toContain('text/dns');
    expect(file.body).toMatch(/^www\.api\.test\.\s+IN\s+A\s+192\.0\.2\.7$/m);
    const imported = await call('PUT', '/api/v1/zones/api.test/import', { token: admin, body: `${file.body}mail IN A 192.0.2.8\n`, type: 'text/dns' });
    expect(imported).toMatchObject({ status: 409, body: { detail: 'zone api.test already exists (add ?replace=true to overwrite it)' } });
    const replaced = await call('PUT', '/api/v1/zones/api.test/import?replace=true', { token: admin, body: `${file.body}mail IN A 192.0.2.8\n`, type: 'text/dns' });
    expect(replaced).toMatchObject({ status: 200, body: { records: 2, replaced: true } });
    expect((await call('GET', '/api/v1/zones/api.test/records?name=mail.api.test', { token: admin })).body).toMatchObject([{ name: 'mail.api.test', content: '192.0.2.8' }]);
    expect((await call('DELETE', '/api/v1/zones/api.test/records?name=mail.api.test&type=A', { token: admin })).body).toEqual({ removed: 1 });
    // Writes are recorded as the token's: the maintenance window's author, as the override's above.
    const pool = await call('POST', '/api/v1/pools', { token: admin, json: { name: 'lb.api.test', policy: 'wrr', check: { kind: 'tcp', port: 443 } } });
    expect(pool).toMatchObject({ status: 201, body: { name: 'lb.api.test', zone: 'api.test', checkKind: 'tcp', checkPort: 443 } });
    expect((await call('POST', '/api/v1/pools/lb.api.test/members', { token: admin, json: { address: '2001:DB8::1', weight: 3, country: 'de' } })).body).toMatchObject({ address: '2001:db8::1', weight: 3, country: 'DE' });
    const w = await call('POST', '/api/v1/pools/lb.api.test/members/2001:db8::1/maintenance', { token: admin, json: { cron: '0 2 * * 0', durationSeconds: 3600, reason: 'patching' } });
    expect(w).toMatchObject({ status: 201, body: { by: 'token:admin', durationMs: 3_600_000 } });
    expect((await call('GET', '/api/v1/maintenance', { token: admin })).body).toHaveLength(1);
    expect((await call('DELETE', `/api/v1/pools/lb.api.test/members/2001:db8::1/maintenance/${w.body.id}`, { token: admin })).status).toBe(200);
    expect((await call('PATCH', '/api/v1/pools/lb.api.test', { token: admin, json: { ttl: 60 } })).body).toMatchObject({ ttl: 60 });
    expect((await call('DELETE', '/api/v1/pools/lb.api.test/members/2001:db8::1', { token: admin })).status).toBe(204);
    expect((await call('DELETE', '/api/v1/pools/lb.api.test', { token: admin })).body).toEqual({ members: 0 });
    expect((await call('DELETE', '/api/v1/zones/api.test', { token: admin })).body).toEqual({ records: 1 });
    // Geo networks need pool:* write, which zone:*:write covers.
    expect((await call('POST', '/api/v1/geo-networks', { token: admin, json: { network: '198.51.100.0/24', country: 'FR', note: 'office' } })).status).toBe(201);
    expect((await call('DELETE', '/api/v1/geo-networks?network=198.51.100.0/24', { token: admin })).status).toBe(204);
    // status is `lbdns status --json`; explain is the node's own.
    const status = await call('GET', `/api/v1/status?pool=${POOL}`, { token: tokens['ops-drain'] });
    const cli = JSON.parse((await lbdns(['status', POOL, '--json'])).stdout);
    const shape = (rows: any[]) => rows.map((m) => ({ pool: m.pool, address: m.address, enabled: m.enabled, state: m.state, agreed: m.agreed.state }));
    expect(shape(status.body)).toEqual(shape(cli));
    expect((await call('GET', '/api/v1/status', { token: tokens['ops-drain'] })).status).toBe(403);
    const why = await call('GET', `/api/v1/explain?name=${POOL}&type=A&client=192.0.2.200`, { token: tokens.admin });
    expect(why).toMatchObject({ status: 200, body: { pool: { name: POOL } } });
    expect((await call('GET', `/api/v1/explain?name=${POOL}&type=BOGUS`, { token: tokens.admin })).body).toMatchObject({ status: 400, detail: 'type "BOGUS" is not a record type' });
    // Tokens through the API, for an admin token only.
    const made = await call('POST', '/api/v1/tokens', { token: admin, json: { name: 'ci', scopes: ['zone:api.test:write'] } });
    expect(made).toMatchObject({ status: 201, body: { name: 'ci', createdBy: 'token:admin', token: expect.stringMatching(/^lbdns_/) } });
    tokens.ci = made.body.token;
    expect((await call('GET', '/api/v1/tokens', { token: tokens.ci })).body.detail).toBe('needs scope admin');
    expect((await call('DELETE', '/api/v1/tokens/ci', { token: admin })).body).toMatchObject({ name: 'ci', revokedAt: expect.any(String) });
  });

  it('serves an OpenAPI 3.1 document that is valid and lists exactly the registered routes', async () => {
    const doc = await call('GET', OPENAPI_PATH);
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const documented = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'put', 'post', 'delete', 'patch'].includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    const store = await openStore(storeConfig(db), { role: 'client' });
    try {
      const { routes } = await buildApi({ store, explain: () => ({ status: 200, body: {} }), log: createLogger('silent') });
      expect(routes.length).toBeGreaterThan(25);
      expect([...documented].sort()).toEqual([...routes].sort());
    } finally {
      await store.close();
    }
    // Every route but the document itself asks for the token.
    expect(doc.body.paths[OPENAPI_PATH].get.security).toEqual([]);
    expect(doc.body.security).toEqual([{ token: [] }]);
  });

  it('never writes a token into the logs; one line per request names the token', async () => {
    await new Promise((r) => setTimeout(r, 50));
    const text = JSON.stringify(server.logs);
    for (const [name, token] of Object.entries(tokens)) expect({ name, found: text.includes(token) || text.includes(token.slice(6)) }).toEqual({ name, found: false });
    const lines = server.logs.filter((l) => l.msg === 'api request');
    expect(lines.some((l) => l.method === 'PATCH' && l.path === `/api/v1/pools/${POOL}/members/${MEMBERS[0]}` && l.token === 'ops-drain' && l.status === 200)).toBe(true);
    expect(lines.some((l) => l.status === 401 && l.token === null)).toBe(true);
    expect(server.logs.some((l) => l.msg === 'api authentication failed' && l.why === 'unknown or revoked token')).toBe(true);
    const used = await query(`select last_used_at from api_tokens where name = 'ops-drain'`);
    expect(used[0].last_used_at).not.toBeNull();
  });
});

describe.skipIf(!havePg)('authentication failures from one address', () => {
  it('get 429 past the limit, until the window is over, with the memory bounded', async () => {
    const store = await openStore(storeConfig(db), { role: 'client' });
    let now = 1_000_000;
    const { app } = await buildApi({ store, explain: () => ({ status: 200, body: {} }), log: createLogger('silent'), authFailuresPerMinute: 3, now: () => now });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const get = (token: string) => fetch(`${base}/api/v1/zones`, { headers: { authorization: `Bearer ${token}` } });
      const bad = `lbdns_${'B'.repeat(43)}`;
      for (let i = 0; i < 3; i++) expect((await get(bad)).status).toBe(401);
      const limited = await get(bad);
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('60');
      expect(await limited.json()).toMatchObject({ title: 'too many failures' });
      // Even a good token waits: guessing must not go on between good requests.
      expect((await get(tokens.admin)).status).toBe(429);
      now += 60_000;
      expect((await get(tokens.admin)).status).toBe(200);
    } finally {
      await app.close();
      await store.close();
    }
  });
});

describe.skipIf(!havePg)('the API over TLS', () => {
  it('serves HTTPS with the certificate and key from files, and says in one line when a file cannot be read', async (ctx) => {
    need(ctx, onPath('openssl') === undefined ? 'openssl is not installed' : undefined);
    const dir = mkdtempSync(join(tmpdir(), 'lbdns-api-tls-'));
    const store = await openStore(storeConfig(db), { role: 'client' });
    try {
      const cert = join(dir, 'cert.pem');
      const key = join(dir, 'key.pem');
      await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
      const base = { listen: { host: '127.0.0.1', port: 0, family: 4 as const }, store, explain: () => ({ status: 200, body: {} }), log: createLogger('silent') };
      await expect(startApi({ ...base, tls: { certFile: join(dir, 'missing.pem'), keyFile: key } })).rejects.toThrow(/^cannot read the API's TLS certificate \S+missing\.pem: ENOENT$/);
      const tlsApi = await startApi({ ...base, tls: { certFile: cert, keyFile: key } });
      try {
        expect(tlsApi.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
        const status = await new Promise<number>((resolve, reject) => {
          https.get(`${tlsApi.url}/api/v1/zones`, { ca: readFileSync(cert), headers: { authorization: `Bearer ${tokens.admin}` } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          }).on('error', reject);
        });
        expect(status).toBe(200);
      } finally {
        await tlsApi.close();
      }
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('configuration of the API listener', () => {
  it('is off by default, plain on loopback, and refuses any other address without a certificate and key', () => {
    expect(loadConfig({}).api).toBeUndefined();
    expect(loadConfig({ LBDNS_API_LISTEN: '127.0.0.1:8053' }).api).toEqual({ listen: { host: '127.0.0.1', port: 8053, family: 4 }, tls: undefined });
    expect(loadConfig({ LBDNS_API_LISTEN: '[::1]:8053' }).api?.tls).toBeUndefined();
    expect(() => loadConfig({ LBDNS_API_LISTEN: '0.0.0.0:8443' })).toThrow(
      /^invalid configuration: LBDNS_API_LISTEN: 0\.0\.0\.0 is not a loopback address, so the API needs TLS: set LBDNS_API_TLS_CERT and LBDNS_API_TLS_KEY$/,
    );
    expect(() => loadConfig({ LBDNS_API_LISTEN: '198.18.0.1:8443', LBDNS_API_TLS_CERT: '/x.pem' })).toThrow(/LBDNS_API_TLS_CERT and LBDNS_API_TLS_KEY go together \(LBDNS_API_TLS_KEY is missing\)/);
    expect(loadConfig({ LBDNS_API_LISTEN: '198.18.0.1:8443', LBDNS_API_TLS_CERT: '/c.pem', LBDNS_API_TLS_KEY: '/k.pem' }).api?.tls).toEqual({ certFile: '/c.pem', keyFile: '/k.pem' });
  });
});
