// Applies migrations/*.sql in name order, each once, each in its own transaction, under an advisory lock.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';

// pg_advisory_xact_lock key ("lbdns" in ASCII): two nodes starting at once apply each file once.
const MIGRATION_LOCK = 465625215603n;

/** migrations/ of the package: found from this file, so that src/ (tsx) and dist/src/ (built) both work. */
export function migrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return join(dir, 'migrations');
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the migrations directory above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** Applies every pending migration; returns the names of the files applied now. */
export async function migrate(db: Kysely<unknown>, opts: { dir?: string; logger?: Logger } = {}): Promise<string[]> {
  const dir = opts.dir ?? migrationsDir();
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const applied: string[] = [];
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8');
    const sha256 = createHash('sha256').update(text).digest('hex');
    await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK.toString())}::bigint)`.execute(trx);
      await sql`create table if not exists schema_migrations (
        name text primary key,
        sha256 text not null,
        applied_at timestamptz not null default now())`.execute(trx);
      const done = await sql<{ sha256: string }>`select sha256 from schema_migrations where name = ${file}`.execute(trx);
      if (done.rows.length > 0) {
        if (done.rows[0].sha256 !== sha256) {
          opts.logger?.warn({ file }, 'migration file changed after it was applied; not applying it again');
        }
        return;
      }
      await sql.raw(text).execute(trx);
      await sql`insert into schema_migrations (name, sha256) values (${file}, ${sha256})`.execute(trx);
      applied.push(file);
    });
    if (applied.includes(file)) opts.logger?.info({ file }, 'migration applied');
  }
  return applied;
}
