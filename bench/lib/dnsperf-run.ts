// One dnsperf run at saturation against a loopback port, pinned to the load generator's cores, and its summary.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { onCleanup } from './cleanup.js';

const run = promisify(execFile);

export interface DnsperfOptions {
  readonly port: number;
  readonly queryFile: string;
  readonly seconds: number;
  readonly clients: number;
  /** Queries in flight at once. */
  readonly outstanding: number;
  /** taskset CPU list for dnsperf, or undefined: not pinned. */
  readonly cpus: string | undefined;
  /** Hex of an ECS option's data (RFC 7871 section 6), sent as EDNS option 8 with every query. */
  readonly ecsHex?: string;
  /** Set the DO bit (dnsperf -D) on every query. */
  readonly dnssecOk?: boolean;
}

export interface DnsperfResult {
  readonly sent: number;
  readonly completed: number;
  readonly lost: number;
  readonly qps: number;
  readonly avgLatencyMs: number;
  /** Reply codes dnsperf counted, e.g. { NOERROR: 100, NXDOMAIN: 0 }. */
  readonly rcodes: Readonly<Record<string, number>>;
  readonly command: string;
}

export async function dnsperf(o: DnsperfOptions): Promise<DnsperfResult> {
  // EDNS on every query, as resolvers send it; -E implies it too.
  const args = ['-s', '127.0.0.1', '-p', String(o.port), '-d', o.queryFile, '-l', String(o.seconds), '-c', String(o.clients), '-q', String(o.outstanding), '-t', '2', '-e'];
  if (o.ecsHex) args.push('-E', `8:${o.ecsHex}`);
  if (o.dnssecOk) args.push('-D');
  const [cmd, argv] = o.cpus ? ['taskset', ['-c', o.cpus, 'dnsperf', ...args]] : ['dnsperf', args];
  // Bounded: dnsperf stops after -l seconds plus its -t timeout; the kill is only for a hang.
  const running = run(cmd, argv, { maxBuffer: 256 << 20, timeout: (o.seconds + 30) * 1000, killSignal: 'SIGKILL' });
  const forget = onCleanup('dnsperf', () => void running.child.kill('SIGKILL'));
  const { stdout } = await running.finally(forget);
  const out = stdout
    .split('\n')
    .filter((l) => !l.startsWith('[Timeout]'))
    .join('\n');
  const num = (re: RegExp): number => {
    const m = re.exec(out);
    if (!m) throw new Error(`dnsperf output without ${re}: ${out.slice(0, 2000)}`);
    return Number(m[1]);
  };
  const rcodes: Record<string, number> = {};
  const block = /Response codes:\s+(.*)/.exec(out)?.[1] ?? '';
  for (const m of block.matchAll(/([A-Z]+) (\d+)/g)) rcodes[m[1]] = Number(m[2]);
  return {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    rcodes,
    command: `${cmd} ${argv.join(' ')}`,
  };
}
