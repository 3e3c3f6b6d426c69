// A snapshot as a list of byte chunks: encoded where it is built, adopted chunk by chunk where it is served.
//
// Why this form: the core answers from a graph of frozen JS objects (Maps, RRsetList, Pool) that respond() walks in
// about 2 µs a query, and V8 cannot share or transfer JS objects between threads or processes. Everything costly
// in a reload (parsing every row's text into wire RDATA, validation, zone cuts and empty non-terminals, sorting,
// the snapshot file's JSON) therefore runs on the build thread (build-thread.ts), which sends this image; the
// answering thread only turns each chunk back into objects, one chunk per turn of the event loop, so queries are
// answered between chunks. The same image goes to the DNS worker processes, which adopt it the same way instead of
// each building the snapshot from the rows.
//
// An image carries only what changed: every zone is listed with a fingerprint of its rows, and a zone whose
// fingerprint the receiver already serves is taken from its current snapshot, objects and all. A full reload after a
// geo_networks edit, or one seen by polling, then costs the answering thread what changed, not 100,000 records.
import { deserialize, serialize } from 'node:v8';
import { QTYPE } from '../core/constants.js';
import type { MaintenanceWindow, MemberOverride } from '../core/override.js';
import { memberLocation, poolsByZone, RRsetList, type HealthCheck, type Pool, type PoolMember, type RRset, type Snapshot, type Zone, type ZoneKey, type ZoneNode } from '../core/snapshot.js';
import { buildNetworkIndex } from '../geo/network-index.js';
import type { GeoNetworkRow } from '../store/rows.js';

export interface SnapshotImage {
  readonly version: number;
  readonly builtAt: number;
  /** Every zone of the new snapshot, in order, with the fingerprint of the rows it was built from. */
  readonly zones: readonly (readonly [name: string, fingerprint: string])[];
  /** The rows the geo index is rebuilt from (few; the build thread reported bad ones); null: keep the current index. */
  readonly geoNetworks: readonly GeoNetworkRow[] | null;
  /** The zones not already served (and their pools), encoded; see adoptImage. */
  readonly chunks: readonly Uint8Array[];
}

/**
 * A zone sent as its head only: the receiver serves the zone's body (every node but the apex's SOA, its pools, cuts,
 * empty non-terminals and key) at the body fingerprint the image lists, and keeps it. See build-worker.ts.
 */
export interface ZoneHead {
  readonly name: string;
  readonly serial: number;
  readonly soa: RRset;
  readonly negativeTtl: number;
}

/** Pool fingerprints for encodeImage: each built pool's, and what the receivers hold (a pool held at its fingerprint is lent). */
export interface PoolPrints {
  readonly of: (pool: Pool) => string;
  readonly held: ReadonlyMap<number, string>;
}

/**
 * A zone as the receivers hold it, for encodeImage to send a rebuilt zone as a patch: the nodes that differ from these
 * and the names gone. `body`: the body fingerprint (bodyOf) they were built at, which the receiver checks. An edit of
 * one record in every zone at --scale sent all 100,000 names, and the answering thread deserialized and compared them
 * all to keep 99,900 (~36 MB of short-lived objects a reload, and the major collections that followed); as patches it
 * receives 100 nodes.
 */
export interface ZoneBase {
  readonly body: string;
  readonly nodes: ReadonlyMap<string, ZoneNode>;
  /** The ids of the zone's pools, in order: a patch whose pools are these, all lent, sends none of them but those its nodes point at. */
  readonly poolIds: readonly number[];
}

/** The fingerprint each adopted pool was built from: what a later image may lend. */
const poolPrints = new WeakMap<Pool, string>();

/** A zone's fingerprint is `head:body` (build-worker.ts says why); base64 has no ':'. */
const HEAD_END = ':';
export const zoneFingerprint = (head: string, body: string): string => `${head}${HEAD_END}${body}`;
/** The body part of a zone's fingerprint. */
export const bodyOf = (fingerprint: string): string => fingerprint.slice(fingerprint.indexOf(HEAD_END) + 1);

/** Sized so that adopting one chunk takes about a millisecond (measured: ~1 µs per name at 100,000 names). */
const NODES_PER_CHUNK = 1000;
const POOLS_PER_CHUNK = 150;

/**
 * Pools column by column: V8's serializer writes every property name of every object it meets, which made a chunk
 * of pools as objects 16 MB for 80,000 members and 240 ms to read back; as columns it is a few MB and milliseconds.
 */
interface PoolColumns {
  readonly id: number[];
  readonly name: string[];
  readonly zone: string[];
  readonly policy: string[];
  readonly ttl: number[];
  readonly count: number[];
  readonly allDown: Pool['allDown'][];
  /** The health check as JSON: pools mostly share a few, so each distinct one is parsed once per chunk. */
  readonly check: string[];
  readonly members: number[];
  /** The hash policy's prefix lengths, v4 and v6; -1: absent (the policy's defaults). */
  readonly hashV4: number[];
  readonly hashV6: number[];
  /** The fingerprint of the rows the pool was built from ('' when unknown): a later image may lend it by this. */
  readonly fp: string[];
  readonly m: {
    readonly id: number[];
    readonly address: string[];
    readonly probeAddress: (string | null)[];
    readonly family: (4 | 6)[];
    readonly weight: number[];
    readonly priority: number[];
    readonly enabled: boolean[];
    readonly country: (string | null)[];
    readonly continent: (string | null)[];
    readonly region: (string | null)[];
    readonly latitude: (number | null)[];
    readonly longitude: (number | null)[];
    /** Override and maintenance windows as JSON ({o, w}); null: neither (most members). */
    readonly timed: (string | null)[];
  };
}

function poolColumns(): PoolColumns {
  return {
    id: [], name: [], zone: [], policy: [], ttl: [], count: [], allDown: [], check: [], members: [], hashV4: [], hashV6: [], fp: [],
    m: { id: [], address: [], probeAddress: [], family: [], weight: [], priority: [], enabled: [], country: [], continent: [], region: [], latitude: [], longitude: [], timed: [] },
  };
}

type Chunk =
  | { readonly t: 'pools'; readonly pools: PoolColumns; readonly bytes: Uint8Array }
  /**
   * `key`: the signed zone's key, private part still sealed; null: unsigned. `base`: null, the zone's nodes follow in full; otherwise the body fingerprint of the zone as the receiver holds it,
   * and only the nodes that differ from it follow, with `gone` the names it no longer has (a patch; see ZoneBase).
   * `poolsKept`: the zone's pools are the ones the receiver holds for it (a patch only; see encodeImage).
   */
  | { readonly t: 'zone'; readonly name: string; readonly serial: number; readonly soaTtl: number; readonly soa: Uint8Array; readonly negativeTtl: number; readonly ents: readonly string[]; readonly cuts: readonly string[]; readonly key: ZoneKey | null; readonly base: string | null; readonly gone: readonly string[]; readonly poolsKept: boolean }
  /** A zone whose body the receiver holds: its new SOA and serial (ZoneHead). */
  | { readonly t: 'head'; readonly name: string; readonly serial: number; readonly soaTtl: number; readonly soa: Uint8Array; readonly negativeTtl: number }
  /** Per node: pool index (-1: none), set count; per set: type, ttl, rdata count, target count, each rdata's length. */
  | { readonly t: 'nodes'; readonly zone: string; readonly names: readonly string[]; readonly meta: readonly number[]; readonly bytes: Uint8Array; readonly targets: readonly string[] };

/** A standalone copy: serialize() may return a view of a larger pooled buffer, which must not be transferred. */
function pack(chunk: Chunk): Uint8Array {
  const b = serialize(chunk);
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

class Bytes {
  private buf = new Uint8Array(4096);
  length = 0;

  push(data: Uint8Array): void {
    if (this.length + data.length > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + data.length));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }
}

/** A zone's key as a plain object with buffers of its own (a view would carry its whole backing buffer along). */
function keyOf(zone: Zone): ZoneKey | null {
  const k = zone.dnssec;
  return k ? { algorithm: k.algorithm, flags: k.flags, keyTag: k.keyTag, dnskey: new Uint8Array(k.dnskey), privateKey: new Uint8Array(k.privateKey) } : null;
}

/**
 * Whether the receiver's node `old` (built here earlier) is `node` again: the same pool (by id, and lent, so the
 * receiver keeps the Pool object its node points at) and the same RRsets (types, TTLs, RDATA octets, targets).
 * The receiver's sameNode asks the same of an image's node.
 */
function sameBuilt(old: ZoneNode, node: ZoneNode, lent: ReadonlySet<Pool>): boolean {
  if (old.pool === undefined ? node.pool !== undefined : node.pool === undefined || node.pool.id !== old.pool.id || !lent.has(node.pool)) return false;
  if (old.rrsets === node.rrsets) return true;
  if (old.rrsets.size !== node.rrsets.size) return false;
  for (const set of node.rrsets.values()) {
    const was = old.rrsets.get(set.type);
    if (was === undefined || was.ttl !== set.ttl || was.rdata.length !== set.rdata.length || was.targets.length !== set.targets.length) return false;
    for (let r = 0; r < set.rdata.length; r++) {
      const a = was.rdata[r];
      const b = set.rdata[r];
      if (a === b) continue;
      if (a.length !== b.length) return false;
      for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
    }
    for (let k = 0; k < set.targets.length; k++) if (was.targets[k] !== set.targets[k]) return false;
  }
  return true;
}

/**
 * Encodes built zones and their pools (`zones` holds those the receiver lacks; `order` lists every zone). A zone
 * `bases` gives (what the receiver holds of it) is sent as a patch against that.
 */
export function encodeImage(
  built: { readonly version: number; readonly builtAt: number; readonly zones: ReadonlyMap<string, Zone>; readonly pools: readonly Pool[] },
  order: readonly (readonly [string, string])[],
  geoNetworks: readonly GeoNetworkRow[] | null,
  heads: readonly ZoneHead[] = [],
  pools?: PoolPrints,
  bases: ReadonlyMap<string, ZoneBase> = new Map(),
): SnapshotImage {
  const snapshot = built;
  const chunks: Uint8Array[] = [];
  const lentPools = new Set<Pool>();
  const isLent = (pool: Pool): boolean => {
    const fp = pools?.of(pool) ?? '';
    return fp !== '' && pools?.held.get(pool.id) === fp;
  };
  for (const pool of snapshot.pools) if (isLent(pool)) lentPools.add(pool);
  // First what each zone sends: all its nodes, or (a patch) those that differ from what the receiver holds. A patched
  // zone whose pools are the receiver's (the same ids in order, every one lent) keeps them there: only the pools its
  // sent nodes point at are listed (lent), not 100 pools a zone at --scale read back for each reload of a record.
  const byZone = poolsByZone(snapshot.pools);
  const plans: { zone: Zone; base: ZoneBase | undefined; nodes: ZoneNode[]; gone: string[]; poolsKept: boolean }[] = [];
  const skipPools = new Set<Pool>();
  const pointedAt = new Set<Pool>();
  for (const zone of snapshot.zones.values()) {
    const base = bases.get(zone.name);
    const gone: string[] = [];
    const nodes: ZoneNode[] = [];
    if (base) for (const name of base.nodes.keys()) if (!zone.nodes.has(name)) gone.push(name);
    for (const node of zone.nodes.values()) {
      const old = base?.nodes.get(node.name);
      if (old !== undefined && sameBuilt(old, node, lentPools)) continue;
      nodes.push(node);
      if (node.pool) pointedAt.add(node.pool);
    }
    const zonePools = byZone.get(zone.name) ?? [];
    const poolsKept =
      base !== undefined && zonePools.length === base.poolIds.length && zonePools.every((p, i) => p.id === base.poolIds[i] && lentPools.has(p));
    if (poolsKept) for (const p of zonePools) skipPools.add(p);
    plans.push({ zone, base, nodes, gone, poolsKept });
  }
  const poolIndex = new Map<Pool, number>();
  const bytes = new Bytes();
  let batch = poolColumns();
  const flushPools = (): void => {
    if (batch.id.length === 0) return;
    chunks.push(pack({ t: 'pools', pools: batch, bytes: bytes.take() }));
    batch = poolColumns();
  };
  for (const pool of snapshot.pools) {
    if (skipPools.has(pool) && !pointedAt.has(pool)) continue;
    poolIndex.set(pool, poolIndex.size);
    const b = batch;
    const fp = pools?.of(pool) ?? '';
    // Lent: the receiver serves this pool built from the same rows (members -1: no member columns follow).
    const lent = lentPools.has(pool);
    b.id.push(pool.id);
    b.fp.push(fp);
    b.name.push(pool.name);
    b.zone.push(pool.zone);
    b.policy.push(pool.policy);
    b.ttl.push(pool.ttl);
    b.count.push(pool.count);
    b.allDown.push(pool.allDown);
    b.check.push(JSON.stringify(pool.check));
    b.members.push(lent ? -1 : pool.members.length);
    b.hashV4.push(pool.hashPrefix?.v4 ?? -1);
    b.hashV6.push(pool.hashPrefix?.v6 ?? -1);
    for (const m of lent ? [] : pool.members) {
      b.m.id.push(m.id);
      b.m.address.push(m.address);
      b.m.probeAddress.push(m.probeAddress);
      b.m.family.push(m.family);
      b.m.weight.push(m.weight);
      b.m.priority.push(m.priority);
      b.m.enabled.push(m.enabled);
      b.m.country.push(m.location.country);
      b.m.continent.push(m.location.continent);
      b.m.region.push(m.location.region);
      b.m.latitude.push(m.location.latitude);
      b.m.longitude.push(m.location.longitude);
      b.m.timed.push(m.override === undefined && m.maintenance === undefined ? null : JSON.stringify({ o: m.override, w: m.maintenance }));
      bytes.push(m.rdata);
    }
    if (b.id.length >= POOLS_PER_CHUNK) flushPools();
  }
  flushPools();
  for (const { zone, base, nodes, gone, poolsKept } of plans) {
    chunks.push(
      pack({
        t: 'zone', name: zone.name, serial: zone.serial, soaTtl: zone.soa.ttl, soa: new Uint8Array(zone.soa.rdata[0]), negativeTtl: zone.negativeTtl,
        ents: [...zone.emptyNonTerminals], cuts: [...zone.cuts], key: keyOf(zone), base: base?.body ?? null, gone, poolsKept,
      }),
    );
    let names: string[] = [];
    let meta: number[] = [];
    let targets: string[] = [];
    const flush = (): void => {
      if (names.length === 0) return;
      chunks.push(pack({ t: 'nodes', zone: zone.name, names, meta, bytes: bytes.take(), targets }));
      names = [];
      meta = [];
      targets = [];
    };
    for (const node of nodes) {
      names.push(node.name);
      meta.push(node.pool ? poolIndex.get(node.pool)! : -1, node.rrsets.size);
      for (const set of node.rrsets.values()) {
        meta.push(set.type, set.ttl, set.rdata.length, set.targets.length);
        for (const r of set.rdata) {
          meta.push(r.length);
          bytes.push(r);
        }
        targets.push(...set.targets);
      }
      if (names.length >= NODES_PER_CHUNK) flush();
    }
    flush();
  }
  for (const h of heads) chunks.push(pack({ t: 'head', name: h.name, serial: h.serial, soaTtl: h.soa.ttl, soa: new Uint8Array(h.soa.rdata[0]), negativeTtl: h.negativeTtl }));
  return { version: snapshot.version, builtAt: snapshot.builtAt, zones: order, geoNetworks, chunks };
}

/** Every chunk's ArrayBuffer, for postMessage's transfer list. */
export function imageBuffers(image: SnapshotImage): ArrayBuffer[] {
  return image.chunks.map((c) => c.buffer as ArrayBuffer);
}

/** The size of an image in bytes. */
export function imageBytes(image: SnapshotImage): number {
  return image.chunks.reduce((n, c) => n + c.byteLength, 0);
}

// Shared with build.ts's result: RRsets that point at no name hold this one frozen list.
const NO_TARGETS: string[] = Object.freeze([]) as unknown as string[];

/** Lets the event loop run (I/O callbacks included) before the next chunk. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A member's override and maintenance windows back from their JSON column. */
function timedState(json: string | null): Pick<PoolMember, 'override' | 'maintenance'> {
  if (json === null) return {};
  const t = JSON.parse(json) as { o?: MemberOverride; w?: MaintenanceWindow[] };
  return {
    ...(t.o ? { override: Object.freeze(t.o) } : {}),
    ...(t.w ? { maintenance: Object.freeze(t.w.map((w) => Object.freeze(w))) } : {}),
  };
}

function adoptPools(c: PoolColumns, bytes: Uint8Array, out: Pool[], lent: (id: number, fp: string) => Pool): void {
  const checks = new Map<string, HealthCheck>();
  // Strings many pools or members repeat (a zone's name, a policy, a shared probe address) arrive as a copy each:
  // one copy per chunk is kept instead (80,000 probe addresses of the same management host were 80,000 strings).
  const strings = new Map<string, string>();
  const one = <T extends string | null>(x: T): T => {
    if (x === null) return x;
    const held = strings.get(x);
    if (held !== undefined) return held as T;
    strings.set(x, x);
    return x;
  };
  const m = c.m;
  let j = 0;
  let o = 0;
  for (let i = 0; i < c.id.length; i++) {
    if (c.members[i] < 0) {
      out.push(lent(c.id[i], c.fp[i]));
      continue;
    }
    const members: PoolMember[] = [];
    for (const end = j + c.members[i]; j < end; j++) {
      const family = m.family[j];
      members.push(
        Object.freeze({
          id: m.id[j],
          address: m.address[j],
          probeAddress: one(m.probeAddress[j]),
          family,
          rdata: bytes.subarray(o, (o += family === 6 ? 16 : 4)),
          weight: m.weight[j],
          priority: m.priority[j],
          enabled: m.enabled[j],
          location: memberLocation(m.country[j], m.continent[j], m.region[j], m.latitude[j], m.longitude[j]),
          ...timedState(m.timed[j]),
        }),
      );
    }
    let check = checks.get(c.check[i]);
    if (check === undefined) {
      // Every field the builder put in, whatever the schema holds: a new check field needs nothing here.
      check = Object.freeze(JSON.parse(c.check[i]) as HealthCheck);
      checks.set(c.check[i], check);
    }
    const hashPrefix = c.hashV4[i] < 0 ? {} : { hashPrefix: Object.freeze({ v4: c.hashV4[i], v6: c.hashV6[i] }) };
    const pool: Pool = Object.freeze({ id: c.id[i], name: c.name[i], zone: one(c.zone[i]), policy: one(c.policy[i]), ttl: c.ttl[i], count: c.count[i], allDown: one(c.allDown[i]), check, members: Object.freeze(members), ...hashPrefix });
    if (c.fp[i]) poolPrints.set(pool, c.fp[i]);
    out.push(pool);
  }
}

/** The zone fingerprints each adopted snapshot was built from: what the next image may leave out. */
const fingerprints = new WeakMap<Snapshot, ReadonlyMap<string, string>>();

/** The zones (by fingerprint) a snapshot can lend to the next image: none for one that was not adopted from an image. */
export function heldZones(snapshot: Snapshot): ReadonlyMap<string, string> {
  return fingerprints.get(snapshot) ?? new Map();
}

/**
 * A zone from its new head and the body `current` serves at the fingerprint the image lists: the same nodes (the
 * same Map), cuts, empty non-terminals and key. The apex node keeps the SOA RRset it was built with, which nothing
 * serves: the SOA is always answered from the zone's own `soa` (Zone.soa). Copying each zone's Map to give it a new
 * apex node (1,000 names: ~30 KB a zone, 100 zones a reload at --scale) was what the answering thread's young
 * collections copied and promoted during these reloads.
 */
function restamp(head: Extract<Chunk, { t: 'head' }>, current: Snapshot, held: ReadonlyMap<string, string>, listed: ReadonlyMap<string, string>): Zone {
  const old = current.zones.get(head.name);
  const had = held.get(head.name);
  const fp = listed.get(head.name);
  if (old === undefined || had === undefined || fp === undefined || bodyOf(had) !== bodyOf(fp)) {
    throw new Error(`snapshot image needs the body of zone ${head.name}, which the serving snapshot does not hold`);
  }
  const soa: RRset = { type: QTYPE.SOA, ttl: head.soaTtl, rdata: [head.soa], targets: NO_TARGETS };
  const dnssec = old.dnssec ? { dnssec: old.dnssec } : {};
  return Object.freeze({ name: head.name, serial: head.serial, soa, negativeTtl: head.negativeTtl, nodes: old.nodes, emptyNonTerminals: old.emptyNonTerminals, cuts: old.cuts, ...dnssec });
}

/**
 * Whether the node the image describes at `at` (meta[m], its RDATA at bytes[o], its targets at targets[t]) is
 * `old` again: the same pool object and the same RRsets (types, TTLs, RDATA octets, targets). If so, `at` is moved
 * past it. An edit of one record in every zone rebuilds every zone, and making all of their nodes
 * again (100,000 names: ~700,000 objects that survive, copied by each scavenge during the adoption) is what
 * stalled answering; the unchanged ones are now taken as they are, and only the changed ones are made.
 */
const at = { m: 0, o: 0, t: 0 };

function sameNode(old: ZoneNode, meta: ArrayLike<number>, bytes: Uint8Array, targets: readonly string[], pools: readonly Pool[]): boolean {
  let { m, o, t } = at;
  const poolAt = meta[m++];
  if ((poolAt < 0 ? undefined : pools[poolAt]) !== old.pool) return false;
  const setCount = meta[m++];
  if (setCount !== old.rrsets.size) return false;
  for (let s = 0; s < setCount; s++) {
    const type = meta[m++];
    const ttl = meta[m++];
    const rdataCount = meta[m++];
    const targetCount = meta[m++];
    const set = old.rrsets.get(type);
    if (set === undefined || set.ttl !== ttl || set.rdata.length !== rdataCount || set.targets.length !== targetCount) return false;
    for (let r = 0; r < rdataCount; r++) {
      const len = meta[m++];
      const was = set.rdata[r];
      if (was.length !== len) return false;
      for (let k = 0; k < len; k++) if (was[k] !== bytes[o + k]) return false;
      o += len;
    }
    for (let k = 0; k < targetCount; k++) if (set.targets[k] !== targets[t + k]) return false;
    t += targetCount;
  }
  at.m = m;
  at.o = o;
  at.t = t;
  return true;
}

/** Moves `at` past the node it is at. */
function skipNode(meta: ArrayLike<number>): void {
  let { m, o, t } = at;
  m++;
  const setCount = meta[m++];
  for (let s = 0; s < setCount; s++) {
    m += 2;
    const rdataCount = meta[m++];
    t += meta[m++];
    for (let r = 0; r < rdataCount; r++) o += meta[m++];
  }
  at.m = m;
  at.o = o;
  at.t = t;
}

/**
 * Turns an image back into a Snapshot, one chunk per turn of the event loop (`pause` between chunks). Zones the
 * image leaves out are taken from `current` (with their pools) when it holds them at the same fingerprint; an image
 * that needs a zone `current` does not hold is refused (it was made for another receiver). The result has the
 * shapes build.ts gives (same property order, same freezing), so respond() runs the same code on it.
 */
export async function adoptImage(image: SnapshotImage, current: Snapshot, pause: () => Promise<void> = yieldToLoop): Promise<Snapshot> {
  const held = heldZones(current);
  const listed = new Map(image.zones);
  const pools: Pool[] = [];
  const built = new Map<string, Zone>();
  /** Zones built here from a head and the body `current` serves: their pools are `current`'s. */
  const restamped = new Set<string>();
  /** Patched zones whose pools are the ones `current` holds for them (their Pool objects kept, in order). */
  const poolsKept = new Set<string>();
  // A pool the image lends: `current`'s, built from the same rows (found by id once the first one is asked for).
  let currentPools: Map<number, Pool> | undefined;
  const lend = (id: number, fp: string): Pool => {
    currentPools ??= new Map(current.pools.map((p) => [p.id, p] as [number, Pool]));
    const p = currentPools.get(id);
    if (p === undefined || poolPrints.get(p) !== fp) throw new Error(`snapshot image lends pool ${id}, which the serving snapshot does not hold as built from the same rows`);
    return p;
  };
  /**
   * The zone being adopted. A zone `current` serves starts as a copy of its nodes Map (one allocation of the right
   * size, where 1,000 sets grew a Map through every size on the way: ~60 KB of garbage a zone, at 100 zones a reload
   * of a record in every zone), in which the image's new nodes replace theirs and names the image no longer lists (or,
   * in a patch, lists as gone) are deleted at the end. `inOld`: image names found in `old`; `names`: the chunks' name lists, to find the deleted ones.
   */
  let zone: { head: Extract<Chunk, { t: 'zone' }>; nodes: Map<string, ZoneNode>; old: ReadonlyMap<string, ZoneNode> | undefined; inOld: number; names: (readonly string[])[] } | undefined;
  const finishZone = (): void => {
    if (!zone) return;
    const { head, nodes, old, inOld } = zone;
    if (head.base !== null) {
      // A patch: the names not sent are kept, those gone are deleted.
      for (const name of head.gone) nodes.delete(name);
    } else if (old !== undefined && inOld < old.size) {
      const listed = new Set<string>();
      for (const list of zone.names) for (const name of list) listed.add(name);
      for (const name of old.keys()) if (!listed.has(name)) nodes.delete(name);
    }
    const soa: RRset = { type: QTYPE.SOA, ttl: head.soaTtl, rdata: [head.soa], targets: [] };
    const dnssec = head.key ? { dnssec: Object.freeze({ ...head.key }) } : {};
    built.set(head.name, Object.freeze({ name: head.name, serial: head.serial, soa, negativeTtl: head.negativeTtl, nodes, emptyNonTerminals: new Set(head.ents), cuts: new Set(head.cuts), ...dnssec }));
    zone = undefined;
  };
  for (let i = 0; i < image.chunks.length; i++) {
    if (i > 0) await pause();
    const chunk = deserialize(image.chunks[i]) as Chunk;
    if (chunk.t === 'pools') {
      adoptPools(chunk.pools, chunk.bytes, pools, lend);
    } else if (chunk.t === 'head') {
      finishZone();
      built.set(chunk.name, restamp(chunk, current, held, listed));
      restamped.add(chunk.name);
    } else if (chunk.t === 'zone') {
      finishZone();
      const old = current.zones.get(chunk.name)?.nodes;
      if (chunk.base !== null) {
        const had = held.get(chunk.name);
        if (old === undefined || had === undefined || bodyOf(had) !== chunk.base) {
          throw new Error(`snapshot image patches zone ${chunk.name}, which the serving snapshot does not hold as the patch was made against`);
        }
      }
      if (chunk.poolsKept) poolsKept.add(chunk.name);
      zone = { head: chunk, nodes: old === undefined ? new Map() : new Map(old), old, inOld: 0, names: [] };
    } else {
      if (!zone || zone.head.name !== chunk.zone) throw new Error(`snapshot image: nodes of ${chunk.zone} outside their zone`);
      const { meta, bytes, targets, names } = chunk;
      // The nodes `current` serves under these names are kept as they are when the image gives them the same RRsets
      // and pool (see sameNode); first which ones, and how many RDATA octets the others have.
      const oldNodes = zone.old;
      zone.names.push(names);
      const kept: (ZoneNode | undefined)[] = [];
      let fresh = 0;
      at.m = 0;
      at.o = 0;
      at.t = 0;
      for (const name of names) {
        const old = oldNodes?.get(name);
        if (old !== undefined) zone.inOld++;
        if (old !== undefined && sameNode(old, meta, bytes, targets, pools)) {
          kept.push(old);
          continue;
        }
        kept.push(undefined);
        const from = at.o;
        skipNode(meta);
        fresh += at.o - from;
      }
      // A node's RDATA are views of the octets they came in, which stay in memory while any of them is served: with
      // some nodes kept, the new ones' octets are copied out, so that no chunk is held for the one node it changed.
      const octets = fresh === at.o ? bytes : new Uint8Array(fresh);
      let c = 0;
      let m = 0;
      let o = 0;
      let t = 0;
      for (let i = 0; i < names.length; i++) {
        const name = names[i];
        const old = kept[i];
        if (old !== undefined) {
          // Already in the copy of the old Map, under the kept node's own name (the image's copy of the name dies young).
          at.m = m;
          at.o = o;
          at.t = t;
          skipNode(meta);
          ({ m, o, t } = at);
          continue;
        }
        const poolAt = meta[m++];
        const setCount = meta[m++];
        const sets: RRset[] = [];
        for (let s = 0; s < setCount; s++) {
          const type = meta[m++];
          const ttl = meta[m++];
          const rdataCount = meta[m++];
          const targetCount = meta[m++];
          const rdata: Uint8Array[] = [];
          for (let r = 0; r < rdataCount; r++) {
            const len = meta[m++];
            if (octets === bytes) {
              rdata.push(bytes.subarray(o, o + len));
            } else {
              octets.set(bytes.subarray(o, o + len), c);
              rdata.push(octets.subarray(c, (c += len)));
            }
            o += len;
          }
          sets.push({ type, ttl, rdata, targets: targetCount === 0 ? NO_TARGETS : targets.slice(t, (t += targetCount)) });
        }
        zone.nodes.set(name, Object.freeze({ name, rrsets: new RRsetList(sets), pool: poolAt < 0 ? undefined : pools[poolAt] }));
      }
    }
  }
  finishZone();
  // Pools in zone order, as build.ts lists them: each zone's from the image or, for a lent zone, from `current`.
  const newPools = poolsByZone(pools);
  const oldPools = built.size === image.zones.length && restamped.size === 0 && poolsKept.size === 0 ? new Map<string, Pool[]>() : poolsByZone(current.pools);
  const zones = new Map<string, Zone>();
  const allPools: Pool[] = [];
  const fps = new Map<string, string>();
  for (const [name, fp] of image.zones) {
    let z = built.get(name);
    let zonePools = restamped.has(name) || poolsKept.has(name) ? oldPools.get(name) : newPools.get(name);
    if (z === undefined) {
      z = current.zones.get(name);
      if (z === undefined || held.get(name) !== fp) throw new Error(`snapshot image needs zone ${name}, which the serving snapshot does not hold`);
      zonePools = oldPools.get(name);
    }
    zones.set(name, z);
    fps.set(name, fp);
    if (zonePools) for (const p of zonePools) allPools.push(p);
  }
  const geoNetworks = image.geoNetworks ? buildNetworkIndex(image.geoNetworks).index : current.geoNetworks;
  const snapshot: Snapshot = Object.freeze({ version: image.version, builtAt: image.builtAt, zones, pools: Object.freeze(allPools), ...(geoNetworks ? { geoNetworks } : {}) });
  fingerprints.set(snapshot, fps);
  return snapshot;
}
