// Tells a node about committed edits: LISTEN lbdns_changes when it can, polling config_version otherwise.
import net from 'node:net';
import pg from 'pg';
import type { Logger } from 'pino';

export const CHANNEL = 'lbdns_changes';
/** Votes cast, moved or withdrawn (migrations/0011_vantage_votes.sql); its payloads go to WatchOptions.votes as they are. */
export const VOTES_CHANNEL = 'lbdns_votes';

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
  /** False while the store cannot be reached at all (the last poll failed or went unanswered). */
  readonly storeReachable: boolean;
  readonly error?: string;
}

export interface WatchOptions {
  /** The version the caller has already seen (e.g. of its last loadContents); newer ones are reported at once. */
  readonly sinceVersion?: number;
  /** Told each time the LISTEN connection misses a heartbeat (one call per failure, for a counter). */
  readonly onHeartbeatFailure?: (error: string) => void;
  /**
   * LISTEN lbdns_votes on the same connection: each payload, and a call each time LISTEN (re)starts, after which
   * votes missed while it was down must be read again. Polling does not stand in for it: the caller reads votes itself.
   */
  readonly votes?: { readonly onVotes: (payload: string) => void; readonly onListening: () => void };
}

export interface FeedSource {
  /** Reads config_version. */
  readonly version: () => Promise<number>;
  /** A connection string for a dedicated LISTEN connection; absent: poll only (LBDNS_CHANGE_FEED=poll). */
  readonly listenUrl?: string;
  /** Poll period while LISTEN is down, or always when there is no listenUrl. */
  readonly pollMs: number;
  /** A poll not answered within this many ms counts as the store unreachable; absent: wait for the answer. */
  readonly pollDeadlineMs?: number;
  /** TCP keepalive idle time of the LISTEN connection. */
  readonly keepAliveMs?: number;
  /**
   * Called when a heartbeat or a poll goes unanswered: the other connections over the same path are as
   * suspect. The poll that follows waits for the promise it returns (the connections being gone).
   */
  readonly onLinkLost?: () => void | Promise<void>;
  readonly logger?: Logger;
}

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;
/**
 * A heartbeat every second, each answered within 1.5 s: a link that dies just after an answer is
 * declared dead at most 1 s + 1.5 s (+ a turn of the event loop) later, inside the 3 s promised.
 */
export const HEARTBEAT_INTERVAL_MS = 1000;
export const HEARTBEAT_DEADLINE_MS = 1500;

function parsePayload(payload: string | undefined): Change | undefined {
  try {
    const p = JSON.parse(payload ?? '') as { table?: unknown; zone?: unknown; version?: unknown };
    if (typeof p.table !== 'string' || typeof p.version !== 'number') return undefined;
    return { table: p.table, zone: typeof p.zone === 'string' ? p.zone : null, version: p.version };
  } catch {
    return undefined;
  }
}

class DeadlineError extends Error {}

/** Rejects with a DeadlineError when `p` has not settled within `ms`; the timer does not keep the process alive. */
export function withDeadline<T>(p: Promise<T>, ms: number | undefined, what: string): Promise<T> {
  if (ms === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineError(`${what}: no answer in ${ms} ms`)), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** One LISTEN connection and the socket under it, which a half-open link forces us to destroy by hand. */
interface Link {
  readonly client: pg.Client;
  readonly socket: net.Socket;
  beat?: NodeJS.Timeout;
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
  let link: Link | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let reconnectDelay = RECONNECT_MIN_MS;
  let polling: Promise<void> | undefined;
  let status: FeedStatus | undefined;

  const setStatus = (s: FeedStatus): void => {
    const changed = status === undefined || status.via !== s.via || status.degraded !== s.degraded || status.storeReachable !== s.storeReachable;
    status = s;
    if (changed) onStatus(s);
  };

  // A polled version replaces `last` outright: it may even go down, after a database restore.
  const emit = (c: Change, polled: boolean): void => {
    last = polled || last === undefined ? c.version : Math.max(last, c.version);
    onChange(c);
  };

  /** Reads the version and reports it when it moved; returns false when the store did not answer. */
  const check = async (): Promise<boolean> => {
    try {
      const read = (): Promise<number> => withDeadline(src.version(), src.pollDeadlineMs, 'reading config_version');
      // A pooled connection can have died unnoticed since its last use (cut by onLinkLost a moment ago,
      // or PostgreSQL restarted): one more try gets a fresh one. An unanswered read is not tried again.
      const v = await read().catch((err: unknown) => {
        if (err instanceof DeadlineError) throw err;
        return read();
      });
      if (stopped) return true;
      if (last === undefined) last = v;
      else if (v !== last) emit({ zone: null, table: '*', version: v }, true);
      return true;
    } catch (err) {
      if (stopped) return false;
      setStatus({ via: 'poll', degraded: src.listenUrl !== undefined, storeReachable: false, error: (err as Error).message });
      // Unanswered rather than refused: the connection it waits on may be half-open, like any other in the pool.
      if (err instanceof DeadlineError) void Promise.resolve(src.onLinkLost?.()).catch(() => {});
      return false;
    }
  };

  const poll = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    polling ??= (async () => {
      try {
        if ((await check()) && link === undefined) setStatus({ via: 'poll', degraded: src.listenUrl !== undefined, storeReachable: true });
      } finally {
        polling = undefined;
      }
    })();
    return polling;
  };

  const startPolling = (): void => {
    if (pollTimer === undefined && !stopped) pollTimer = setInterval(() => void poll(), src.pollMs);
  };
  const stopPolling = (): void => {
    if (pollTimer !== undefined) clearInterval(pollTimer);
    pollTimer = undefined;
  };

  /** Forgets a LISTEN connection at once; its socket is destroyed because a half-open one would never finish a polite end. */
  const drop = (l: Link): void => {
    if (l.beat !== undefined) clearInterval(l.beat);
    l.client.removeAllListeners('notification');
    l.socket.destroy();
  };

  /** `cut`: a poll must wait for it (the pooled connections being replaced) so as not to use a dying one. */
  const listenDown = (l: Link, err: unknown, cut?: Promise<unknown>): void => {
    if (link !== l) return;
    link = undefined;
    drop(l);
    if (stopped) return;
    const error = err instanceof Error ? err.message : String(err);
    // Polling starts now, not one period later: edits must not wait for the reconnection. Before any
    // status was reported, reachability is unknown: the poll started here reports it.
    if (status !== undefined) setStatus({ via: 'poll', degraded: true, storeReachable: status.storeReachable, error });
    startPolling();
    if (cut === undefined) void poll();
    else void cut.then(poll);
    if (reconnectTimer === undefined) {
      reconnectTimer = setTimeout(() => {
        reconnectTimer = undefined;
        void listen();
      }, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
    }
  };

  const heartbeat = (l: Link): NodeJS.Timeout => {
    let pending = false;
    return setInterval(() => {
      if (pending || link !== l) return;
      pending = true;
      let answered = false;
      const deadline = setTimeout(() => {
        // Decided after the I/O phase of this loop turn: an answer that waited behind a long
        // synchronous task (a big snapshot build) is read first and is not mistaken for a dead link.
        setImmediate(() => {
          if (answered || link !== l) return;
          const error = `heartbeat unanswered for ${HEARTBEAT_DEADLINE_MS} ms`;
          log?.warn({ err: error }, 'change feed heartbeat failed: polling until LISTEN is back');
          opts.onHeartbeatFailure?.(error);
          const cut = withDeadline(Promise.resolve(src.onLinkLost?.()), HEARTBEAT_DEADLINE_MS, 'closing pooled connections').catch(() => {});
          listenDown(l, new Error(error), cut);
        });
      }, HEARTBEAT_DEADLINE_MS);
      l.client.query('SELECT 1').then(
        () => {
          answered = true;
          pending = false;
          clearTimeout(deadline);
        },
        (err) => {
          answered = true;
          clearTimeout(deadline);
          listenDown(l, err);
        },
      );
    }, HEARTBEAT_INTERVAL_MS);
  };

  const listen = async (): Promise<void> => {
    const socket = new net.Socket();
    const c = new pg.Client({
      connectionString: src.listenUrl,
      connectionTimeoutMillis: 5000,
      keepAlive: true,
      keepAliveInitialDelayMillis: src.keepAliveMs ?? 0,
      stream: () => socket,
    });
    const l: Link = { client: c, socket };
    c.on('error', (err) => listenDown(l, err));
    c.on('end', () => listenDown(l, new Error('LISTEN connection closed')));
    c.on('notification', (n) => {
      if (stopped) return;
      if (n.channel === VOTES_CHANNEL) {
        if (n.payload !== undefined) opts.votes?.onVotes(n.payload);
        return;
      }
      if (n.channel !== CHANNEL) return;
      const change = parsePayload(n.payload);
      if (change === undefined) log?.warn({ payload: n.payload }, 'unreadable change notification ignored');
      else emit(change, false);
    });
    link = l;
    try {
      await c.connect();
      // The LISTEN itself can go unanswered on a half-open path: it gets the heartbeat's deadline.
      await withDeadline(c.query(opts.votes ? `LISTEN ${CHANNEL}; LISTEN ${VOTES_CHANNEL}` : `LISTEN ${CHANNEL}`), HEARTBEAT_DEADLINE_MS, 'LISTEN');
    } catch (err) {
      listenDown(l, err);
      return;
    }
    if (stopped || link !== l) return;
    l.beat = heartbeat(l);
    reconnectDelay = RECONNECT_MIN_MS;
    stopPolling();
    // Edits committed while LISTEN was down (or before the caller's sinceVersion) are caught up here;
    // until that read succeeds the node is not up to date, so it does not claim to be listening.
    if (!(await check())) listenDown(l, new Error('LISTEN is up but config_version could not be read'));
    else if (link === l) {
      setStatus({ via: 'listen', degraded: false, storeReachable: true });
      opts.votes?.onListening();
    }
  };

  if (src.listenUrl !== undefined) {
    await listen();
    // LISTEN failed: the first poll (started by listenDown) says whether the store answers at all.
    if (link === undefined) await poll();
  } else {
    await poll();
    startPolling();
  }

  return async () => {
    stopped = true;
    stopPolling();
    if (reconnectTimer !== undefined) clearTimeout(reconnectTimer);
    const l = link;
    link = undefined;
    if (l === undefined) return;
    if (l.beat !== undefined) clearInterval(l.beat);
    // A polite end when the link answers; a dead link must not hold up the shutdown.
    await withDeadline(l.client.end(), HEARTBEAT_DEADLINE_MS, 'closing LISTEN').catch(() => {});
    drop(l);
  };
}
