// The `lbdns serve with geo` checks, run against one server process (geo-serve) and against worker processes (geo-workers).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../helpers/dig.js';
import { ROOT } from '../helpers/server.js';
import { createGeoFixture, scope, type GeoFixture } from './geo-node.js';

const run = promisify(execFile);

interface Served {
  readonly dnsPort: number;
  readonly httpPort: number;
  stop(): Promise<unknown>;
}

/** Starts the server on the fixture's store with `start(env)` and runs the checks against it. */
export function geoServeSuite(start: (env: Record<string, string | undefined>) => Promise<Served>): void {
  let fx: GeoFixture;
  let server: Served;

  beforeAll(async () => {
    fx = await createGeoFixture();
    server = await start({ DATABASE_URL: fx.db.url, LBDNS_DATA_DIR: fx.db.dataDir, LBDNS_SEED_DIR: undefined });
  });

  afterAll(async () => {
    await server?.stop();
    await fx?.stop();
  });

  describe('lbdns serve with geo', () => {
    it('answers by location with the deciding scope', async () => {
      const de = await dig('127.0.0.1', server.dnsPort, ['geo.example.test', 'A', '+subnet=203.0.113.0/24']);
      expect(de.answer.map((a) => a.data).sort()).toEqual(['192.0.2.11', '192.0.2.12']);
      expect(scope(de)).toBe(24);
      const us = await dig('127.0.0.1', server.dnsPort, ['geo.example.test', 'A', '+subnet=8.8.8.0/24']);
      expect(us.answer.map((a) => a.data)).toEqual(['192.0.2.14']);
      expect(scope(us)).toBe(15);
    });

    it('serves /explain as JSON and text, and lbdns explain finds it from LBDNS_HTTP_LISTEN', async () => {
      const base = `http://127.0.0.1:${server.httpPort}`;
      const e = await (await fetch(`${base}/explain?name=geo.example.test&ecs=203.0.112.0/24`)).json();
      expect(e.pool.level).toBe('continent');
      const t = await fetch(`${base}/explain?name=geo.example.test&ecs=203.0.112.0/24&format=text`);
      expect(t.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await t.text()).toMatch(/^explain geo\.example\.test A from ECS 203\.0\.112\.0\/24/);
      const out = await run(process.execPath, [`${ROOT}/bin/lbdns.js`, 'explain', 'geo.example.test', '--ecs', '100.64.1.0/24'], {
        env: { ...process.env, LBDNS_HTTP_LISTEN: `127.0.0.1:${server.httpPort}` },
      });
      expect(out.stdout).toContain('level: nearest');
    });
  });
}
