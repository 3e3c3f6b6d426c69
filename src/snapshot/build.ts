// Builds an immutable Snapshot from store rows; a row it cannot use is skipped and reported, never fatal.
import { QTYPE, typeCode } from '../core/constants.js';
import { isAtOrBelow, nameToWire, parentName } from '../core/names.js';
import { memberLocation, RRsetList, type Pool, type PoolMember, type RRset, type Snapshot, type Zone, type ZoneKey, type ZoneNode } from '../core/snapshot.js';
import { cdsRdata, dnskeyRdata, isDnssecAlgorithm, keyTag } from '../dnssec/keys.js';
import { buildNetworkIndex } from '../geo/network-index.js';
import { encodeRdata } from '../records/content.js';
import { isValidDomainName } from '../records/domain-name.js';
import { poolRowProblem, rowCheck } from '../schema/pool-schema.js';
import type { DnssecKeyRow, PoolMemberRow, PoolRow, RecordRow, StoreContents, ZoneRow } from '../store/rows.js';

export interface SkippedRow {
  readonly table: string;
  readonly key: string;
  readonly reason: string;
}

export interface BuildResult {
  readonly snapshot: Snapshot;
  readonly skipped: readonly SkippedRow[];
}

/** The names an RRset points at, from its canonical content. */
function targetsOf(type: number, content: string): string | undefined {
  switch (type) {
    case QTYPE.NS:
    case QTYPE.CNAME:
    case QTYPE.DNAME:
      return content;
    case QTYPE.MX:
      return content.split(' ')[1];
    case QTYPE.SRV:
      return content.split(' ')[3];
    default:
      return undefined;
  }
}

function soaSet(z: ZoneRow): RRset {
  const mname = nameToWire(z.mname);
  const rname = nameToWire(z.rname);
  const rdata = Buffer.alloc(mname.length + rname.length + 20);
  mname.copy(rdata, 0);
  rname.copy(rdata, mname.length);
  let o = mname.length + rname.length;
  for (const v of [z.serial, z.refresh, z.retry, z.expire, z.minimum]) o = rdata.writeUInt32BE(v >>> 0, o);
  return { type: QTYPE.SOA, ttl: z.ttl, rdata: [rdata], targets: [] };
}

function validSoa(z: ZoneRow): string | undefined {
  const numbers = [z.serial, z.refresh, z.retry, z.expire, z.minimum, z.ttl];
  if (numbers.some((n) => !Number.isInteger(n) || n < 0 || n > 0xffffffff)) return 'SOA timer or serial out of range';
  if (!isValidDomainName(z.name)) return `zone name ${JSON.stringify(z.name)} is not a valid domain name`;
  if (!isValidDomainName(z.mname) || !isValidDomainName(z.rname)) return `SOA mname/rname ${JSON.stringify(z.mname)} ${JSON.stringify(z.rname)} not valid domain names`;
  return undefined;
}

/**
 * A zone's head: what its row alone gives (serial, SOA, negative TTL), for a zone whose records, pools, keys and
 * default TTL are unchanged (a serial moved by the pool serials, an SOA timer edited): the receivers keep the rest of
 * the zone they serve (image.ts). A string: the SOA cannot be served (the zone is then built, and skipped, in full).
 */
export function zoneHead(z: ZoneRow): { readonly serial: number; readonly soa: RRset; readonly negativeTtl: number } | string {
  return validSoa(z) ?? { serial: z.serial, soa: soaSet(z), negativeTtl: Math.min(z.ttl, z.minimum) };
}

const NO_TARGETS: string[] = Object.freeze([]) as unknown as string[];

interface MutableNode {
  name: string;
  rrsets: Map<number, { type: number; ttl: number; rdata: Uint8Array[]; targets: string[] }>;
  pool: Pool | undefined;
}

type Skip = (table: string, key: string, reason: string) => void;

/** The pool schema's rules, as for an operator's input: a row edited past them by plain SQL is skipped, not served. */
function poolProblem(p: PoolRow): string | undefined {
  if (!isValidDomainName(p.name)) return `name ${JSON.stringify(p.name)} is not a valid domain name`;
  return poolRowProblem(p);
}

const SLAB_BYTES = 64 * 1024;

/**
 * Where a snapshot's RDATA lives: packed into shared 64 KiB slabs, one view per record and no ArrayBuffer of its
 * own (about 100 bytes less per record), and equal 4-octet RDATA (the same IPv4 address in many places) shared.
 * Views are read-only by convention: the reply writer copies them.
 */
export class RdataPacker {
  private slab = new Uint8Array(0);
  private used = 0;
  private readonly quads = new Map<number, Uint8Array>();

  /** `shareQuads` false: every RDATA copied, none shared (for a packer that lives on, whose map would only grow). */
  constructor(private readonly shareQuads = true) {}

  pack(rdata: Uint8Array): Uint8Array {
    if (rdata.length !== 4 || !this.shareQuads) return this.copy(rdata);
    const key = ((rdata[0] << 24) | (rdata[1] << 16) | (rdata[2] << 8) | rdata[3]) >>> 0;
    let shared = this.quads.get(key);
    if (shared === undefined) this.quads.set(key, (shared = this.copy(rdata)));
    return shared;
  }

  private copy(rdata: Uint8Array): Uint8Array {
    if (this.used + rdata.length > this.slab.length) {
      this.slab = new Uint8Array(Math.max(SLAB_BYTES, rdata.length));
      this.used = 0;
    }
    const view = this.slab.subarray(this.used, this.used + rdata.length);
    view.set(rdata);
    this.used += rdata.length;
    return view;
  }
}

/**
 * Each row's RDATA (or why it has none), kept per row object for as long as the row is: the build thread keeps the
 * object of a row read again unchanged (row-digests.ts), so a zone rebuilt for one changed record encodes that
 * record's content only. At --scale an edit of a record in every zone parsed and encoded all 100,000 records and
 * 80,000 member addresses again, the build thread's largest cost after the read. The octets live in slabs of their
 * own (no ArrayBuffer per row for the collector to sweep), which the built snapshots use as they are (read-only).
 */
const encoded = new WeakMap<RecordRow | PoolMemberRow, Uint8Array | string>();
const encodedSlabs = new RdataPacker(false);

function encodedOnce(row: RecordRow | PoolMemberRow, type: string, content: string): Uint8Array | string {
  let e = encoded.get(row);
  if (e === undefined) {
    try {
      e = encodedSlabs.pack(encodeRdata(type, content));
    } catch (err) {
      e = (err as Error).message;
    }
    encoded.set(row, e);
  }
  return e;
}

/** A member's answered address as RDATA, through the same codec as records; undefined when unusable. */
function memberFromRow(m: PoolMemberRow): PoolMember | undefined {
  const family = m.address.includes(':') ? 6 : 4;
  const rdata = encodedOnce(m, family === 6 ? 'AAAA' : 'A', m.address);
  if (typeof rdata === 'string') return undefined;
  if (!Number.isInteger(m.weight) || m.weight < 0 || !Number.isInteger(m.priority)) return undefined;
  return Object.freeze({
    id: m.id,
    address: m.address,
    probeAddress: m.probeAddress,
    family,
    rdata,
    weight: m.weight,
    priority: m.priority,
    enabled: m.enabled,
    location: memberLocation(m.country, m.continent, m.region, m.latitude, m.longitude),
    // Kept even once expired: the answer path judges expiry at its own clock, status shows what expired.
    ...(m.override ? { override: Object.freeze({ ...m.override }) } : {}),
    ...(m.maintenance?.length ? { maintenance: Object.freeze(m.maintenance.map((w) => Object.freeze({ ...w }))) } : {}),
  });
}

/**
 * The pool last built from a pool row object, with the zone and the member row objects it was built from: built
 * again from the same objects (a zone rebuilt for a record edit keeps its pools' rows: row-digests.ts), it is the same
 * Pool, as the row objects are immutable. Its skipped rows are reported again.
 */
const builtPools = new WeakMap<PoolRow, { readonly zone: string; readonly members: readonly PoolMemberRow[]; readonly pool: Pool; readonly skipped: readonly [string, string, string][] }>();

function buildPool(p: PoolRow, zone: string, members: readonly PoolMemberRow[], skip: Skip): Pool | undefined {
  const had = builtPools.get(p);
  if (had !== undefined && had.zone === zone && had.members.length === members.length && had.members.every((m, i) => m === members[i])) {
    for (const [table, key, reason] of had.skipped) skip(table, key, reason);
    return had.pool;
  }
  const skipped: [string, string, string][] = [];
  const pool = buildPoolAnew(p, zone, members, (table, key, reason) => skipped.push([table, key, reason]));
  for (const [table, key, reason] of skipped) skip(table, key, reason);
  if (pool !== undefined) builtPools.set(p, { zone, members, pool, skipped });
  return pool;
}

function buildPoolAnew(p: PoolRow, zone: string, members: readonly PoolMemberRow[], skip: Skip): Pool | undefined {
  const problem = poolProblem(p);
  if (problem) {
    skip('pools', `${p.id} ${p.name}`, problem);
    return undefined;
  }
  const built: PoolMember[] = [];
  for (const m of members) {
    const member = memberFromRow(m);
    if (member) built.push(member);
    else skip('pool_members', `${m.id} ${p.name} ${m.address}`, 'address, weight or priority unusable');
  }
  built.sort((a, b) => a.id - b.id);
  return Object.freeze({
    id: p.id,
    name: p.name,
    zone,
    policy: p.policy,
    ttl: p.ttl,
    count: p.count,
    allDown: p.allDown === 'servfail' ? 'servfail' : 'open',
    check: Object.freeze(rowCheck(p) satisfies Pool['check']),
    members: Object.freeze(built),
    // Only hash pools read it (absent: the policy's defaults), so other pools carry no object for it.
    ...(p.policy === 'hash' && p.hashPrefixV4 !== undefined && p.hashPrefixV6 !== undefined
      ? { hashPrefix: Object.freeze({ v4: p.hashPrefixV4, v6: p.hashPrefixV6 }) }
      : {}),
  });
}

/**
 * A zone's key as the snapshot carries it, its DNSKEY RDATA made here; undefined (the zone served unsigned) when the
 * row's public part is unusable. The private key is not opened here: each process that signs opens it (keyring.ts).
 */
function zoneKey(z: ZoneRow, rows: readonly DnssecKeyRow[], skip: Skip): ZoneKey | undefined {
  let found: ZoneKey | undefined;
  for (const k of rows) {
    const key = `${z.name} ${k.keyTag}`;
    if (found) {
      skip('dnssec_keys', key, 'a second key for the zone (one combined key per zone)');
      continue;
    }
    if (!isDnssecAlgorithm(k.algorithm)) {
      skip('dnssec_keys', key, `algorithm ${k.algorithm} is not 13 or 15`);
      continue;
    }
    let dnskey: Uint8Array;
    try {
      dnskey = dnskeyRdata(k.flags, k.algorithm, k.publicKey);
    } catch (e) {
      skip('dnssec_keys', key, (e as Error).message);
      continue;
    }
    if (keyTag(dnskey) !== k.keyTag) {
      skip('dnssec_keys', key, `key tag ${k.keyTag} is not its DNSKEY's (${keyTag(dnskey)})`);
      continue;
    }
    found = Object.freeze({ algorithm: k.algorithm, flags: k.flags, keyTag: k.keyTag, dnskey, privateKey: k.privateKey });
  }
  return found;
}

function buildZone(
  z: ZoneRow,
  records: readonly RecordRow[],
  pools: readonly PoolRow[],
  membersOf: (poolId: number) => readonly PoolMemberRow[],
  skip: (r: RecordRow, reason: string) => void,
  skipRow: Skip,
  out: Pool[],
  packer: RdataPacker,
  dnssec: ZoneKey | undefined,
): Zone {
  const nodes = new Map<string, MutableNode>();
  for (const r of records) {
    if (!isAtOrBelow(r.name, z.name)) {
      skip(r, `name ${r.name} is outside zone ${z.name}`);
      continue;
    }
    const type = typeCode(r.type);
    if (type === undefined || type === QTYPE.SOA || type === QTYPE.OPT) {
      skip(r, `type ${r.type} cannot be served from the records table`);
      continue;
    }
    const rdata = encodedOnce(r, r.type, r.content);
    if (typeof rdata === 'string') {
      skip(r, rdata);
      continue;
    }
    let node = nodes.get(r.name);
    if (!node) nodes.set(r.name, (node = { name: r.name, rrsets: new Map(), pool: undefined }));
    let set = node.rrsets.get(type);
    const ttl = r.ttl ?? z.ttl;
    if (!set) node.rrsets.set(type, (set = { type, ttl, rdata: [], targets: [] }));
    // RFC 2181 §5.2: one TTL per RRset; the lowest wins.
    set.ttl = Math.min(set.ttl, ttl);
    set.rdata.push(rdata);
    const target = targetsOf(type, r.content);
    if (target !== undefined) set.targets.push(target);
  }
  // RFC 1034 §3.6.2: a CNAME stands alone. The schema forbids the mix; a row that slipped past loses.
  for (const node of nodes.values()) {
    const cname = node.rrsets.get(QTYPE.CNAME);
    if (!cname || node.rrsets.size === 1) continue;
    for (const type of [...node.rrsets.keys()]) {
      if (type === QTYPE.CNAME) continue;
      skip({ id: 0, zoneId: z.id, name: node.name, type: String(type), ttl: null, content: '' }, 'data beside a CNAME');
      node.rrsets.delete(type);
    }
  }
  for (const p of pools) {
    if (!isAtOrBelow(p.name, z.name)) {
      skipRow('pools', `${p.id} ${p.name}`, `name is outside zone ${z.name}`);
      continue;
    }
    const pool = buildPool(p, z.name, membersOf(p.id), skipRow);
    if (!pool) continue;
    let node = nodes.get(p.name);
    if (!node) nodes.set(p.name, (node = { name: p.name, rrsets: new Map(), pool: undefined }));
    // The schema keeps address records and CNAMEs off pool names; rows that slipped past yield to the pool.
    for (const type of [QTYPE.A, QTYPE.AAAA, QTYPE.CNAME]) {
      if (node.rrsets.delete(type)) skipRow('records', `${p.name} ${type}`, 'address or CNAME data at a pool name');
    }
    node.pool = pool;
    out.push(pool);
  }
  if (dnssec) {
    // The key's records at the apex (the schema keeps stored ones off it): DNSKEY, and CDS/CDNSKEY for parents that
    // read them (RFC 7344), answered like any RRset and signed with the rest.
    let apex = nodes.get(z.name);
    if (!apex) nodes.set(z.name, (apex = { name: z.name, rrsets: new Map(), pool: undefined }));
    const one = (type: number, rdata: Uint8Array) => ({ type, ttl: z.ttl, rdata: [packer.pack(rdata)], targets: [] as string[] });
    apex.rrsets.set(QTYPE.DNSKEY, one(QTYPE.DNSKEY, dnssec.dnskey));
    apex.rrsets.set(QTYPE.CDNSKEY, one(QTYPE.CDNSKEY, dnssec.dnskey));
    apex.rrsets.set(QTYPE.CDS, one(QTYPE.CDS, cdsRdata(z.name, dnssec.dnskey)));
  }
  return freezeZone(z, nodes, dnssec);
}

export function freezeZone(z: ZoneRow, nodes: Map<string, MutableNode>, dnssec?: ZoneKey): Zone {
  const soa = soaSet(z);
  let apex = nodes.get(z.name);
  if (!apex) nodes.set(z.name, (apex = { name: z.name, rrsets: new Map(), pool: undefined }));
  apex.rrsets.set(QTYPE.SOA, { ...soa, rdata: [...soa.rdata], targets: [] });
  const frozenNodes = new Map<string, ZoneNode>();
  const cuts = new Set<string>();
  const ents = new Set<string>();
  for (const [name, node] of nodes) {
    // Most RRsets point at no name: they share one empty list rather than holding one each.
    for (const set of node.rrsets.values()) if (set.targets.length === 0) set.targets = NO_TARGETS;
    frozenNodes.set(name, Object.freeze({ name, rrsets: new RRsetList(node.rrsets.values()), pool: node.pool }));
    if (name !== z.name && node.rrsets.has(QTYPE.NS)) cuts.add(name);
  }
  for (const name of frozenNodes.keys()) {
    for (let p = parentName(name); p !== undefined && p !== z.name && isAtOrBelow(p, z.name); p = parentName(p)) {
      if (frozenNodes.has(p)) break;
      ents.add(p);
    }
  }
  return Object.freeze({
    name: z.name,
    serial: z.serial,
    soa,
    negativeTtl: Math.min(z.ttl, z.minimum),
    nodes: frozenNodes,
    emptyNonTerminals: ents,
    cuts,
    // Only signed zones carry the property, so an unsigned zone's shape is what it was before DNSSEC.
    ...(dnssec ? { dnssec } : {}),
  });
}

/** Zones (with their pools) built from rows; zones whose SOA is unusable are left out and reported. */
export function buildZones(contents: StoreContents, skipped: SkippedRow[]): { zones: Map<string, Zone>; pools: Pool[] } {
  const byZone = new Map<number, RecordRow[]>();
  for (const r of contents.records) {
    let list = byZone.get(r.zoneId);
    if (!list) byZone.set(r.zoneId, (list = []));
    list.push(r);
  }
  const poolsByZone = new Map<number, PoolRow[]>();
  for (const p of contents.pools ?? []) {
    let list = poolsByZone.get(p.zoneId);
    if (!list) poolsByZone.set(p.zoneId, (list = []));
    list.push(p);
  }
  const membersByPool = new Map<number, PoolMemberRow[]>();
  for (const m of contents.members ?? []) {
    let list = membersByPool.get(m.poolId);
    if (!list) membersByPool.set(m.poolId, (list = []));
    list.push(m);
  }
  const keysByZone = new Map<number, DnssecKeyRow[]>();
  for (const k of contents.dnssecKeys ?? []) {
    let list = keysByZone.get(k.zoneId);
    if (!list) keysByZone.set(k.zoneId, (list = []));
    list.push(k);
  }
  const skipRow: Skip = (table, key, reason) => skipped.push({ table, key, reason });
  const pools: Pool[] = [];
  const zones = new Map<string, Zone>();
  const packer = new RdataPacker();
  for (const z of contents.zones) {
    const problem = validSoa(z);
    if (problem) {
      // A zone with an unusable SOA is not served at all (REFUSED) rather than served half-right.
      skipped.push({ table: 'zones', key: z.name, reason: problem });
      continue;
    }
    const zone = buildZone(
      z,
      byZone.get(z.id) ?? [],
      poolsByZone.get(z.id) ?? [],
      (id) => membersByPool.get(id) ?? [],
      (r, reason) => skipped.push({ table: 'records', key: `${r.id} ${r.name} ${r.type}`, reason }),
      skipRow,
      pools,
      packer,
      zoneKey(z, keysByZone.get(z.id) ?? [], skipRow),
    );
    zones.set(z.name, zone);
  }
  return { zones, pools };
}

/** Builds a complete snapshot; callers swap it in only after this returns. */
export function buildSnapshot(contents: StoreContents, now = Date.now()): BuildResult {
  const skipped: SkippedRow[] = [];
  const { zones, pools } = buildZones(contents, skipped);
  const geo = buildNetworkIndex(contents.geoNetworks ?? []);
  for (const { row, reason } of geo.skipped) skipped.push({ table: 'geo_networks', key: `${row.id} ${row.network}`, reason });
  const snapshot: Snapshot = Object.freeze({ version: contents.version, builtAt: now, zones, pools: Object.freeze(pools), geoNetworks: geo.index });
  return { snapshot, skipped };
}
