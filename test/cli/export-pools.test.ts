// `lbdns zone export --pools`: the pool definitions as a comment block and the answerable set as records; named-checkzone accepts each form.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import { openStore, type Store } from '../../src/store/store.js';
import { createTestDatabase, storeConfig, type TestDatabase } from '../helpers/db.js';
import { onPath, underCi } from '../helpers/prerequisite.js';

const run = promisify(execFile);
const haveCheck = onPath('named-checkzone') !== undefined;
if (!haveCheck && underCi()) throw new Error('named-checkzone is missing, and CI must run this test');

let db: TestDatabase;
let store: Store;
let dir = '';

async function lbdns(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { env: { ...process.env, DATABASE_URL: db.url ?? '', LBDNS_DATA_DIR: db.dataDir, LBDNS_LOG_LEVEL: 'silent' }, stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore(storeConfig(db), { role: 'server', migrate: true });
  dir = mkdtempSync(join(tmpdir(), 'lbdns-export-'));
  await store.addZone({ name: 'ex.test' });
  await store.addRecord({ name: 'ex.test', type: 'NS', content: 'ns1.ex.test' });
  await store.addRecord({ name: 'ns1.ex.test', type: 'A', content: '192.0.2.53' });
  await store.addPool({ name: 'lb.ex.test', ttl: 20, count: 1, check: { kind: 'tcp', port: 80 } });
  const a = await store.addMember('lb.ex.test', { address: '192.0.2.1', country: 'DE' });
  const b = await store.addMember('lb.ex.test', { address: '192.0.2.2' });
  await store.addMember('lb.ex.test', { address: '192.0.2.3', enabled: false });
  await store.addMember('lb.ex.test', { address: '2001:db8::1', priority: 1 });
  const now = Date.now();
  await store.reportHealth('node-a', [
    { memberId: a.id, up: true, since: now, lastCheck: now, latencyMs: 1, lastError: null, transitions: 1 },
    { memberId: b.id, up: false, since: now, lastCheck: now, latencyMs: null, lastError: 'refused', transitions: 1 },
  ]);
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('zone export with pools', () => {
  it('writes the definition as comments and the answerable set as records by default', async () => {
    const r = await lbdns(['zone', 'export', 'ex.test']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^; pool lb\.ex\.test: policy wrr, ttl 20, count 1, all-down open, check tcp port 80/m);
    expect(r.out).toMatch(/^;   member 192\.0\.2\.1 weight 1 priority 0 enabled up DE$/m);
    expect(r.out).toMatch(/^;   member 192\.0\.2\.2 weight 1 priority 0 enabled down$/m);
    expect(r.out).toMatch(/^;   member 192\.0\.2\.3 weight 1 priority 0 drained unknown$/m);
    const records = r.out.split('\n').filter((l) => l.startsWith('lb.ex.test.'));
    // The only up A member; the AAAA member was never probed, so AAAA fails open to it.
    expect(records).toEqual(['lb.ex.test. 20 IN A 192.0.2.1', 'lb.ex.test. 20 IN AAAA 2001:db8::1']);
  });

  it('--pools comment leaves the records out, --pools records the comments, --pools none both', async () => {
    const comment = (await lbdns(['zone', 'export', 'ex.test', '--pools', 'comment'])).out;
    expect(comment).toContain('; pool lb.ex.test');
    expect(comment).not.toMatch(/^lb\.ex\.test\./m);
    const records = (await lbdns(['zone', 'export', 'ex.test', '--pools', 'records'])).out;
    expect(records).not.toContain('; pool');
    expect(records).toMatch(/^lb\.ex\.test\. 20 IN A 192\.0\.2\.1$/m);
    const none = (await lbdns(['zone', 'export', 'ex.test', '--pools', 'none'])).out;
    expect(none).not.toContain('lb.ex.test');
    const bad = await lbdns(['zone', 'export', 'ex.test', '--pools', 'all']);
    expect(bad.code).toBe(2);
    expect(bad.err.split('\n')).toHaveLength(1);
  });

  it.skipIf(!haveCheck)('named-checkzone accepts every form', async () => {
    for (const mode of ['comment,records', 'comment', 'records', 'none']) {
      const file = join(dir, `ex.test.${mode}.zone`);
      writeFileSync(file, `${(await lbdns(['zone', 'export', 'ex.test', '--pools', mode])).out}\n`);
      const { stdout } = await run('named-checkzone', ['ex.test', file]);
      expect(stdout).toMatch(/OK/);
    }
  });
});
