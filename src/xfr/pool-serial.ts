// Moves a zone's serial in the store when its pools' answerable set changes: at most once a second per zone, once per pair.
import { createHash } from 'node:crypto';
import type { Snapshot, Zone } from '../core/snapshot.js';
import type { HealthView } from '../health/health-view.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import { yieldToLoop } from '../snapshot/image.js';
import { poolSetLines } from './pool-rrsets.js';

export interface PoolSerialOptions {
  readonly snapshot: () => Snapshot;
  readonly health: () => HealthView;
  /** The store's guarded bump (Store.advancePoolSerial): the new serial, or undefined when the fingerprint was there. */
  readonly advance: (zone: string, fingerprint: string, lines: readonly string[]) => Promise<number | undefined>;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Least time between two bumps of one zone (1 s): changes within it coalesce into the next bump. */
  readonly minIntervalMs?: number;
  readonly now?: () => number;
}

/**
 * Serials follow effective changes only: a probe that changes nobody's state changes no fingerprint, and the
 * fingerprint (sha256 of the sorted answerable addresses) is the same on both nodes of a pair when their views
 * agree, so the UPDATE ... WHERE pool_fingerprint IS DISTINCT FROM ... of the second one moves nothing.
 */
function zoneHasPool(zone: Zone): boolean {
  for (const node of zone.nodes.values()) if (node.pool) return true;
  return false;
}

export class PoolSerial {
  readonly #opts: PoolSerialOptions;
  readonly #now: () => number;
  /** zone → the fingerprint this node last saw written (by itself or found already there). */
  readonly #written = new Map<string, string>();
  readonly #lastBump = new Map<string, number>();
  /** Zones to look at on the next check; `all` after a new snapshot (pools may have been edited anywhere). */
  readonly #dirty = new Set<string>();
  #all = true;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #again = false;
  #enabled = false;

  constructor(opts: PoolSerialOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Starts acting on changes (after the first probe round: an empty health view is not a change). */
  enable(): void {
    this.#enabled = true;
    this.changed();
  }

  /**
   * A health transition in `zone`, or (no zone) a new snapshot: check soon. Only the zones named are computed
   * again, so a flapping member costs its own zone's pools, not every pool of every zone.
   */
  changed(zone?: string): void {
    if (zone === undefined) this.#all = true;
    else this.#dirty.add(zone);
    if (!this.#enabled || this.#timer !== undefined) return;
    this.#schedule(0);
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#check();
    }, ms);
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    const { log, metrics } = this.#opts;
    const min = this.#opts.minIntervalMs ?? 1000;
    let wait = Infinity;
    try {
      const snapshot = this.#opts.snapshot();
      const health = this.#opts.health();
      const names = this.#all ? [...snapshot.zones.keys()] : [...this.#dirty];
      this.#all = false;
      this.#dirty.clear();
      for (let i = 0; i < names.length; i++) {
        // One zone per turn of the event loop: after a new snapshot every zone is looked at, and all of them in one
        // go held the answering thread for the whole set (10,000 pools of 8 members: hundreds of ms, at every full
        // reload, even one that changed no pool); a zone's pools take a few ms.
        if (i > 0) await yieldToLoop();
        const name = names[i];
        const zone = snapshot.zones.get(name);
        if (!zone) continue;
        const lines = poolSetLines(zone, health);
        // A zone that never had pools keeps its serial; one whose last pool went needs one more bump.
        if (lines.length === 0 && !this.#written.has(zone.name) && !zoneHasPool(zone)) continue;
        const fp = createHash('sha256').update(lines.join('\n')).digest('base64');
        if (this.#written.get(zone.name) === fp) continue;
        const since = this.#now() - (this.#lastBump.get(zone.name) ?? -Infinity);
        if (since < min) {
          wait = Math.min(wait, min - since);
          this.#dirty.add(zone.name);
          continue;
        }
        try {
          const serial = await this.#opts.advance(zone.name, fp, lines);
          this.#written.set(zone.name, fp);
          if (serial !== undefined) {
            this.#lastBump.set(zone.name, this.#now());
            metrics.poolSerialBumps.labels(zone.name).inc();
            log.info({ zone: zone.name, serial }, 'pool answerable set changed: serial advanced');
          }
        } catch (err) {
          log.warn({ zone: zone.name, err: (err as Error).message }, 'pool serial not advanced; retrying');
          this.#dirty.add(zone.name);
          wait = Math.min(wait, min);
        }
      }
    } finally {
      this.#running = false;
    }
    if (this.#again) {
      this.#again = false;
      wait = 0;
    }
    if (wait !== Infinity) this.#schedule(wait);
  }

  stop(): void {
    this.#enabled = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
