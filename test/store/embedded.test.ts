// The embedded store: a real PostgreSQL in the data dir, behind a password, its own user under root, LISTEN as usual.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Config } from '../../src/config.js';
import { pgRuntime, PG_SYSTEM_USER } from '../../src/store/embedded-runtime.js';
import { openStore, type Change, type FeedStatus, type Store } from '../../src/store/store.js';

const run = promisify(execFile);
// CI runs as root; the root path (postgres as lbdns-pg) must be tested there.
const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, ok: () => boolean, ms = 1000): Promise<number> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`no ${what} within ${ms} ms`);
    await sleep(10);
  }
  return Date.now() - t0;
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !/ Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
  } catch {
    return false;
  }
};
const uidOf = (pid: number): number => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
/** A folder the embedded server's own user may enter (mkdtemp makes 0700 folders). */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

let parent: string;
let dataDir: string;
let cfg: Config['store'];
let server: Store;
let stop: () => Promise<void>;
const changes: Change[] = [];
const statuses: FeedStatus[] = [];
let publicUrl: string;
let port: number;
const password = (): string => readFileSync(join(dataDir, 'embedded-password'), 'utf8').trim();
const postmasterPid = (): number => Number(readFileSync(join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
const psql = (sql: string, env: Record<string, string> = {}) =>
  run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-w', '-X', '-tA', '-c', sql], { env: { PATH: process.env.PATH ?? '', ...env } });

beforeAll(async () => {
  parent = tempDir('lbdns-embedded-');
  dataDir = join(parent, 'data');
  cfg = { databaseUrl: undefined, dataDir, embeddedListen: { host: '127.0.0.1', port: 0, family: 4 } };
  server = await openStore(cfg, { role: 'server', migrate: true });
  stop = await server.watchChanges(
    (c) => changes.push(c),
    (s) => statuses.push(s),
  );
  publicUrl = JSON.parse(readFileSync(join(dataDir, 'embedded.json'), 'utf8')).url;
  port = Number(new URL(publicUrl).port);
});
afterAll(async () => {
  await stop?.();
  await server?.close();
  rmSync(parent, { recursive: true, force: true });
});

describe('embedded PostgreSQL', () => {
  it('announces its socket without the password, which sits in a 0600 file', () => {
    const info = JSON.parse(readFileSync(join(dataDir, 'embedded.json'), 'utf8'));
    expect(info.pid).toBe(process.pid);
    expect(info.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(statSync(join(dataDir, 'embedded-password')).mode & 0o777).toBe(0o600);
    expect(password()).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(readFileSync(join(dataDir, 'pgdata', 'PG_VERSION'), 'utf8').trim()).toBe(pgRuntime(dataDir).major);
    expect(server.location).toBe(`${info.url} (embedded, in ${dataDir})`);
    expect(server.location).not.toContain(password());
  });

  it.skipIf(!isRoot && process.env.CI !== 'true')('runs postgres as its own user when lbdns runs as root (skipped: tests not run as root; fails under CI)', () => {
    expect(isRoot, 'these tests must run as root to check the lbdns-pg path').toBe(true);
    const user = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${PG_SYSTEM_USER}:`));
    expect(user).toBeDefined();
    const uid = Number(user!.split(':')[2]);
    expect(uid).not.toBe(0);
    expect(uidOf(postmasterPid())).toBe(uid);
    expect(statSync(join(dataDir, 'pgdata')).uid).toBe(uid);
    // The password stays lbdns's: the postgres user cannot read it.
    expect(statSync(join(dataDir, 'embedded-password')).uid).toBe(0);
  });

  it('listens on 127.0.0.1 only, with no Unix socket and no trust line', async () => {
    const hba = readFileSync(join(dataDir, 'pgdata', 'pg_hba.conf'), 'utf8');
    expect(hba.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'))).toEqual(['host all all all scram-sha-256']);
    const c = new pg.Client({ connectionString: `${publicUrl.replace('postgres@', `postgres:${encodeURIComponent(password())}@`)}` });
    await c.connect();
    try {
      const { rows } = await c.query(`select current_setting('listen_addresses') as l, current_setting('unix_socket_directories') as u`);
      expect(rows[0]).toEqual({ l: '127.0.0.1', u: '' });
    } finally {
      await c.end();
    }
  });

  it('refuses psql without the password or with a wrong one, and accepts it with the password', async () => {
    const without = await psql('select 1').catch((e) => e);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/no password supplied/);
    const wrong = await psql('select 1', { PGPASSWORD: 'not-the-password' }).catch((e) => e);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/password authentication failed for user "postgres"/);
    expect((await psql('select 1', { PGPASSWORD: password() })).stdout.trim()).toBe('1');
  });

  it('feeds changes through LISTEN, like any PostgreSQL', () => {
    expect(statuses.at(-1)).toMatchObject({ via: 'listen', degraded: false, storeReachable: true });
  });

  it('a client-role store finds the password and the server sees its edit within a second', async () => {
    const client = await openStore(cfg, { role: 'client' });
    try {
      expect(client.location).toBe(`${publicUrl} (embedded, lbdns pid ${process.pid}, password from ${join(dataDir, 'embedded-password')})`);
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

  it('an edit made with psql reaches the server through NOTIFY within a second', async () => {
    changes.length = 0;
    const t0 = Date.now();
    await psql(`insert into records (zone_id, name, type, content) select id, 'sql.emb.test', 'A', '192.0.2.2' from zones where name = 'emb.test'`, { PGPASSWORD: password() });
    await waitFor('change', () => changes.some((c) => c.table === 'records' && c.zone === 'emb.test'), 1000);
    expect(Date.now() - t0).toBeLessThan(1500);
    const bad = await psql(`insert into records (zone_id, name, type, content) select id, 'bad.emb.test', 'A', '300.0.0.1' from zones`, { PGPASSWORD: password() }).catch((e) => e);
    expect(bad.stderr).toContain('record bad.emb.test: A content "300.0.0.1" is not an IPv4 address in dotted-quad form');
  });

  it('a client given a wrong password says so in one line', async () => {
    const right = password();
    writeFileSync(join(dataDir, 'embedded-password'), 'not-the-password\n', { mode: 0o600 });
    try {
      await expect(openStore(cfg, { role: 'client' })).rejects.toMatchObject({
        code: 'E_STORE',
        message: `wrong password for ${publicUrl} (embedded, lbdns pid ${process.pid}, password from ${join(dataDir, 'embedded-password')}): password authentication failed for user "postgres"`,
      });
    } finally {
      writeFileSync(join(dataDir, 'embedded-password'), `${right}\n`, { mode: 0o600 });
    }
  });

  it('refuses a second server on the same data dir', async () => {
    await expect(openStore(cfg, { role: 'server' })).rejects.toMatchObject({
      code: 'E_STARTUP',
      message: `the data dir ${dataDir} is in use by lbdns pid ${process.pid} (${publicUrl})`,
    });
  });

  it('says which address it cannot listen on', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const busyPort = (busy.address() as { port: number }).port;
    const other = join(parent, 'busy');
    try {
      await expect(openStore({ ...cfg, dataDir: other, embeddedListen: { host: '127.0.0.1', port: busyPort, family: 4 } }, { role: 'server' })).rejects.toMatchObject({
        code: 'E_STARTUP',
        message: expect.stringContaining(`cannot listen on 127.0.0.1:${busyPort} for the embedded PostgreSQL`),
      });
      expect(existsSync(join(other, 'embedded.json'))).toBe(false);
    } finally {
      busy.close();
    }
  });
});

describe('embedded PostgreSQL stopping and starting again', () => {
  it('stops postgres on close and removes embedded.json', async () => {
    const pid = postmasterPid();
    await stop();
    await server.close();
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(dataDir, 'embedded.json'))).toBe(false);
  });

  it('the CLI role with no server running starts the store for itself and stops it on close', async () => {
    const direct = await openStore(cfg, { role: 'client' });
    const pid = postmasterPid();
    try {
      expect(direct.location).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres \(embedded, in /);
      expect((await direct.listRecords({ zone: 'emb.test' })).map((r) => r.name)).toEqual(['sql.emb.test', 'www.emb.test']);
      await direct.addRecord({ name: 'direct.emb.test', type: 'TXT', content: '"written without a server"' });
    } finally {
      await direct.close();
    }
    expect(alive(pid)).toBe(false);
  });

  it('stops a postgres that a dead lbdns left running on the data dir, then starts', async () => {
    // What a SIGKILLed lbdns whose watchdog died too leaves behind: a postgres on pgdata that nobody stops.
    const rt = pgRuntime(dataDir);
    const free: Server = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const orphanPort = (free.address() as { port: number }).port;
    await new Promise((r) => free.close(r));
    const orphan = spawn(join(rt.binDir, 'postgres'), ['-D', join(dataDir, 'pgdata'), '-c', 'listen_addresses=127.0.0.1', '-c', `port=${orphanPort}`, '-c', 'unix_socket_directories='], {
      ...rt.runAs,
      detached: true,
      stdio: 'ignore',
    });
    const exited = new Promise((r) => orphan.once('exit', r));
    await waitFor('orphan postgres', () => existsSync(join(dataDir, 'pgdata', 'postmaster.pid')) && postmasterPid() === orphan.pid, 10_000);
    server = await openStore(cfg, { role: 'server', migrate: true });
    await exited;
    expect(postmasterPid()).not.toBe(orphan.pid);
    expect((await server.listRecords({ name: 'direct.emb.test' }))[0].content).toBe('"written without a server"');
    await server.close();
  });

  it('starts over a postmaster.pid whose PID is no postgres (a reboot, a reused PID)', async () => {
    const file = join(dataDir, 'pgdata', 'postmaster.pid');
    // This test process stands in for an unrelated process that got the old PID.
    writeFileSync(file, `${process.pid}\n${join(dataDir, 'pgdata')}\n0\n5433\n\n127.0.0.1\n0 0\nready   \n`);
    server = await openStore(cfg, { role: 'server' });
    expect(postmasterPid()).not.toBe(process.pid);
    await server.close();
  });
});

describe('a data dir made by another engine', () => {
  it('refuses a PGlite pgdata in one line saying how to migrate, and changes nothing', async () => {
    const dir = join(parent, 'pglite');
    mkdirSync(dir);
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(join(dir, 'pgdata'));
    await db.exec('create table zones (id int)');
    await db.close();
    const listing = (): string[] =>
      [dir, ...readdirSync(dir, { recursive: true, withFileTypes: true }).map((e) => join(e.parentPath, e.name))].map((p) => {
        const st = statSync(p);
        return `${p} ${st.mode} ${st.uid} ${st.size} ${st.mtimeMs}`;
      });
    const before = listing();
    const err = await openStore({ ...cfg, dataDir: dir }, { role: 'server' }).catch((e) => e);
    expect(err.code).toBe('E_STARTUP');
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(new RegExp(`^${join(dir, 'pgdata')} holds a PGlite database from an earlier lbdns, .*nothing was changed: to migrate, .*pg_dump`));
    expect(listing()).toEqual(before);
  }, 60_000);

  it('refuses a cluster lbdns did not create', async () => {
    const dir = join(parent, 'foreign');
    const rt = pgRuntime(parent);
    mkdirSync(dir, { mode: 0o755 });
    mkdirSync(join(dir, 'pgdata'), { mode: 0o700 });
    if (rt.runAs.uid !== undefined) chownSync(join(dir, 'pgdata'), rt.runAs.uid, rt.runAs.gid!);
    await run(join(rt.binDir, 'initdb'), ['-D', join(dir, 'pgdata'), '-U', 'postgres', '--auth=trust', '-N', '--no-instructions'], { ...rt.runAs });
    const err = await openStore({ ...cfg, dataDir: dir }, { role: 'server' }).catch((e) => e);
    expect(err.message).toBe(`${join(dir, 'pgdata')} holds a PostgreSQL cluster that lbdns did not create; nothing was changed: set DATABASE_URL to use it as an external PostgreSQL, or move it aside`);
    expect(existsSync(join(dir, 'embedded-password'))).toBe(false);
  });
});
