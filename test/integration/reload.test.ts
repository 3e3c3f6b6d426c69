// Reload cost: an edit reloads only its zone, other changes everything, and a burst of edits becomes one reload.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { startInProcess, type TestServer } from '../helpers/server.js';

const havePg = await pgAvailable();
let db: TestDatabase;
let server: TestServer;
let client: pg.Client;

beforeAll(async () => {
  if (!havePg) return;
  db = await createTestDatabase();
  server = await startInProcess({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_RELOAD_DEBOUNCE_MS: '100' });
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await server?.stop();
  await db?.drop();
});

const loads = () => server.logs.filter((l) => l.msg === 'snapshot loaded');
async function settle(): Promise<void> {
  let n = -1;
  while (n !== loads().length) {
    n = loads().length;
    await new Promise((r) => setTimeout(r, 400));
  }
}

describe.skipIf(!havePg)('reloads', () => {
  it('reloads only the zone an edit touched', async () => {
    await settle();
    const n = loads().length;
    await client.query(`insert into records (zone_id, name, type, content) select id, 'one.example.test', 'A', '192.0.2.71' from zones where name = 'example.test'`);
    await settle();
    const last = loads().slice(n);
    expect(last).toHaveLength(1);
    expect(last[0].reloaded).toEqual(['example.test']);
    expect((await dig('127.0.0.1', server.dnsPort, ['one.example.test'])).answer[0].data).toBe('192.0.2.71');
  });

  it('reloads everything for a change that names no zone', async () => {
    const n = loads().length;
    await client.query(`insert into geo_networks (network, country) values ('198.51.100.0/24', 'DE')`);
    await settle();
    const last = loads().slice(n);
    expect(last.length).toBeGreaterThanOrEqual(1);
    expect(last.at(-1).reloaded).toBe('all');
  });

  it('turns a burst of 50 edits into a few reloads, with every edit served', async () => {
    const n = loads().length;
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) {
      await client.query(`insert into records (zone_id, name, type, content) select id, 'burst${i}.example.test', 'A', '192.0.2.${100 + i}' from zones where name = 'example.test'`);
    }
    const took = Date.now() - t0;
    await settle();
    const reloads = loads().length - n;
    expect(reloads).toBeGreaterThanOrEqual(1);
    // One per debounce window (100 ms) at most, however many edits landed in it.
    expect(reloads).toBeLessThanOrEqual(Math.ceil(took / 100) + 2);
    expect(reloads).toBeLessThan(50);
    for (const i of [0, 25, 49]) expect((await dig('127.0.0.1', server.dnsPort, [`burst${i}.example.test`])).answer[0].data).toBe(`192.0.2.${100 + i}`);
  });
});
