// Zone transfers and signed queries in DNS workers: a worker relays AXFR/IXFR to the primary (which holds the store) and signs with keys the primary sends.
import type { Query } from '../core/query.js';
import type { Logger } from '../obs/log.js';
import type { TsigKey } from '../store/transfer-queries.js';
import { SignedQueries } from '../xfr/signed-queries.js';
import { isTransferQuery } from '../xfr/transfer-service.js';
import type { FromWorker, ToWorker } from './messages.js';

type Write = (message: Buffer) => Promise<void>;

/** The worker's side: hooks for startDnsServer, and the handler for the primary's replies. */
export class WorkerTransferRelay {
  readonly #send: (msg: FromWorker) => void;
  readonly #pending = new Map<number, { write: Write; resolve: () => void; reject: (err: Error) => void }>();
  readonly #signed: SignedQueries;
  #nextId = 0;

  constructor(send: (msg: FromWorker) => void, log: Logger) {
    this.#send = send;
    // Keys come from the primary (setKeys); there is nothing to load here.
    this.#signed = new SignedQueries({ load: async () => this.#keys, log });
  }

  #keys: readonly TsigKey[] = [];

  /** startDnsServer's `transfer`: the primary streams the messages back, one acknowledged at a time. */
  readonly transfer = (packet: Buffer, peer: string, write: Write): Promise<void> | undefined => {
    if (!isTransferQuery(packet)) return undefined;
    const id = ++this.#nextId;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { write, resolve, reject });
      this.#send({ type: 'xfr', id, packet, peer });
    });
  };

  readonly tsig = (packet: Buffer, query: Query, reply: Buffer): Buffer => this.#signed.sign(packet, query, reply);

  /** Handles the primary's transfer messages; false for any other message. */
  handle(msg: ToWorker): boolean {
    if (msg.type === 'tsig-keys') {
      this.#keys = msg.keys;
      void this.#signed.refresh();
      return true;
    }
    if (msg.type !== 'xfr-message' && msg.type !== 'xfr-done') return false;
    const p = this.#pending.get(msg.id);
    if (!p) return true;
    if (msg.type === 'xfr-message') {
      p.write(Buffer.from(msg.message.buffer, msg.message.byteOffset, msg.message.byteLength)).then(
        () => this.#send({ type: 'xfr-ack', id: msg.id }),
        (err: Error) => {
          this.#pending.delete(msg.id);
          this.#send({ type: 'xfr-ack', id: msg.id, error: err.message });
          p.reject(err);
        },
      );
    } else {
      this.#pending.delete(msg.id);
      if (msg.error === undefined) p.resolve();
      else p.reject(new Error(msg.error));
    }
    return true;
  }
}

/** The primary's side, per worker: runs the transfer and sends each message once the previous one is written. */
export class PrimaryTransferRelay {
  readonly #acks = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();

  constructor(
    private readonly handler: (packet: Buffer, peer: string, write: Write) => Promise<void> | undefined,
    private readonly send: (msg: ToWorker) => void,
  ) {}

  /** Handles a worker's transfer messages; false for any other message. */
  handle(msg: FromWorker): boolean {
    if (msg.type === 'xfr-ack') {
      const a = this.#acks.get(msg.id);
      this.#acks.delete(msg.id);
      if (a) (msg.error === undefined ? a.resolve() : a.reject(new Error(msg.error)));
      return true;
    }
    if (msg.type !== 'xfr') return false;
    const write = (message: Buffer): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        this.#acks.set(msg.id, { resolve, reject });
        this.send({ type: 'xfr-message', id: msg.id, message });
      });
    const packet = Buffer.from(msg.packet.buffer, msg.packet.byteOffset, msg.packet.byteLength);
    const running = this.handler(packet, msg.peer, write) ?? Promise.reject(new Error('not a transfer request'));
    running.then(
      () => this.send({ type: 'xfr-done', id: msg.id }),
      (err: Error) => this.send({ type: 'xfr-done', id: msg.id, error: err.message }),
    );
    return true;
  }

  /** The worker went away: transfers waiting on it end. */
  close(): void {
    for (const a of this.#acks.values()) a.reject(new Error('dns worker gone'));
    this.#acks.clear();
  }
}
