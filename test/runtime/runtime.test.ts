// The runtime an operator installs: bin runs the compiled dist/ only (refusing a stale one), no transpiler in the
// process tree, no sample data seeded into a database unless asked, workers sized by the CPUs really usable.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usableCpus } from '../../src/config.js';
import { createTestDatabase, pgAvailable, type TestDatabase } from '../helpers/db.js';
import { dig } from '../helpers/dig.js';
import { ROOT, startChild } from '../helpers/server.js';

const havePg = await pgAvailable();
// The serve checks below skip visibly without PostgreSQL on a developer's machine; CI must run them.
if (!havePg && process.env.CI === 'true') throw new Error('no PostgreSQL on 127.0.0.1:5432: CI must run the serve checks of this file');

function run(bin: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = { ...process.env, ...env };
    delete clean.LBDNS_SKIP_BUILD_CHECK;
    execFile(process.execPath, [bin, ...args], { env: clean, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
    );
  });
}

describe('bin/lbdns.js runs the build, and only a current one', () => {
  // A copy of bin/ beside a fake src/ and dist/: the real tree is never touched.
  let tree: string;
  let bin: string;
  beforeAll(() => {
    tree = mkdtempSync(join(tmpdir(), 'lbdns-bin-'));
    mkdirSync(join(tree, 'bin'));
    cpSync(join(ROOT, 'bin/lbdns.js'), join(tree, 'bin/lbdns.js'));
    bin = join(tree, 'bin/lbdns.js');
    mkdirSync(join(tree, 'src/core'), { recursive: true });
    writeFileSync(join(tree, 'src/core/answer.ts'), 'export {};\n');
    writeFileSync(join(tree, 'package.json'), '{"type":"module"}\n');
  });
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  it('without a build: one line, exit 1', async () => {
    const r = await run(bin, ['--help']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'lbdns: there is no build in dist/: run `npm ci` (or `npm run build`) first\n' });
  });

  it('a build older than a source file: one line naming the file, exit 1, nothing run', async () => {
    mkdirSync(join(tree, 'dist/cli'), { recursive: true });
    writeFileSync(join(tree, 'dist/cli/main.js'), "console.log('compiled code ran');\n");
    writeFileSync(join(tree, 'dist/BUILD'), 'built\n');
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(tree, 'dist/BUILD'), past, past);
    const r = await run(bin, ['--help']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'lbdns: the build in dist/ is older than src/core/answer.ts: run `npm run build`\n' });
  });

  it('a current build runs dist/', async () => {
    writeFileSync(join(tree, 'dist/BUILD'), 'built\n');
    const r = await run(bin, ['--help']);
    expect(r).toEqual({ code: 0, stdout: 'compiled code ran\n', stderr: '' });
  });

  it('an installed tree without src/ runs dist/ without looking for sources', async () => {
    rmSync(join(tree, 'src'), { recursive: true });
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(tree, 'dist/BUILD'), past, past);
    expect((await run(bin, ['--help'])).stdout).toBe('compiled code ran\n');
  });
});

describe('the real build', () => {
  it('is current after the build step, and answers --help from dist/', async () => {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--if-stale'], { stdio: 'ignore' });
    const r = await run(join(ROOT, 'bin/lbdns.js'), ['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage:\n {2}lbdns serve \[--seed DIR\]\n/);
    expect(readdirSync(join(ROOT, 'dist/cli'))).toContain('main.js');
  });
});

describe('usable CPUs for the default worker count', () => {
  it('honours a cgroup CPU quota below the CPU count, and ignores "max"', () => {
    expect(usableCpus(() => '200000 100000\n')).toBe(Math.min(2, usableCpus(() => undefined)));
    expect(usableCpus(() => '150000 100000\n')).toBe(Math.min(2, usableCpus(() => undefined)));
    expect(usableCpus(() => '50000 100000\n')).toBe(1);
    expect(usableCpus(() => 'max 100000\n')).toBe(usableCpus(() => undefined));
    expect(usableCpus(() => 'garbage')).toBeGreaterThanOrEqual(1);
  });
});

describe.skipIf(!havePg)('lbdns serve on a real PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function zoneCount(): Promise<number> {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return Number((await c.query('select count(*) as n from zones')).rows[0].n);
    } finally {
      await c.end();
    }
  }

  it('leaves an empty database empty (no sample zones), with no transpiler in its process tree', async () => {
    const server = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_SEED_DIR: undefined, LBDNS_WORKERS: '2' });
    try {
      expect(await zoneCount()).toBe(0);
      expect((await dig('127.0.0.1', server.dnsPort, ['www.example.test', 'A'])).status).toBe('REFUSED');
      // The process and its workers: node running bin/lbdns.js; no tsx loader, no esbuild service child.
      const pids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(server.child.pid)]).toString().trim().split(/\s+/).filter(Boolean);
      expect(pids.length).toBe(2);
      for (const pid of [String(server.child.pid), ...pids]) {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        expect(cmdline).toMatch(/bin\/lbdns\.js serve/);
        expect(cmdline).not.toMatch(/tsx|esbuild|\.ts\b/);
      }
    } finally {
      await server.stop();
    }
  });

  it('seeds the sample zones into an empty store when asked (LBDNS_SEED_DIR, as serve --seed does)', async () => {
    const server = await startChild({ DATABASE_URL: db.url, LBDNS_DATA_DIR: db.dataDir, LBDNS_SEED_DIR: join(ROOT, 'zones'), LBDNS_WORKERS: '1' });
    try {
      expect(await zoneCount()).toBe(1);
      expect((await dig('127.0.0.1', server.dnsPort, ['www.example.test', 'A'])).status).toBe('NOERROR');
    } finally {
      await server.stop();
    }
  });
});

