// Runs the real CLI binary against a test database, and checks failures: one stderr line, the store unchanged.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Store } from '../../src/store/store.js';
import type { TestDatabase } from '../helpers/db.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/lbdns.js');

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliHarness {
  lbdns(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<Run>;
  /** A failure: the status, exactly one stderr line, nothing on stdout, and the store as it was. */
  fails(args: readonly string[], code: number, line: string | RegExp, env?: NodeJS.ProcessEnv): Promise<void>;
}

/** `target` is read at each call, so that it can be filled in by beforeAll. */
export function cliHarness(target: () => { readonly db: TestDatabase; readonly store: Store }): CliHarness {
  function lbdns(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
    const { db } = target();
    const base = { ...process.env, DATABASE_URL: db.url ?? '', LBDNS_DATA_DIR: db.dataDir, LBDNS_LOG_LEVEL: 'silent' };
    return new Promise((resolve) => {
      execFile(process.execPath, [bin, ...args], { env: { ...base, ...env }, cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      });
    });
  }

  async function fails(args: readonly string[], code: number, line: string | RegExp, env?: NodeJS.ProcessEnv): Promise<void> {
    const { store } = target();
    const before = await store.loadContents();
    const r = await lbdns(args, env);
    expect(r.stdout).toBe('');
    expect(r.stderr.endsWith('\n') && r.stderr.split('\n').length === 2, `one stderr line, got ${JSON.stringify(r.stderr)}`).toBe(true);
    if (typeof line === 'string') expect(r.stderr).toBe(`lbdns: ${line}\n`);
    else expect(r.stderr).toMatch(line);
    expect(r.code).toBe(code);
    expect(await store.loadContents()).toEqual(before);
  }

  return { lbdns, fails };
}
