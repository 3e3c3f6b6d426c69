// Answers RFC 2136 UPDATE over UDP and TCP: TSIG verified against the store's keys, the key's rules and the prerequisites applied by the store in one transaction.
import { RCODE } from '../core/constants.js';
import { encodeRcodeOnly } from '../core/encode.js';
import { LbdnsError } from '../errors.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import type { Store, TsigKey, UpdateOutcome, UpdateResult } from '../store/store.js';
import { MalformedMessage, parseMessage } from './message.js';
import { findTsig, RCODE_NOTAUTH, sign, TSIG_ERROR, tsigReply, verify, type TsigRecord } from './tsig.js';
import { isUpdate, OPCODE_UPDATE, parseUpdate, uncompressedZone, UPDATE_RCODE, UpdateRefusal } from './update-message.js';

/** RFC 2136 leaves the size to the server: enough for a certificate's worth of challenges, bounded per transaction. */
export const MAX_UPDATE_RECORDS = 1000;
/**
 * Keys are read from the store at most this often: a flood of signed-looking UPDATEs costs PostgreSQL one read a
 * second, not one per packet, and a key added with `lbdns tsig add` signs updates within a second.
 */
const KEYS_FRESH_MS = 1000;
/** Refusals of requests no key vouches for (unsigned, bad TSIG, malformed) are logged in bursts of this many, then one a second. */
const LOG_BURST = 10;

export interface UpdateServiceOptions {
  readonly store: Pick<Store, 'tsigKeys' | 'applyUpdate'>;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** ms since the epoch. */
  readonly now?: () => number;
  readonly maxRecords?: number;
}

const RESULT_RCODE: Readonly<Record<UpdateResult, number>> = {
  ok: RCODE.NOERROR,
  notauth: UPDATE_RCODE.NOTAUTH,
  refused: RCODE.REFUSED,
  nxdomain: RCODE.NXDOMAIN,
  yxdomain: UPDATE_RCODE.YXDOMAIN,
  nxrrset: UPDATE_RCODE.NXRRSET,
  yxrrset: UPDATE_RCODE.YXRRSET,
};

const RCODE_RESULT: Readonly<Record<number, string>> = {
  [RCODE.FORMERR]: 'formerr',
  [RCODE.SERVFAIL]: 'error',
  [RCODE.REFUSED]: 'refused',
  [UPDATE_RCODE.NOTAUTH]: 'notauth',
  [UPDATE_RCODE.NOTZONE]: 'notzone',
};

export class UpdateService {
  readonly #opts: UpdateServiceOptions;
  readonly #now: () => number;
  #keys: { readonly at: number; readonly keys: Promise<readonly TsigKey[]> } | undefined;
  #logBudget = LOG_BURST;
  #logRefilled = 0;

  constructor(opts: UpdateServiceOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** The store's keys, read at most once per KEYS_FRESH_MS (a failed read is not kept). */
  #readKeys(): Promise<readonly TsigKey[]> {
    const now = this.#now();
    if (this.#keys === undefined || now - this.#keys.at >= KEYS_FRESH_MS) {
      const keys = this.#opts.store.tsigKeys();
      this.#keys = { at: now, keys };
      keys.catch(() => (this.#keys = undefined));
    }
    return this.#keys.keys;
  }

  /** Whether a refusal of an unauthenticated request may be logged now (a burst, then one a second). */
  #mayLog(): boolean {
    const now = this.#now();
    this.#logBudget = Math.min(LOG_BURST, this.#logBudget + Math.floor((now - this.#logRefilled) / 1000));
    if (now - this.#logRefilled >= 1000) this.#logRefilled = now;
    if (this.#logBudget <= 0) return false;
    this.#logBudget--;
    return true;
  }

  /** For startDnsServer's `update` option: the reply to an UPDATE request (undefined for any other packet: no reply). */
  readonly handler = async (packet: Buffer, peer: string): Promise<Buffer | undefined> => (isUpdate(packet) ? this.#serve(packet, peer) : undefined);

  async #serve(packet: Buffer, peer: string): Promise<Buffer | undefined> {
    const { log, metrics } = this.#opts;
    const nowSec = Math.floor(this.#now() / 1000);
    let tsig: TsigRecord | undefined;
    let question: Uint8Array | undefined;
    let zone = '';
    try {
      question = parseMessage(packet).question;
      if (question !== undefined && !uncompressedZone(question)) throw new MalformedMessage('a compression pointer in the zone section');
      tsig = findTsig(packet);
    } catch (err) {
      if (!(err instanceof MalformedMessage)) throw err;
      metrics.updateRequests.labels('', 'formerr').inc();
      if (this.#mayLog()) log.warn({ client: peer, problem: err.message }, 'update refused: malformed');
      return encodeRcodeOnly({ id: packet.readUInt16BE(0), opcode: OPCODE_UPDATE, rd: false }, RCODE.FORMERR, undefined, undefined);
    }
    const head = { id: packet.readUInt16BE(0), opcode: OPCODE_UPDATE, rd: false };
    /** The reply: the zone section echoed (RFC 2136 §3.8), signed when the key was good. */
    const reply = (rcode: number, key?: TsigKey, tsigError = 0): Buffer => {
      const unsigned = encodeRcodeOnly(head, rcode, question, undefined);
      if (tsig === undefined) return unsigned;
      if (key !== undefined && tsigError === 0) return sign(unsigned, key, { prior: tsig.mac, time: nowSec }).message;
      return tsigReply(unsigned, tsig, tsigError, key, nowSec);
    };
    const refuse = (rcode: number, result: string, why: string, key?: TsigKey, tsigError = 0): Buffer => {
      metrics.updateRequests.labels(zone, result).inc();
      // A key holder's refusals are always logged: they are rare and say what to fix.
      if ((key !== undefined && tsigError === 0) || this.#mayLog()) {
        log.warn({ zone: zone || undefined, key: tsig?.keyName, client: peer, rcode: result }, `update refused: ${why}`);
      }
      return reply(rcode, key, tsigError);
    };

    // RFC 2136 §3.3 leaves who may update to the server: here, only a request signed with a key whose rules cover it.
    if (tsig === undefined) return refuse(RCODE.REFUSED, 'refused', 'not signed (updates need a TSIG key with update rules)');
    let keys: readonly TsigKey[];
    try {
      keys = await this.#readKeys();
    } catch (err) {
      return refuse(RCODE.SERVFAIL, 'error', `store unavailable (${(err as Error).message})`);
    }
    const verdict = verify(packet, tsig, (name) => keys.find((k) => k.name === name), nowSec);
    if (!verdict.ok) {
      const name = verdict.error === TSIG_ERROR.BADKEY ? 'badkey' : verdict.error === TSIG_ERROR.BADTIME ? 'badtime' : 'badsig';
      return refuse(RCODE_NOTAUTH, name, `TSIG ${name.toUpperCase()}`, verdict.key, verdict.error);
    }
    const key = verdict.key;

    let outcome: UpdateOutcome;
    try {
      const parsed = parseUpdate(packet, this.#opts.maxRecords ?? MAX_UPDATE_RECORDS);
      zone = parsed.zone;
      outcome = await this.#opts.store.applyUpdate({ key: key.name, zone: parsed.zone, prerequisites: parsed.prerequisites, operations: parsed.operations });
    } catch (err) {
      if (err instanceof UpdateRefusal) return refuse(err.rcode, RCODE_RESULT[err.rcode] ?? 'refused', err.message, key);
      // A record the database refuses (its one-line reason) is the client's; a store that cannot answer is ours.
      if (err instanceof LbdnsError && err.code !== 'E_STORE') return refuse(RCODE.REFUSED, 'refused', err.message, key);
      zone = '';
      return refuse(RCODE.SERVFAIL, 'error', `store unavailable (${(err as Error).message})`, key);
    }
    // A zone the store does not hold is not counted by name: labels stay bounded by configuration.
    if (outcome.result === 'notauth') zone = '';
    if (outcome.result !== 'ok') return refuse(RESULT_RCODE[outcome.result], outcome.result, outcome.reason ?? outcome.result, key);
    metrics.updateRequests.labels(zone, 'ok').inc();
    log.info({ zone, key: key.name, client: peer, changed: outcome.changed, ignored: outcome.ignored || undefined, serial: outcome.serial }, 'update applied');
    return reply(RCODE.NOERROR, key);
  }
}
