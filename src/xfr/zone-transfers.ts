// The primary's side of zone transfers in one piece for main.ts: serving AXFR/IXFR, NOTIFY on serial changes, pool serials.
import type { Query } from '../core/query.js';
import { poolsByZone, type Pool, type Snapshot } from '../core/snapshot.js';
import type { HealthView } from '../health/health-view.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import type { Store, TsigKey, ZoneTransferSettings } from '../store/store.js';
import { storeJournal } from './journal.js';
import { NotifySender } from './notify.js';
import { PoolSerial } from './pool-serial.js';
import { SignedQueries } from './signed-queries.js';
import { TransferService } from './transfer-service.js';

export interface ZoneTransfersOptions {
  readonly store: Pick<Store, 'transferSettings' | 'tsigKeys' | 'advancePoolSerial' | 'journal'>;
  readonly snapshot: () => Snapshot;
  readonly health: () => HealthView;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** The TSIG keys changed (DNS workers need a copy to sign replies). */
  readonly onKeys?: (keys: readonly TsigKey[]) => void;
}

/** The same pool objects in the same order (a snapshot's pools are immutable: the same object is the same pool). */
function samePools(a: readonly Pool[] | undefined, b: readonly Pool[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((p, i) => p === y[i]);
}

/**
 * One zone's transfer settings, read in one query with those of every zone asked for in the same turn of the event
 * loop: a reload that moved every zone's serial asks for 100 at once, which were 100 queries on the answering thread,
 * all in flight together (their objects surviving its collections).
 */
export function batchedSettings(read: (zones: readonly string[]) => Promise<readonly ZoneTransferSettings[]>): (zone: string) => Promise<ZoneTransferSettings | undefined> {
  let batch: { readonly names: Set<string>; readonly settings: Promise<Map<string, ZoneTransferSettings>> } | undefined;
  return async (zone) => {
    if (batch === undefined) {
      const names = new Set<string>();
      const settings = new Promise<void>((r) => setImmediate(r)).then(async () => {
        // Asked for from now on: the next batch.
        batch = undefined;
        return new Map((await read([...names])).map((s) => [s.zone, s] as const));
      });
      batch = { names, settings };
    }
    const mine = batch;
    mine.names.add(zone);
    return (await mine.settings).get(zone);
  };
}

export class ZoneTransfers {
  readonly service: TransferService;
  readonly #notify: NotifySender;
  readonly #poolSerial: PoolSerial;
  readonly #signed: SignedQueries;
  /** zone → serial last announced; undefined before the first snapshot. */
  #serials: Map<string, number> | undefined;
  /** Pool member id → its zone, for the snapshot served now. */
  #memberZone = new Map<number, string>();
  /** The snapshot of the last swapped(): what the next one is compared with. */
  #last: Snapshot | undefined;

  constructor(opts: ZoneTransfersOptions) {
    const settings = async (zone: string) => (await opts.store.transferSettings(zone))[0];
    const keys = () => opts.store.tsigKeys();
    this.service = new TransferService({ snapshot: opts.snapshot, health: opts.health, settings, keys, journal: storeJournal(opts.store), metrics: opts.metrics, log: opts.log });
    // NOTIFY reads no pool set: an edit of every zone sends 100s of them, each parsed on the answering thread.
    this.#notify = new NotifySender({ settings: batchedSettings((zones) => opts.store.transferSettings(zones, { poolSet: false })), keys, metrics: opts.metrics, log: opts.log });
    this.#signed = new SignedQueries({ load: keys, log: opts.log, onKeys: (k) => opts.onKeys?.(k) });
    this.#poolSerial = new PoolSerial({
      snapshot: opts.snapshot,
      health: opts.health,
      advance: (zone, fp, lines) => opts.store.advancePoolSerial(zone, fp, lines),
      metrics: opts.metrics,
      log: opts.log,
    });
  }

  /** For startDnsServer's `transfer` option. */
  readonly handler = (packet: Buffer, peer: string, write: (message: Buffer) => Promise<void>): Promise<void> | undefined =>
    this.service.handle(packet, peer, write);

  /** The TSIG keys as last read (for DNS workers that start). */
  keys(): readonly TsigKey[] {
    return this.#signed.keys();
  }

  /** For startDnsServer's `tsig` option. */
  readonly signer = (packet: Buffer, query: Query, reply: Buffer): Buffer => this.#signed.sign(packet, query, reply);

  /** A new snapshot: NOTIFY each zone whose serial moved (every zone on the first one, as BIND does at start). */
  swapped(snapshot: Snapshot): void {
    const previous = this.#serials;
    // The keys are read once the store is migrated and answering, which the first snapshot proves.
    // Keys are read again on every swap: `zone set --tsig-key` makes one, so a key named there is usable at once.
    if (previous === undefined) this.#signed.start();
    else void this.#signed.refresh();
    this.#serials = new Map();
    const before = this.#last;
    this.#last = snapshot;
    let oldPools: Map<string, Pool[]> | undefined;
    let newPools: Map<string, Pool[]> | undefined;
    for (const zone of snapshot.zones.values()) {
      this.#serials.set(zone.name, zone.serial);
      // A signed zone is not transferred (transfer-service.ts): nobody to tell.
      if (previous?.get(zone.name) !== zone.serial && !zone.dnssec) void this.#notify.notify(zone);
      // Only a zone that is not the same object as before can hold other pools (a new snapshot lends unchanged
      // zones): the others' answerable sets are not looked at again (10,000 pools took ~0.1 s a snapshot). Nor are
      // those of a zone made again around the same pool objects (an SOA edit, a record edit: pools are lent), whose
      // answerable sets are what they were: at 100 zones of 100 pools that was ~45 ms of the answering thread and
      // its garbage at each such reload.
      if (before !== undefined && before.zones.get(zone.name) !== zone) {
        oldPools ??= poolsByZone(before.pools);
        newPools ??= poolsByZone(snapshot.pools);
        if (!samePools(oldPools.get(zone.name), newPools.get(zone.name))) this.#poolSerial.changed(zone.name);
      }
    }
    if (before === undefined) this.#poolSerial.changed();
    else for (const name of before.zones.keys()) if (!snapshot.zones.has(name)) this.#poolSerial.changed(name);
    // Which zone each member is in: made again only when some pool is not the one it was (a geo_networks edit lends
    // them all), as it is 80,000 entries at scale.
    const pools = snapshot.pools;
    const old = before?.pools;
    if (old === undefined || old.length !== pools.length || pools.some((p, i) => p !== old[i])) {
      const memberZone = new Map<number, string>();
      for (const pool of pools) for (const m of pool.members) memberZone.set(m.id, pool.zone);
      this.#memberZone = memberZone;
    }
  }

  /** A member changed state: its pool's answerable set may have changed (an unknown member: look at every zone). */
  healthChanged(memberId?: number): void {
    const zone = memberId === undefined ? undefined : this.#memberZone.get(memberId);
    this.#poolSerial.changed(zone);
  }

  /** Once the first probe round is over: serials follow pool health from now on. */
  enablePoolSerials(): void {
    this.#poolSerial.enable();
  }

  stop(): void {
    this.#signed.stop();
    this.#poolSerial.stop();
    this.#notify.stop();
  }
}
