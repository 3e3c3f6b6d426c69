// RFC 2136 updates in DNS workers: the worker that receives one relays it to the primary (which holds the store) and sends back the primary's reply.
import type { FromWorker, ToWorker } from './messages.js';

/** A relayed update the primary never answers (it always does, SERVFAIL included) is given up after this. */
const REPLY_WAIT_MS = 30_000;

/** The worker's side: startDnsServer's `update` hook, and the handler for the primary's replies. */
export class WorkerUpdateRelay {
  readonly #send: (msg: FromWorker) => void;
  readonly #pending = new Map<number, (reply: Buffer | undefined) => void>();
  #nextId = 0;

  constructor(send: (msg: FromWorker) => void) {
    this.#send = send;
  }

  readonly update = (packet: Buffer, peer: string): Promise<Buffer | undefined> => {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(id, undefined), REPLY_WAIT_MS);
      timer.unref();
      this.#pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.#send({ type: 'update', id, packet, peer });
    });
  };

  #settle(id: number, reply: Buffer | undefined): void {
    const done = this.#pending.get(id);
    this.#pending.delete(id);
    done?.(reply);
  }

  /** Handles the primary's reply to a relayed update; false for any other message. */
  handle(msg: ToWorker): boolean {
    if (msg.type !== 'update-reply') return false;
    this.#settle(msg.id, msg.reply === undefined ? undefined : Buffer.from(msg.reply.buffer, msg.reply.byteOffset, msg.reply.byteLength));
    return true;
  }
}

/** The primary's side, per worker: applies a relayed update and sends the reply back. */
export class PrimaryUpdateRelay {
  constructor(
    private readonly handler: (packet: Buffer, peer: string) => Promise<Buffer | undefined>,
    private readonly send: (msg: ToWorker) => void,
  ) {}

  /** Handles a worker's relayed update; false for any other message. */
  handle(msg: FromWorker): boolean {
    if (msg.type !== 'update') return false;
    const packet = Buffer.from(msg.packet.buffer, msg.packet.byteOffset, msg.packet.byteLength);
    this.handler(packet, msg.peer).then(
      (reply) => this.send({ type: 'update-reply', id: msg.id, reply }),
      () => this.send({ type: 'update-reply', id: msg.id }),
    );
    return true;
  }
}
