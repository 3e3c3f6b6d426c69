// The embedded store: PGlite in the data dir, its socket for psql and the CLI, and edits seen within a second.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Config } from '../../src/config.js';
import { openStore, type Change, type Store } from '../../src/store/store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, ok: () => boolean, ms = 1000): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`no ${what} within ${ms} ms`);
    await sleep(10);
  }
  return Date.now() - t0;
}

let dataDir: string;
let cfg: Config['store'];
let server: Store;
let stop: () => Promise<void>;
const changes: Change[] = [];
let url: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'lbdns-embedded-'));
  cfg = { databaseUrl: undefined, dataDir, embeddedListen: { host: '127.0.0.1', port: 0, family: 4 } };
  server = await openStore(cfg, { role: 'server', migrate: true });
  stop = await server.watchChanges((c) => changes.push(c));
  url = JSON.parse(readFileSync(join(dataDir, 'embedded.json'), 'utf8')).url;
});
afterAll(async () => {
  await stop?.();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('embedded PGlite', () => {
  it('announces its socket in embedded.json', () => {
    const info = JSON.parse(readFileSync(join(dataDir, 'embedded.json'), 'utf8'));
    expect(info.pid).toBe(process.pid);
    expect(info.url).toMatch(/^postgres:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(existsSync(join(dataDir, 'pgdata', 'PG_VERSION'))).toBe(true);
    expect(server.location).not.toContain(':postgres@');
  });

  it('a client-role store edits through the socket, and the server sees it within a second', async () => {
    const client = await openStore(cfg, { role: 'client' });
    try {
      expect(client.location).toContain(`pid ${process.pid}`);
      changes.length = 0;
      await client.addZone({ name: 'emb.test' });
      await client.addRecord({ name: 'www.emb.test', type: 'A', content: '192.0.2.1' });
      const version = await client.configVersion();
      await waitFor('change', () => changes.some((c) => c.version === version));
      expect((await server.loadContents()).records.map((r) => r.name)).toEqual(['www.emb.test']);
    } finally {
      await client.close();
    }
  });

  it('plain SQL through the socket (as psql) is isolated until commit and seen after it', async () => {
    const c = new pg.Client(url);
    await c.connect();
    try {
      changes.length = 0;
      await c.query('begin');
      await c.query(`insert into records (zone_id, name, type, content) select id, 'sql.emb.test', 'A', '192.0.2.2' from zones where name = 'emb.test'`);
      // The server's read waits for the transaction rather than running inside it.
      const during = server.loadContents();
      await sleep(300);
      expect(changes).toEqual([]);
      await c.query('rollback');
      expect((await during).records.map((r) => r.name)).toEqual(['www.emb.test']);

      await c.query(`insert into records (zone_id, name, type, content) select id, 'sql.emb.test', 'A', '192.0.2.2' from zones where name = 'emb.test'`);
      const ms = await waitFor('change', () => changes.length > 0);
      expect(ms).toBeLessThan(1000);
      await expect(c.query(`insert into records (zone_id, name, type, content) select id, 'bad.emb.test', 'A', '300.0.0.1' from zones`)).rejects.toThrow(
        'record bad.emb.test: A content "300.0.0.1" is not an IPv4 address in dotted-quad form',
      );
    } finally {
      await c.end();
    }
  });

  it('refuses a second server on the same data dir', async () => {
    await expect(openStore(cfg, { role: 'server' })).rejects.toMatchObject({
      code: 'E_STARTUP',
      message: `the data dir ${dataDir} is in use by lbdns pid ${process.pid} (${url})`,
    });
  });

  it('says which address it cannot listen on', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    const other = mkdtempSync(join(tmpdir(), 'lbdns-embedded-'));
    try {
      await expect(openStore({ ...cfg, dataDir: other, embeddedListen: { host: '127.0.0.1', port, family: 4 } }, { role: 'server' })).rejects.toMatchObject({
        code: 'E_STARTUP',
        message: expect.stringContaining(`cannot listen on 127.0.0.1:${port} for the embedded PostgreSQL`),
      });
      expect(existsSync(join(other, 'embedded.json'))).toBe(false);
    } finally {
      busy.close();
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('embedded PGlite without a server', () => {
  it('removes embedded.json on close, and the CLI role then opens the data dir directly', async () => {
    await stop();
    await server.close();
    expect(existsSync(join(dataDir, 'embedded.json'))).toBe(false);
    const direct = await openStore(cfg, { role: 'client' });
    try {
      expect(direct.location).toBe(`embedded PGlite in ${dataDir}`);
      expect((await direct.listRecords({ zone: 'emb.test' })).map((r) => r.name)).toEqual(['sql.emb.test', 'www.emb.test']);
      await direct.addRecord({ name: 'direct.emb.test', type: 'TXT', content: '"written without a server"' });
    } finally {
      await direct.close();
    }
    // Reopened as a server: the direct edit persisted.
    server = await openStore(cfg, { role: 'server', migrate: true });
    expect((await server.listRecords({ name: 'direct.emb.test' }))[0].content).toBe('"written without a server"');
  });
});
