// LBDNS_ROLE_FILE: the role keepalived's notify script writes shows in /status, /readyz and lbdns_ha_role.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startInProcess, type TestServer } from '../helpers/server.js';

let db: TestDatabase;
let server: TestServer;
const dir = mkdtempSync(join(tmpdir(), 'lbdns-role-'));
const roleFile = join(dir, 'role');

beforeAll(async () => {
  writeFileSync(roleFile, 'MASTER\n');
  db = await createTestDatabase();
  server = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_ROLE_FILE: roleFile });
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function role(): Promise<{ status: string; ready: string; metric: string }> {
  const base = `http://127.0.0.1:${server.httpPort}`;
  const status = await (await fetch(`${base}/status`)).json();
  const ready = await (await fetch(`${base}/readyz`)).json();
  const metrics = await (await fetch(`${base}/metrics`)).text();
  return { status: status.role, ready: ready.role, metric: /lbdns_ha_role\{role="(\w+)"\} 1/.exec(metrics)?.[1] ?? '' };
}

describe('HA role', () => {
  it('follows the role file', async () => {
    expect(await role()).toEqual({ status: 'primary', ready: 'primary', metric: 'primary' });
    writeFileSync(roleFile, 'BACKUP\n');
    let r = await role();
    for (let i = 0; i < 50 && r.status !== 'secondary'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await role();
    }
    expect(r).toEqual({ status: 'secondary', ready: 'secondary', metric: 'secondary' });
    expect(server.logs.some((l) => l.msg === 'ha role' && l.to === 'secondary')).toBe(true);
  });
});
