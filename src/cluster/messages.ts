// The messages between the primary process and its DNS workers (node:cluster IPC, structured clone).
import type { SnapshotImage } from '../snapshot/image.js';

export type ToWorker =
  /** The primary's newest snapshot, built once by its build thread: the worker adopts it rather than building. */
  | { readonly type: 'image'; readonly image: SnapshotImage }
  | { readonly type: 'health'; readonly view: readonly (readonly [number, boolean])[] }
  | { readonly type: 'metrics'; readonly id: number };

export type FromWorker =
  /** Sent once the worker listens for messages: anything sent before that would be lost. */
  | { readonly type: 'hello' }
  /** An image needed zones this worker does not hold: it asks for one with every zone. */
  | { readonly type: 'need-complete'; readonly error: string }
  | { readonly type: 'ready'; readonly addresses: readonly { host: string; port: number; transport: 'udp' | 'tcp' }[] }
  | { readonly type: 'metrics'; readonly id: number; readonly json: unknown }
  | { readonly type: 'fatal'; readonly error: string };
