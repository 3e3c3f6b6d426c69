// TSIG on ordinary queries (RFC 8945): a secondary's signed SOA checks get signed replies, from keys cached off the answer path.
import { encodeRcodeOnly } from '../core/encode.js';
import type { Query } from '../core/query.js';
import type { Logger } from '../obs/log.js';
import type { TsigKey } from '../store/transfer-queries.js';
import { MalformedMessage } from './message.js';
import { findTsig, RCODE_NOTAUTH, sign, TSIG_ERROR, tsigReply, verify, type TsigRecord } from './tsig.js';

export interface SignedQueriesOptions {
  readonly load: () => Promise<readonly TsigKey[]>;
  readonly log: Logger;
  /** How often the key cache is re-read (a key added is usable on UDP within this; transfers read the store). */
  readonly refreshMs?: number;
  readonly now?: () => number;
  /** Called with the keys after each read that changed them (DNS workers get a copy). */
  readonly onKeys?: (keys: readonly TsigKey[]) => void;
}

const FORMERR = 1;

export class SignedQueries {
  readonly #opts: SignedQueriesOptions;
  #keys: ReadonlyMap<string, TsigKey> = new Map();
  #timer: NodeJS.Timeout | undefined;
  #lastLog = 0;
  #lastMissRefresh = 0;

  constructor(opts: SignedQueriesOptions) {
    this.#opts = opts;
  }

  start(): void {
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#opts.refreshMs ?? 5000);
    this.#timer.unref();
  }

  /** Re-reads the keys; a failed read keeps the ones held (the store may be down for a while). */
  async refresh(): Promise<void> {
    try {
      const keys = await this.#opts.load();
      const changed = keys.length !== this.#keys.size || keys.some((k) => this.#keys.get(k.name)?.secret !== k.secret || this.#keys.get(k.name)?.algorithm !== k.algorithm);
      this.#keys = new Map(keys.map((k) => [k.name, k]));
      if (changed) this.#opts.onKeys?.(keys);
    } catch (err) {
      this.#warn({ err: (err as Error).message }, 'tsig keys not refreshed');
    }
  }

  /** The keys as last read. */
  keys(): readonly TsigKey[] {
    return [...this.#keys.values()];
  }

  /** The reply to a signed query, signed; or NOTAUTH with the TSIG error (FORMERR for a broken TSIG). */
  readonly sign = (packet: Buffer, query: Query, reply: Buffer): Buffer => {
    const now = Math.floor((this.#opts.now ?? Date.now)() / 1000);
    let tsig: TsigRecord | undefined;
    try {
      tsig = findTsig(packet);
    } catch (err) {
      if (!(err instanceof MalformedMessage)) throw err;
    }
    const head = { id: query.id, opcode: query.opcode, rd: query.rd, cd: query.cd };
    if (tsig === undefined) return encodeRcodeOnly(head, FORMERR, query.question, undefined);
    const verdict = verify(packet, tsig, (name) => this.#keys.get(name), now);
    if (verdict.ok) return sign(reply, verdict.key, { prior: tsig.mac, time: now }).message;
    if (verdict.error === TSIG_ERROR.BADKEY) this.#refreshSoon();
    this.#warn({ qname: query.qname, key: tsig.keyName, error: verdict.error }, 'signed query with a bad TSIG: NOTAUTH');
    return tsigReply(encodeRcodeOnly(head, RCODE_NOTAUTH, query.question, undefined), tsig, verdict.error, verdict.key, now);
  };

  /** An unknown key may be one added a moment ago: read the keys again, at most once a second. */
  #refreshSoon(): void {
    const t = Date.now();
    if (t - this.#lastMissRefresh < 1000) return;
    this.#lastMissRefresh = t;
    void this.refresh();
  }

  #warn(fields: object, msg: string): void {
    // At most one line a second: a misconfigured secondary retries a lot.
    const t = Date.now();
    if (t - this.#lastLog < 1000) return;
    this.#lastLog = t;
    this.#opts.log.warn(fields, msg);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }
}
