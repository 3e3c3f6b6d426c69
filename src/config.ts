// Configuration: every LBDNS_* variable parsed once with zod, frozen, and handed out in slices.
import { availableParallelism, hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { LbdnsError } from './errors.js';
import { parseNetwork } from './geo/address.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** Parses `addr:port`, `[v6]:port`; the address must be a literal (sockets bind literals). */
export function parseListenAddress(text: string): ListenAddress {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([0-9.]+):(\d{1,5})$/.exec(text);
  if (!m) throw new Error(`"${text}" is not addr:port or [v6addr]:port`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`"${text}": port ${port} is above 65535`);
  const host = m[1];
  const family = host.includes(':') ? 6 : 4;
  if (family === 4 && z.ipv4().safeParse(host).success === false) throw new Error(`"${text}": ${host} is not an IPv4 address`);
  if (family === 6 && z.ipv6().safeParse(host).success === false) throw new Error(`"${text}": ${host} is not an IPv6 address`);
  return { host, port, family };
}

const listenList = z.string().transform((value, ctx) => {
  const out: ListenAddress[] = [];
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    try {
      out.push(parseListenAddress(part));
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  }
  if (out.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'needs at least one addr:port' });
    return z.NEVER;
  }
  return out;
});

const oneListen = listenList.refine((l) => l.length === 1, 'takes exactly one addr:port').transform((l) => l[0]);
/** LBDNS_WORKERS may be set up to this; each worker holds a full copy of the snapshot. */
export const MAX_WORKERS = 64;
/** The default never exceeds this: past it, more workers add memory (a snapshot each) faster than answers. */
export const MAX_DEFAULT_WORKERS = 8;

/**
 * CPUs this process may really use: the affinity mask (os.availableParallelism) and, in a container, the
 * cgroup v2 CPU quota (cpu.max "200000 100000" is 2 CPUs), which Node 20 does not look at. A container
 * limited to 2 CPUs on a 64-core host must not start 64 workers, each with a full snapshot.
 */
export function usableCpus(readCpuMax: () => string | undefined = readCgroupCpuMax): number {
  let cpus = availableParallelism();
  const [quota, period] = (readCpuMax() ?? '').trim().split(/\s+/);
  if (quota !== undefined && quota !== 'max' && Number(quota) > 0 && Number(period) > 0) cpus = Math.min(cpus, Math.ceil(Number(quota) / Number(period)));
  return Math.max(1, cpus);
}

function readCgroupCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return undefined;
  }
}

const defaultWorkers = (): number => Math.min(usableCpus(), MAX_DEFAULT_WORKERS);

/** Comma-separated CIDR networks (v4 and v6; a bare address is its /32 or /128), host bits clear. */
const networkList = z.string().transform((value, ctx) => {
  const out: string[] = [];
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!parseNetwork(part)) {
      ctx.addIssue({ code: 'custom', message: `"${part}" is not an address or CIDR network with its host bits clear (e.g. 198.18.0.11/32, 2001:db8::/56)` });
      return z.NEVER;
    }
    out.push(part);
  }
  return out;
});

const bool = z.enum(['0', '1', 'true', 'false', 'yes', 'no', 'on', 'off']).transform((v) => ['1', 'true', 'yes', 'on'].includes(v));
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** The environment schema: the variable name is the key, so every error names its variable. */
const envSchema = z.object({
  DATABASE_URL: z.string().min(1).optional(),
  LBDNS_DATA_DIR: z.string().min(1).default('./data'),
  LBDNS_SEED_DIR: z.string().min(1).optional(),
  LBDNS_LISTEN: listenList.default([{ host: '127.0.0.1', port: 5300, family: 4 }]),
  LBDNS_HTTP_LISTEN: oneListen.default({ host: '127.0.0.1', port: 9153, family: 4 }),
  LBDNS_EMBEDDED_PG_LISTEN: oneListen.default({ host: '127.0.0.1', port: 5433, family: 4 }),
  LBDNS_NODE_NAME: z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces').default(hostname()),
  LBDNS_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LBDNS_QUERY_LOG_SAMPLE: z.coerce.number().min(0).max(1).default(0),
  LBDNS_TCP_IDLE_MS: int(100, 600_000).default(10_000),
  LBDNS_RELOAD_DEBOUNCE_MS: int(0, 5_000).default(50),
  LBDNS_POLL_INTERVAL: z.coerce.number().min(0.1).max(3600).default(2),
  LBDNS_CHANGE_FEED: z.enum(['listen', 'poll']).default('listen'),
  LBDNS_WORKERS: int(1, MAX_WORKERS).default(defaultWorkers()),
  LBDNS_SNAPSHOT_FILE: z.string().min(1).optional(),
  LBDNS_ROLE_FILE: z.string().min(1).optional(),
  LBDNS_GEOIP_DB: z.string().min(1).optional(),
  LBDNS_GEOIP_CACHE: int(1, 10_000_000).default(20_000),
  LBDNS_RRL_RATE: int(0, 1_000_000).default(500),
  LBDNS_RRL_SLIP: int(0, 100).default(2),
  LBDNS_RRL_IPV4_PREFIX: int(8, 32).default(24),
  LBDNS_RRL_IPV6_PREFIX: int(16, 128).default(56),
  LBDNS_RRL_EXEMPT: networkList.default([]),
  LBDNS_HEALTH_WRITE_INTERVAL: z.coerce.number().min(1).max(3600).default(30),
  // Seconds between this vantage point's heartbeats in vantage_points; its votes count while it is younger than 3 of them.
  LBDNS_VANTAGE_HEARTBEAT: z.coerce.number().min(0.2).max(60).default(2),
  // Seals the DNSSEC private keys in the store (src/dnssec/keys.ts); never logged. Unset: signed zones go out unsigned.
  LBDNS_KEY_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  // Memory for cached RRSIGs per process (src/dnssec/sign.ts), in MiB.
  LBDNS_DNSSEC_CACHE_MB: z.coerce.number().min(1).max(2047).default(64),
  LBDNS_TCP_MAX_CONNECTIONS: int(1, 1_000_000).default(1000),
  LBDNS_TCP_MAX_PER_CLIENT: int(1, 1_000_000).default(32),
  LBDNS_TCP_MAX_QUERIES: int(0, 10_000_000).default(1000),
  LBDNS_TCP_MAX_BUFFERED: int(1024, 64 * 1024 * 1024).default(256 * 1024),
  // Days the audit log and the health history keep their rows; each serving node prunes hourly (src/health/history-retention.ts).
  LBDNS_AUDIT_RETENTION: int(1, 36_500).default(90),
  LBDNS_HEALTH_HISTORY_RETENTION: int(1, 36_500).default(14),
  LBDNS_HTTP_STATUS: bool.default(true),
  LBDNS_HTTP_EXPLAIN: bool.default(true),
  // The HTTP API (docs/api.md): off unless set; plain HTTP on loopback only, TLS from these files anywhere.
  LBDNS_API_LISTEN: oneListen.optional(),
  LBDNS_API_TLS_CERT: z.string().min(1).optional(),
  LBDNS_API_TLS_KEY: z.string().min(1).optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  readonly store: {
    /** undefined: the embedded PostgreSQL in dataDir. */
    readonly databaseUrl: string | undefined;
    readonly dataDir: string;
    readonly embeddedListen: ListenAddress;
  };
  /** *.zone files (and pools.json) loaded into a store that holds no zone yet; undefined: never seed. */
  readonly seedDir: string | undefined;
  /** The last good store contents, written after every load (default: <dataDir>/snapshot.json). */
  readonly snapshotFile: string;
  readonly dns: {
    /** DNS worker processes; 1: answer in the main process itself. */
    readonly workers: number;
    readonly listen: readonly ListenAddress[];
    readonly tcpIdleMs: number;
    readonly nodeName: string;
    readonly tcp: { readonly maxConnections: number; readonly maxPerClient: number; readonly maxQueries: number; readonly maxBuffered: number };
    readonly rrl: {
      readonly ratePerSecond: number;
      readonly slip: number;
      readonly ipv4Prefix: number;
      readonly ipv6Prefix: number;
      /** Networks never rate limited (CIDR text). */
      readonly exempt: readonly string[];
    };
  };
  /** member_health rows: written on a state change, otherwise at most once per writeIntervalMs per member. */
  readonly healthRows: { readonly writeIntervalMs: number };
  /** This vantage point's heartbeat (src/health/agreement.ts): one row write per interval. */
  readonly vantage: { readonly heartbeatMs: number };
  /** DNSSEC: the secret that opens the stored private keys, and the signature cache's size in bytes. */
  readonly dnssec: { readonly secret: string | undefined; readonly cacheBytes: number };
  readonly http: { readonly listen: ListenAddress; readonly status: boolean; readonly explain: boolean };
  /** The HTTP API: undefined when LBDNS_API_LISTEN is not set; tls undefined only on a loopback address. */
  readonly api: { readonly listen: ListenAddress; readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined } | undefined;
  /** GeoIP database (undefined: the bundled one) and how many lookups to cache. */
  readonly geo: { readonly database: string | undefined; readonly cacheSize: number };
  /** Where keepalived's notify script writes this node's VRRP state; undefined: not part of a pair. */
  readonly roleFile: string | undefined;
  readonly log: { readonly level: Env['LBDNS_LOG_LEVEL']; readonly querySample: number };
  readonly feed: { readonly debounceMs: number; readonly pollIntervalMs: number; readonly mode: 'listen' | 'poll' };
  /** Days kept: audit_log rows and member_transitions rows (migrations/0013_audit.sql). */
  readonly history: { readonly auditRetentionDays: number; readonly healthRetentionDays: number };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The key secret as a property that is not enumerable: read where it is used, but a config (or this slice) that is
 * logged, serialised to JSON or inspected does not show it. zod's messages for it never quote the value either.
 */
function dnssecSlice(secret: string | undefined, cacheBytes: number): Config['dnssec'] {
  const slice = { cacheBytes };
  Object.defineProperty(slice, 'secret', { value: secret, enumerable: false });
  return slice as Config['dnssec'];
}

/** Reads the environment; throws one LbdnsError listing every invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') cleaned[key] = v;
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new LbdnsError('E_CONFIG', `invalid configuration: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  const api = apiSlice(e);
  return deepFreeze({
    store: { databaseUrl: e.DATABASE_URL, dataDir: resolve(e.LBDNS_DATA_DIR), embeddedListen: e.LBDNS_EMBEDDED_PG_LISTEN },
    seedDir: e.LBDNS_SEED_DIR === undefined ? undefined : resolve(e.LBDNS_SEED_DIR),
    snapshotFile: resolve(e.LBDNS_SNAPSHOT_FILE ?? `${e.LBDNS_DATA_DIR}/snapshot.json`),
    dns: {
      workers: e.LBDNS_WORKERS,
      listen: e.LBDNS_LISTEN,
      tcpIdleMs: e.LBDNS_TCP_IDLE_MS,
      nodeName: e.LBDNS_NODE_NAME,
      tcp: {
        maxConnections: e.LBDNS_TCP_MAX_CONNECTIONS,
        maxPerClient: e.LBDNS_TCP_MAX_PER_CLIENT,
        maxQueries: e.LBDNS_TCP_MAX_QUERIES,
        maxBuffered: e.LBDNS_TCP_MAX_BUFFERED,
      },
      rrl: {
        ratePerSecond: e.LBDNS_RRL_RATE,
        slip: e.LBDNS_RRL_SLIP,
        ipv4Prefix: e.LBDNS_RRL_IPV4_PREFIX,
        ipv6Prefix: e.LBDNS_RRL_IPV6_PREFIX,
        exempt: e.LBDNS_RRL_EXEMPT,
      },
    },
    healthRows: { writeIntervalMs: Math.round(e.LBDNS_HEALTH_WRITE_INTERVAL * 1000) },
    vantage: { heartbeatMs: Math.round(e.LBDNS_VANTAGE_HEARTBEAT * 1000) },
    dnssec: dnssecSlice(e.LBDNS_KEY_SECRET, Math.round(e.LBDNS_DNSSEC_CACHE_MB * 1024 * 1024)),
    http: { listen: e.LBDNS_HTTP_LISTEN, status: e.LBDNS_HTTP_STATUS, explain: e.LBDNS_HTTP_EXPLAIN },
    api,
    roleFile: e.LBDNS_ROLE_FILE ? resolve(e.LBDNS_ROLE_FILE) : undefined,
    geo: { database: e.LBDNS_GEOIP_DB === undefined ? undefined : resolve(e.LBDNS_GEOIP_DB), cacheSize: e.LBDNS_GEOIP_CACHE },
    log: { level: e.LBDNS_LOG_LEVEL, querySample: e.LBDNS_QUERY_LOG_SAMPLE },
    feed: { debounceMs: e.LBDNS_RELOAD_DEBOUNCE_MS, pollIntervalMs: Math.round(e.LBDNS_POLL_INTERVAL * 1000), mode: e.LBDNS_CHANGE_FEED },
    history: { auditRetentionDays: e.LBDNS_AUDIT_RETENTION, healthRetentionDays: e.LBDNS_HEALTH_HISTORY_RETENTION },
  });
}

/** 127.0.0.0/8 and ::1: the only addresses the API may listen on without TLS. */
export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^(0{0,4}:){2,7}0{0,3}1$/.test(host);
}

/** The API slice: tokens must never cross a network in clear, so any address but loopback needs a certificate and key. */
function apiSlice(e: Env): Config['api'] {
  const listen = e.LBDNS_API_LISTEN;
  const cert = e.LBDNS_API_TLS_CERT;
  const key = e.LBDNS_API_TLS_KEY;
  if ((cert === undefined) !== (key === undefined)) {
    throw new LbdnsError('E_CONFIG', `invalid configuration: LBDNS_API_TLS_CERT and LBDNS_API_TLS_KEY go together (${cert === undefined ? 'LBDNS_API_TLS_CERT' : 'LBDNS_API_TLS_KEY'} is missing)`);
  }
  if (listen === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    if (!isLoopback(listen.host)) {
      throw new LbdnsError('E_CONFIG', `invalid configuration: LBDNS_API_LISTEN: ${listen.host} is not a loopback address, so the API needs TLS: set LBDNS_API_TLS_CERT and LBDNS_API_TLS_KEY`);
    }
    return { listen, tls: undefined };
  }
  return { listen, tls: { certFile: resolve(cert), keyFile: resolve(key) } };
}

/** Removes the password from a connection string, for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@');
  }
}
