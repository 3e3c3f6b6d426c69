// The hash policy: weighted rendezvous hashing of the client network, so a client keeps its members while they are up.
import type { Client } from '../core/answer.js';
import type { Pool, PoolMember } from '../core/snapshot.js';
import { formatNetwork, parseAddress } from '../geo/address.js';
import type { Candidate } from './candidates.js';
import type { Description, Policy } from './policy.js';

/**
 * Prefix lengths a client network is cut to before hashing: clients of one /24 (IPv4) or /56 (IPv6) share their
 * members, as an ECS-aware resolver caches them (RFC 7871 §11.1 advises resolvers to send no more than these).
 */
export const HASH_PREFIX_DEFAULT = Object.freeze({ v4: 24, v6: 56 });
export const HASH_PREFIX_RANGE = Object.freeze({ v4: [1, 32], v6: [1, 128] } as const);

/**
 * 64-bit arithmetic on two unsigned 32-bit halves: BigInt would allocate per member per query. `hi` and `lo` are the
 * result registers of mix(); the answer path is synchronous, so one pair per module is safe.
 */
let hi = 0;
let lo = 0;

/** High 32 bits of the 64-bit product of two unsigned 32-bit numbers, from 16-bit pieces (each product exact in a double). */
function mulHigh(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + Math.floor(p01 / 0x10000) + Math.floor(p10 / 0x10000) + Math.floor(mid / 0x10000)) >>> 0;
}

/** (hi, lo) ← (h, l) × (bh, bl) mod 2^64. */
function mul(h: number, l: number, bh: number, bl: number): void {
  const high = (Math.imul(h, bl) + Math.imul(l, bh) + mulHigh(l, bl)) >>> 0;
  lo = Math.imul(l, bl) >>> 0;
  hi = high;
}

/** MurmurHash3's fmix64 finaliser (a bijection with full avalanche) into (hi, lo). */
export function mix(h: number, l: number): void {
  l = (l ^ (h >>> 1)) >>> 0;
  mul(h, l, 0xff51afd7, 0xed558ccd);
  lo = (lo ^ (hi >>> 1)) >>> 0;
  mul(hi, lo, 0xc4ceb9fe, 0x1a85ec53);
  lo = (lo ^ (hi >>> 1)) >>> 0;
}

/** The last mix() result as a BigInt: for tests against a reference implementation. */
export function mixed(): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** A golden-ratio step between the words folded in, so that equal words in different places hash differently. */
const STEP_HI = 0x9e3779b9;
const STEP_LO = 0x7f4a7c15;

/** 64-bit key of a network (4 or 16 octets, host bits clear), tagged with its family and prefix length. */
function keyOf(bytes: Uint8Array, prefix: number, tag: number): void {
  let h = (tag << 8) | prefix;
  let l = 0;
  const words = bytes.length >>> 2;
  for (let w = 0; w < words; w++) {
    const o = w << 2;
    const word = ((bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]) >>> 0;
    mix((h ^ STEP_HI) >>> 0, (l ^ word ^ STEP_LO) >>> 0);
    h = hi;
    l = lo;
  }
  mix(h, l);
}

/** The client network a hash pool keys on: ECS subnet when sent (RFC 7871), else the resolver's address; cut to the pool's prefix. */
export interface HashedNetwork {
  readonly family: 4 | 6;
  /** Octets with the host bits clear. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
  readonly from: 'ecs' | 'resolver';
}

const scratch4 = new Uint8Array(4);

/** Dotted-quad text to `into` without allocating (the resolver address of most queries); false when it is not one. */
function readIPv4(text: string, into: Uint8Array): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c === -2) {
      if (digits === 0 || part === 3) return false;
      into[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0 && c <= 9 && digits < 3) {
      value = value * 10 + c;
      digits++;
      if (value > 255) return false;
    } else {
      return false;
    }
  }
  if (part !== 3 || digits === 0) return false;
  into[3] = value;
  return true;
}

function clearHostBits(bytes: Uint8Array, prefix: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const keep = prefix - i * 8;
    if (keep >= 8) continue;
    bytes[i] &= keep <= 0 ? 0 : 0xff << (8 - keep);
  }
}

/** The pool's prefix lengths (absent on a pool row from before they existed: the defaults). */
export function hashPrefixes(pool: Pool): { readonly v4: number; readonly v6: number } {
  return pool.hashPrefix ?? HASH_PREFIX_DEFAULT;
}

/**
 * The network hashed for `client`: an ECS subnet (source prefix above 0) cut to the pool's prefix when longer; else
 * the resolver's address cut to it. undefined when the resolver's address cannot be read (a unix socket in a test).
 * The returned bytes may be a shared scratch buffer: use them before the next call.
 */
export function hashedNetwork(pool: Pool, client: Client): HashedNetwork | undefined {
  const prefixes = hashPrefixes(pool);
  const ecs = client.ecs;
  if (ecs !== undefined && ecs.sourcePrefix > 0) {
    const family = ecs.family === 1 ? 4 : 6;
    const prefix = Math.min(ecs.sourcePrefix, family === 4 ? prefixes.v4 : prefixes.v6);
    const bytes = ecs.address.slice(0, family === 4 ? 4 : 16);
    clearHostBits(bytes, prefix);
    return { family, bytes, prefix, from: 'ecs' };
  }
  if (readIPv4(client.address, scratch4)) {
    clearHostBits(scratch4, prefixes.v4);
    return { family: 4, bytes: scratch4, prefix: prefixes.v4, from: 'resolver' };
  }
  const parsed = parseAddress(client.address);
  if (parsed === undefined) return undefined;
  const prefix = parsed.family === 4 ? prefixes.v4 : prefixes.v6;
  const bytes = parsed.bytes.slice();
  clearHostBits(bytes, prefix);
  return { family: parsed.family, bytes, prefix, from: 'resolver' };
}

/** 64-bit key of a member's address text (canonical in the snapshot), four characters to a word. */
function addressKey(text: string): void {
  let h = 0x6d000000 | text.length;
  let l = 0;
  for (let i = 0; i < text.length; i += 4) {
    let word = 0;
    for (let k = 0; k < 4; k++) word = ((word << 8) | (i + k < text.length ? text.charCodeAt(i + k) & 0xff : 0)) >>> 0;
    mix((h ^ STEP_HI) >>> 0, (l ^ word ^ STEP_LO) >>> 0);
    h = hi;
    l = lo;
  }
  mix(h, l);
}

/** Each candidate list's member keys (hi, lo interleaved), made once per list: lists are reused per health view. */
const memberKeys = new WeakMap<readonly Candidate[], Uint32Array>();

function keysOf(list: readonly Candidate[]): Uint32Array {
  let keys = memberKeys.get(list);
  if (keys === undefined) {
    keys = new Uint32Array(list.length * 2);
    for (let i = 0; i < list.length; i++) {
      // The address, not the row id: a member removed and added again (or the same address on both nodes) keeps its clients.
      addressKey(list[i].member.address);
      keys[2 * i] = hi;
      keys[2 * i + 1] = lo;
    }
    memberKeys.set(list, keys);
  }
  return keys;
}

/** 2^-53: the top 53 bits of a hash as a fraction. */
const UNIT = 1 / 9007199254740992;

/**
 * Every candidate's rendezvous score for the network keyed (nh, nl): -w / ln(h), h ∈ (0, 1) from the 64-bit hash of
 * (network, member). The highest wins; over networks, member i is first with probability w_i / Σw (the weighted
 * form of highest random weight), and removing a member moves only the networks it was first for.
 */
function scoreInto(list: readonly Candidate[], nh: number, nl: number, scores: Float64Array): void {
  const keys = keysOf(list);
  for (let i = 0; i < list.length; i++) {
    mix((nh ^ keys[2 * i]) >>> 0, (nl ^ keys[2 * i + 1]) >>> 0);
    // +0.5 keeps h inside (0, 1): ln(h) is finite and negative.
    const h = (hi * 2097152 + (lo >>> 11) + 0.5) * UNIT;
    scores[i] = -list[i].weight / Math.log(h);
  }
}

let scores = new Float64Array(16);

/** The `count` highest-scoring candidates for the network, best first (ties: the earlier candidate). */
export function rendezvous(list: readonly Candidate[], network: HashedNetwork, count: number): PoolMember[] {
  const n = list.length;
  const slots = Math.min(count, n);
  if (scores.length < n) scores = new Float64Array(n * 2);
  keyOf(network.bytes, network.prefix, network.family);
  scoreInto(list, hi, lo, scores);
  if (slots === 1 || slots === 2) {
    let best = 0;
    let second = -1;
    for (let i = 1; i < n; i++) {
      if (scores[i] > scores[best]) {
        second = best;
        best = i;
      } else if (second === -1 || scores[i] > scores[second]) {
        second = i;
      }
    }
    return slots === 1 ? [list[best].member] : [list[best].member, list[second].member];
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  const out = new Array<PoolMember>(slots);
  for (let k = 0; k < slots; k++) out[k] = list[order[k]].member;
  return out;
}

function choose(pool: Pool, list: readonly Candidate[], client: Client): { readonly members: PoolMember[]; readonly scope: number; readonly network: HashedNetwork | undefined } {
  const network = hashedNetwork(pool, client);
  // No readable address (not seen over UDP or TCP): every such query hashes as one network, still stable.
  const members = rendezvous(list, network ?? UNKNOWN_NETWORK, pool.count);
  // RFC 7871 §7.2.1: the answer holds for every client of the hashed ECS network, and depends on nothing finer.
  return { members, scope: network?.from === 'ecs' ? network.prefix : 0, network };
}

const UNKNOWN_NETWORK: HashedNetwork = Object.freeze({ family: 4, bytes: new Uint8Array(4), prefix: 0, from: 'resolver' });

/** Stateless: the answer is a function of the client network and the candidates, the same on every node and every worker. */
export const hash: Policy<undefined> = {
  name: 'hash',
  create: () => undefined,
  select(pool, candidates, client) {
    const { members, scope } = choose(pool, candidates.list, client);
    return { members, scope };
  },
  describe(pool, candidates, client): Description {
    const { members, scope, network } = choose(pool, candidates.list, client);
    const notes = network
      ? [
          `Rendezvous hash of the ${network.from === 'ecs' ? 'client subnet' : "resolver's network"} ${formatNetwork(network.family, network.bytes, network.prefix)}: every query from it gets these members, in this order, while they are up.`,
        ]
      : ["The resolver's address could not be read: hashed as one unknown network."];
    return { selection: { members, scope }, notes };
  },
  forget() {},
};
