// Online DNSSEC signing: every RRset an answer carries is signed where the answer is computed, pool answers included.
//
// - Each RRset is signed as it goes out (RFC 4034 §3.1.8.1): its RRs in canonical order (RFC 4034 §6.3), so the
//   signature does not depend on the order an answer lists them, and every rotation of one member set reuses one
//   signature from the cache (keyed by owner, type, TTL, validity and the sorted RDATA; bounded by bytes, LRU).
// - Validity: inception an hour back, expiry a week on, both on whole hours, so a signature made at any moment of an
//   hour is the same bytes (cacheable) and is replaced by the next hour's long before it expires.
// - Denial (RFC 9824, compact denial of existence): a name that does not exist is answered NOERROR with an NSEC at
//   the name itself whose next name is its immediate successor ("\000.<name>") and whose type bitmap holds RRSIG, NSEC
//   and NXNAME; a name without the asked type gets the same NSEC with the types it has. One signature per negative
//   answer, nothing about the zone's other names revealed, no chain to walk. Chosen over NSEC3 white lies: one NSEC
//   instead of up to three NSEC3 records and hashing per query, and the same zone-walking protection.
// - A wildcard answer carries its RRSIG with the wildcard's label count and an NSEC proving the asked name does not
//   exist: owner "+.<closest encloser>" (after "*.<closest encloser>", so the wildcard itself is not denied), next
//   "<next closer label>\000.<closest encloser>" (right after the next closer name and all below it).
// - A referral carries the DS RRset signed, or an NSEC at the cut proving there is none (types NS RRSIG NSEC).
// The key's private half arrives encrypted in the snapshot; it is decrypted here, once per key per process, with
// LBDNS_KEY_SECRET. A zone whose key cannot be decrypted is answered unsigned (one log line, a metric), never SERVFAIL.
import crypto, { type KeyObject } from 'node:crypto';
import type { Answer, RR } from '../core/answer.js';
import { QCLASS, QTYPE, RCODE } from '../core/constants.js';
import { isAtOrBelow, labelCount, nameToWire } from '../core/names.js';
import type { Query } from '../core/query.js';
import { findZone, type Snapshot, type Zone } from '../core/snapshot.js';

export const TYPE_RRSIG = 46;
export const TYPE_NSEC = 47;
/** RFC 9824: the pseudo-type in an NSEC bitmap that says the name does not exist. */
export const TYPE_NXNAME = 128;

const HOUR = 3600;
const VALIDITY = 7 * 86400;

/** What signs for one zone in this process. */
export interface ZoneSigner {
  readonly zone: string;
  readonly algorithm: 13 | 15;
  readonly keyTag: number;
  readonly key: KeyObject;
}

/** Canonical order (RFC 4034 §6.3): RDATA compared as left-justified unsigned octet strings; duplicates dropped. */
export function canonicalRdata(rdatas: readonly Uint8Array[]): Uint8Array[] {
  const sorted = [...rdatas].sort((a, b) => Buffer.compare(a, b));
  const out: Uint8Array[] = [];
  for (const r of sorted) if (out.length === 0 || Buffer.compare(out[out.length - 1], r) !== 0) out.push(r);
  return out;
}

/** The RRSIG RDATA for one RRset; `wildcardOf`: the closest encloser when the RRset was synthesised from "*.<it>". */
export function rrsigRdata(
  signer: ZoneSigner,
  owner: string,
  type: number,
  ttl: number,
  rdatas: readonly Uint8Array[],
  wildcardOf: string | undefined,
  inception: number,
  expiration: number,
): Uint8Array {
  const signedOwner = wildcardOf !== undefined ? (wildcardOf === '' ? '*' : `*.${wildcardOf}`) : owner;
  // RFC 4034 §3.1.3: labels of the owner, the root and a leading "*" not counted.
  const labels = signedOwner === '*' || signedOwner.startsWith('*.') ? labelCount(signedOwner) - 1 : labelCount(signedOwner);
  const signerName = nameToWire(signer.zone);
  const head = Buffer.alloc(18 + signerName.length);
  head.writeUInt16BE(type, 0);
  head[2] = signer.algorithm;
  head[3] = labels;
  head.writeUInt32BE(ttl >>> 0, 4);
  head.writeUInt32BE(expiration >>> 0, 8);
  head.writeUInt32BE(inception >>> 0, 12);
  head.writeUInt16BE(signer.keyTag, 16);
  head.set(signerName, 18);
  const ownerWire = nameToWire(signedOwner);
  const parts: Uint8Array[] = [head];
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(QCLASS.IN, 2);
  fixed.writeUInt32BE(ttl >>> 0, 4);
  for (const r of canonicalRdata(rdatas)) {
    const f = Buffer.from(fixed);
    f.writeUInt16BE(r.length, 8);
    parts.push(ownerWire, f, r);
  }
  const data = Buffer.concat(parts);
  const signature =
    signer.algorithm === 13 ? crypto.sign('sha256', data, { key: signer.key, dsaEncoding: 'ieee-p1363' }) : crypto.sign(null, data, signer.key);
  return Buffer.concat([head, signature]);
}

/** NSEC RDATA (RFC 4034 §4.1): the next name, then the type bitmap in windows. */
export function nsecRdata(next: string, types: Iterable<number>): Uint8Array {
  const windows = new Map<number, Uint8Array>();
  for (const t of types) {
    const w = t >> 8;
    let bits = windows.get(w);
    if (!bits) windows.set(w, (bits = new Uint8Array(32)));
    bits[(t & 0xff) >> 3] |= 0x80 >> (t & 7);
  }
  const parts: Uint8Array[] = [nameToWire(next)];
  for (const w of [...windows.keys()].sort((a, b) => a - b)) {
    const bits = windows.get(w)!;
    let len = 32;
    while (len > 0 && bits[len - 1] === 0) len--;
    parts.push(Uint8Array.of(w, len), bits.subarray(0, len));
  }
  return Buffer.concat(parts);
}

/** The inception and expiry every signature made now carries (whole hours: see the header). */
export function validity(nowMs: number): { readonly inception: number; readonly expiration: number } {
  const hour = Math.floor(nowMs / 1000 / HOUR) * HOUR;
  return { inception: hour - HOUR, expiration: hour + VALIDITY };
}

/**
 * A cached RRSIG RDATA: the signer keeps it as a string of one character per octet, one small object with nothing
 * for the collector to trace, where a Buffer is two objects and a share of an 8 KB pool slab that the replies and
 * every temporary buffer of signing also live in (a signature kept alive kept its whole slab).
 */
export type CachedSignature = Uint8Array | string;

/**
 * Signatures by canonical RRset, least recently used dropped first once `maxBytes` is reached. Every operation is
 * O(1): a full cache drops one entry per insert, never sweeps.
 *
 * The order of use is a list through the entries (oldest to newest), not the Map's insertion order: a hit moves its
 * entry by relinking two neighbours and leaves the Map alone, and the oldest entry is found at the list's end. Kept in
 * the Map's order, each hit was a delete and a set (slots the Map compacts away by copying itself now and then), and
 * finding the oldest needed an iterator; a live Map iterator keeps every table the Map has copied itself out of until
 * it next moves, which it did only when the cache was full: below its bound the cache grew by ~75 bytes a hit.
 */
export class SignatureCache {
  /**
   * The entries, spread over SHARDS Maps by a hash of the key. A Map copies itself whole into a new table once the
   * slots its deletes left fill up, and one Map of a full 64 MiB cache (~200,000 entries) took 13-16 ms to do it,
   * on the answer path; a shard copies a sixteenth as much.
   */
  readonly #shards: Map<string, CacheEntry>[] = Array.from({ length: SHARDS }, () => new Map<string, CacheEntry>());
  #size = 0;
  #oldest: CacheEntry | undefined;
  #newest: CacheEntry | undefined;
  #bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {}

  get size(): number {
    return this.#size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): CachedSignature | undefined {
    const e = this.#shards[shardOf(key)].get(key);
    if (e === undefined) return undefined;
    if (e !== this.#newest) {
      this.#unlink(e);
      this.#append(e);
    }
    return e.value;
  }

  set(key: string, value: CachedSignature): void {
    const shard = shardOf(key);
    const old = this.#shards[shard].get(key);
    if (old !== undefined) {
      this.#bytes -= old.cost;
      old.value = value;
      old.cost = cost(key, value);
      this.#bytes += old.cost;
      this.#unlink(old);
      this.#append(old);
    } else {
      const e: CacheEntry = { key, shard, value, cost: cost(key, value), older: undefined, newer: undefined };
      this.#shards[shard].set(key, e);
      this.#size++;
      this.#bytes += e.cost;
      this.#append(e);
    }
    while (this.#bytes > this.maxBytes && this.#size > 1) {
      const oldest = this.#oldest!;
      this.#unlink(oldest);
      this.#shards[oldest.shard].delete(oldest.key);
      this.#size--;
      this.#bytes -= oldest.cost;
    }
  }

  #unlink(e: CacheEntry): void {
    if (e.older) e.older.newer = e.newer;
    else this.#oldest = e.newer;
    if (e.newer) e.newer.older = e.older;
    else this.#newest = e.older;
    e.older = e.newer = undefined;
  }

  #append(e: CacheEntry): void {
    e.older = this.#newest;
    if (this.#newest) this.#newest.newer = e;
    else this.#oldest = e;
    this.#newest = e;
  }
}

const SHARDS = 16;

/** Which shard a key lives in: a multiplicative hash of every character (keys differ anywhere: owner, RDATA). */
function shardOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return (h ^ (h >>> 16)) & (SHARDS - 1);
}

interface CacheEntry {
  readonly key: string;
  readonly shard: number;
  value: CachedSignature;
  cost: number;
  older: CacheEntry | undefined;
  newer: CacheEntry | undefined;
}

/** A cache entry's bytes: its key (2 per character), its value, and about 80 for the Map entry and the objects. */
const cost = (key: string, value: CachedSignature): number => 2 * key.length + value.length + 80;

export interface SignerOptions {
  readonly cache: SignatureCache;
  /** The signer for a zone, or undefined when it is unsigned (or its key cannot be used here). */
  readonly signerFor: (zone: Zone) => ZoneSigner | undefined;
  readonly now?: () => number;
}

/** Signs answers for zones that have a usable key; everything else passes through as it is. */
export class AnswerSigner {
  readonly #o: SignerOptions;
  readonly #now: () => number;

  #hour: number | undefined;
  #hourValidity = validity(0);

  constructor(opts: SignerOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** validity(now), made once an hour. */
  #validity(): { readonly inception: number; readonly expiration: number } {
    const now = this.#now();
    const hour = Math.floor(now / 1000 / HOUR);
    if (hour !== this.#hour) {
      this.#hour = hour;
      this.#hourValidity = validity(now);
    }
    return this.#hourValidity;
  }

  /** The signature of one RRset, from the cache when the same RRset was signed this hour. */
  rrsig(signer: ZoneSigner, owner: string, type: number, ttl: number, rdatas: readonly Uint8Array[], wildcardOf: string | undefined): Uint8Array {
    const { inception, expiration } = this.#validity();
    const sorted = rdatas.length > 1 ? canonicalRdata(rdatas) : rdatas;
    // Each RDATA as its length (two octets) and its octets, one character per octet: unambiguous, one byte a character.
    let data = '';
    for (const r of sorted) data += String.fromCharCode(r.length >> 8, r.length & 0xff) + latin1(r);
    // join makes one flat string; a key concatenated piece by piece stays a tree of strings that the Map holds on to.
    const key = [signer.keyTag, signer.zone, wildcardOf === undefined ? owner : `*${wildcardOf}`, type, ttl, inception, data].join('|');
    const cache = this.#o.cache;
    const hit = cache.get(key);
    if (hit !== undefined) {
      cache.hits++;
      return typeof hit === 'string' ? Buffer.from(hit, 'latin1') : hit;
    }
    cache.misses++;
    const sig = rrsigRdata(signer, owner, type, ttl, sorted, wildcardOf, inception, expiration);
    cache.set(key, Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString('latin1'));
    return sig;
  }

  /** Whether the answer's zone is signed here (the answer will carry signatures when DO is set). */
  signerOf(snapshot: Snapshot, name: string): ZoneSigner | undefined {
    const zone = findZone(snapshot, name);
    return zone ? this.#o.signerFor(zone) : undefined;
  }

  /** The answer with RRSIGs and denial added, for a query with DO set; unchanged when no zone of it is signed. */
  sign(snapshot: Snapshot, _query: Query, ans: Answer): Answer {
    if (ans.zone === undefined || ans.kind === 'refused' || ans.kind === 'servfail' || ans.kind === 'chaos' || ans.kind === 'notimp') return ans;
    let touched = false;
    // The zone of the last owner looked up: an answer's RRsets mostly share one owner.
    let lastName: string | undefined;
    let lastZone: Zone | undefined;
    const signed = (rrs: readonly RR[], out: RR[]): void => {
      for (let i = 0; i < rrs.length; ) {
        let j = i + 1;
        while (j < rrs.length && rrs[j].type === rrs[i].type && rrs[j].name === rrs[i].name) j++;
        const first = rrs[i];
        for (let k = i; k < j; k++) out.push(rrs[k]);
        if (first.name !== lastName) {
          lastName = first.name;
          lastZone = findZone(snapshot, first.name);
        }
        const zone = lastZone;
        const signer = zone && this.#o.signerFor(zone);
        // NS at a cut belongs to the child: never signed by the parent (RFC 4035 §2.2).
        if (signer && zone && !(first.type === QTYPE.NS && first.name !== zone.name)) {
          const rdatas = j === i + 1 ? [first.rdata] : rrs.slice(i, j).map((r) => r.rdata);
          const wildcardOf = ans.wildcards?.get(first.name);
          out.push({ name: first.name, type: TYPE_RRSIG, cls: QCLASS.IN, ttl: first.ttl, rdata: this.rrsig(signer, first.name, first.type, first.ttl, rdatas, wildcardOf) });
          touched = true;
          if (wildcardOf !== undefined) this.#wildcardProof(snapshot, signer, zone, first.name, wildcardOf, proofs);
        }
        i = j;
      }
    };
    const proofs: RR[] = [];
    const answer: RR[] = [];
    const authority: RR[] = [];
    signed(ans.answer, answer);
    if (ans.kind === 'referral') {
      for (const rr of ans.authority) authority.push(rr);
      const cut = ans.authority[0]?.name;
      const zone = cut === undefined ? undefined : findZone(snapshot, cut);
      const signer = zone && this.#o.signerFor(zone);
      if (signer && zone && cut !== undefined) {
        const ds = zone.nodes.get(cut)?.rrsets.get(QTYPE.DS);
        if (ds) {
          for (const r of ds.rdata) authority.push({ name: cut, type: QTYPE.DS, cls: QCLASS.IN, ttl: ds.ttl, rdata: r });
          authority.push({ name: cut, type: TYPE_RRSIG, cls: QCLASS.IN, ttl: ds.ttl, rdata: this.rrsig(signer, cut, QTYPE.DS, ds.ttl, ds.rdata, undefined) });
        } else this.#nsec(signer, zone, cut, `\u0000.${cut}`, [QTYPE.NS, TYPE_RRSIG, TYPE_NSEC], authority);
        touched = true;
      }
    } else signed(ans.authority, authority);
    let rcode = ans.rcode;
    if ((ans.kind === 'nxdomain' || ans.kind === 'nodata') && ans.negativeName !== undefined) {
      const zone = findZone(snapshot, ans.negativeName);
      const signer = zone && this.#o.signerFor(zone);
      if (signer && zone) {
        const name = ans.negativeName;
        const types = ans.kind === 'nxdomain' ? [TYPE_RRSIG, TYPE_NSEC, TYPE_NXNAME] : [...typesAt(zone, name), TYPE_RRSIG, TYPE_NSEC];
        this.#nsec(signer, zone, name, `\u0000.${name}`, types, authority);
        // RFC 9824 §3: the name's absence is said by NXNAME, under NOERROR.
        if (ans.kind === 'nxdomain') rcode = RCODE.NOERROR;
        touched = true;
      }
    }
    if (!touched) return ans;
    for (const p of proofs) authority.push(p);
    // Every field written out: a spread with fields overridden took V8's generic object copy, ~1 µs an answer (more
    // than the rest of signing from the cache). The type lists each field of Answer, so a new one cannot be missed.
    const result = {
      rcode,
      aa: ans.aa,
      kind: ans.kind,
      answer,
      authority,
      additional: ans.additional,
      glueRequired: ans.glueRequired,
      ecsScope: ans.ecsScope,
      zone: ans.zone,
      pool: ans.pool,
      choice: ans.choice,
      rateName: ans.rateName,
      wildcards: ans.wildcards,
      negativeName: ans.negativeName,
      signedBy: this.#keyTags(snapshot, ans),
    } satisfies Record<keyof Answer, unknown>;
    return result;
  }

  #keyTags(snapshot: Snapshot, ans: Answer): number | undefined {
    const zone = ans.zone === undefined ? undefined : snapshot.zones.get(ans.zone);
    return zone ? this.#o.signerFor(zone)?.keyTag : undefined;
  }

  #nsec(signer: ZoneSigner, zone: Zone, owner: string, next: string, types: readonly number[], out: RR[]): void {
    const ttl = zone.negativeTtl;
    const rdata = nsecRdata(next, types);
    out.push({ name: owner, type: TYPE_NSEC, cls: QCLASS.IN, ttl, rdata });
    out.push({ name: owner, type: TYPE_RRSIG, cls: QCLASS.IN, ttl, rdata: this.rrsig(signer, owner, TYPE_NSEC, ttl, [rdata], undefined) });
  }

  /** An NSEC covering the asked name but not the wildcard that answered it (see the header). */
  #wildcardProof(_snapshot: Snapshot, signer: ZoneSigner, zone: Zone, name: string, encloser: string, out: RR[]): void {
    const below = encloser === '' ? name : name.slice(0, name.length - encloser.length - 1);
    const nextCloser = below.slice(below.lastIndexOf('.') + 1);
    // "+" sorts right after "*": the owner lies between the wildcard and the asked name when the next closer label is greater.
    const owner = Buffer.compare(Buffer.from('+', 'latin1'), Buffer.from(nextCloser, 'latin1')) < 0 ? (encloser === '' ? '+' : `+.${encloser}`) : encloser;
    if (!isAtOrBelow(owner, zone.name) || out.some((r) => r.type === TYPE_NSEC && r.name === owner)) return;
    // The next name shares no more labels with the asked name than the closest encloser does (validators derive the
    // closest encloser, and from it the wildcard, from the longer common suffix): the next closer label with a zero
    // octet appended sorts right after it and everything below it.
    const next = nextCloser.length < 63 ? `${nextCloser}\u0000${encloser === '' ? '' : `.${encloser}`}` : `\u0000.${name}`;
    this.#nsec(signer, zone, owner, next, [TYPE_RRSIG, TYPE_NSEC], out);
  }
}

/** Octets as a string of one character each (short RDATA, the common case, without making a Buffer). */
function latin1(r: Uint8Array): string {
  if (r.length > 16) return Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('latin1');
  let out = '';
  for (let i = 0; i < r.length; i++) out += String.fromCharCode(r[i]);
  return out;
}

/** The types a name holds (a pool name: A and AAAA as its enabled members have them); a wildcard's for a name it would synthesise. */
function typesAt(zone: Zone, name: string): number[] {
  const node = zone.nodes.get(name) ?? wildcardNode(zone, name);
  if (!node) return [];
  const types = new Set<number>(node.rrsets.keys());
  // A pool name holds A or AAAA only for the families its enabled members have: a bitmap naming a type the NODATA
  // answer says is absent would make the answer bogus.
  if (node.pool) for (const m of node.pool.members) if (m.enabled) types.add(m.family === 6 ? QTYPE.AAAA : QTYPE.A);
  return [...types];
}

function wildcardNode(zone: Zone, name: string): Zone['nodes'] extends ReadonlyMap<string, infer N> ? N | undefined : never {
  for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
    const ce = name.slice(dot + 1);
    if (zone.nodes.has(ce) || zone.emptyNonTerminals.has(ce) || ce === zone.name) return zone.nodes.get(`*.${ce}`);
    if (ce === zone.name) break;
  }
  return undefined;
}
