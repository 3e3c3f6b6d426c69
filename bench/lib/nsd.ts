// NSD as the reference server: installed from Debian's packages when missing, run in the foreground on loopback.
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildQuery } from '../../test/helpers/wire.js';
import { ask } from './dns-client.js';
import { onCleanup } from './cleanup.js';
import { endTree, procId, tree, type ProcId } from './proc.js';
import { nsdConf } from '../../test/helpers/nsd-conf.js';

const run = promisify(execFile);

export async function nsdPath(): Promise<string> {
  for (const p of ['/usr/sbin/nsd', '/usr/local/sbin/nsd']) if (existsSync(p)) return p;
  console.error('nsd is missing: installing it from Debian packages');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['install', '-y', '-qq', 'nsd'], { env }).catch(async () => {
    await run('apt-get', ['update', '-qq']);
    await run('apt-get', ['install', '-y', '-qq', 'nsd'], { env });
  });
  if (!existsSync('/usr/sbin/nsd')) throw new Error('nsd is still missing after apt-get install nsd');
  return '/usr/sbin/nsd';
}

export interface NsdProcess {
  readonly id: ProcId;
  readonly port: number;
  readonly version: string;
  stop(): Promise<void>;
}

/**
 * Starts `nsd -d` (foreground: the PID we hold is NSD's main process, its server and xfrd children hang below it)
 * with one server process, serving `zones` (files in dir) on 127.0.0.1:port, and waits until it answers SOA.
 * minimal-responses as in test/integration/compare-nsd.test.ts, so both servers send the same sections; RRL off.
 */
export async function startNsd(opts: { dir: string; port: number; zones: readonly string[]; cpus: string | undefined }): Promise<NsdProcess> {
  const nsd = await nsdPath();
  const { stdout, stderr } = await run(nsd, ['-v']).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
  const version = /NSD version (\S+)/.exec(stdout + stderr)?.[1] ?? '?';
  const { dir, port } = opts;
  const conf = join(dir, 'nsd.conf');
  writeFileSync(
    conf,
    nsdConf({
      dir,
      port,
      zones: opts.zones,
      // NSD's response rate limiting is on by default (200/s per class): off, as it is for lbdns here.
      serverExtra: '  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  verbosity: 1\n',
    }),
  );

  const [cmd, argv] = opts.cpus ? ['taskset', ['-c', opts.cpus, nsd, '-d', '-c', conf]] : [nsd, ['-d', '-c', conf]];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderrText = '';
  child.stderr!.on('data', (d) => (stderrText = (stderrText + d).slice(-4000)));
  const id = await new Promise<ProcId>((resolve, reject) => {
    child.once('spawn', () => {
      const p = procId(child.pid!);
      if (p) resolve(p);
      else reject(new Error('nsd ended at once'));
    });
    child.once('error', reject);
  });
  const seen = new Map<number, ProcId>();
  const stop = async (): Promise<void> => {
    removeCleanup();
    for (const pid of tree(id.pid)) {
      const p = procId(pid);
      if (p) seen.set(pid, p);
    }
    await endTree(id, seen.values());
  };
  const removeCleanup = onCleanup(`nsd (pid ${id.pid})`, stop);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nsd exited with ${child.exitCode}: ${stderrText}`);
    const r = await ask(port, buildQuery({ name: opts.zones[0], qtype: 6 }), 300);
    if (r?.rcode === 0 && r.answers.length > 0) {
      for (const pid of tree(id.pid)) {
        const p = procId(pid);
        if (p) seen.set(pid, p);
      }
      return { id, port, version, stop };
    }
    if (Date.now() > deadline) throw new Error(`nsd did not answer within 30 s: ${stderrText}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
