// Network-namespace lab for the failover test and benchmark: a switch, a client and two lbdns nodes under keepalived.
//
// Everything lives in namespaces named lbft-<pid>-*: the bridge sits in its own "switch"
// namespace, so the host gets no interface at all, and every address comes from
// 198.18.0.0/24 (RFC 2544 benchmarking space). The nodes reach PostgreSQL through its Unix
// socket, which namespaces do not isolate. Teardown is by PID and by namespace name only.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseDig, type DigResult } from './dig.js';

export const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/lbdns.js');
const SHIPPED_SCRIPTS = join(ROOT, 'keepalived');
const SCRIPT_FILES = ['check-lbdns.sh', 'notify.sh', 'watch-lbdns.sh'];
let scriptsCopy: string | undefined;

/**
 * keepalived's script security refuses scripts under a directory writable by others, as a checkout under /tmp
 * is: the lab runs root-owned copies of the shipped scripts from a private directory under /run.
 */
function scriptsDir(): string {
  if (scriptsCopy) return scriptsCopy;
  const base = existsSync('/run') ? '/run' : '/var/lib';
  const dir = mkdtempSync(join(base, `lbdns-lab-${process.pid}-`));
  for (const f of SCRIPT_FILES) {
    writeFileSync(join(dir, f), readFileSync(join(SHIPPED_SCRIPTS, f)), { mode: 0o755 });
  }
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  scriptsCopy = dir;
  return dir;
}
const PREFIX = 'lbft-';

export const VIP = '198.18.0.100';
export const CLIENT_ADDR = '198.18.0.10';
export type NodeId = 'a' | 'b';
export const NODES = {
  a: { addr: '198.18.0.11', name: 'node-a', conf: 'keepalived.primary.conf' },
  b: { addr: '198.18.0.12', name: 'node-b', conf: 'keepalived.secondary.conf' },
} as const;
/** The zone whose SOA the keepalived check and the watcher ask for (zones/example.test.zone). */
export const CHECK_ZONE = 'example.test';
/** What `www.example.test A` holds in zones/example.test.zone: any other answer is wrong. */
export const WWW_ADDRESSES = ['192.0.2.10', '192.0.2.11'] as const;

export const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function sh(cmd: string, args: string[], opts: { input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000, input: opts.input });
}

export function tryRun(cmd: string, args: string[]): boolean {
  try {
    sh(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/** Replaces every {{NAME}}; an unknown or unfilled placeholder is an error, not a silent gap. */
export function renderTemplate(text: string, values: Readonly<Record<string, string>>): string {
  const out = text.replace(/\{\{([A-Z_]+)\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new Error(`no value for {{${key}}}`);
    return v;
  });
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the lab cannot run here, or undefined when it can. */
export function missingPrerequisites(pgSocketDir = '/var/run/postgresql', pgPort = 5432): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, keepalived)';
  for (const cmd of ['ip', 'keepalived', 'dig', 'bash']) {
    if (!tryRun('sh', ['-c', `command -v ${cmd}`])) return `${cmd} is not installed`;
  }
  const probe = `${PREFIX}${process.pid}-probe`;
  if (!tryRun('ip', ['netns', 'add', probe])) return '`ip netns add` fails here (no network namespace support)';
  tryRun('ip', ['netns', 'delete', probe]);
  if (!existsSync(BIN)) return 'bin/lbdns.js is missing';
  const unsafe = unsafeScriptPath();
  if (unsafe) return `keepalived (enable_script_security) would refuse the scripts: ${unsafe} is not owned by root or is writable by others`;
  if (!existsSync(join(pgSocketDir, `.s.PGSQL.${pgPort}`))) return `no PostgreSQL Unix socket in ${pgSocketDir} (namespaced nodes reach PostgreSQL only through it)`;
  return undefined;
}

/** The first directory or script on the scripts' path that keepalived's script security would reject. */
function unsafeScriptPath(): string | undefined {
  const scripts = scriptsDir();
  const paths = ['check-lbdns.sh', 'notify.sh'].map((f) => join(scripts, f));
  for (let dir = scripts; ; dir = dirname(dir)) {
    paths.push(dir);
    if (dir === dirname(dir)) break;
  }
  for (const p of paths) {
    const st = statSync(p);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0) return p;
  }
  return undefined;
}

/** Namespaces of this harness whose creating process is gone: kill their processes by PID, delete them. */
export function cleanLeftovers(): string[] {
  const removed: string[] = [];
  for (const base of ['/run', '/var/lib']) {
    let entries: string[] = [];
    try {
      entries = readdirSync(base);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const m = /^lbdns-lab-(\d+)-/.exec(entry);
      if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join(base, entry), { recursive: true, force: true });
    }
  }
  let list = '';
  try {
    list = sh('ip', ['netns', 'list']);
  } catch {
    return removed;
  }
  for (const line of list.split('\n')) {
    const ns = line.split(' ')[0];
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(ns);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner !== process.pid && alive(owner)) continue; // another run in progress
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

/** Every process in a namespace this harness created was started by it (lbdns, keepalived, scripts). */
export function killNamespacePids(ns: string): void {
  let pids: number[] = [];
  try {
    pids = sh('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number);
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const timer = setTimeout(() => res(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      res(true);
    });
  });
}

export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (await waitExit(child, graceMs)) return;
  child.kill('SIGKILL');
  await waitExit(child, 2000);
}

/** Polls until check() returns a value other than undefined/false; bounded by timeoutMs. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | false | Promise<T | undefined | false>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// The prober: a small node:dgram client run inside the client namespace. It sends one query
// every intervalMs to VIP:53, alternating CHAOS TXT id.server and `www.example.test A`, and
// prints one JSON line per query: the answer's facts, or a timeout. Bounded by maxMs.

const PROBER_SOURCE = String.raw`
const dgram = require('node:dgram');
const cfg = JSON.parse(process.env.LBFT_PROBE);
const now = () => performance.timeOrigin + performance.now();
const kinds = [
  { kind: 'id', name: 'id.server', type: 16, cls: 3 },
  { kind: 'www', name: 'www.example.test', type: 1, cls: 1 },
];
function query(id, k) {
  const labels = k.name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(k.type, 1);
  tail.writeUInt16BE(k.cls, 3);
  return Buffer.concat([head, ...labels, tail]);
}
function skipName(b, o) {
  for (;;) {
    const len = b[o];
    if (len === undefined) throw new Error('truncated name');
    if (len === 0) return o + 1;
    if ((len & 0xc0) === 0xc0) return o + 2;
    o += len + 1;
  }
}
function parse(b) {
  const flags = b.readUInt16BE(2);
  const out = { id: b.readUInt16BE(0), rcode: flags & 15, aa: (flags & 0x400) !== 0, qr: (flags & 0x8000) !== 0, data: [] };
  let o = 12;
  for (let i = b.readUInt16BE(4); i > 0; i--) o = skipName(b, o) + 4;
  for (let i = b.readUInt16BE(6); i > 0; i--) {
    o = skipName(b, o);
    const type = b.readUInt16BE(o);
    const len = b.readUInt16BE(o + 8);
    const rd = b.subarray(o + 10, o + 10 + len);
    if (rd.length !== len) throw new Error('truncated rdata');
    if (type === 1) out.data.push(Array.from(rd).join('.'));
    else if (type === 16) {
      let s = '';
      for (let p = 0; p < rd.length; p += rd[p] + 1) s += rd.subarray(p + 1, p + 1 + rd[p]).toString('latin1');
      out.data.push(s);
    } else out.data.push('type' + type);
    o += 10 + len;
  }
  return out;
}
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sock = dgram.createSocket('udp4');
const pending = new Map();
sock.on('message', (msg, rinfo) => {
  const recv = now();
  const from = rinfo.address + ':' + rinfo.port;
  let r;
  try {
    r = parse(msg);
  } catch (e) {
    emit({ malformed: String(e), from, recv });
    return;
  }
  const p = pending.get(r.id);
  if (!p) {
    emit({ late: true, id: r.id, from, recv });
    return;
  }
  pending.delete(r.id);
  clearTimeout(p.timer);
  emit({ seq: p.seq, kind: p.kind, sent: p.sent, recv, from, rcode: r.rcode, aa: r.aa, qr: r.qr, data: r.data });
});
sock.on('error', (e) => emit({ socketError: String(e) }));
const start = now();
let seq = 0;
let stopping = false;
function send() {
  if (stopping) return;
  if (now() - start > cfg.maxMs || seq >= cfg.maxCount) return finish();
  const k = kinds[seq % kinds.length];
  const id = seq & 0xffff;
  const sent = now();
  const entry = { seq, kind: k.kind, sent };
  entry.timer = setTimeout(() => {
    pending.delete(id);
    emit({ seq: entry.seq, kind: entry.kind, sent, timeout: true });
  }, cfg.timeoutMs);
  pending.set(id, entry);
  sock.send(query(id, k), cfg.port, cfg.server);
  seq++;
  setTimeout(send, Math.max(0, start + seq * cfg.intervalMs - now()));
}
function finish() {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), cfg.timeoutMs + 100);
}
process.on('SIGTERM', finish);
process.on('SIGINT', finish);
sock.bind(0, () => send());
`;

export interface ProbeResult {
  readonly seq: number;
  readonly kind: 'id' | 'www';
  readonly sent: number;
  readonly recv?: number;
  readonly timeout?: true;
  readonly from?: string;
  readonly rcode?: number;
  readonly aa?: boolean;
  readonly qr?: boolean;
  readonly data?: readonly string[];
}

export type Verdict = { readonly ok: true; readonly node?: string } | { readonly ok: false; readonly wrong: boolean; readonly why: string };

/** Missing (timeout) is expected during a failover; anything else that is not exactly right is wrong. */
export function judge(r: ProbeResult): Verdict {
  if (r.timeout) return { ok: false, wrong: false, why: 'timeout' };
  if (r.from !== `${VIP}:53`) return { ok: false, wrong: true, why: `reply from ${r.from}, not the VIP` };
  if (!r.qr || r.rcode !== 0) return { ok: false, wrong: true, why: `rcode ${r.rcode}` };
  const data = r.data ?? [];
  if (r.kind === 'id') {
    const names: string[] = [NODES.a.name, NODES.b.name];
    if (data.length === 1 && names.includes(data[0])) return { ok: true, node: data[0] };
    return { ok: false, wrong: true, why: `id.server said ${JSON.stringify(data)}` };
  }
  const sorted = [...data].sort();
  if (r.aa && sorted.length === WWW_ADDRESSES.length && sorted.every((a, i) => a === WWW_ADDRESSES[i])) return { ok: true };
  return { ok: false, wrong: true, why: `www answer ${JSON.stringify(data)} aa=${r.aa}` };
}

export interface Outage {
  /** First failed query sent → first good answer received after the last failure; 0 when none failed. */
  readonly windowMs: number;
  readonly lost: number;
  readonly wrong: readonly string[];
  /** The node whose id.server answer came first after the outage (or first in the range when none failed). */
  readonly resumedBy: string | undefined;
  readonly resumedAt: number | undefined;
}

/** The outage among queries sent in [from, to]; Infinity when answers never came back. */
export function measureOutage(results: readonly ProbeResult[], from: number, to = Infinity): Outage {
  const inRange = results.filter((r) => r.sent >= from && r.sent <= to).sort((x, y) => x.sent - y.sent);
  const verdicts = inRange.map((r) => ({ r, v: judge(r) }));
  const wrong = verdicts.flatMap(({ v }) => (!v.ok && v.wrong ? [v.why] : []));
  const failures = verdicts.filter(({ v }) => !v.ok);
  const last = failures.at(-1);
  const after = verdicts.filter(({ r, v }) => v.ok && (!last || r.sent > last.r.sent));
  const firstGood = after[0];
  const firstNode = after.find(({ v }) => v.ok && v.node !== undefined);
  const resumedBy = firstNode?.v.ok ? firstNode.v.node : undefined;
  if (failures.length === 0) return { windowMs: 0, lost: 0, wrong, resumedBy, resumedAt: firstGood?.r.recv };
  const windowMs = firstGood ? firstGood.r.recv! - failures[0].r.sent : Infinity;
  return { windowMs, lost: failures.length, wrong, resumedBy, resumedAt: firstGood?.r.recv };
}

export interface Prober {
  readonly results: ProbeResult[];
  /** Wrong replies the prober could not even match to a query (malformed, unexpected). */
  readonly strays: string[];
  /** The id.server node of the latest good answer received. */
  latestNode(): string | undefined;
  stop(): Promise<readonly ProbeResult[]>;
}

// ---------------------------------------------------------------------------------------------

interface NodeState {
  readonly id: NodeId;
  readonly ns: string;
  readonly dir: string;
  lbdns?: ChildProcess;
  keepalived?: ChildProcess;
  watcher?: ChildProcess;
  lbdnsStarts: number;
}

export interface LabOptions {
  /** Reachable from inside the namespaces, i.e. through the Unix socket. */
  readonly databaseUrl: string;
  readonly zonesDir?: string;
  /** Keep the run directory (configs, logs, role files) after teardown. */
  readonly keepDir?: boolean;
  /** What runs lbdns; default `node bin/lbdns.js serve`. Must exec in place (its PID is the server's). */
  readonly serveCommand?: readonly string[];
}

export class Lab {
  readonly id = `${PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  readonly sw = `${this.id}-sw`;
  readonly client = `${this.id}-c`;
  readonly dir: string;
  private readonly nodes: Record<NodeId, NodeState>;
  private readonly probers = new Set<ChildProcess>();
  private readonly streams: WriteStream[] = [];
  private torn = false;

  private constructor(private readonly opts: LabOptions) {
    this.dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
    this.nodes = {
      a: { id: 'a', ns: `${this.id}-a`, dir: join(this.dir, 'a'), lbdnsStarts: 0 },
      b: { id: 'b', ns: `${this.id}-b`, dir: join(this.dir, 'b'), lbdnsStarts: 0 },
    };
  }

  /** Builds the switch, the client and both node namespaces; nothing runs in them yet. */
  static async create(opts: LabOptions): Promise<Lab> {
    const lab = new Lab(opts);
    try {
      lab.build();
    } catch (err) {
      await lab.teardown();
      throw err;
    }
    return lab;
  }

  get namespaces(): string[] {
    return [this.sw, this.client, this.nodes.a.ns, this.nodes.b.ns];
  }

  private build(): void {
    for (const ns of this.namespaces) {
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    sh('ip', ['-n', this.sw, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', this.sw, 'link', 'set', 'br0', 'up']);
    const hosts: [string, string, string][] = [
      [this.client, 'pc', CLIENT_ADDR],
      [this.nodes.a.ns, 'pa', NODES.a.addr],
      [this.nodes.b.ns, 'pb', NODES.b.addr],
    ];
    for (const [ns, port, addr] of hosts) {
      // One veth per host: "port" stays in the switch on br0, its peer becomes the host's eth0.
      sh('ip', ['-n', this.sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      sh('ip', ['-n', this.sw, 'link', 'set', port, 'master', 'br0', 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    for (const node of Object.values(this.nodes)) {
      mkdirSync(node.dir, { recursive: true });
      // The secondary binds the VIP before it holds it, so answers start the moment it arrives.
      sh('ip', ['netns', 'exec', node.ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_nonlocal_bind=1']);
    }
  }

  private log(name: string): WriteStream {
    const s = createWriteStream(join(this.dir, name), { flags: 'a' });
    this.streams.push(s);
    return s;
  }

  /** `node bin/lbdns.js serve` inside the node's namespace, on VIP:53 and its own address; resolves when ready. `overrides` replace the lab's settings. */
  async startLbdns(id: NodeId, timeoutMs = 60_000, overrides: Readonly<Record<string, string>> = {}): Promise<void> {
    const node = this.nodes[id];
    if (node.lbdns && node.lbdns.exitCode === null && node.lbdns.signalCode === null) throw new Error(`lbdns ${id} is already running`);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      DATABASE_URL: this.opts.databaseUrl,
      LBDNS_LISTEN: `${VIP}:53,${NODES[id].addr}:53`,
      LBDNS_HTTP_LISTEN: '127.0.0.1:9153',
      LBDNS_NODE_NAME: NODES[id].name,
      // As docs/ha.md's env file: the pair's own addresses, where the keepalived check asks from, are never rate limited.
      LBDNS_RRL_EXEMPT: `${NODES.a.addr},${NODES.b.addr}`,
      LBDNS_SEED_DIR: this.opts.zonesDir ?? join(ROOT, 'zones'),
      LBDNS_DATA_DIR: join(node.dir, 'data'),
      LBDNS_LOG_LEVEL: 'info',
      // The test runner and the benchmark build dist/ once: sources others edit meanwhile must not stop a restart.
      ...(process.env.LBDNS_SKIP_BUILD_CHECK ? { LBDNS_SKIP_BUILD_CHECK: process.env.LBDNS_SKIP_BUILD_CHECK } : {}),
      ...overrides,
    };
    const out = this.log(`lbdns-${id}.log`);
    out.write(`--- start ${++node.lbdnsStarts} at ${new Date().toISOString()}\n`);
    // `ip netns exec` execs the command, so child.pid is lbdns's own PID.
    const command = this.opts.serveCommand ?? [process.execPath, BIN, 'serve'];
    const child = spawn('ip', ['netns', 'exec', node.ns, ...command], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    node.lbdns = child;
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
      out.write(d);
    });
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`lbdns ${id} not ready in ${timeoutMs} ms: ${stderr.slice(-2000)}`)), timeoutMs);
      let pending = '';
      child.stdout!.on('data', (d) => {
        out.write(d);
        pending += d;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (line.includes('"ops http listening"')) {
            clearTimeout(timer);
            res();
          }
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        rej(new Error(`lbdns ${id} exited (${code ?? signal}) before it was ready: ${stderr.slice(-2000)}`));
      });
    });
  }

  /** Kills lbdns by PID (SIGKILL: a crash, no goodbye) and waits for it to be gone. */
  async killLbdns(id: NodeId, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await stopChild(this.nodes[id].lbdns, signal, 5000);
  }

  /** keepalived with the shipped config rendered for this node; its own pid files. */
  startKeepalived(id: NodeId): void {
    const node = this.nodes[id];
    const template = readFileSync(join(SHIPPED_SCRIPTS, NODES[id].conf), 'utf8');
    const conf = join(node.dir, 'keepalived.conf');
    writeFileSync(
      conf,
      renderTemplate(template, {
        INTERFACE: 'eth0',
        VIP,
        NODE_ADDR: NODES[id].addr,
        DNS_PORT: '53',
        CHECK_ZONE,
        SCRIPT_DIR: scriptsDir(),
        RUN_DIR: node.dir,
      }),
    );
    const out = this.log(`keepalived-${id}.log`);
    const args = ['netns', 'exec', node.ns, 'keepalived', '--dont-fork', '--log-console', '--log-detail', '--no-syslog', '--vrrp'];
    args.push('--use-file', conf, '--pid', join(node.dir, 'keepalived.pid'), '--vrrp_pid', join(node.dir, 'vrrp.pid'));
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(out, { end: false });
    child.stderr!.pipe(out, { end: false });
    node.keepalived = child;
  }

  async stopKeepalived(id: NodeId): Promise<void> {
    const node = this.nodes[id];
    await stopChild(node.keepalived, 'SIGTERM', 5000);
    // The VRRP child normally exits with its parent; if the parent had to be SIGKILLed, it may not.
    const vrrpPid = Number(readFileIfAny(join(node.dir, 'vrrp.pid')).trim());
    if (vrrpPid > 0 && alive(vrrpPid) && readFileIfAny(`/proc/${vrrpPid}/cmdline`).includes('keepalived')) process.kill(vrrpPid, 'SIGKILL');
  }

  /** The optional fast watcher (keepalived/watch-lbdns.sh) in the node's namespace. */
  startWatcher(id: NodeId): void {
    const node = this.nodes[id];
    const out = this.log(`watcher-${id}.log`);
    const child = spawn('ip', ['netns', 'exec', node.ns, 'bash', join(scriptsDir(), 'watch-lbdns.sh'), NODES[id].addr, '53', join(node.dir, 'lbdns-watch'), CHECK_ZONE], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(out, { end: false });
    child.stderr!.pipe(out, { end: false });
    node.watcher = child;
  }

  async stopWatcher(id: NodeId): Promise<void> {
    await stopChild(this.nodes[id].watcher, 'SIGTERM', 3000);
  }

  /** Cuts (or restores) the node's cable: its port on the switch goes down, so eth0 loses carrier. */
  setLink(id: NodeId, up: boolean): void {
    sh('ip', ['-n', this.sw, 'link', 'set', id === 'a' ? 'pa' : 'pb', up ? 'up' : 'down']);
  }

  /** What notify.sh last wrote: MASTER, BACKUP, FAULT, STOP, or '' before the first transition. */
  role(id: NodeId): string {
    return readFileIfAny(join(this.nodes[id].dir, 'role')).trim();
  }

  transitions(id: NodeId): string {
    return readFileIfAny(join(this.nodes[id].dir, 'role.log'));
  }

  waitRole(id: NodeId, role: string, timeoutMs: number): Promise<true> {
    return waitFor(`${NODES[id].name} to be ${role} (is ${this.role(id) || 'nothing yet'})`, timeoutMs, () => this.role(id) === role, 50);
  }

  /** Whether the node's eth0 carries the VIP right now. */
  holdsVip(id: NodeId): boolean {
    return sh('ip', ['-n', this.nodes[id].ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0']).includes(` ${VIP}/`);
  }

  /** dig from the client namespace, parsed with the shared dig helper. */
  dig(server: string, args: string[]): DigResult {
    const out = sh('ip', ['netns', 'exec', this.client, 'dig', `@${server}`, '+time=1', '+tries=1', '+nostats', '+nocmd', ...args]);
    return parseDig(out);
  }

  /** Queries the VIP from the client namespace every intervalMs until stopped or maxMs has passed. */
  startProber(opts: { intervalMs?: number; timeoutMs?: number; maxMs?: number } = {}): Prober {
    const intervalMs = opts.intervalMs ?? 20;
    const maxMs = opts.maxMs ?? 120_000;
    const cfg = { server: VIP, port: 53, intervalMs, timeoutMs: opts.timeoutMs ?? 250, maxMs, maxCount: Math.ceil(maxMs / intervalMs) + 1 };
    const child = spawn('ip', ['netns', 'exec', this.client, process.execPath, '-e', PROBER_SOURCE], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LBFT_PROBE: JSON.stringify(cfg) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.probers.add(child);
    child.once('exit', () => this.probers.delete(child));
    const results: ProbeResult[] = [];
    const strays: string[] = [];
    let latest: string | undefined;
    let pending = '';
    child.stdout!.on('data', (d) => {
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const o = JSON.parse(line);
        if (typeof o.seq === 'number') {
          results.push(o);
          const v = judge(o);
          if (v.ok && v.node) latest = v.node;
        } else if (!o.late) strays.push(line);
      }
    });
    child.stderr!.on('data', (d) => strays.push(`stderr: ${d}`));
    return {
      results,
      strays,
      latestNode: () => latest,
      async stop() {
        await stopChild(child, 'SIGTERM', cfg.timeoutMs + 2000);
        return results;
      },
    };
  }

  /** Stops everything this lab started, by PID, deletes its namespaces and (unless kept) its directory. Idempotent. */
  async teardown(): Promise<void> {
    if (this.torn) return;
    this.torn = true;
    for (const p of this.probers) await stopChild(p, 'SIGTERM', 1000);
    for (const id of ['a', 'b'] as const) {
      await this.stopWatcher(id).catch(() => undefined);
      await this.stopKeepalived(id).catch(() => undefined);
      await stopChild(this.nodes[id].lbdns, 'SIGTERM', 5000).catch(() => undefined);
    }
    for (const ns of this.namespaces) {
      killNamespacePids(ns); // scripts keepalived ran and anything else a crash left behind
      tryRun('ip', ['netns', 'delete', ns]);
    }
    for (const s of this.streams) s.end();
    if (!this.opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every process this lab started that may still run: lbdns, keepalived and its VRRP child, watchers, probers. */
  processIds(): number[] {
    const pids: number[] = [];
    for (const node of Object.values(this.nodes)) {
      for (const child of [node.lbdns, node.keepalived, node.watcher]) if (child?.pid) pids.push(child.pid);
      const vrrp = Number(readFileIfAny(join(node.dir, 'vrrp.pid')).trim());
      if (vrrp > 0) pids.push(vrrp);
    }
    for (const p of this.probers) if (p.pid) pids.push(p.pid);
    return pids;
  }

  /** The tail of each log, for a failure message. */
  diagnostics(): string {
    const parts: string[] = [];
    for (const name of existsSync(this.dir) ? readdirSync(this.dir) : []) {
      if (!name.endsWith('.log')) continue;
      const text = readFileIfAny(join(this.dir, name));
      parts.push(`== ${name}\n${text.split('\n').slice(-25).join('\n')}`);
    }
    for (const id of ['a', 'b'] as const) parts.push(`== transitions ${id}\n${this.transitions(id)}`);
    return parts.join('\n');
  }
}

function readFileIfAny(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Namespaces of this process that still exist (should be none after teardown). */
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

/** The pg URL for a database on the local server, by its Unix socket (what namespaced nodes can reach). */
export function socketUrl(tcpUrl: string, socketDir = '/var/run/postgresql'): string {
  const u = new URL(tcpUrl);
  const user = decodeURIComponent(u.username || 'postgres');
  const db = u.pathname.replace(/^\//, '');
  const port = u.port || '5432';
  return `postgresql://${encodeURIComponent(user)}@/${db}?host=${socketDir}&port=${port}`;
}
