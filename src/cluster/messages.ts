// The messages between the primary process and its DNS workers (node:cluster IPC, structured clone).
import type { SnapshotImage } from '../snapshot/image.js';
import type { TsigKey } from '../store/transfer-queries.js';

export type ToWorker =
  /** The primary's newest snapshot, built once by its build thread: the worker adopts it rather than building. */
  | { readonly type: 'image'; readonly image: SnapshotImage }
  | { readonly type: 'health'; readonly view: readonly (readonly [number, boolean])[] }
  | { readonly type: 'metrics'; readonly id: number }
  /** TSIG keys, for signed queries the worker answers (src/cluster/transfer-relay.ts). */
  | { readonly type: 'tsig-keys'; readonly keys: readonly TsigKey[] }
  /** One message of a zone transfer the worker relayed; the next comes once it is acknowledged. */
  | { readonly type: 'xfr-message'; readonly id: number; readonly message: Uint8Array }
  | { readonly type: 'xfr-done'; readonly id: number; readonly error?: string }
  /** The primary's reply to an update the worker relayed (src/cluster/update-relay.ts); none: send nothing. */
  | { readonly type: 'update-reply'; readonly id: number; readonly reply?: Uint8Array };

export type FromWorker =
  /** Sent once the worker listens for messages: anything sent before that would be lost. */
  | { readonly type: 'hello' }
  /** An image needed zones this worker does not hold: it asks for one with every zone. */
  | { readonly type: 'need-complete'; readonly error: string }
  | { readonly type: 'ready'; readonly addresses: readonly { host: string; port: number; transport: 'udp' | 'tcp' }[] }
  | { readonly type: 'metrics'; readonly id: number; readonly json: unknown }
  | { readonly type: 'fatal'; readonly error: string }
  /** An AXFR/IXFR query that reached this worker: the primary answers it (it holds the store). */
  | { readonly type: 'xfr'; readonly id: number; readonly packet: Uint8Array; readonly peer: string }
  /** The xfr-message of that id is written to the client's socket (or could not be: error). */
  | { readonly type: 'xfr-ack'; readonly id: number; readonly error?: string }
  /** An RFC 2136 UPDATE that reached this worker, over UDP or TCP: the primary applies it (it holds the store). */
  | { readonly type: 'update'; readonly id: number; readonly packet: Uint8Array; readonly peer: string };
