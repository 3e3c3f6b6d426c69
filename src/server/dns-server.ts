// UDP and TCP listeners on every configured address; each packet goes through the pure core, one catch-all at this edge.
//
// The sockets are node:dgram and node:net rather than dns2's servers: dns2 parses before the
// handler sees the bytes (so it cannot answer FORMERR with the client's id), drops OPT on
// truncation, and gives no hook for per-connection limits. dns2 stays our RDATA codec.
import { formatAddress as formatRdataAddress } from '../geo/address.js';
import dgram from 'node:dgram';
import net from 'node:net';
import type { AnswerContext } from '../core/answer.js';
import { QTYPE, RCODE } from '../core/constants.js';
import { encodeAnswer, encodeRcodeOnly } from '../core/encode.js';
import type { Query } from '../core/query.js';
import { respond, type Outcome } from '../core/respond.js';
import type { Snapshot } from '../core/snapshot.js';
import type { ListenAddress } from '../config.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import type { ResponseRateLimiter, RrlKind } from './rrl.js';

export interface TcpLimits {
  /** Open connections at once, all clients together. */
  readonly maxConnections: number;
  /** Open connections at once from one client address. */
  readonly maxPerClient: number;
  /** Queries answered on one connection before it is closed (0: no limit). */
  readonly maxQueries: number;
  /** Bytes a connection may hold, unread queries plus unsent replies, before it is closed. */
  readonly maxBuffered: number;
}

/** A power of two: one query in this many is timed for lbdns_dns_answer_duration_seconds. */
export const LATENCY_SAMPLE = 16;

export const DEFAULT_TCP_LIMITS: TcpLimits = { maxConnections: 1000, maxPerClient: 32, maxQueries: 1000, maxBuffered: 256 * 1024 };

export interface DnsServerOptions {
  readonly listen: readonly ListenAddress[];
  readonly tcpIdleMs: number;
  /** Read once per packet: a reload swaps the reference, never the object. */
  readonly snapshot: () => Snapshot;
  readonly context: AnswerContext;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Fraction of queries written to the query log (0–1). */
  readonly querySample: number;
  readonly random?: () => number;
  readonly tcpLimits?: TcpLimits;
  /** UDP response rate limiting; TCP is never limited. */
  readonly rrl?: ResponseRateLimiter;
  /**
   * Zone transfers on TCP (src/xfr/transfer-service.ts): takes a query it answers and resolves once every message
   * went to `write`; returns undefined for any other query. Absent: AXFR/IXFR are REFUSED by the core.
   */
  readonly transfer?: (packet: Buffer, peer: string, write: (message: Buffer) => Promise<void>) => Promise<void> | undefined;
  /**
   * Signed queries (a secondary's SOA checks carry TSIG): returns the reply signed with the query's key, or the
   * NOTAUTH reply that stands for it when the TSIG is bad. Absent: such replies go out unsigned.
   */
  readonly tsig?: (packet: Buffer, query: Query, reply: Buffer) => Buffer;
  /**
   * RFC 2136 UPDATE (src/xfr/update-service.ts), on UDP and TCP: resolves to the reply (or undefined: none). Only
   * requests with opcode UPDATE reach it. Absent: they get NOTIMP from the core, as every opcode but QUERY.
   */
  readonly update?: (packet: Buffer, peer: string) => Promise<Buffer | undefined>;
}

/** The third octet of a request with opcode UPDATE (5) and QR clear, under the mask 0xf8. */
const UPDATE_OCTET = 5 << 3;
const isUpdateRequest = (packet: Buffer): boolean => packet.length >= 12 && (packet[2] & 0xf8) === UPDATE_OCTET;

export interface DnsServer {
  /** The bound addresses (port resolved when 0 was asked). */
  readonly addresses: readonly { host: string; port: number; transport: 'udp' | 'tcp' }[];
  close(): Promise<void>;
}

/**
 * Replies go back to the address a datagram came from, which the kernel gave as a literal: nothing to resolve.
 * node's default (dns.lookup) would test the literal again and defer every send to the next tick.
 */
function literalLookup(address: string, options: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  const family = typeof options === 'number' ? options : address.includes(':') ? 6 : 4;
  callback(null, address, family);
}

function formatAddress(type: number, rdata: Uint8Array): string {
  return formatRdataAddress(type === QTYPE.A ? 4 : 6, rdata);
}

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const { metrics, log } = opts;
  const random = opts.random ?? Math.random;
  const limits = opts.tcpLimits ?? DEFAULT_TCP_LIMITS;
  const perClient = new Map<string, number>();
  const udpSockets: dgram.Socket[] = [];
  const tcpServers: net.Server[] = [];
  const connections = new Set<net.Socket>();
  const addresses: { host: string; port: number; transport: 'udp' | 'tcp' }[] = [];
  let lastErrorLog = 0;

  function rrlKind(outcome: Outcome): RrlKind {
    switch (outcome.answer?.kind) {
      case 'answer':
      case 'chaos':
        return 'answer';
      case 'nodata':
      case 'nxdomain':
      case 'referral':
        return outcome.answer.kind;
      default:
        return 'error';
    }
  }

  /** Applies RRL to a UDP reply: the reply itself, a truncated stand-in (slip), or nothing. */
  function limit(outcome: Outcome, address: string): Buffer | undefined {
    // rateName and qtype are strings and numbers the answer already holds: the check builds no key text.
    const action = opts.rrl!.check(address, rrlKind(outcome), outcome.answer?.rateName, outcome.query?.qtype);
    if (action === 'send') return outcome.reply;
    metrics.rrlLimited.labels(action).inc();
    if (action === 'drop') return undefined;
    if (outcome.query && outcome.answer) return encodeAnswer(outcome.query, outcome.answer, 0);
    const tc = Buffer.from(outcome.reply!);
    tc[2] |= 0x02;
    return tc;
  }

  // The latency histogram times one query in LATENCY_SAMPLE: the clock and the bucket search cost about
  // as much as answering a cached name. Query counts stay exact in lbdns_dns_queries_total.
  let sampleTick = 0;

  function handle(packet: Buffer, address: string, tcp: boolean): Buffer | undefined {
    // With a query log every query is timed, so each logged line carries its latency.
    const timed = opts.querySample > 0 || (++sampleTick & (LATENCY_SAMPLE - 1)) === 0;
    const started = timed ? performance.now() : 0;
    const transport = tcp ? 'tcp' : 'udp';
    let outcome: Outcome;
    try {
      outcome = respond(opts.snapshot(), packet, address, tcp, opts.context);
    } catch (err) {
      metrics.internalErrors.inc();
      const now = Date.now();
      if (now - lastErrorLog > 1000) {
        lastErrorLog = now;
        log.error({ err, client: address }, 'answering failed; replied SERVFAIL');
      }
      if (packet.length < 12 || packet[2] & 0x80) return undefined;
      return encodeRcodeOnly({ id: packet.readUInt16BE(0), opcode: (packet[2] >> 3) & 0xf, rd: (packet[2] & 1) === 1 }, RCODE.SERVFAIL, undefined, undefined);
    }
    if (!outcome.reply) {
      metrics.dropped.labels(transport).inc();
      return undefined;
    }
    if (outcome.rcode === RCODE.FORMERR) metrics.malformed.labels(transport).inc();
    if (outcome.truncated) metrics.truncated.inc();
    metrics.countQuery(outcome.query?.qtype, outcome.rcode, transport);
    if (timed) (tcp ? metrics.latencyTcp : metrics.latencyUdp).observe((performance.now() - started) / 1000);
    if (opts.querySample > 0 && random() < opts.querySample) {
      const seconds = (performance.now() - started) / 1000;
      const q = outcome.query;
      log.info(
        {
          event: 'query',
          client: address,
          transport,
          ecs: q?.edns?.ecs ? `${formatAddress(q.edns.ecs.family === 1 ? QTYPE.A : QTYPE.AAAA, q.edns.ecs.address)}/${q.edns.ecs.sourcePrefix}` : undefined,
          qname: q?.qname,
          qtype: q?.qtype,
          rcode: outcome.rcode,
          answers: outcome.answer?.answer.filter((rr) => rr.type === QTYPE.A || rr.type === QTYPE.AAAA).map((rr) => formatAddress(rr.type, rr.rdata)),
          pool: outcome.answer?.pool?.name,
          latencyMs: seconds * 1000,
          problem: outcome.problem,
        },
        'query',
      );
    }
    // Signed queries come from configured secondaries, and a truncated or dropped stand-in would fail their check.
    if (outcome.query?.tsigStart !== undefined && opts.tsig) return opts.tsig(packet, outcome.query, outcome.reply);
    if (!tcp && opts.rrl?.enabled) return limit(outcome, address);
    return outcome.reply;
  }

  async function bindUdp(l: ListenAddress, port: number): Promise<dgram.Socket> {
    // A larger receive buffer rides out bursts; the kernel caps it at net.core.rmem_max.
    const socket = dgram.createSocket({
      type: l.family === 6 ? 'udp6' : 'udp4',
      ipv6Only: l.family === 6,
      recvBufferSize: 4 << 20,
      lookup: literalLookup,
    });
    socket.on('message', (msg, rinfo) => {
      if (opts.update && isUpdateRequest(msg)) {
        opts.update(msg, rinfo.address).then(
          (reply) => reply && socket.send(reply, rinfo.port, rinfo.address),
          (err: Error) => log.error({ err: err.message, client: rinfo.address }, 'update failed; no reply sent'),
        );
        return;
      }
      const reply = handle(msg, rinfo.address, false);
      // No callback: node then tries the send at once and queues no completion (a reply that cannot be sent is
      // lost, as any UDP datagram may be, and the client retries).
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, l.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.on('error', (err) => log.error({ err: err.message }, 'udp socket error'));
    return socket;
  }

  async function listenTcp(l: ListenAddress, port: number): Promise<net.Server> {
    const server = net.createServer({ allowHalfOpen: false, noDelay: true }, (conn) => serveTcp(conn));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: l.host, ipv6Only: l.family === 6 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => log.error({ err: err.message }, 'tcp server error'));
    return server;
  }

  for (const l of opts.listen) {
    // Port 0 (tests): UDP picks a free port and TCP takes the same one; when TCP finds it taken, pick again.
    for (let attempt = 0; ; attempt++) {
      const socket = await bindUdp(l, l.port);
      const port = socket.address().port;
      let server: net.Server;
      try {
        server = await listenTcp(l, port);
      } catch (err) {
        await new Promise<void>((r) => socket.close(() => r()));
        if (l.port === 0 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 20) continue;
        throw err;
      }
      udpSockets.push(socket);
      tcpServers.push(server);
      const bound = socket.address();
      addresses.push({ host: bound.address, port: bound.port, transport: 'udp' });
      const tcpBound = server.address() as net.AddressInfo;
      addresses.push({ host: tcpBound.address, port: tcpBound.port, transport: 'tcp' });
      break;
    }
  }

  /** RFC 7766: several length-prefixed queries per connection, answered in order, closed when idle. */
  function serveTcp(conn: net.Socket): void {
    const peer = conn.remoteAddress ?? '';
    const fromPeer = perClient.get(peer) ?? 0;
    if (connections.size >= limits.maxConnections || fromPeer >= limits.maxPerClient) {
      metrics.tcpRejected.labels(connections.size >= limits.maxConnections ? 'total' : 'per_client').inc();
      conn.on('error', () => undefined);
      conn.destroy();
      return;
    }
    perClient.set(peer, fromPeer + 1);
    connections.add(conn);
    metrics.tcpConnections.inc();
    let buffered: Buffer = Buffer.alloc(0);
    let answered = 0;
    conn.setTimeout(opts.tcpIdleMs, () => {
      metrics.tcpClosed.labels('idle').inc();
      conn.destroy();
    });
    /** Set while a zone transfer streams: queries behind it wait (RFC 7766 §6.2.1.1 lets a server answer in order). */
    let transferring = false;
    /** Frames one message; waits while the socket's buffer is full, so a transfer never piles up in memory. */
    const writeFramed = (message: Buffer): Promise<void> => {
      if (!conn.writable) return Promise.reject(new Error('connection closed'));
      const frame = Buffer.allocUnsafe(message.length + 2);
      frame.writeUInt16BE(message.length, 0);
      message.copy(frame, 2);
      if (conn.write(frame)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          conn.off('drain', onDrain);
          conn.off('close', onClose);
          if (err) reject(err);
          else resolve();
        };
        const onDrain = (): void => done();
        const onClose = (): void => done(new Error('connection closed'));
        conn.once('drain', onDrain);
        conn.once('close', onClose);
      });
    };
    const drainQueries = (): void => {
      while (!transferring && buffered.length >= 2) {
        if (limits.maxQueries > 0 && answered >= limits.maxQueries) {
          metrics.tcpClosed.labels('queries').inc();
          conn.end();
          return;
        }
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) break;
        const packet = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        // A transfer streams many messages; an update waits for the store: either way later queries wait their turn.
        const copy = Buffer.from(packet);
        const streaming = opts.transfer?.(copy, peer, writeFramed) ?? (opts.update && isUpdateRequest(copy) ? opts.update(copy, peer).then((r) => (r ? writeFramed(r) : undefined)) : undefined);
        if (streaming) {
          answered++;
          transferring = true;
          conn.pause();
          streaming.then(
            () => {
              transferring = false;
              if (conn.destroyed) return;
              conn.resume();
              drainQueries();
            },
            (err: Error) => {
              if (conn.writable) log.warn({ err: err.message, client: peer }, 'zone transfer or update failed; connection closed');
              conn.destroy();
            },
          );
          return;
        }
        const reply = handle(Buffer.from(packet), peer, true);
        answered++;
        if (reply && conn.writable) {
          const frame = Buffer.allocUnsafe(reply.length + 2);
          frame.writeUInt16BE(reply.length, 0);
          reply.copy(frame, 2);
          conn.write(frame);
        }
      }
    };
    conn.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      // A client that sends faster than it reads replies piles up both buffers: cut it off. A transfer's own
      // messages are bounded by writeFramed, so only what the client sends counts while one streams.
      if (buffered.length + (transferring ? 0 : conn.writableLength) > limits.maxBuffered) {
        metrics.tcpClosed.labels('buffer').inc();
        conn.destroy();
        return;
      }
      drainQueries();
    });
    conn.on('error', () => conn.destroy());
    conn.on('close', () => {
      connections.delete(conn);
      const left = (perClient.get(peer) ?? 1) - 1;
      if (left <= 0) perClient.delete(peer);
      else perClient.set(peer, left);
      metrics.tcpConnections.dec();
    });
  }

  return {
    addresses,
    async close() {
      for (const c of connections) c.destroy();
      await Promise.all([
        ...udpSockets.map((s) => new Promise<void>((r) => s.close(() => r()))),
        ...tcpServers.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ]);
    },
  };
}
