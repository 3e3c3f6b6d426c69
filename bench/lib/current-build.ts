// Imported first by every benchmark that runs lbdns: makes dist/ current once, then keeps it fixed for the run.
//
// What is measured is the build an operator runs (bin/lbdns.js refuses a build older than src/). Sources edited
// while a long benchmark runs must not stop the servers it starts later, hence LBDNS_SKIP_BUILD_CHECK.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

execFileSync(process.execPath, [resolve(import.meta.dirname, '../../scripts/build.mjs'), '--if-stale'], { stdio: 'inherit' });
process.env.LBDNS_SKIP_BUILD_CHECK = '1';
