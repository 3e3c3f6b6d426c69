// The messages between the primary process and its DNS workers (node:cluster IPC, structured clone).
import type { StoreContents } from '../store/rows.js';

export type ToWorker =
  | { readonly type: 'contents'; readonly contents: StoreContents }
  /** Only these zones changed: `part` holds their rows now (a zone missing from it was deleted). */
  | { readonly type: 'zones'; readonly names: readonly string[]; readonly part: StoreContents }
  | { readonly type: 'health'; readonly view: readonly (readonly [number, boolean])[] }
  | { readonly type: 'metrics'; readonly id: number };

export type FromWorker =
  /** Sent once the worker listens for messages: anything sent before that would be lost. */
  | { readonly type: 'hello' }
  | { readonly type: 'ready'; readonly addresses: readonly { host: string; port: number; transport: 'udp' | 'tcp' }[] }
  | { readonly type: 'metrics'; readonly id: number; readonly json: unknown }
  | { readonly type: 'fatal'; readonly error: string };
