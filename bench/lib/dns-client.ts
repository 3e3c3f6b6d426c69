// A small UDP DNS client on loopback: one question (for readiness checks) and a paced light load that times every reply.
import dgram from 'node:dgram';
import { decodeReply, type DecodedReply } from '../../test/helpers/wire.js';

/** Sends one query and resolves with the decoded reply, or undefined after timeoutMs. */
export async function ask(port: number, query: Buffer, timeoutMs = 1000): Promise<DecodedReply | undefined> {
  const sock = dgram.createSocket('udp4');
  try {
    return await new Promise<DecodedReply | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      sock.on('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
      sock.on('message', (m) => {
        if (m.readUInt16BE(0) !== query.readUInt16BE(0)) return;
        clearTimeout(timer);
        try {
          resolve(decodeReply(m));
        } catch {
          resolve(undefined);
        }
      });
      sock.send(query, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

export interface LightLoad {
  readonly sent: number;
  readonly answered: number;
  readonly avgMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const pct = (sorted: readonly number[], p: number): number =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN;

/**
 * Sends `rate` queries a second for `seconds` (cycling through `queries`, each given its own ID) and times each
 * reply from send() to the 'message' event. Bounded: at most rate × seconds queries (≤ 65,536, one per ID), then
 * one second for stragglers; a reply after that counts as lost. The times include this client's own event loop
 * (a few tens of µs), which the same client adds to every server it measures.
 */
export async function lightLoad(port: number, queries: readonly Buffer[], rate: number, seconds: number): Promise<LightLoad> {
  const total = Math.min(65_536, Math.round(rate * seconds));
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const sentAt = new Float64Array(total).fill(-1);
  const latencies: number[] = [];
  sock.on('message', (m) => {
    const now = performance.now();
    if (m.length < 2) return;
    const id = m.readUInt16BE(0);
    if (id < total && sentAt[id] >= 0) {
      latencies.push(now - sentAt[id]);
      sentAt[id] = -1;
    }
  });
  const packets = queries.map((q) => Buffer.from(q));
  let sent = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    // Every millisecond, send what the schedule owes: an even pace without one timer per query.
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (sent < due) {
        const q = Buffer.from(packets[sent % packets.length]);
        q.writeUInt16BE(sent, 0);
        sentAt[sent] = performance.now();
        sock.send(q, port, '127.0.0.1');
        sent++;
      }
      if (sent >= total || performance.now() - start > seconds * 1000 + 2000) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await new Promise((r) => setTimeout(r, 1000));
  sock.close();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    sent,
    answered: sorted.length,
    avgMs: sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1),
    p50Ms: pct(sorted, 50),
    p99Ms: pct(sorted, 99),
    maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}
