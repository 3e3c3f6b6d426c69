// The CLI checks pool and member settings with the pool schema before it opens a store: a mistake needs no database.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { POLICY_NAMES } from '../../src/policies/registry.js';
import { USAGE } from '../../src/cli/usage.js';
import { root } from './harness.js';

/** Nothing listens on port 1: reaching for the database would fail with ECONNREFUSED instead of the input's message. */
const env = { ...process.env, DATABASE_URL: 'postgres://lbdns@127.0.0.1:1/x', LBDNS_LOG_LEVEL: 'silent' };

function lbdns(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(root, 'bin/lbdns.js'), ...args], { env, cwd: root, timeout: 30_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr });
    });
  });
}

describe('pool and member settings are checked before the store is opened', () => {
  it.each([
    [['pool', 'add', 'lb.example.test', '--ttl', '0'], 'lbdns: ttl 0 must be a whole number from 1 to 3600\n'],
    [['pool', 'set', 'lb.example.test', '--policy', 'random'], `lbdns: policy "random" must be one of ${POLICY_NAMES.join(', ')}\n`],
    [['pool', 'set', 'lb.example.test', '--check', 'icmp'], 'lbdns: check "icmp" must be one of http, https, tcp\n'],
    [['member', 'add', 'lb.example.test', '192.0.2.1', '--weight', '1000001'], 'lbdns: weight 1000001 must be a whole number from 0 to 1000000\n'],
    [['member', 'set', 'lb.example.test', '192.0.2.1', '--continent', 'XX'], 'lbdns: continent "XX" must be one of AF, AN, AS, EU, NA, OC, SA\n'],
  ])('%j', async (args, line) => {
    expect(await lbdns(args)).toEqual({ code: 2, stderr: line });
  });

  it("the help lists the registry's policies", () => {
    expect(USAGE['pool add'].usage[0]).toContain(`--policy ${POLICY_NAMES.join('|')}`);
  });
});
