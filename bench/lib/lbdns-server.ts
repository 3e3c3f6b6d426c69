// Runs `node bin/lbdns.js serve` for a benchmark (pinned, RRL off) and waits until /readyz says 200.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { onCleanup } from './cleanup.js';
import { endTree, procId, tree, type ProcId } from './proc.js';

export const ROOT = resolve(import.meta.dirname, '../..');

/** A loopback port free for both UDP and TCP (lbdns binds both), found by binding port 0. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = dgram.createSocket('udp4');
    const port = await new Promise<number>((r) => udp.bind(0, '127.0.0.1', () => r(udp.address().port)));
    const tcpFree = await new Promise<boolean>((r) => {
      const s = net.createServer();
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
    });
    udp.close();
    if (tcpFree) return port;
  }
  throw new Error('no free loopback port for UDP and TCP');
}

export interface LbdnsOptions {
  readonly databaseUrl: string;
  readonly dataDir: string;
  /** taskset CPU list, or undefined: not pinned. */
  readonly cpus: string | undefined;
  /** LBDNS_WORKERS, or undefined: the server's default. */
  readonly workers: string | undefined;
  readonly readyTimeoutMs: number;
  /** Extra node flags for the server, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
}

export interface LbdnsProcess {
  readonly id: ProcId;
  /** false: /readyz did not say 200 within readyTimeoutMs (the process is left running for a post-mortem). */
  readonly ready: boolean;
  readonly dnsPort: number;
  readonly httpPort: number;
  /** Spawn → first /readyz 200; NaN when not ready. */
  readonly readyMs: number;
  /** `ms` of every 'snapshot loaded' line so far (one per process that builds a snapshot). */
  readonly snapshotMs: number[];
  /** Log lines by message, and the warn/error ones themselves (bounded). */
  readonly counts: Map<string, number>;
  readonly problems: unknown[];
  exited(): boolean;
  /** The PIDs of the server's processes now (also remembered, so that stop() can end each of them). */
  pids(): number[];
  /** SIGTERM, then SIGKILL for whatever of its tree is left after 10 s. */
  stop(): Promise<void>;
}

export async function startLbdns(o: LbdnsOptions): Promise<LbdnsProcess> {
  const dnsPort = await freePort();
  const httpPort = await freePort();
  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    LBDNS_LISTEN: `127.0.0.1:${dnsPort}`,
    LBDNS_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    LBDNS_DATA_DIR: o.dataDir,
    LBDNS_NODE_NAME: 'bench',
    // Throughput from one client address: response rate limiting would (rightly) drop most of it.
    LBDNS_RRL_RATE: '0',
    LBDNS_QUERY_LOG_SAMPLE: '0',
    // info, for the 'snapshot loaded' line and its build time; nothing is logged per query.
    LBDNS_LOG_LEVEL: 'info',
  };
  if (o.workers !== undefined) env.LBDNS_WORKERS = o.workers;
  const node = [process.execPath, ...(o.nodeFlags ?? []), join(ROOT, 'bin/lbdns.js'), 'serve'];
  const [cmd, argv] = o.cpus ? ['taskset', ['-c', o.cpus, ...node]] : [node[0], node.slice(1)];
  const started = performance.now();
  const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  const id = await new Promise<ProcId>((res, rej) => {
    child.once('spawn', () => {
      const p = procId(child.pid!);
      if (p) res(p);
      else rej(new Error('lbdns ended at once'));
    });
    child.once('error', rej);
  });
  const seen = new Map<number, ProcId>();
  const pids = (): number[] => {
    const now = tree(id.pid);
    for (const pid of now) {
      const p = procId(pid);
      if (p) seen.set(pid, p);
    }
    return now;
  };
  const stop = async (): Promise<void> => {
    removeCleanup();
    pids();
    await endTree(id, seen.values());
  };
  const removeCleanup = onCleanup(`lbdns (pid ${id.pid})`, stop);
  const snapshotMs: number[] = [];
  const counts = new Map<string, number>();
  const problems: unknown[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
  let pending = '';
  // Every line is read (the pipe must never fill up and stall the server), little is kept.
  child.stdout!.on('data', (d) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let entry: { msg?: string; ms?: number; level?: number; up?: number };
      try {
        entry = JSON.parse(line);
      } catch {
        continue;
      }
      const msg = entry.msg ?? '?';
      counts.set(msg, (counts.get(msg) ?? 0) + 1);
      // First results of up are debug lines; the first round's summary counts them under 'member up'.
      if (msg === 'first probe round done' && typeof entry.up === 'number') counts.set('member up', (counts.get('member up') ?? 0) + entry.up);
      if (msg === 'snapshot loaded' && typeof entry.ms === 'number') snapshotMs.push(entry.ms);
      if ((entry.level ?? 0) >= 40 && problems.length < 20 && msg !== 'member down') problems.push(entry);
    }
  });
  const deadline = Date.now() + o.readyTimeoutMs;
  let readyMs = NaN;
  while (Number.isNaN(readyMs) && Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`lbdns exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr}`);
    const status = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) readyMs = performance.now() - started;
    else await new Promise((r) => setTimeout(r, 50));
    pids();
  }
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return { id, ready: !Number.isNaN(readyMs), dnsPort, httpPort, readyMs, snapshotMs, counts, problems, exited, pids, stop };
}
