// Network-namespace lab for health agreed across vantage points: two lbdns nodes, a probe agent, backends, a client.
//
// Namespaces lbvt-<pid>-<tag>-*: a bridge in its own "switch" namespace joins the client, node A, node B, the agent
// and the backends' router on 198.19.0.0/24; the backends' addresses (198.19.1.0/24) live on the backends namespace's
// loopback, reached through 198.19.0.20 by a route in each vantage point's namespace, so that replacing that route with
// a blackhole in one namespace cuts that vantage point alone. The host gets no interface; every address is in
// 198.18.0.0/15 and clear of netns.ts's 198.18.0.0/24. Nodes and the agent reach PostgreSQL through its Unix socket.
// Teardown is by PID and by namespace name only.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseDig } from './dig.js';
import { ROOT, alive, killNamespacePids, sh, stopChild, tryRun } from './netns.js';

const run = promisify(execFile);
const BIN = join(ROOT, 'bin/lbdns.js');
const PREFIX = 'lbvt-';

export const LAN = {
  client: '198.19.0.10',
  a: '198.19.0.11',
  b: '198.19.0.12',
  g: '198.19.0.13',
  router: '198.19.0.20',
} as const;
export const BACKEND_NET = '198.19.1.0/24';
export const BACKENDS = ['198.19.1.1', '198.19.1.2', '198.19.1.3', '198.19.1.4'] as const;
export const BACKEND_PORT = 8080;
export const ZONE = 'vt.test';

export type VantageId = 'a' | 'b' | 'g';
export type NodeId = 'a' | 'b';
/** LBDNS_NODE_NAME of the nodes, --name of the agent. */
export const NAMES: Readonly<Record<VantageId, string>> = { a: 'node-a', b: 'node-b', g: 'agent-g' };
export const VANTAGES: readonly VantageId[] = ['a', 'b', 'g'];
export const HTTP_PORT: Readonly<Record<VantageId, number>> = { a: 9153, b: 9153, g: 9154 };

/** One request a backend received: when (its clock, the same machine's), to which backend address, from which source. */
export interface BackendHit {
  readonly t: number;
  readonly local: string;
  readonly remote: string;
}

/** A node http server inside the backends namespace, one listener per backend address; a JSON line per request. */
const BACKEND_SOURCE = String.raw`
const http = require('node:http');
const addrs = JSON.parse(process.env.LBVT_BACKENDS);
const port = Number(process.env.LBVT_PORT);
let up = 0;
for (const a of addrs) {
  const s = http.createServer((req, res) => {
    process.stdout.write(JSON.stringify({ t: Date.now(), local: a, remote: req.socket.remoteAddress }) + '\n');
    res.end('ok\n');
  });
  s.listen(port, a, () => {
    if (++up === addrs.length) process.stdout.write(JSON.stringify({ listening: addrs }) + '\n');
  });
}
process.on('SIGTERM', () => process.exit(0));
`;

/** GET from inside a namespace: status and body as one JSON line. */
const FETCH_SOURCE = String.raw`
fetch(process.argv[1], { signal: AbortSignal.timeout(3000) }).then(
  async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })),
  (e) => process.stdout.write(JSON.stringify({ error: String(e) })),
);
`;

/** Why the lab cannot run here, or undefined when it can. */
export function missingPrerequisites(pgSocketDir = '/var/run/postgresql', pgPort = 5432): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  for (const cmd of ['ip', 'dig']) if (!tryRun('sh', ['-c', `command -v ${cmd}`])) return `${cmd} is not installed`;
  const probe = `${PREFIX}${process.pid}-probe`;
  if (!tryRun('ip', ['netns', 'add', probe])) return '`ip netns add` fails here (no network namespace support)';
  tryRun('ip', ['netns', 'delete', probe]);
  if (!existsSync(BIN)) return 'bin/lbdns.js is missing';
  if (!existsSync(join(pgSocketDir, `.s.PGSQL.${pgPort}`))) return `no PostgreSQL Unix socket in ${pgSocketDir} (namespaced nodes reach PostgreSQL only through it)`;
  return undefined;
}

export function cleanLeftovers(): string[] {
  const removed: string[] = [];
  let list = '';
  try {
    list = sh('ip', ['netns', 'list']);
  } catch {
    return removed;
  }
  for (const line of list.split('\n')) {
    const ns = line.split(' ')[0];
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(ns);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    killNamespacePids(ns);
    tryRun('ip', ['netns', 'delete', ns]);
    removed.push(ns);
  }
  for (const entry of readdirSync(tmpdir())) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(entry);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
  return removed;
}

/** Namespaces of this process that still exist (none after teardown). */
export function ownNamespaces(): string[] {
  try {
    return sh('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((ns) => ns.startsWith(`${PREFIX}${process.pid}-`));
  } catch {
    return [];
  }
}

/** What a node answers for a name: the sorted addresses, or the rcode when it is not NOERROR, or 'timeout'. */
export type Answer = readonly string[] | 'SERVFAIL' | 'REFUSED' | 'NXDOMAIN' | 'timeout' | string;

export class VantageLab {
  readonly id = `${PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  readonly dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
  readonly ns = {
    sw: `${this.id}-sw`,
    client: `${this.id}-c`,
    a: `${this.id}-a`,
    b: `${this.id}-b`,
    g: `${this.id}-g`,
    be: `${this.id}-be`,
  } as const;
  /** Every request the backends logged, in arrival order. */
  readonly hits: BackendHit[] = [];
  private readonly children = new Map<string, ChildProcess>();
  private readonly streams: WriteStream[] = [];
  private torn = false;

  private constructor(private readonly databaseUrl: string) {}

  /** Builds every namespace and link; nothing runs in them yet. */
  static create(databaseUrl: string): VantageLab {
    const lab = new VantageLab(databaseUrl);
    try {
      lab.build();
    } catch (err) {
      void lab.teardown();
      throw err;
    }
    return lab;
  }

  private build(): void {
    const all = Object.values(this.ns);
    for (const ns of all) {
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh('ip', ['-n', this.ns.sw, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', this.ns.sw, 'link', 'set', 'br0', 'up']);
    const hosts: [string, string, string][] = [
      [this.ns.client, 'pc', LAN.client],
      [this.ns.a, 'pa', LAN.a],
      [this.ns.b, 'pb', LAN.b],
      [this.ns.g, 'pg', LAN.g],
      [this.ns.be, 'pe', LAN.router],
    ];
    for (const [ns, port, addr] of hosts) {
      sh('ip', ['-n', this.ns.sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh('ip', ['-n', this.ns.sw, 'link', 'set', port, 'master', 'br0', 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    for (const b of BACKENDS) sh('ip', ['-n', this.ns.be, 'addr', 'add', `${b}/32`, 'dev', 'lo']);
    for (const v of VANTAGES) this.unblock(v);
    mkdirSync(join(this.dir, 'seed'));
    writeFileSync(
      join(this.dir, 'seed', `${ZONE}.zone`),
      [`$ORIGIN ${ZONE}.`, '$TTL 300', '@ IN SOA ns1 hostmaster 1 3600 900 604800 300', '  IN NS ns1', `ns1 IN A ${LAN.a}`, ''].join('\n'),
    );
  }

  /** Cuts the vantage point's path to the backends: a blackhole route in its own namespace, nobody else's. */
  block(v: VantageId): void {
    sh('ip', ['-n', this.ns[v], 'route', 'replace', 'blackhole', BACKEND_NET]);
  }

  unblock(v: VantageId): void {
    sh('ip', ['-n', this.ns[v], 'route', 'replace', BACKEND_NET, 'via', LAN.router, 'dev', 'eth0']);
  }

  private log(name: string): WriteStream {
    const s = createWriteStream(join(this.dir, name), { flags: 'a' });
    this.streams.push(s);
    return s;
  }

  /** Spawns `argv` in a namespace; resolves once a stdout line satisfies `ready`. */
  private start(key: string, ns: string, argv: string[], env: Record<string, string>, ready: (line: string) => boolean, onLine?: (line: string) => void, timeoutMs = 60_000): Promise<void> {
    const old = this.children.get(key);
    if (old && old.exitCode === null && old.signalCode === null) throw new Error(`${key} is already running`);
    const out = this.log(`${key}.log`);
    out.write(`--- start at ${new Date().toISOString()}\n`);
    // `ip netns exec` execs the command, so child.pid is the command's own PID.
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.set(key, child);
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
      out.write(d);
    });
    return new Promise<void>((res, rej) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        rej(new Error(`${key} not ready in ${timeoutMs} ms: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      let pending = '';
      child.stdout!.on('data', (d) => {
        out.write(d);
        pending += d;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          onLine?.(line);
          if (!done && ready(line)) {
            done = true;
            clearTimeout(timer);
            res();
          }
        }
      });
      child.once('exit', (code, signal) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        rej(new Error(`${key} exited (${code ?? signal}) before it was ready: ${stderr.slice(-2000)}`));
      });
    });
  }

  /** The backends' http server, logging every request. */
  startBackends(): Promise<void> {
    return this.start(
      'backends',
      this.ns.be,
      [process.execPath, '-e', BACKEND_SOURCE],
      { LBVT_BACKENDS: JSON.stringify(BACKENDS), LBVT_PORT: String(BACKEND_PORT) },
      (line) => line.startsWith('{"listening"'),
      (line) => {
        if (!line.startsWith('{"t"')) return;
        this.hits.push(JSON.parse(line) as BackendHit);
      },
    );
  }

  private env(v: VantageId, extra: Record<string, string>): Record<string, string> {
    return {
      DATABASE_URL: this.databaseUrl,
      LBDNS_DATA_DIR: join(this.dir, `data-${v}`),
      LBDNS_LOG_LEVEL: 'info',
      // Votes count for 3 heartbeats: a stopped agent ages out in 1.5 s.
      LBDNS_VANTAGE_HEARTBEAT: '0.5',
      ...(process.env.LBDNS_SKIP_BUILD_CHECK ? { LBDNS_SKIP_BUILD_CHECK: process.env.LBDNS_SKIP_BUILD_CHECK } : {}),
      ...extra,
    };
  }

  /** `lbdns serve` in the node's namespace, DNS and ops HTTP on its LAN address; resolves when it is ready. */
  startNode(id: NodeId): Promise<void> {
    const env = this.env(id, {
      LBDNS_NODE_NAME: NAMES[id],
      LBDNS_LISTEN: `${LAN[id]}:53`,
      LBDNS_HTTP_LISTEN: `${LAN[id]}:${HTTP_PORT[id]}`,
      LBDNS_WORKERS: '1',
      LBDNS_RRL_RATE: '0',
      LBDNS_SEED_DIR: join(this.dir, 'seed'),
    });
    return this.start(id, this.ns[id], [process.execPath, BIN, 'serve'], env, (line) => line.includes('"ops http listening"'));
  }

  /** `lbdns probe-agent` in its own namespace, /readyz on its LAN address. */
  startAgent(): Promise<void> {
    const argv = [process.execPath, BIN, 'probe-agent', '--name', NAMES.g, '--http', `${LAN.g}:${HTTP_PORT.g}`];
    return this.start('g', this.ns.g, argv, this.env('g', {}), (line) => line.includes('"probe agent running"'));
  }

  /** Stops one process of the lab by its PID (SIGTERM, then SIGKILL). */
  async stop(key: VantageId | 'backends'): Promise<void> {
    await stopChild(this.children.get(key));
  }

  /** `dig` from the client namespace. */
  async answer(node: NodeId, name: string): Promise<Answer> {
    let stdout: string;
    try {
      ({ stdout } = await run('ip', ['netns', 'exec', this.ns.client, 'dig', `@${LAN[node]}`, '+time=1', '+tries=1', '+nostats', '+nocmd', name, 'A'], { timeout: 5000 }));
    } catch (err) {
      const out = (err as { stdout?: string }).stdout ?? '';
      if (out.includes('timed out') || out.includes('no servers could be reached')) return 'timeout';
      throw err;
    }
    const d = parseDig(stdout);
    if (d.status !== 'NOERROR') return d.status;
    return d.answer.filter((r) => r.type === 'A').map((r) => r.data).sort();
  }

  /** GET on a vantage point's ops port, from the client namespace: the parsed JSON body. */
  async ops(v: VantageId, path: string): Promise<{ status: number; body: any }> {
    const url = `http://${LAN[v]}:${HTTP_PORT[v]}${path}`;
    const { stdout } = await run('ip', ['netns', 'exec', this.ns.client, process.execPath, '-e', FETCH_SOURCE, url], { timeout: 10_000 });
    const r = JSON.parse(stdout) as { status?: number; body?: string; error?: string };
    if (r.error !== undefined) throw new Error(`GET ${url}: ${r.error}`);
    return { status: r.status!, body: JSON.parse(r.body!) };
  }

  /** Requests each backend got in [from, to), by source address. */
  countHits(from: number, to: number): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>(BACKENDS.map((b) => [b, new Map<string, number>()]));
    for (const h of this.hits) {
      if (h.t < from || h.t >= to) continue;
      const bySource = out.get(h.local);
      if (bySource) bySource.set(h.remote, (bySource.get(h.remote) ?? 0) + 1);
    }
    return out;
  }

  /** Stops every process this lab started, by PID, deletes its namespaces and its directory. Idempotent. */
  async teardown(): Promise<void> {
    if (this.torn) return;
    this.torn = true;
    await Promise.all([...this.children.values()].map((c) => stopChild(c).catch(() => undefined)));
    for (const ns of Object.values(this.ns)) {
      killNamespacePids(ns);
      tryRun('ip', ['netns', 'delete', ns]);
    }
    for (const s of this.streams) s.end();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** PIDs of the processes this lab started that may still run. */
  processIds(): number[] {
    return [...this.children.values()].flatMap((c) => (c.pid !== undefined ? [c.pid] : []));
  }

  /** The tail of each process's log, for a failure message. */
  diagnostics(lines = 30): string {
    const parts: string[] = [];
    for (const name of existsSync(this.dir) ? readdirSync(this.dir) : []) {
      if (!name.endsWith('.log') || name === 'backends.log') continue;
      let text = '';
      try {
        text = readFileSync(join(this.dir, name), 'utf8');
      } catch {
        // removed meanwhile
      }
      parts.push(`== ${name}\n${text.split('\n').slice(-lines).join('\n')}`);
    }
    return parts.join('\n');
  }
}
