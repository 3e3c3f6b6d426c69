// What a test needs from the machine (a tool on PATH, a real PostgreSQL): present, or skipped with the reason, or under CI a failure.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'vitest';

/** Where `command` is on PATH (as a shell would find it), or undefined. */
export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // Not in this directory: try the next.
    }
  }
  return undefined;
}

/** CI=true (or any value but false/0, as CI services set it). */
export function underCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/**
 * Ends the running test as skipped with `missing` as the reason, which the reporter shows; under CI=true (where .ci/run
 * installs every prerequisite) it fails instead, so a missing tool can never turn a test into a silent pass.
 */
export function need(ctx: TestContext, missing: string | undefined): void {
  if (missing === undefined) return;
  if (underCi()) throw new Error(`${missing}, and CI must run this test (.ci/run installs its prerequisites)`);
  ctx.skip(missing);
}
