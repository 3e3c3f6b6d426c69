// Validating resolvers for DNSSEC tests: a real Unbound (validator, optionally subnetcache) stubbed to lbdns with a
// zone's DS as its only trust anchor, and BIND's delv asked directly against lbdns with the same anchor.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { closedPort } from '../health/servers.js';
import { dig } from './dig.js';

const run = promisify(execFile);
const H = '127.0.0.1';

export interface UnboundOptions {
  /** The zone lbdns serves, stubbed to it and anchored by `ds`. */
  readonly zone: string;
  /** The DS line as `lbdns dnssec enable` prints it ("zone. IN DS tag alg 2 HEX"). */
  readonly ds: string;
  readonly lbdnsPort: number;
  /** Add subnetcache in front of the validator, sending ECS (up to /24) to lbdns. */
  readonly ecs?: boolean;
  /** A name in the zone that answers `readyStatus` (default NOERROR) once Unbound and lbdns both work. */
  readonly probeName: string;
  readonly readyStatus?: string;
}

export interface Unbound {
  readonly port: number;
  readonly pid: number;
  /** `unbound-control` against this instance (flush_zone, flush_bogus, ...); its output. */
  control(...args: string[]): Promise<string>;
  /** Unbound's log so far (validation failures are logged at val-log-level 2). */
  log(): string;
  /** SIGTERM to this process's PID, and its directory removed. */
  stop(): Promise<void>;
}

/** Starts Unbound and waits (at most 15 s) until `probeName` through lbdns gets `readyStatus`. */
export async function startUnbound(o: UnboundOptions): Promise<Unbound> {
  const dir = mkdtempSync(join(tmpdir(), 'lbdns-unbound-'));
  const port = await closedPort(H);
  const conf = join(dir, 'unbound.conf');
  const logFile = join(dir, 'unbound.log');
  writeFileSync(
    conf,
    [
      'server:',
      `  interface: ${H}`,
      `  port: ${port}`,
      '  do-ip6: no',
      `  directory: "${dir}"`,
      '  chroot: ""',
      '  username: ""',
      `  pidfile: "${join(dir, 'unbound.pid')}"`,
      '  use-syslog: no',
      `  logfile: "${logFile}"`,
      '  verbosity: 1',
      '  val-log-level: 2',
      '  access-control: 127.0.0.0/8 allow',
      '  do-not-query-localhost: no',
      '  qname-minimisation: no',
      '  num-threads: 1',
      // No other anchor: the zone's DS is the only thing Unbound trusts.
      `  trust-anchor: "${o.ds}"`,
      o.ecs ? '  module-config: "subnetcache validator iterator"' : '  module-config: "validator iterator"',
      ...(o.ecs ? [`  send-client-subnet: ${H}`, '  max-client-subnet-ipv4: 24'] : []),
      // Unbound answers the special-use test. zone itself (RFC 6761) unless told not to.
      '  local-zone: "test." nodefault',
      'remote-control:',
      '  control-enable: yes',
      `  control-interface: "${join(dir, 'control.sock')}"`,
      '  control-use-cert: no',
      'stub-zone:',
      `  name: "${o.zone}"`,
      `  stub-addr: ${H}@${o.lbdnsPort}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '') + stderr;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const t0 = Date.now();
  for (;;) {
    const r = await dig(H, port, [o.probeName, 'A'], { timeoutSec: 1 }).catch(() => undefined);
    if (r !== undefined && r.status === (o.readyStatus ?? 'NOERROR')) break;
    if (child.exitCode !== null || Date.now() - t0 > 15_000) {
      const text = log();
      await stop();
      throw new Error(`unbound did not resolve ${o.probeName} (last: ${r?.status ?? 'no reply'}): ${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    pid: child.pid!,
    async control(...args: string[]) {
      const { stdout } = await run('unbound-control', ['-c', conf, ...args], { timeout: 10_000 });
      return stdout;
    },
    log,
    stop,
  };
}

export interface DelvResult {
  /** delv's exit status. */
  readonly code: number;
  /** stdout and stderr together: "; fully validated", "; negative response, fully validated", or why not. */
  readonly text: string;
}

/**
 * `delv -a ANCHORS +root=ZONE @127.0.0.1 -p PORT NAME TYPE`: validates from the zone's DS down, asking lbdns
 * directly. The anchor file is written next to nothing else and removed afterwards.
 */
export async function delv(zone: string, ds: string, lbdnsPort: number, name: string, type: string): Promise<DelvResult> {
  const m = /^(\S+?)\.?\s+(?:\d+\s+)?(?:IN\s+)?DS\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9A-Fa-f]+)\s*$/.exec(ds.trim());
  if (!m) throw new Error(`not a DS line: ${ds}`);
  const dir = mkdtempSync(join(tmpdir(), 'lbdns-delv-'));
  try {
    const anchors = join(dir, 'anchors.conf');
    writeFileSync(anchors, `trust-anchors { ${m[1]}. static-ds ${m[2]} ${m[3]} ${m[4]} "${m[5]}"; };\n`);
    const args = ['-a', anchors, `+root=${zone}`, `@${H}`, '-p', String(lbdnsPort), name, type];
    return await new Promise<DelvResult>((resolve) => {
      execFile('delv', args, { timeout: 20_000 }, (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, text: `${stdout}${stderr}` });
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
