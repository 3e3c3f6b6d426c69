// Before any test file: the servers that tests start run bin/lbdns.js, which runs dist/; build it when src/ is newer.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, '../scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });
  // Test files inherit this: sources edited while the suite runs must not make every spawned lbdns refuse to start.
  process.env.LBDNS_SKIP_BUILD_CHECK = '1';
}
