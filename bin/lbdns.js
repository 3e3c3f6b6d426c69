#!/usr/bin/env node
// Entry point of lbdns (CLI and server): runs the compiled build in dist/, never the TypeScript sources.
//
// In a checkout (src/ present) a build older than any source file is refused with one line, so that an
// edit followed by a restart never runs yesterday's code silently. `npm ci` builds (prepare); after an
// edit, `npm run build` (0.4 s). Installed images ship dist/ without src/, and skip the check.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const src = new URL('src/', root);
const stamp = new URL('dist/BUILD', root);

function newestSource(dir) {
  let newest = { mtimeMs: 0, path: '' };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(entry.isDirectory() ? `${entry.name}/` : entry.name, dir);
    const found = entry.isDirectory() ? newestSource(url) : { mtimeMs: statSync(url).mtimeMs, path: url.pathname };
    if (found.mtimeMs > newest.mtimeMs) newest = found;
  }
  return newest;
}

if (!existsSync(stamp)) {
  process.stderr.write('lbdns: there is no build in dist/: run `npm ci` (or `npm run build`) first\n');
  process.exit(1);
}
// LBDNS_SKIP_BUILD_CHECK=1: set by the test runner, which builds once before the tests start.
if (existsSync(src) && !process.env.LBDNS_WORKER && process.env.LBDNS_SKIP_BUILD_CHECK !== '1') {
  const newest = newestSource(src);
  if (newest.mtimeMs > statSync(stamp).mtimeMs) {
    const rel = newest.path.slice(new URL(root).pathname.length);
    process.stderr.write(`lbdns: the build in dist/ is older than ${rel}: run \`npm run build\`\n`);
    process.exit(1);
  }
}
await import(new URL('dist/cli/main.js', root).href);
