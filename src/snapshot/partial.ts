// Reloading only the zones an edit touched: the rows of those zones replace theirs, every other zone is reused as is.
import type { Snapshot } from '../core/snapshot.js';
import type { StoreContents } from '../store/rows.js';
import { buildZones, type BuildResult, type SkippedRow } from './build.js';

/** `old` with the rows of the `names` zones replaced by `part` (a zone missing from `part` was deleted). */
export function mergeContents(old: StoreContents, part: StoreContents, names: readonly string[]): StoreContents {
  const touched = new Set(names);
  const oldZoneIds = new Set(old.zones.filter((z) => touched.has(z.name)).map((z) => z.id));
  const newZoneIds = new Set(part.zones.map((z) => z.id));
  const gone = (zoneId: number) => oldZoneIds.has(zoneId) || newZoneIds.has(zoneId);
  const oldPoolIds = new Set((old.pools ?? []).filter((p) => gone(p.zoneId)).map((p) => p.id));
  const newPoolIds = new Set((part.pools ?? []).map((p) => p.id));
  return Object.freeze({
    version: part.version,
    zones: Object.freeze([...old.zones.filter((z) => !touched.has(z.name) && !newZoneIds.has(z.id)), ...part.zones]),
    records: Object.freeze([...old.records.filter((r) => !gone(r.zoneId)), ...part.records]),
    pools: Object.freeze([...(old.pools ?? []).filter((p) => !gone(p.zoneId)), ...(part.pools ?? [])]),
    members: Object.freeze([...(old.members ?? []).filter((m) => !oldPoolIds.has(m.poolId) && !newPoolIds.has(m.poolId)), ...(part.members ?? [])]),
    geoNetworks: old.geoNetworks,
    dnssecKeys: Object.freeze([...(old.dnssecKeys ?? []).filter((k) => !gone(k.zoneId)), ...(part.dnssecKeys ?? [])]),
  });
}

/** A new snapshot sharing every untouched zone (and the geo index) with `current`. */
export function rebuildZones(current: Snapshot, part: StoreContents, names: readonly string[], now = Date.now()): BuildResult {
  const skipped: SkippedRow[] = [];
  const built = buildZones(part, skipped);
  const touched = new Set([...names, ...built.zones.keys()]);
  const zones = new Map(current.zones);
  for (const name of touched) zones.delete(name);
  for (const [name, zone] of built.zones) zones.set(name, zone);
  const pools = [...current.pools.filter((p) => !touched.has(p.zone)), ...built.pools];
  const snapshot: Snapshot = Object.freeze({ ...current, version: part.version, builtAt: now, zones, pools: Object.freeze(pools) });
  return { snapshot, skipped };
}
