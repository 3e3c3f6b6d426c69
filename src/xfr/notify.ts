// NOTIFY (RFC 1996) to a zone's secondaries after a serial change, over UDP, retried with doubling delays, TSIG-signed when the zone has a key.
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { QCLASS, QTYPE } from '../core/constants.js';
import { nameToWire } from '../core/names.js';
import type { Zone } from '../core/snapshot.js';
import { soaRecord } from '../core/transfer.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import type { TsigKey, ZoneTransferSettings } from '../store/transfer-queries.js';
import { findTsig, sign, verify } from './tsig.js';

const OPCODE_NOTIFY = 4;

export interface NotifyOptions {
  readonly settings: (zone: string) => Promise<ZoneTransferSettings | undefined>;
  readonly keys: () => Promise<readonly TsigKey[]>;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Sends per target (RFC 1996 §3.6 suggests a few, with growing intervals): 5 by default. */
  readonly tries?: number;
  /** Wait before the first retry, doubled after each (1 s by default: 1, 2, 4, 8 s). */
  readonly firstDelayMs?: number;
  readonly now?: () => number;
}

/** "127.0.0.1:5353" or "[::1]:53" → host and port. */
export function parseTarget(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([\d.]+)):(\d{1,5})$/.exec(text);
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) throw new Error(`"${text}" is not address:port or [v6]:port`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/** The NOTIFY query: AA, the zone's SOA as question and, as RFC 1996 §3.7 allows, the new SOA in the answer. */
export function notifyMessage(zone: Zone, id: number): Buffer {
  const soa = soaRecord(zone);
  const q = nameToWire(zone.name);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE((OPCODE_NOTIFY << 11) | 0x0400, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(1, 6);
  const tail = Buffer.alloc(14);
  tail.writeUInt16BE(QTYPE.SOA, 0);
  tail.writeUInt16BE(QCLASS.IN, 2);
  // The answer's owner: a pointer to the question name at offset 12.
  tail.writeUInt16BE(0xc00c, 4);
  tail.writeUInt16BE(QTYPE.SOA, 6);
  tail.writeUInt16BE(QCLASS.IN, 8);
  tail.writeUInt16BE(0, 10);
  const ttl = Buffer.alloc(4);
  ttl.writeUInt32BE(soa.ttl);
  const rdlen = Buffer.alloc(2);
  rdlen.writeUInt16BE(soa.rdata.length);
  return Buffer.concat([head, q, tail.subarray(0, 4), tail.subarray(4, 10), ttl, rdlen, soa.rdata]);
}

interface Pending {
  readonly resolve: (reply: Buffer | undefined) => void;
}

export class NotifySender {
  readonly #opts: NotifyOptions;
  readonly #sockets: { 4?: dgram.Socket; 6?: dgram.Socket } = {};
  readonly #pending = new Map<number, Pending>();
  /** zone → the serial being announced: an older round stops when a newer one starts. */
  readonly #current = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(opts: NotifyOptions) {
    this.#opts = opts;
  }

  /** Announces the zone's current serial to every configured secondary; returns when each acked or ran out of tries. */
  async notify(zone: Zone): Promise<void> {
    const { log } = this.#opts;
    this.#current.set(zone.name, zone.serial);
    let settings: ZoneTransferSettings | undefined;
    let keys: readonly TsigKey[];
    try {
      settings = await this.#opts.settings(zone.name);
      // The keys only for a zone with somebody to tell (most have nobody).
      if (!settings || settings.notify.length === 0) return;
      keys = await this.#opts.keys();
    } catch (err) {
      log.warn({ zone: zone.name, err: (err as Error).message }, 'NOTIFY not sent: store unavailable');
      return;
    }
    const key = keys.find((k) => settings.keys[0] === k.name);
    await Promise.all(settings.notify.map((t) => this.#send(zone, t, key)));
  }

  async #send(zone: Zone, targetText: string, key: TsigKey | undefined): Promise<void> {
    const { metrics, log } = this.#opts;
    let target: { host: string; port: number };
    try {
      target = parseTarget(targetText);
    } catch (err) {
      log.warn({ zone: zone.name, target: targetText }, `NOTIFY target unusable: ${(err as Error).message}`);
      return;
    }
    const tries = this.#opts.tries ?? 5;
    let delay = this.#opts.firstDelayMs ?? 1000;
    for (let attempt = 1; attempt <= tries; attempt++) {
      if (this.#stopped || this.#current.get(zone.name) !== zone.serial) return;
      const id = this.#freeId();
      let message = notifyMessage(zone, id);
      let mac: Buffer | undefined;
      if (key) ({ message, mac } = sign(message, key, { time: Math.floor((this.#opts.now ?? Date.now)() / 1000) }));
      const reply = await this.#exchange(id, message, target, delay);
      if (reply !== undefined) {
        const rcode = reply[3] & 0xf;
        let problem = rcode === 0 ? undefined : `rcode ${rcode}`;
        if (problem === undefined && key && mac) {
          // RFC 8945 §5.3: the answer to a signed request is signed with the same key; a forged ack is no ack.
          const tsig = (() => {
            try {
              return findTsig(reply);
            } catch {
              return undefined;
            }
          })();
          const ok = tsig && verify(reply, tsig, (n) => (n === key.name ? key : undefined), Math.floor((this.#opts.now ?? Date.now)() / 1000), mac).ok;
          if (!ok) problem = 'reply not signed with the zone key';
        }
        if (problem === undefined) {
          metrics.notifySent.labels(zone.name, 'acked').inc();
          log.info({ zone: zone.name, serial: zone.serial, target: targetText, attempt }, 'NOTIFY acknowledged');
          return;
        }
        log.warn({ zone: zone.name, serial: zone.serial, target: targetText, attempt }, `NOTIFY answered with an error: ${problem}`);
        // An answer that does not count is no reason to retry sooner than a lost one.
        if (attempt < tries) await this.#sleep(delay);
      }
      if (attempt < tries) {
        metrics.notifySent.labels(zone.name, 'retried').inc();
        delay *= 2;
      }
    }
    metrics.notifySent.labels(zone.name, 'failed').inc();
    log.warn({ zone: zone.name, serial: zone.serial, target: targetText, tries }, 'NOTIFY unanswered after every try');
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
    });
  }

  #freeId(): number {
    for (;;) {
      const id = randomInt(0, 65536);
      if (!this.#pending.has(id)) return id;
    }
  }

  #socket(family: 4 | 6): dgram.Socket {
    let s = this.#sockets[family];
    if (s) return s;
    s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
    s.on('message', (msg) => {
      if (msg.length < 12 || (msg[2] & 0x80) === 0 || ((msg[2] >> 3) & 0xf) !== OPCODE_NOTIFY) return;
      const p = this.#pending.get(msg.readUInt16BE(0));
      if (p) p.resolve(msg);
    });
    s.on('error', (err) => this.#opts.log.warn({ err: err.message }, 'NOTIFY socket error'));
    s.unref();
    this.#sockets[family] = s;
    return s;
  }

  /** Sends one message and waits up to `waitMs` for the reply with its id. */
  #exchange(id: number, message: Buffer, target: { host: string; port: number }, waitMs: number): Promise<Buffer | undefined> {
    const socket = this.#socket(target.host.includes(':') ? 6 : 4);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), waitMs);
      this.#timers.add(timer);
      const finish = (reply: Buffer | undefined): void => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        this.#pending.delete(id);
        resolve(reply);
      };
      this.#pending.set(id, { resolve: finish });
      socket.send(message, target.port, target.host, (err) => {
        if (err) this.#opts.log.warn({ err: err.message, target: `${target.host}:${target.port}` }, 'NOTIFY send failed');
      });
    });
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const p of [...this.#pending.values()]) p.resolve(undefined);
    this.#pending.clear();
    for (const s of Object.values(this.#sockets)) s?.close();
  }
}
