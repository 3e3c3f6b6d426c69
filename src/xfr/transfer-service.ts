// Answers AXFR and IXFR over TCP: the zone's ACL and TSIG checked against the store, then the snapshot streamed in bounded messages.
import { BlockList, isIPv4 } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RR } from '../core/answer.js';
import { QCLASS, QTYPE, RCODE } from '../core/constants.js';
import { encodeRcodeOnly } from '../core/encode.js';
import type { Snapshot, Zone } from '../core/snapshot.js';
import { soaRecord, TRANSFER_MESSAGE_SIZE, TransferEncoder, zoneRecords } from '../core/transfer.js';
import type { HealthView } from '../health/health-view.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import type { TsigKey, ZoneTransferSettings } from '../store/transfer-queries.js';
import { MalformedMessage, parseMessage, soaSerial, type ParsedMessage } from './message.js';
import { poolRecords, poolRecordsFromLines } from './pool-rrsets.js';
import { findTsig, RCODE_NOTAUTH, sign, TSIG_ERROR, tsigReply, verify, type TsigRecord } from './tsig.js';

/** One step of a zone's history for IXFR (RFC 1995 §4): the RRs removed and added going from one serial to the next. */
export interface JournalStep {
  readonly fromSerial: number;
  readonly toSerial: number;
  readonly removed: readonly RR[];
  readonly added: readonly RR[];
}

export interface TransferServiceOptions {
  /** Read once per transfer: the whole transfer comes from one snapshot. */
  readonly snapshot: () => Snapshot;
  readonly health: () => HealthView;
  /** The zone's ACL, keys and serial in the store; undefined when the store has no such zone. */
  readonly settings: (zone: string) => Promise<ZoneTransferSettings | undefined>;
  readonly keys: () => Promise<readonly TsigKey[]>;
  /**
   * The steps from `fromSerial` to the zone's current serial, in order; undefined when the journal no longer
   * reaches that far (the client then gets the whole zone, RFC 1995 §4). Absent: every IXFR gets the whole zone.
   */
  readonly journal?: (zone: Zone, fromSerial: number) => Promise<readonly JournalStep[] | undefined>;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** ms since the epoch. */
  readonly now?: () => number;
  readonly messageSize?: number;
}

/** RFC 1982 §3.2: is `a` at or after `b`? */
export function serialAtOrAfter(a: number, b: number): boolean {
  return a === b || (a < b && b - a > 2 ** 31) || (a > b && a - b < 2 ** 31);
}

/** Room kept in every message for its TSIG RR: owner and algorithm names, 64-octet MAC, fixed fields. */
const TSIG_ROOM = 255 + 255 + 64 + 32;

type Kind = 'axfr' | 'ixfr';

function plainAddress(peer: string): string {
  return peer.startsWith('::ffff:') && isIPv4(peer.slice(7)) ? peer.slice(7) : peer;
}

/** Whether `peer` lies in one of the CIDRs. */
export function inNetworks(peer: string, cidrs: readonly string[]): boolean {
  if (cidrs.length === 0) return false;
  const list = new BlockList();
  for (const c of cidrs) {
    const [net, prefix] = c.split('/');
    const family = isIPv4(net) ? 'ipv4' : 'ipv6';
    list.addSubnet(net, Number(prefix ?? (family === 'ipv4' ? 32 : 128)), family);
  }
  const address = plainAddress(peer);
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}

/** AXFR or IXFR when the packet is a query (opcode QUERY, one question) asking one, else undefined. */
function transferType(packet: Buffer): number | undefined {
  if (packet.length < 12 || (packet[2] & 0xf8) !== 0 || packet.readUInt16BE(4) !== 1) return undefined;
  let o = 12;
  while (o < packet.length && packet[o] !== 0 && packet[o] < 64) o += packet[o] + 1;
  if (o + 5 > packet.length || packet[o] !== 0) return undefined;
  const qtype = packet.readUInt16BE(o + 1);
  return qtype === QTYPE.AXFR || qtype === QTYPE.IXFR ? qtype : undefined;
}

/** Whether a TCP query asks for a zone transfer (read without decoding the rest). */
export function isTransferQuery(packet: Buffer): boolean {
  return transferType(packet) !== undefined;
}

export class TransferService {
  readonly #opts: TransferServiceOptions;
  readonly #now: () => number;

  constructor(opts: TransferServiceOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Takes a TCP query if it asks AXFR or IXFR: resolves once every message went to `write`. Any other query
   * (or one whose header cannot be read) returns undefined and goes to the ordinary answer path.
   */
  handle(packet: Buffer, peer: string, write: (message: Buffer) => Promise<void>): Promise<void> | undefined {
    const qtype = transferType(packet);
    if (qtype === undefined) return undefined;
    return this.#serve(packet, peer, qtype === QTYPE.AXFR ? 'axfr' : 'ixfr', write);
  }

  async #serve(packet: Buffer, peer: string, kind: Kind, write: (message: Buffer) => Promise<void>): Promise<void> {
    const { metrics, log } = this.#opts;
    const started = performance.now();
    let msg: ParsedMessage;
    let tsig: TsigRecord | undefined;
    try {
      msg = parseMessage(packet);
      tsig = findTsig(packet);
    } catch (err) {
      if (!(err instanceof MalformedMessage)) throw err;
      metrics.xfrRequests.labels('', kind, 'formerr').inc();
      log.warn({ client: peer, kind, problem: err.message }, 'transfer request malformed');
      const head = { id: packet.readUInt16BE(0), opcode: 0, rd: false };
      return write(encodeRcodeOnly(head, RCODE.FORMERR, undefined, undefined));
    }
    const head = { id: msg.id, opcode: 0, rd: (msg.flags & 0x0100) !== 0 };
    const snapshot = this.#opts.snapshot();
    const zone = msg.qclass === QCLASS.IN ? snapshot.zones.get(msg.qname ?? '') : undefined;
    const zoneLabel = zone?.name ?? '';
    const nowSec = Math.floor(this.#now() / 1000);
    const refuse = async (rcode: number, result: string, why: string, key?: TsigKey, tsigError = 0): Promise<void> => {
      metrics.xfrRequests.labels(zoneLabel, kind, result).inc();
      log.warn({ zone: msg.qname, kind, client: peer, key: tsig?.keyName, result }, `transfer refused: ${why}`);
      let reply = encodeRcodeOnly(head, rcode, msg.question, undefined);
      if (tsig !== undefined) reply = tsigReply(reply, tsig, tsigError, key, nowSec);
      await write(reply);
    };
    let settings: ZoneTransferSettings | undefined;
    let keys: readonly TsigKey[] = [];
    try {
      if (zone) settings = await this.#opts.settings(zone.name);
      if (tsig) keys = await this.#opts.keys();
    } catch (err) {
      return refuse(RCODE.SERVFAIL, 'error', `store unavailable (${(err as Error).message})`);
    }
    let key: TsigKey | undefined;
    if (tsig) {
      const verdict = verify(packet, tsig, (name) => keys.find((k) => k.name === name), nowSec);
      if (!verdict.ok) {
        const name = verdict.error === TSIG_ERROR.BADKEY ? 'badkey' : verdict.error === TSIG_ERROR.BADTIME ? 'badtime' : 'badsig';
        return refuse(RCODE_NOTAUTH, name, `TSIG ${name.toUpperCase()}`, verdict.key, verdict.error);
      }
      key = verdict.key;
    }
    // RFC 5936 §2.2.1: a zone we are not authoritative for.
    if (!zone || !settings) return refuse(RCODE_NOTAUTH, 'notauth', 'not a zone of ours', key);
    const allowed = (key !== undefined && settings.keys.includes(key.name)) || inNetworks(peer, settings.allowTransfer);
    if (!allowed) return refuse(RCODE.REFUSED, 'refused', key ? `key ${key.name} not allowed for the zone` : 'address not allowed and no allowed key', key);
    // A signed zone is signed per answer (pool RRsets change with health and rotation): a copy would carry no valid
    // signatures for them, and a standard secondary cannot sign. Its secondaries are lbdns nodes on the same store
    // (docs/zone-transfers.md).
    if (zone.dnssec) return refuse(RCODE.REFUSED, 'refused', 'the zone is signed online (DNSSEC): its secondaries are lbdns nodes reading the same store', key);

    let records: Iterable<RR>;
    let how: string = kind;
    if (kind === 'ixfr') {
      const clientSoa = msg.records.find((r) => r.section === 'authority' && r.type === QTYPE.SOA);
      if (!clientSoa) return refuse(RCODE.FORMERR, 'formerr', 'IXFR without an SOA in the authority section', key);
      const from = soaSerial(packet, clientSoa);
      if (serialAtOrAfter(from, zone.serial)) {
        // RFC 1995 §2: the client is up to date: the current SOA alone.
        records = [soaRecord(zone)];
        how = 'ixfr-current';
      } else {
        const steps = this.#opts.journal ? await this.#opts.journal(zone, from).catch(() => undefined) : undefined;
        if (steps && steps.length > 0) {
          records = ixfrRecords(zone, steps);
        } else {
          records = this.#axfrRecords(zone, settings);
          how = 'ixfr-as-axfr';
        }
      }
    } else {
      records = this.#axfrRecords(zone, settings);
    }
    const size = (this.#opts.messageSize ?? TRANSFER_MESSAGE_SIZE) - (key ? TSIG_ROOM : 0);
    const encoder = new TransferEncoder({ id: msg.id, question: msg.question! }, records, size);
    let prior = tsig?.mac;
    for (let m = encoder.next(); m !== undefined; m = encoder.next()) {
      if (key) {
        const signed = sign(m, key, { prior, timersOnly: encoder.messages > 1, time: Math.floor(this.#now() / 1000) });
        m = signed.message;
        prior = signed.mac;
      }
      await write(m);
      // One message per turn of the event loop: UDP queries arriving meanwhile are answered between two messages.
      await nextTurn();
    }
    const seconds = (performance.now() - started) / 1000;
    metrics.xfrRequests.labels(zone.name, kind, 'ok').inc();
    metrics.xfrDuration.labels(kind).observe(seconds);
    log.info({ zone: zone.name, kind: how, client: peer, key: key?.name, serial: zone.serial, records: encoder.records, messages: encoder.messages, ms: Math.round(seconds * 1000) }, 'zone transferred');
  }

  /**
   * Pools as stored with the serial when the store is at the snapshot's serial: the journal's next step diffs
   * against exactly that set, so an IXFR after this AXFR applies cleanly. Otherwise (no pool bump yet, or the
   * snapshot not caught up) as this node's health has them now.
   */
  #axfrRecords(zone: Zone, settings: ZoneTransferSettings): Iterable<RR> {
    if (settings.poolSet !== undefined && settings.serial === zone.serial) {
      const stored = poolRecordsFromLines(settings.poolSet);
      return zoneRecords(zone, (pool) => stored.get(pool.name) ?? []);
    }
    const health = this.#opts.health();
    return zoneRecords(zone, (pool) => poolRecords(pool, health));
  }
}

/** RFC 1995 §4: new SOA, then per step the old SOA, removed RRs, the new SOA, added RRs; the new SOA last. */
function* ixfrRecords(zone: Zone, steps: readonly JournalStep[]): Generator<RR> {
  const current = soaRecord(zone);
  yield current;
  for (const s of steps) {
    yield withSerial(current, s.fromSerial);
    yield* s.removed;
    yield withSerial(current, s.toSerial);
    yield* s.added;
  }
  yield current;
}

/** The SOA with another serial: the serial sits 20 octets before the end of its RDATA (RFC 1035 §3.3.13). */
export function withSerial(soa: RR, serial: number): RR {
  const rdata = Buffer.from(soa.rdata);
  rdata.writeUInt32BE(serial >>> 0, rdata.length - 20);
  return { ...soa, rdata };
}
