// The answering thread's side of the build thread: hands it store rows in small slices and gets SnapshotImages back.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { LbdnsError } from '../errors.js';
import { CONTENTS_TABLES, type ContentsTable, type GeoNetworkRow, type StoreContents } from '../store/rows.js';
import type { SkippedRow } from './build.js';
import type { SnapshotImage } from './image.js';
import { yieldToLoop } from './image.js';

export type ToBuildThread =
  | { readonly op: 'rows'; readonly table: ContentsTable; readonly rows: readonly unknown[] }
  /** The rows sent since the last build are the whole store at `version` (`save`: write them to the snapshot file). */
  | { readonly op: 'full'; readonly id: number; readonly version: number; readonly save: boolean }
  /** The rows sent since the last build replace those of the `names` zones (a zone missing from them was deleted). */
  | { readonly op: 'zones'; readonly id: number; readonly version: number; readonly names: readonly string[] }
  /** An image of every zone, for a receiver that holds none (a DNS worker that just started). */
  | { readonly op: 'complete'; readonly id: number }
  /**
   * The thread reads the whole store itself (its own connection) and builds what changed, saving the file; with
   * `unlessVersion`, nothing is read past the version when the store is still at it. With `tables`, only those are
   * read again (the thread keeps the rest as it last read them; a thread that holds no rows reads everything).
   */
  | { readonly op: 'load'; readonly id: number; readonly unlessVersion?: number; readonly unlessStamp?: string; readonly tables?: readonly ContentsTable[] }
  /** The last image was not adopted: the next one leaves nothing out. */
  | { readonly op: 'forget' }
  /** The receivers adopted an image built elsewhere (the image file): the next image leaves out its zones. */
  | { readonly op: 'hold'; readonly zones: SnapshotImage['zones']; readonly geoNetworks: readonly GeoNetworkRow[] };

export type FromBuildThread =
  | { readonly op: 'built'; readonly id: number; readonly image: SnapshotImage; readonly skipped: readonly SkippedRow[]; readonly rebuilt: number; readonly restamped: number; readonly patched: number; readonly ms: number }
  /** `store`: the store could not be read (not a build failure). */
  | { readonly op: 'failed'; readonly id: number; readonly error: string; readonly store?: boolean }
  /** A load found the store at the version it was told it still had. */
  | { readonly op: 'unchanged'; readonly id: number }
  | { readonly op: 'saved'; readonly ms: number }
  | { readonly op: 'save-failed'; readonly error: string };

/**
 * Rows per postMessage: structured clone runs on the sending thread, at about 1 µs a row, so a slice of 2,000 rows
 * holds the answering thread for about 2 ms and the event loop turns between slices.
 */
const ROWS_PER_SLICE = 2000;

export interface BuildThreadOptions {
  /** Where the build thread saves the rows after every change (serialised there, off the answering thread). */
  readonly file?: { readonly path: string; readonly node: string };
  /** The store the thread reads itself for load() (url with its password; location as errors name it). */
  readonly store?: { readonly url: string; readonly location: string };
  readonly onSaved?: (ms: number) => void;
  readonly onSaveFailed?: (error: string) => void;
}

export interface Built {
  readonly image: SnapshotImage;
  readonly skipped: readonly SkippedRow[];
  /** Zones built anew and sent whole (the others are lent by the serving snapshot, or patched). */
  readonly rebuilt: number;
  /** Zones built anew and sent as the nodes that differ from what the receivers hold (image.ts, ZoneBase). */
  readonly patched: number;
  /** Zones sent as their head only (SOA and serial; their nodes and pools lent by the serving snapshot). */
  readonly restamped: number;
  /** Time the build thread spent, in ms. */
  readonly ms: number;
}

/**
 * Under tsx (tests, benchmarks, a checkout) this module is TypeScript and so is the thread's entry: the thread then
 * registers tsx's loader before importing it. The compiled build starts the .js entry directly.
 */
function startWorker(setup: unknown): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./build-worker.js', here), { workerData: setup });
  // The ESM entry of tsx/esm/api, read from its exports (require.resolve would give the CommonJS one).
  const pkg = createRequire(here).resolve('tsx/package.json');
  const exported = (JSON.parse(readFileSync(pkg, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api'];
  const api = new URL(exported.import.default, pathToFileURL(pkg)).href;
  const entry = new URL('./build-worker.ts', here).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { (m.register ?? m.default.register)(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: setup });
}

export class BuildThread {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (b: Built | undefined) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #dead: Error | undefined;
  /** Row slices of two calls must not interleave: calls that send rows run one after the other. */
  #sending: Promise<unknown> = Promise.resolve();

  constructor(opts: BuildThreadOptions = {}) {
    this.#worker = startWorker({ file: opts.file, store: opts.store });
    // The thread must not keep a stopping process alive; a pending build still holds a ref through its promise.
    this.#worker.unref();
    this.#worker.on('message', (msg: FromBuildThread) => {
      if (msg.op === 'saved') opts.onSaved?.(msg.ms);
      else if (msg.op === 'save-failed') opts.onSaveFailed?.(msg.error);
      else {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.op === 'built') p?.resolve({ image: msg.image, skipped: msg.skipped, rebuilt: msg.rebuilt, restamped: msg.restamped, patched: msg.patched, ms: msg.ms });
        else if (msg.op === 'unchanged') p?.resolve(undefined);
        else p?.reject(msg.store ? new LbdnsError('E_STORE', msg.error) : new Error(msg.error));
      }
    });
    const die = (err: Error): void => {
      this.#dead = err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', die);
    this.#worker.on('exit', (code) => die(new Error(`snapshot build thread exited (code ${code})`)));
  }

  /** Sends the whole store's rows and builds an image of what changed; `save: false` for rows read from the file. */
  full(contents: StoreContents, save = true): Promise<Built> {
    return this.#call(contents, (id) => ({ op: 'full', id, version: contents.version, save })) as Promise<Built>;
  }

  /**
   * The thread reads the whole store itself and builds an image of what changed: the rows never cross this thread.
   * Undefined when the store is still at `unlessVersion`; a read that fails rejects with E_STORE.
   */
  load(unlessVersion?: number, unlessStamp?: string): Promise<Built | undefined> {
    return this.#call(undefined, (id) => ({ op: 'load', id, ...(unlessVersion === undefined ? {} : { unlessVersion }), ...(unlessStamp === undefined ? {} : { unlessStamp }) }));
  }

  /**
   * The thread reads only `tables` again (the change feed named no other since its last read) and builds what
   * changed; a read that fails rejects with E_STORE.
   */
  loadTables(tables: readonly ContentsTable[]): Promise<Built> {
    return this.#call(undefined, (id) => ({ op: 'load', id, tables })) as Promise<Built>;
  }

  /** Sends the rows of the `names` zones and builds an image of them. */
  zones(part: StoreContents, names: readonly string[]): Promise<Built> {
    return this.#call(part, (id) => ({ op: 'zones', id, version: part.version, names })) as Promise<Built>;
  }

  /** An image holding every zone of the newest rows. */
  complete(): Promise<Built> {
    return this.#call(undefined, (id) => ({ op: 'complete', id })) as Promise<Built>;
  }

  /** The receivers hold `image` (adopted from the image file): the next image leaves out what it holds. */
  hold(image: SnapshotImage): void {
    if (!this.#dead) this.#worker.postMessage({ op: 'hold', zones: image.zones, geoNetworks: image.geoNetworks ?? [] } satisfies ToBuildThread);
  }

  /** The receiver did not adopt the last image: the next one must be whole. */
  forget(): void {
    if (!this.#dead) this.#worker.postMessage({ op: 'forget' } satisfies ToBuildThread);
  }

  #call(contents: StoreContents | undefined, request: (id: number) => ToBuildThread): Promise<Built | undefined> {
    if (!contents) return this.#send(undefined, request);
    const run = this.#sending.then(() => this.#send(contents, request));
    this.#sending = run.catch(() => undefined);
    return run;
  }

  async #send(contents: StoreContents | undefined, request: (id: number) => ToBuildThread): Promise<Built | undefined> {
    if (this.#dead) throw this.#dead;
    if (contents) {
      for (const table of CONTENTS_TABLES) {
        const rows = contents[table] ?? [];
        for (let i = 0; i < rows.length; i += ROWS_PER_SLICE) {
          this.#worker.postMessage({ op: 'rows', table, rows: rows.slice(i, i + ROWS_PER_SLICE) } satisfies ToBuildThread);
          await yieldToLoop();
          if (this.#dead) throw this.#dead;
        }
      }
    }
    const id = this.#nextId++;
    const done = new Promise<Built | undefined>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#worker.ref();
    this.#worker.postMessage(request(id));
    return done.finally(() => {
      if (this.#pending.size === 0) this.#worker.unref();
    });
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
