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
import { isAtOrBelow, labelCount, nameToWire, writeName } from '../core/names.js';
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

/**
 * Where the data a signature covers is written (RFC 4034 §3.1.8.1: the RRSIG RDATA without the signature, then each
 * RR of the RRset in canonical form), reused by every signature and grown when an RRset needs more. Written in place
 * rather than assembled from a Buffer per part: under a flood of distinct names every answer is a signature made,
 * and each of those Buffers was an object (often an ArrayBuffer too) for the young generation's collections to sweep.
 */
let signedData = Buffer.allocUnsafeSlow(2048);

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
  // Names take at most their length + 2 octets in wire form.
  let size = 18 + signer.zone.length + 2;
  for (const r of rdatas) size += signedOwner.length + 2 + 10 + r.length;
  if (size > signedData.length) signedData = Buffer.allocUnsafeSlow(Math.max(size, 2 * signedData.length));
  const out = signedData;
  out.writeUInt16BE(type, 0);
  out[2] = signer.algorithm;
  out[3] = labels;
  out.writeUInt32BE(ttl >>> 0, 4);
  out.writeUInt32BE(expiration >>> 0, 8);
  out.writeUInt32BE(inception >>> 0, 12);
  out.writeUInt16BE(signer.keyTag, 16);
  const headLength = writeName(out, 18, signer.zone);
  let at = headLength;
  for (const r of rdatas.length > 1 ? canonicalRdata(rdatas) : rdatas) {
    at = writeName(out, at, signedOwner);
    out.writeUInt16BE(type, at);
    out.writeUInt16BE(QCLASS.IN, at + 2);
    out.writeUInt32BE(ttl >>> 0, at + 4);
    out.writeUInt16BE(r.length, at + 8);
    out.set(r, at + 10);
    at += 10 + r.length;
  }
  const data = out.subarray(0, at);
  const signature =
    signer.algorithm === 13 ? crypto.sign('sha256', data, { key: signer.key, dsaEncoding: 'ieee-p1363' }) : crypto.sign(null, data, signer.key);
  const rdata = Buffer.allocUnsafe(headLength + signature.length);
  out.copy(rdata, 0, 0, headLength);
  rdata.set(signature, headLength);
  return rdata;
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
 * Signatures by canonical RRset, kept outside the JavaScript heap: the garbage collector has nothing of the cache to
 * copy, promote or mark, however many signatures it holds and however fast they turn over. Held in the V8 heap (a
 * Map of strings, a list through the entries), every new signature survived a young-generation collection and was
 * copied twice, a full cache was marked on every major collection, and a Map copied itself whole now and then: with
 * the cache churned by a million distinct RRsets those were the 15-30 ms pauses in answering (docs/performance.md).
 *
 * - **The slab**: one Buffer of `maxBytes` (memory is committed as it is written), used as a ring. An entry is
 *   `[u32 length][i32 hash][u16 key length][u16 value length][key][value]`, appended at the head; the oldest entries
 *   are dropped at the tail to make room. A 4-byte length of WRAP (or fewer than 4 bytes left) says the ring goes on
 *   at 0.
 * - **The index**: open addressing with linear probing in two Int32Arrays (entry offset + 1, hash), at most half
 *   full by entries of the smallest real size; deletion shifts the following slots back (no tombstones, so a lookup
 *   never walks a run of dead slots, and nothing is ever rebuilt).
 * - **Recency**: a hit on an entry in the older half of the ring copies it to the head (its old copy becomes dead
 *   space, skipped when the tail reaches it). An entry used at least once per half turn of the ring is never dropped;
 *   the rest go oldest first: an approximation of least-recently-used with O(1) work per operation and no per-hit
 *   bookkeeping.
 *
 * Every operation is O(1) (amortised over the entries dropped): a full cache drops what an insert needs, never sweeps.
 */
export class SignatureCache {
  readonly maxBytes: number;
  readonly #slab: Buffer;
  readonly #cap: number;
  /** Entry offset + 1 per slot (0: empty), and the entry's hash beside it. */
  readonly #slots: Int32Array;
  readonly #hashes: Int32Array;
  readonly #mask: number;
  readonly #maxEntries: number;
  /** The largest entry cached (key and value with the header); larger RRsets are signed every time. */
  readonly #maxEntry: number;
  #head = 0;
  #tail = 0;
  /** Bytes of the ring between tail and head: live entries, dead copies and the skipped end. */
  #used = 0;
  #size = 0;
  #bytes = 0;
  hits = 0;
  misses = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
    this.#cap = Math.max(64, Math.min(Math.floor(maxBytes), MAX_SLAB));
    this.#slab = Buffer.allocUnsafeSlow(this.#cap);
    // Real entries (a key of owner, type, TTL and RDATA; an RRSIG RDATA of 18 octets, the signer and 64 of signature)
    // are over 128 bytes: a slot per 64 bytes keeps the index at most half full (8 bytes a slot: the index is an eighth
    // of the slab). Smaller entries are bounded by count.
    let slots = 1024;
    while (slots < this.#cap / 64) slots *= 2;
    this.#slots = new Int32Array(slots);
    this.#hashes = new Int32Array(slots);
    this.#mask = slots - 1;
    this.#maxEntries = slots >>> 1;
    this.#maxEntry = Math.min(HEADER + 0xffff * 2, this.#cap >>> 3);
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of the live entries (headers included); the slab in use is never more than maxBytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The value cached for the key's first `keyLength` octets, as a new Buffer, or undefined. */
  get(key: Uint8Array, keyLength = key.length): Buffer | undefined {
    const hash = hashOf(key, keyLength);
    const slot = this.#find(key, keyLength, hash);
    if (slot < 0) return undefined;
    const at = this.#slots[slot] - 1;
    const slab = this.#slab;
    const valueLength = slab.readUInt16LE(at + 10);
    const valueAt = at + HEADER + keyLength;
    const out = Buffer.allocUnsafe(valueLength);
    slab.copy(out, 0, valueAt, valueAt + valueLength);
    // In the older half of the ring: copied to the head, so that what is used stays.
    const age = this.#head >= at ? this.#head - at : this.#cap - at + this.#head;
    if (age > this.#used >>> 1) this.#put(key, keyLength, hash, out);
    return out;
  }

  /** Caches a value for the key's first `keyLength` octets (replacing what the key had). */
  set(key: Uint8Array, value: Uint8Array, keyLength = key.length): void {
    this.#put(key, keyLength, hashOf(key, keyLength), value);
  }

  #put(key: Uint8Array, keyLength: number, hash: number, value: Uint8Array): void {
    const length = HEADER + keyLength + value.length;
    if (length > this.#maxEntry || keyLength > 0xffff || value.length > 0xffff) return;
    const old = this.#find(key, keyLength, hash);
    if (old >= 0) this.#drop(old);
    const cap = this.#cap;
    // Room at the head: when the entry does not fit before the slab's end, that end is skipped and the ring goes on at 0.
    const skip = this.#head + length > cap ? cap - this.#head : 0;
    while (this.#used + skip + length > cap || this.#size >= this.#maxEntries) this.#evictOldest();
    if (skip > 0) {
      if (skip >= 4) this.#slab.writeInt32LE(WRAP, this.#head);
      this.#used += skip;
      this.#head = 0;
      if (this.#used === skip) this.#tail = 0;
    }
    if (this.#used === 0) this.#head = this.#tail = 0;
    const at = this.#head;
    const slab = this.#slab;
    slab.writeUInt32LE(length, at);
    slab.writeInt32LE(hash, at + 4);
    slab.writeUInt16LE(keyLength, at + 8);
    slab.writeUInt16LE(value.length, at + 10);
    slab.set(keyLength === key.length ? key : key.subarray(0, keyLength), at + HEADER);
    slab.set(value, at + HEADER + keyLength);
    this.#head = at + length === cap ? 0 : at + length;
    this.#used += length;
    this.#size++;
    this.#bytes += length;
    // The slot: the first empty one from the hash's home (the old entry, if any, was dropped above).
    let slot = hash & this.#mask;
    while (this.#slots[slot] !== 0) slot = (slot + 1) & this.#mask;
    this.#slots[slot] = at + 1;
    this.#hashes[slot] = hash;
  }

  /** The slot holding the key, or -1. */
  #find(key: Uint8Array, keyLength: number, hash: number): number {
    const slots = this.#slots;
    const hashes = this.#hashes;
    const slab = this.#slab;
    for (let slot = hash & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const entry = slots[slot];
      if (entry === 0) return -1;
      if (hashes[slot] !== hash) continue;
      const at = entry - 1 + HEADER;
      if (slab.readUInt16LE(entry - 1 + 8) === keyLength && slab.compare(key, 0, keyLength, at, at + keyLength) === 0) return slot;
    }
  }

  /** Forgets the entry in a slot: its bytes in the ring become dead space, dropped when the tail reaches them. */
  #drop(slot: number): void {
    const at = this.#slots[slot] - 1;
    this.#bytes -= this.#slab.readUInt32LE(at);
    this.#size--;
    this.#unslot(slot);
  }

  /** Empties a slot, shifting back the entries after it that probed past it (linear probing without tombstones). */
  #unslot(slot: number): void {
    const slots = this.#slots;
    const hashes = this.#hashes;
    const mask = this.#mask;
    let hole = slot;
    for (let j = (hole + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const home = hashes[j] & mask;
      // The entry at j may move into the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      slots[hole] = slots[j];
      hashes[hole] = hashes[j];
      hole = j;
    }
    slots[hole] = 0;
  }

  /** Moves the tail past the oldest entry (or the skipped end of the slab), dropping the entry if it is live. */
  #evictOldest(): void {
    const cap = this.#cap;
    const slab = this.#slab;
    const at = this.#tail;
    if (this.#used === 0) return;
    if (at + 4 > cap || slab.readInt32LE(at) === WRAP) {
      this.#used -= cap - at;
      this.#tail = 0;
      return;
    }
    const length = slab.readUInt32LE(at);
    // Live when the index still points here (a copy moved to the head, or a replaced value, left this one dead).
    const hash = slab.readInt32LE(at + 4);
    for (let slot = hash & this.#mask; this.#slots[slot] !== 0; slot = (slot + 1) & this.#mask) {
      if (this.#slots[slot] === at + 1) {
        this.#drop(slot);
        break;
      }
    }
    this.#used -= length;
    this.#tail = at + length === cap ? 0 : at + length;
  }
}

const HEADER = 12;
/** A length no entry has (read and written as a signed 32-bit value, a small integer to V8): the rest of the slab is skipped. */
const WRAP = -1;
/** Offsets are kept in an Int32Array (offset + 1): the slab stays under 2 GiB. */
const MAX_SLAB = 2 ** 31 - 2;

/** FNV-1a over the key's octets, mixed at the end so that the low bits (the home slot) depend on every octet. */
function hashOf(key: Uint8Array, length: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ key[i], 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

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
  /** Where cache keys are written (outside the heap, reused: a key costs no allocation). */
  #scratch = Buffer.allocUnsafeSlow(4096);

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
    const key = this.#key(signer, wildcardOf === undefined ? owner : `*${wildcardOf}`, type, ttl, inception, sorted);
    const cache = this.#o.cache;
    const hit = cache.get(this.#scratch, key);
    if (hit !== undefined) {
      cache.hits++;
      return hit;
    }
    cache.misses++;
    const sig = rrsigRdata(signer, owner, type, ttl, sorted, wildcardOf, inception, expiration);
    cache.set(this.#scratch, sig, key);
    return sig;
  }

  /**
   * The cache key, written into the scratch buffer (its length returned): key tag, type, TTL, inception, the zone,
   * the owner ("*" and the closest encloser for a wildcard), then each RDATA as its length and its octets. Names are
   * written one octet per character, each with its length, so no two RRsets write the same key.
   */
  #key(signer: ZoneSigner, owner: string, type: number, ttl: number, inception: number, rdatas: readonly Uint8Array[]): number {
    let length = 12 + 2 + signer.zone.length + 2 + owner.length;
    for (const r of rdatas) length += 2 + r.length;
    if (length > this.#scratch.length) this.#scratch = Buffer.allocUnsafeSlow(Math.max(length, 2 * this.#scratch.length));
    const k = this.#scratch;
    k.writeUInt16LE(signer.keyTag, 0);
    k.writeUInt16LE(type, 2);
    k.writeUInt32LE(ttl >>> 0, 4);
    k.writeUInt32LE(inception >>> 0, 8);
    let at = 12;
    k.writeUInt16LE(signer.zone.length, at);
    at = 14 + k.write(signer.zone, 14, 'latin1');
    k.writeUInt16LE(owner.length, at);
    at += 2 + k.write(owner, at + 2, 'latin1');
    for (const r of rdatas) {
      k.writeUInt16LE(r.length, at);
      k.set(r, at + 2);
      at += 2 + r.length;
    }
    return at;
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
