// Tells a node about committed edits: LISTEN lbdns_changes when it can, polling config_version otherwise.
import pg from 'pg';
import type { Logger } from 'pino';

export const CHANNEL = 'lbdns_changes';

export interface Change {
  /** The one zone the change touched, or null (several zones, a deleted zone, or noticed by polling). */
  readonly zone: string | null;
  /** The table changed, or "*" when the change was noticed by polling. */
  readonly table: string;
  /** config_version after the change. */
  readonly version: number;
}

export interface FeedStatus {
  /** How changes are noticed right now. */
  readonly via: 'listen' | 'poll';
  /** True when LISTEN is the normal way but is down and polling stands in for it. */
  readonly degraded: boolean;
  /** False while the store cannot be reached at all (the last poll failed). */
  readonly storeReachable: boolean;
  readonly error?: string;
}

export interface WatchOptions {
  /** The version the caller has already seen (e.g. of its last loadContents); newer ones are reported at once. */
  readonly sinceVersion?: number;
}

export interface FeedSource {
  /** Reads config_version. */
  readonly version: () => Promise<number>;
  /** A connection string for a dedicated LISTEN connection; absent: poll only (embedded PGlite). */
  readonly listenUrl?: string;
  /** Poll period while LISTEN is down, or always when there is no listenUrl. */
  readonly pollMs: number;
  readonly logger?: Logger;
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

function parsePayload(payload: string | undefined): Change | undefined {
  try {
    const p = JSON.parse(payload ?? '') as { table?: unknown; zone?: unknown; version?: unknown };
    if (typeof p.table !== 'string' || typeof p.version !== 'number') return undefined;
    return { table: p.table, zone: typeof p.zone === 'string' ? p.zone : null, version: p.version };
  } catch {
    return undefined;
  }
}

/** Starts watching; resolves once the first LISTEN attempt (or the first poll) is done, with a stop function. */
export async function watchChanges(
  src: FeedSource,
  onChange: (c: Change) => void,
  onStatus: (s: FeedStatus) => void = () => {},
  opts: WatchOptions = {},
): Promise<() => Promise<void>> {
  const log = src.logger;
  let stopped = false;
  let last = opts.sinceVersion;
  let client: pg.Client | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectDelay = RECONNECT_MIN_MS;
  let polling = false;
  let status: FeedStatus | undefined;

  const setStatus = (s: FeedStatus): void => {
    const changed = status === undefined || status.via !== s.via || status.degraded !== s.degraded || status.storeReachable !== s.storeReachable;
    status = s;
    if (!changed) return;
    if (s.degraded || !s.storeReachable) log?.warn({ feed: s }, 'change feed degraded');
    else log?.info({ feed: s }, 'change feed ready');
    onStatus(s);
  };

  // A polled version replaces `last` outright: it may even go down, after a database restore.
  const emit = (c: Change, polled: boolean): void => {
    last = polled || last === undefined ? c.version : Math.max(last, c.version);
    onChange(c);
  };

  /** Reads the version and reports it when it moved; returns false when the store did not answer. */
  const check = async (): Promise<boolean> => {
    try {
      const v = await src.version();
      if (stopped) return true;
      if (last === undefined) last = v;
      else if (v !== last) emit({ zone: null, table: '*', version: v }, true);
      return true;
    } catch (err) {
      if (!stopped) setStatus({ via: 'poll', degraded: src.listenUrl !== undefined, storeReachable: false, error: (err as Error).message });
      return false;
    }
  };

  const poll = async (): Promise<void> => {
    if (polling || stopped) return;
    polling = true;
    try {
      if (await check()) setStatus({ via: 'poll', degraded: src.listenUrl !== undefined, storeReachable: true });
    } finally {
      polling = false;
    }
  };

  const startPolling = (): void => {
    if (pollTimer === undefined && !stopped) pollTimer = setInterval(() => void poll(), src.pollMs);
  };
  const stopPolling = (): void => {
    if (pollTimer !== undefined) clearInterval(pollTimer);
    pollTimer = undefined;
  };

  const listenDown = (err: unknown): void => {
    const c = client;
    client = undefined;
    c?.removeAllListeners('notification');
    c?.end().catch(() => {});
    if (stopped) return;
    const error = err instanceof Error ? err.message : String(err);
    setStatus({ via: 'poll', degraded: true, storeReachable: status?.storeReachable ?? true, error });
    startPolling();
    if (reconnectTimer === undefined) {
      reconnectTimer = setTimeout(() => {
        reconnectTimer = undefined;
        void listen();
      }, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
    }
  };

  const listen = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: src.listenUrl, connectionTimeoutMillis: 5000, keepAlive: true });
    c.on('error', (err) => {
      if (client === c) listenDown(err);
    });
    c.on('end', () => {
      if (client === c) listenDown(new Error('LISTEN connection closed'));
    });
    c.on('notification', (n) => {
      if (n.channel !== CHANNEL || stopped) return;
      const change = parsePayload(n.payload);
      if (change === undefined) log?.warn({ payload: n.payload }, 'unreadable change notification ignored');
      else emit(change, false);
    });
    client = c;
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      if (client === c) listenDown(err);
      return;
    }
    if (stopped || client !== c) return;
    reconnectDelay = RECONNECT_MIN_MS;
    stopPolling();
    // Edits committed while LISTEN was down (or before the caller's sinceVersion) are caught up here.
    if (await check()) setStatus({ via: 'listen', degraded: false, storeReachable: true });
  };

  if (src.listenUrl !== undefined) {
    await listen();
  } else {
    await poll();
    startPolling();
  }

  return async () => {
    stopped = true;
    stopPolling();
    if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
    const c = client;
    client = undefined;
    if (c !== undefined) await c.end().catch(() => {});
  };
}
