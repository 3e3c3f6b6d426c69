// Holds the serving snapshot: builds a new one aside, swaps one reference, coalesces bursts of changes,
// and reloads only the zones an edit named when that is all that changed.
//
// Builds run on the build thread (build-thread.ts), never on the thread that answers DNS: that thread only reads
// the store, hands the rows over in slices and adopts the returned image a chunk per event-loop turn (image.ts says
// why this split). A build or adoption that fails leaves the serving snapshot as it was.
import { EMPTY_SNAPSHOT, type Snapshot } from '../core/snapshot.js';
import { LbdnsError } from '../errors.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import { contentsTablesOf, type ContentsTable, type StoreContents } from '../store/rows.js';
import { BuildThread, type Built } from './build-thread.js';
import { adoptImage, imageBytes, type SnapshotImage } from './image.js';
import { imageFilePath, readImageFile } from './image-file.js';

/** What a successful load changed (everything, or a few zones), as the image every DNS worker adopts too. */
export interface Loaded {
  readonly kind: 'full' | 'zones';
  readonly image: SnapshotImage;
}

export interface ReloaderOptions {
  readonly load: () => Promise<StoreContents>;
  /**
   * The store for the build thread to read itself on a full reload (instead of `load` here): the rows of 100,000
   * records then never pass through the answering thread, which only adopts what changed. `onStoreRead` is told
   * whether each such read reached the store.
   */
  readonly storeInThread?: { readonly url: string; readonly location: string };
  readonly onStoreRead?: (ok: boolean) => void;
  /** Reads only the named zones' rows; without it every reload is a full one. */
  readonly loadZones?: (names: readonly string[]) => Promise<StoreContents>;
  /** The snapshot file, written by the build thread after every change. */
  readonly file?: { readonly path: string; readonly node: string };
  /** Changes arriving within this many ms of each other become one reload. */
  readonly debounceMs: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** `poolsChanged` false: every Pool object is the one the previous snapshot held (e.g. a geo_networks edit). */
  readonly onSwap?: (snapshot: Snapshot, poolsChanged: boolean) => void;
  /** Called after every successful load (e.g. to send the image to the DNS workers). */
  readonly onLoaded?: (loaded: Loaded) => void;
}

/** Tables whose rows belong to one zone: a change to them names it. */
const ZONE_TABLES = new Set(['zones', 'records', 'pools', 'pool_members', 'dnssec_keys']);
/** More zones than this in one burst: one full reload is cheaper than many partial ones. */
const MAX_PARTIAL_ZONES = 8;

/** The last run's complete image and the stamp of the rows it was built from (src/snapshot/image-file.ts). */
type SavedImage = { readonly image: SnapshotImage; readonly stamp: string };

export class Reloader {
  #current: Snapshot = EMPTY_SNAPSHOT;
  #loaded = false;
  readonly #thread: BuildThread;
  /** An image of every zone of the serving snapshot, made once per snapshot for DNS workers that start. */
  #complete: { readonly snapshot: Snapshot; readonly image: Promise<SnapshotImage> } | undefined;
  /** The first load, started by prefetch() and not yet taken. */
  #first: Promise<{ read: Built | undefined; saved?: SavedImage }> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #lastSuccess = 0;
  #lastError: string | undefined;
  /** Zones named by changes since the last reload began; `full` when some change named none. */
  #pendingZones = new Set<string>();
  #pendingFull = true;
  /**
   * The tables of StoreContents changes since the last reload began can have altered; `#pendingAll` when one could
   * have altered any (a change seen by polling, a forced or failed reload): a full reload in the build thread reads
   * only the named tables again otherwise (an SOA edit of every zone: the zones' rows, not every record).
   */
  #pendingTables = new Set<ContentsTable>();
  #pendingAll = true;
  /** A partial reload moves the version without reading every zone: a full reload must not skip on it. */
  #partialSinceFull = false;
  readonly #opts: ReloaderOptions;

  constructor(opts: ReloaderOptions) {
    this.#opts = opts;
    const log = opts.log;
    this.#thread = new BuildThread({
      file: opts.file,
      store: opts.storeInThread,
      onSaved: (ms) => log.debug({ ms: Math.round(ms) }, 'snapshot file saved'),
      onSaveFailed: (error) => {
        opts.metrics.snapshotFileErrors.inc();
        log.error({ err: error, file: opts.file?.path }, 'could not save the snapshot file; still serving');
      },
    });
  }

  /** The serving snapshot. Callers read it once per query. */
  readonly current = (): Snapshot => this.#current;

  get loaded(): boolean {
    return this.#loaded;
  }

  get lastSuccess(): number {
    return this.#lastSuccess;
  }

  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Installs rows that did not come from the store now (the snapshot file). */
  async install(contents: StoreContents): Promise<void> {
    // Rows from the file are not written back: the file keeps saying when the store last gave them.
    const built = await this.#thread.full(contents, false);
    for (const s of built.skipped) this.#opts.metrics.skippedRows.labels(s.table).inc();
    this.#swap(await this.#adopt(built));
    this.#keepIfComplete(built);
  }

  /**
   * Starts the first load's read and build now, for the first reload() to take: main.ts calls it before the vote
   * agreement starts (which the first swap must wait for), so that the two overlap (~0.6-1 s at --scale).
   */
  prefetch(): void {
    if (this.#loaded || this.#first !== undefined) return;
    this.#first = this.#firstRead();
    // Taken (and its failure thrown) by the first reload.
    this.#first.catch(() => undefined);
  }

  /** The first load: the image the last run wrote if the store is still at its version, else the whole store read and built. */
  async #firstRead(): Promise<{ read: Built | undefined; saved?: SavedImage }> {
    const saved = await this.#savedImage();
    return { read: await this.#readWhole(saved?.image.version, saved?.stamp), saved };
  }

  /** The image file of the last run (src/snapshot/image-file.ts), or undefined: none, or unusable (said once, here). */
  async #savedImage(): Promise<SavedImage | undefined> {
    if (!this.#opts.file) return undefined;
    const path = imageFilePath(this.#opts.file.path);
    const r = await readImageFile(path);
    if ('image' in r) return r;
    if (r.unusable !== 'none') this.#opts.log.warn({ file: path, reason: r.unusable }, 'image file not used: reading the store');
    return undefined;
  }

  /**
   * Serves the last run's image (the store is at its version): it is the complete image for DNS workers, the build
   * thread is told what the receivers hold, and, as the thread holds no rows, the next reload reads the whole store.
   * False when it cannot be adopted (a damaged file): the caller reads the store.
   */
  async #adoptSaved(image: SnapshotImage): Promise<boolean> {
    let snapshot: Snapshot;
    try {
      snapshot = await adoptImage(image, this.#current);
    } catch (err) {
      this.#opts.log.warn({ file: imageFilePath(this.#opts.file!.path), err: (err as Error).message }, 'image file not used: reading the store');
      return false;
    }
    this.#swap(snapshot);
    this.#complete = { snapshot, image: Promise.resolve(image) };
    this.#thread.hold(image);
    this.#pendingFull = true;
    return true;
  }

  /**
   * A build that lent nothing from the serving snapshot (the first load, a start from the file) is already the image
   * a starting DNS worker needs: kept for completeImage, which would otherwise have the thread build it all again
   * (measured at --scale: 1.5-4 s, at nice 19 beside the first probes, before any worker could answer).
   */
  #keepIfComplete(built: Built): void {
    if (built.rebuilt === built.image.zones.length && built.image.geoNetworks !== null) {
      this.#complete = { snapshot: this.#current, image: Promise.resolve(built.image) };
    }
  }

  /** An image of every zone served now, for a DNS worker that holds none. */
  completeImage(): Promise<SnapshotImage> {
    const snapshot = this.#current;
    if (this.#complete?.snapshot !== snapshot) {
      const image = this.#thread.complete().then((b) => b.image);
      image.catch(() => (this.#complete = undefined));
      this.#complete = { snapshot, image };
    }
    return this.#complete.image;
  }

  /** The image laid over the serving snapshot; if that fails, the build thread is told to leave nothing out next time. */
  async #adopt(built: Built): Promise<Snapshot> {
    const started = performance.now();
    try {
      const snapshot = await adoptImage(built.image, this.#current);
      this.#opts.metrics.adoptDuration.observe((performance.now() - started) / 1000);
      return snapshot;
    } catch (err) {
      this.#thread.forget();
      throw err;
    }
  }

  /** Notes what a change touched, then schedules a reload. */
  changed(change: { readonly zone: string | null; readonly table: string }): void {
    if (change.zone !== null && ZONE_TABLES.has(change.table)) this.#pendingZones.add(change.zone);
    else this.#pendingFull = true;
    const tables = contentsTablesOf(change.table);
    if (tables === undefined) this.#pendingAll = true;
    else for (const t of tables) this.#pendingTables.add(t);
    this.schedule();
  }

  /** Asks for a reload soon; many calls within the debounce window make one reload. */
  schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.reload().catch(() => undefined);
    }, this.#opts.debounceMs);
    this.#timer.unref?.();
  }

  /** Reloads now (everything, unless only zone changes are pending); if one is already running, one more follows it. */
  async reload(full = false): Promise<void> {
    if (full) {
      this.#pendingFull = true;
      this.#pendingAll = true;
    }
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#reloadOnce().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.schedule();
      }
    });
    return this.#running;
  }

  async #reloadOnce(): Promise<void> {
    const { metrics, log } = this.#opts;
    const zones = [...this.#pendingZones];
    const partial = !this.#pendingFull && this.#loaded && this.#opts.loadZones !== undefined && zones.length > 0 && zones.length <= MAX_PARTIAL_ZONES;
    // Taken now: changes that arrive while this reload runs are kept for the next one.
    // Only these tables read again, when the feed named each change's table and the thread reads the store.
    const tables = !this.#pendingAll && this.#pendingTables.size > 0 && this.#loaded && this.#opts.storeInThread !== undefined ? [...this.#pendingTables] : undefined;
    this.#pendingZones = new Set();
    this.#pendingFull = false;
    this.#pendingTables = new Set();
    this.#pendingAll = false;
    // Nothing named since the last reload (a plain schedule()): a full check, read unless the version is unchanged.
    const end = metrics.reloadDuration.startTimer();
    let fromFile = false;
    try {
      let built!: Built;
      let loaded!: Loaded;
      if (partial) {
        const part = await this.#opts.loadZones!(zones);
        built = await this.#thread.zones(part, zones);
        loaded = { kind: 'zones', image: built.image };
        this.#swap(await this.#adopt(built));
        this.#partialSinceFull = true;
      } else {
        // The version the serving snapshot was read at, when a read at the same version would change nothing.
        const unless = this.#loaded && !this.#partialSinceFull && this.#current !== EMPTY_SNAPSHOT ? this.#current.version : undefined;
        let read: Built | undefined;
        let saved: SavedImage | undefined;
        if (!this.#loaded) {
          // The first load of a run (started early by prefetch(), or now).
          const first = this.#first ?? this.#firstRead();
          this.#first = undefined;
          ({ read, saved } = await first);
        } else if (tables !== undefined) read = await this.#readTables(tables);
        else read = await this.#readWhole(unless);
        if (read === undefined && saved !== undefined) {
          if (await this.#adoptSaved(saved.image)) {
            fromFile = true;
            built = { image: saved.image, skipped: [], rebuilt: 0, restamped: 0, patched: 0, ms: 0 };
            loaded = { kind: 'full', image: saved.image };
          } else read = await this.#readWhole(undefined);
        }
        if (!fromFile) {
          if (read === undefined) {
            metrics.reloads.labels('unchanged').inc();
            this.#lastSuccess = Date.now();
            this.#lastError = undefined;
            return;
          }
          built = read;
          loaded = { kind: 'full', image: built.image };
          this.#swap(await this.#adopt(built));
          this.#keepIfComplete(built);
        }
        // Tables read alone may have missed a change to another table committed meanwhile (its notification is then
        // pending): the version moved past it, so the next full reload must not skip on the version.
        this.#partialSinceFull = tables !== undefined;
      }
      const skipped = built.skipped;
      for (const s of skipped) {
        metrics.skippedRows.labels(s.table).inc();
        log.warn({ table: s.table, key: s.key, reason: s.reason }, 'row skipped');
      }
      this.#lastSuccess = Date.now();
      this.#lastError = undefined;
      metrics.reloads.labels(partial ? 'zones' : 'ok').inc();
      this.#opts.onLoaded?.(loaded);
      const snapshot = this.#current;
      log.info(
        {
          version: snapshot.version,
          zones: snapshot.zones.size,
          reloaded: partial ? zones : 'all',
          ...(tables !== undefined && !partial ? { tablesRead: tables } : {}),
          ...(fromFile ? { from: 'image file' } : {}),
          rebuiltZones: built.rebuilt,
          restampedZones: built.restamped,
          patchedZones: built.patched,
          skipped: skipped.length,
          buildMs: Math.round(built.ms),
          imageBytes: imageBytes(built.image),
          ms: Math.round(end() * 1000),
        },
        'snapshot loaded',
      );
    } catch (err) {
      end();
      // Whatever was pending is still pending: the next attempt reads everything to be safe.
      this.#pendingFull = true;
      this.#pendingAll = true;
      metrics.reloads.labels('error').inc();
      this.#lastError = (err as Error).message;
      log.error({ err: (err as Error).message }, 'snapshot reload failed; still serving the previous one');
      throw err;
    }
  }

  /**
   * The whole store built into an image of what changed, or undefined when it is still at `unless`: read by the
   * build thread itself (storeInThread, the readiness told either way) or here through `load`.
   */
  async #readWhole(unless: number | undefined, stamp?: string): Promise<Built | undefined> {
    if (this.#opts.storeInThread) return this.#toldStoreRead(this.#thread.load(unless, stamp));
    const contents = await this.#opts.load();
    return contents.version === unless && (stamp === undefined || contents.stamp === stamp) ? undefined : this.#thread.full(contents);
  }

  /** Only `tables` read again by the build thread, which keeps the others as it last read them. */
  #readTables(tables: readonly ContentsTable[]): Promise<Built> {
    return this.#toldStoreRead(this.#thread.loadTables(tables));
  }

  /** A read by the build thread, whose reaching the store or not (E_STORE) is told to onStoreRead. */
  async #toldStoreRead<T>(read: Promise<T>): Promise<T> {
    try {
      const result = await read;
      this.#opts.onStoreRead?.(true);
      return result;
    } catch (err) {
      if (err instanceof LbdnsError && err.code === 'E_STORE') this.#opts.onStoreRead?.(false);
      throw err;
    }
  }

  #swap(snapshot: Snapshot): void {
    const before = this.#current.pools;
    // The first swap always counts as a change, even to no pools: the health monitor's first round (which the DNS
    // sockets wait for) starts only when it is handed the pools, and an empty store would otherwise never open them.
    const poolsChanged = !this.#loaded || before.length !== snapshot.pools.length || snapshot.pools.some((p, i) => p !== before[i]);
    this.#current = snapshot;
    this.#loaded = true;
    const m = this.#opts.metrics;
    m.snapshotVersion.set(snapshot.version);
    m.snapshotZones.set(snapshot.zones.size);
    m.snapshotSwapped(snapshot.builtAt);
    m.zoneSerial.reset();
    for (const z of snapshot.zones.values()) m.zoneSerial.labels(z.name).set(z.serial);
    this.#opts.onSwap?.(snapshot, poolsChanged);
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#thread.close();
  }
}
