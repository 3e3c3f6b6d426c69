// Presents one PGlite instance as the pool kysely's PostgresDialect expects, one connection at a time.
//
// PGlite is a single session: two callers interleaving statements would run inside each other's
// transactions. connect() therefore hands out the session exclusively until release(), so a kysely
// transaction owns it from BEGIN to COMMIT. Parameterless SQL goes through exec() (simple protocol),
// which is what lets a migration file hold many statements, as it does on real PostgreSQL.
import type { PGlite } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

interface PgliteResult {
  readonly rows: unknown[];
  readonly affectedRows?: number;
  readonly rowCount?: number;
  readonly command?: string;
}

export function pglitePool(db: PGlite, opts: { closeDb: boolean }): PostgresPool {
  let tail: Promise<void> = Promise.resolve();

  async function run(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<unknown>> {
    let result: PgliteResult;
    if (parameters.length === 0) {
      const all = (await db.exec(sql)) as PgliteResult[];
      result = all[all.length - 1] ?? { rows: [] };
    } else {
      result = (await db.query(sql, [...parameters])) as PgliteResult;
    }
    const command = (result.command ?? sql.trimStart().split(/\s/, 1)[0]).toUpperCase();
    return {
      command: command as PostgresQueryResult<unknown>['command'],
      rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length,
      rows: result.rows,
    };
  }

  return {
    async connect(): Promise<PostgresPoolClient> {
      const previous = tail;
      let unlock!: () => void;
      tail = new Promise<void>((resolve) => {
        unlock = resolve;
      });
      await previous;
      let released = false;
      const client = {
        query: run,
        release(): void {
          if (released) return;
          released = true;
          unlock();
        },
      };
      return client as unknown as PostgresPoolClient;
    },
    async end(): Promise<void> {
      await tail;
      if (opts.closeDb && !db.closed) await db.close();
    },
  };
}
