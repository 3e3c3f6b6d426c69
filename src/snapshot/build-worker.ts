// The build thread: holds the newest store rows, builds the zones that changed into a SnapshotImage, writes the snapshot file.
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { buildNetworkIndex } from '../geo/network-index.js';
import { poolsByZone, type Pool } from '../core/snapshot.js';
import { CONTENTS_TABLES, type ContentsPart, type ContentsTable, type DnssecKeyRow, type GeoNetworkRow, type PoolMemberRow, type PoolRow, type RecordRow, type StoreContents, type ZoneRow } from '../store/rows.js';
import { buildZones, zoneHead, type SkippedRow } from './build.js';
import { bodyOf, encodeImage, imageBuffers, zoneFingerprint, type SnapshotImage, type ZoneBase, type ZoneHead } from './image.js';
import { encodeImageFile, imageFilePath, writeImageFile } from './image-file.js';
import { mergeContents } from './partial.js';
import { writeSnapshotFile } from './snapshot-file.js';
import { contentsReader, type ContentsReader } from '../store/store.js';
import { digest, RowDigests } from './row-digests.js';
import { toStoreError } from '../store/store-error.js';
import { lowerThread } from '../serving-heap.js';
import type { FromBuildThread, ToBuildThread } from './build-thread.js';

interface Setup {
  readonly file?: { readonly path: string; readonly node: string };
  readonly store?: { readonly url: string; readonly location: string };
}

const setup = workerData as Setup;
const port = parentPort!;

/**
 * This thread runs at the lowest CPU priority (nice 19; on Linux a thread's nice value is its own, set through its
 * thread id). Reading, fingerprinting and building the whole store and writing the snapshot file take seconds of
 * CPU; on a machine with as many busy threads as cores, the scheduler otherwise gives it slices of several ms while
 * a query waits on the answering thread. At nice 19 a waking answering thread takes the core at once, and the
 * build uses what answering leaves (its collections' helper threads too: serving-heap.ts, lowerHelperThreads).
 * Elsewhere (no /proc/thread-self, or not allowed) it keeps the process's priority.
 */
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) lowerThread(tid);
} catch {
  // Not Linux: the build runs at the process's priority.
}

type Staging = { -readonly [K in ContentsTable]: unknown[] };
const emptyStaging = (): Staging => ({ zones: [], records: [], pools: [], members: [], geoNetworks: [], dnssecKeys: [] });
let staging = emptyStaging();
let contents: StoreContents | undefined;
/** Fingerprint of each zone's rows in `contents`, and of the geo_networks rows. */
let zoneFps = new Map<string, string>();
/** Fingerprint of each pool's rows (its zone's name, the pool, its members): a rebuilt zone lends the pools it had. */
let poolFps = new Map<number, string>();
let geoFp = '';
/** What the receivers serve after adopting the last image: a zone listed here at the same fingerprint is left out. */
let held = new Map<string, string>();
let heldGeo: string | undefined;
/**
 * The pools the receivers hold, at their fingerprints: a pool of a rebuilt zone whose rows are unchanged is lent, so
 * the receivers keep the Pool object and the health monitor, the vote agreement and the transfers see no change (an
 * edit of a record in every zone otherwise had them walk all 80,000 members at --scale: ~0.5 s on the answering thread).
 * A receiver that lacks one refuses the image and the next carries everything (adoptImage).
 */
let heldPools = new Map<number, string>();
/**
 * The nodes of each zone as the receivers hold them (the last built here and sent, whole or as a patch), at its body
 * fingerprint: a zone rebuilt whose body the receivers hold here is sent as a patch against these (image.ts, ZoneBase).
 * It keeps the built nodes of every zone on this thread (their RDATA are the memo's already: build.ts).
 */
let sent = new Map<string, ZoneBase>();

const fingerprint = (value: unknown): string => digest(JSON.stringify(value));

/**
 * The rows `contents` holds, digested once each (row-digests.ts): a reload fingerprints zones from these digests,
 * and a row read again unchanged is the object read before.
 */
const rowDigests = {
  records: new RowDigests<RecordRow>((r) => r.id),
  pools: new RowDigests<PoolRow>((p) => p.id),
  members: new RowDigests<PoolMemberRow>((m) => m.id),
  keys: new RowDigests<DnssecKeyRow>(
    (k) => `${k.zoneId} ${k.keyTag}`,
    (k) => JSON.stringify({ ...k, publicKey: Buffer.from(k.publicKey).toString('base64'), privateKey: Buffer.from(k.privateKey).toString('base64') }),
  ),
};

/** `c` with every row equal to one held before replaced by that one (the same object when none was replaced). */
function takeRows(c: StoreContents): StoreContents {
  const records = rowDigests.records.take(c.records);
  const pools = rowDigests.pools.take(c.pools ?? []);
  const members = rowDigests.members.take(c.members ?? []);
  const dnssecKeys = rowDigests.keys.take(c.dnssecKeys ?? []);
  if (records === c.records && pools === (c.pools ?? pools) && members === (c.members ?? members) && dnssecKeys === (c.dnssecKeys ?? dnssecKeys)) return c;
  return Object.freeze({ ...c, records, pools, members, dnssecKeys });
}

function byKey<T>(rows: readonly T[], key: (row: T) => number): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const r of rows) {
    const k = key(r);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(r);
  }
  return out;
}

/** The rows of the zones with these ids: a StoreContents to build just them from. */
function rowsOf(c: StoreContents, zones: readonly ZoneRow[]): StoreContents {
  const ids = new Set(zones.map((z) => z.id));
  const pools = (c.pools ?? []).filter((p) => ids.has(p.zoneId));
  const poolIds = new Set(pools.map((p) => p.id));
  return {
    version: c.version,
    zones,
    records: c.records.filter((r) => ids.has(r.zoneId)),
    pools,
    members: (c.members ?? []).filter((m) => poolIds.has(m.poolId)),
    dnssecKeys: (c.dnssecKeys ?? []).filter((k) => ids.has(k.zoneId)),
  };
}

/**
 * Recomputes the fingerprints of the named zones (all when `names` is undefined) from their rows' digests (takeRows
 * must have taken `c`): ~50 ms for every zone at --scale, where hashing each zone's JSON took ~0.4 s.
 */
function refingerprint(c: StoreContents, names?: ReadonlySet<string>): void {
  const zones = names ? c.zones.filter((z) => names.has(z.name)) : c.zones;
  const part = names ? rowsOf(c, zones) : c;
  const records = byKey<RecordRow>(part.records, (r) => r.zoneId);
  const pools = byKey<PoolRow>(part.pools ?? [], (p) => p.zoneId);
  const members = byKey<PoolMemberRow>(part.members ?? [], (m) => m.poolId);
  const keys = byKey<DnssecKeyRow>(part.dnssecKeys ?? [], (k) => k.zoneId);
  if (!names) {
    zoneFps = new Map();
    poolFps = new Map();
  } else for (const n of names) zoneFps.delete(n);
  for (const z of zones) {
    // A pool's: its zone's name, its row, its members.
    let poolsPart = '';
    for (const p of pools.get(z.id) ?? []) {
      let text = `${z.name}|${rowDigests.pools.digestOf(p)}|`;
      for (const m of members.get(p.id) ?? []) text += rowDigests.members.digestOf(m);
      const fp = digest(text);
      poolFps.set(p.id, fp);
      poolsPart += fp;
    }
    // The head: the SOA fields, which nothing but the SOA is built from. The body: the rest of the row, the records,
    // pools, members and key (a key is part of its zone: enabling, disabling or replacing one must reach receivers
    // that hold the zone). The pool serials move a zone's serial whenever an answerable set changes, so a member
    // that went down in every zone had every zone rebuilt and adopted again (100,000 names at --scale: stalls of
    // hundreds of ms); a zone whose body the receivers hold is now sent as its head (image.ts, restamp).
    const { serial, refresh, retry, expire, minimum, mname, rname, ...rest } = z;
    const head = fingerprint([serial, refresh, retry, expire, minimum, mname, rname]);
    let body = `${JSON.stringify(rest)}|`;
    for (const r of records.get(z.id) ?? []) body += rowDigests.records.digestOf(r);
    body += `|${poolsPart}|`;
    for (const k of keys.get(z.id) ?? []) body += rowDigests.keys.digestOf(k);
    zoneFps.set(z.name, zoneFingerprint(head, digest(body)));
  }
}

/** Builds every zone whose fingerprint the receivers do not hold; `complete`: all of them, for a receiver with none. */
function image(c: StoreContents, complete: boolean): { image: SnapshotImage; skipped: SkippedRow[]; rebuilt: number; restamped: number; patched: number } {
  const skipped: SkippedRow[] = [];
  const order = c.zones.map((z) => [z.name, zoneFps.get(z.name)!] as const);
  const changed = complete ? c.zones : c.zones.filter((z) => held.get(z.name) !== zoneFps.get(z.name));
  // Zones whose body the receivers hold: their heads only (an unusable SOA is built in full, and skipped there).
  const heads: ZoneHead[] = [];
  const whole: ZoneRow[] = [];
  for (const z of changed) {
    const had = complete ? undefined : held.get(z.name);
    const head = had !== undefined && bodyOf(had) === bodyOf(zoneFps.get(z.name)!) ? zoneHead(z) : undefined;
    if (head === undefined || typeof head === 'string') whole.push(z);
    else heads.push({ name: z.name, ...head });
  }
  const built = buildZones(rowsOf(c, whole), skipped);
  let geo: readonly GeoNetworkRow[] | null = null;
  if (complete || heldGeo !== geoFp) {
    geo = c.geoNetworks ?? [];
    for (const { row, reason } of buildNetworkIndex(geo).skipped) skipped.push({ table: 'geo_networks', key: `${row.id} ${row.network}`, reason });
  }
  // Zones built with an unusable SOA are not served: they leave the order too.
  const rebuilt = new Set(whole.map((z) => z.name));
  const served = order.filter(([name]) => built.zones.has(name) || !rebuilt.has(name));
  const of = (pool: Pool): string => poolFps.get(pool.id) ?? '';
  // Patches against what the receivers hold, where this thread holds the same (never in a complete image).
  const bases = new Map<string, ZoneBase>();
  if (!complete) {
    for (const name of built.zones.keys()) {
      const had = held.get(name);
      const base = sent.get(name);
      if (had !== undefined && base !== undefined && base.body === bodyOf(had)) bases.set(name, base);
    }
  }
  const out = encodeImage({ version: c.version, builtAt: Date.now(), zones: built.zones, pools: built.pools }, served, geo, heads, { of, held: complete ? new Map() : heldPools }, bases);
  if (!complete) {
    held = new Map(served);
    heldGeo = geoFp;
    for (const pool of built.pools) heldPools.set(pool.id, of(pool));
    for (const name of rebuilt) sent.delete(name);
    const builtPools = poolsByZone(built.pools);
    for (const [name, zone] of built.zones) sent.set(name, { body: bodyOf(zoneFps.get(name)!), nodes: zone.nodes, poolIds: (builtPools.get(name) ?? []).map((p) => p.id) });
    for (const name of sent.keys()) if (!held.has(name)) sent.delete(name);
  }
  return { image: out, skipped, rebuilt: built.zones.size - bases.size, restamped: heads.length, patched: bases.size };
}

/** One write at a time; a value arriving while one is written replaces any still waiting (a burst writes the newest). */
function newestWriter<T>(write: (value: T) => Promise<void>): (value: T) => void {
  let waiting: { value: T } | undefined;
  let busy = false;
  return (value) => {
    waiting = { value };
    if (busy) return;
    busy = true;
    void (async () => {
      while (waiting) {
        const { value: next } = waiting;
        waiting = undefined;
        await write(next);
      }
      busy = false;
    })();
  };
}

/** The snapshot file: the newest rows. */
const saveContents = newestWriter(async (c: StoreContents) => {
  const started = performance.now();
  try {
    await writeSnapshotFile(setup.file!.path, c, setup.file!.node);
    post({ op: 'saved', ms: performance.now() - started });
  } catch (err) {
    post({ op: 'save-failed', error: (err as Error).message });
  }
});

function save(): void {
  if (setup.file && contents) saveContents(contents);
}

/** The whole store's rows become the newest (a full load, from the answering thread or read here). */
function takeWhole(c: StoreContents): void {
  contents = takeRows(c);
  refingerprint(contents);
  geoFp = fingerprint(contents.geoNetworks ?? []);
}

/** Some tables read again replace theirs in the newest rows (a load with `tables`); the rest stay as they were. */
function takePart(part: ContentsPart): void {
  const merged: StoreContents = { ...contents!, version: part.version, stamp: part.stamp };
  for (const table of CONTENTS_TABLES) if (part[table] !== undefined) Object.assign(merged, { [table]: part[table] });
  takeWhole(Object.freeze(merged));
}

/** The thread's own connection to the store (one), made on the first load and again after a failed one. */
let db: ContentsReader | undefined;
/** A read of the whole store that takes longer than this is given up (a half-open link), its connection dropped. */
const LOAD_DEADLINE_MS = 60_000;

/**
 * Reads the whole store here (or, with `tables`, only those tables, when this thread holds rows) and builds what
 * changed: the rows never pass through the answering thread.
 */
async function loadAndBuild(id: number, unlessVersion: number | undefined, unlessStamp: string | undefined, tables: readonly ContentsTable[] | undefined): Promise<void> {
  let read: StoreContents | ContentsPart | undefined;
  let whole = true;
  const started = performance.now();
  try {
    if (!setup.store) throw new Error('the build thread was given no store to read');
    db ??= contentsReader(setup.store.url, LOAD_DEADLINE_MS);
    whole = tables === undefined || contents === undefined;
    read = whole ? await db.read(unlessVersion, unlessStamp) : await db.readPart(new Set(tables));
  } catch (err) {
    // The connection may be the broken part: the next load makes a new one.
    const old = db;
    db = undefined;
    void old?.close().catch(() => undefined);
    post({ op: 'failed', id, error: toStoreError(err, { location: setup.store?.location ?? 'the store' }).message, store: true });
    return;
  }
  if (read === undefined) {
    post({ op: 'unchanged', id });
    return;
  }
  try {
    staging = emptyStaging();
    if (whole) takeWhole(read as StoreContents);
    else takePart(read);
    const { image: out, skipped, rebuilt, restamped, patched } = image(contents!, false);
    postBuilt(id, out, skipped, { rebuilt, restamped, patched }, performance.now() - started);
    save();
  } catch (err) {
    post({ op: 'failed', id, error: (err as Error).message });
  }
}

function post(msg: FromBuildThread, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

/**
 * Hands an image over (its buffers transferred). A complete one (every zone built, the geo networks in it) is also
 * encoded for the image file first, and written after: what the next start adopts when the store is still at its
 * version (src/snapshot/image-file.ts). A failed write is one line in the log of the receiving side, nothing more.
 */
function postBuilt(id: number, out: SnapshotImage, skipped: SkippedRow[], counts: { rebuilt: number; restamped: number; patched: number }, ms: number): void {
  // Rows without a stamp (never read from a store) give no image file: nothing could tell later whether it is current.
  const stamp = contents?.stamp;
  const complete = setup.file !== undefined && stamp !== undefined && counts.rebuilt === out.zones.length && out.geoNetworks !== null;
  // Encoded before the buffers are transferred away.
  const encoded = complete ? encodeImageFile(out, stamp) : undefined;
  post({ op: 'built', id, image: out, skipped, ...counts, ms }, imageBuffers(out));
  if (encoded) saveImage(encoded);
}

/** The image file: the newest complete image. */
const saveImage = newestWriter(async (encoded: Buffer) => {
  try {
    await writeImageFile(imageFilePath(setup.file!.path), encoded);
  } catch (err) {
    post({ op: 'save-failed', error: `image file: ${(err as Error).message}` });
  }
});

port.on('message', (msg: ToBuildThread) => {
  if (msg.op === 'rows') {
    (staging[msg.table] as unknown[]).push(...msg.rows);
    return;
  }
  if (msg.op === 'forget') {
    held = new Map();
    sent = new Map();
    heldGeo = undefined;
    heldPools = new Map();
    return;
  }
  if (msg.op === 'hold') {
    // The receivers adopted an image from the file: the next image leaves out what it holds, as after a build here.
    held = new Map(msg.zones);
    sent = new Map();
    heldGeo = fingerprint(msg.geoNetworks);
    // The thread holds no rows (nor pool fingerprints) until its next full read: no pool is lent until then.
    heldPools = new Map();
    return;
  }
  if (msg.op === 'load') {
    void loadAndBuild(msg.id, msg.unlessVersion, msg.unlessStamp, msg.tables);
    return;
  }
  const started = performance.now();
  try {
    if (msg.op === 'full' || msg.op === 'zones') {
      const rows = staging as unknown as StoreContents;
      const incoming: StoreContents = { version: msg.version, zones: rows.zones, records: rows.records, pools: rows.pools, members: rows.members, geoNetworks: rows.geoNetworks, dnssecKeys: rows.dnssecKeys };
      staging = emptyStaging();
      if (msg.op === 'full') takeWhole(incoming);
      else {
        if (!contents) throw new Error('a zone reload before any full load');
        contents = takeRows(mergeContents(contents, incoming, msg.names));
        refingerprint(contents, new Set([...msg.names, ...incoming.zones.map((z) => z.name)]));
      }
    }
    if (!contents) throw new Error('no store contents loaded yet');
    const { image: out, skipped, rebuilt, restamped, patched } = image(contents, msg.op === 'complete');
    postBuilt(msg.id, out, skipped, { rebuilt, restamped, patched }, performance.now() - started);
    if (msg.op === 'zones' || (msg.op === 'full' && msg.save)) save();
  } catch (err) {
    staging = emptyStaging();
    post({ op: 'failed', id: msg.id, error: (err as Error).message });
  }
});
