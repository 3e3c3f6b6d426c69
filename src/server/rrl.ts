// Response rate limiting for UDP, keyed as BIND's RRL: a token bucket per client network, name and response kind.
//
// Spoofed floods use an authoritative server to hit a victim with answers; limiting what one network
// receives per name and kind caps that, and the slip (every Nth limited reply goes out truncated) lets a
// real client behind the limited network retry over TCP, which is never limited. Keying on the name too
// (BIND, NSD) keeps a flood of one name from starving every other name asked from the same network.
// Which name (BIND's rules): an answer counts against its query name and type, one synthesised from a
// wildcard against the wildcard's parent (so random names under a wildcard share one bucket), NXDOMAIN
// and NODATA against their zone (random names cannot each get a budget), a referral against its
// delegation point, and errors (REFUSED, FORMERR, SERVFAIL…) against the network alone.
//
// Cost per response: the client address is read from its text with no allocation, the key is two 32-bit
// hashes over (network, kind, type, name characters) with per-process random seeds (a spoofer cannot aim
// collisions), and the buckets are typed arrays: no object, string or Map entry per query.
import { randomInt } from 'node:crypto';
import { parseNetwork } from '../geo/address.js';

export type RrlKind = 'answer' | 'nodata' | 'nxdomain' | 'referral' | 'error';
export type RrlAction = 'send' | 'slip' | 'drop';

export interface RrlOptions {
  /** Responses per second per client network, name and kind; 0 turns limiting off. */
  readonly ratePerSecond: number;
  /** Every Nth limited response is sent truncated (TC); 0: never, 1: always. */
  readonly slip: number;
  readonly ipv4Prefix: number;
  readonly ipv6Prefix: number;
  /** Networks never limited (CIDR text, IPv4 or IPv6), e.g. the HA pair's own addresses. */
  readonly exempt?: readonly string[];
  /** Most buckets kept (rounded down to a power of two); past it the least recently used of a set goes. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

const KIND_CODE: Record<RrlKind, number> = { answer: 1, nodata: 2, nxdomain: 3, referral: 4, error: 5 };

/** Buckets per hash set: the eviction looks at this many candidates (least recently used goes). */
const WAYS = 4;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Dotted quad in s[from, end) as an unsigned 32-bit number, or -1. */
function readV4(s: string, from: number, end: number): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255 || dots === 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return n * 256 + part;
}

/**
 * Reads a client address as the kernel gives it (socket peer text) into `out` as 32-bit words: one for
 * IPv4 (and IPv4-mapped IPv6), four for IPv6. Returns 4, 6, or 0 when the text is no address. Allocates
 * nothing: it runs for every UDP response while rate limiting is on, where geo/address.ts's
 * parseAddress (arrays, strings) would cost more than the rest of the check.
 */
export function readClientAddress(s: string, out: Uint32Array, groups: Uint16Array = new Uint16Array(8)): 0 | 4 | 6 {
  const pct = s.indexOf('%');
  const end = pct < 0 ? s.length : pct;
  if (s.indexOf(':') < 0) {
    const v4 = readV4(s, 0, end);
    if (v4 < 0) return 0;
    out[0] = v4;
    return 4;
  }
  let count = 0;
  let gap = -1;
  let i = 0;
  if (end >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    const start = i;
    let value = 0;
    for (let d = hexValue(s.charCodeAt(i)); i < end && d >= 0; d = hexValue(s.charCodeAt(++i))) value = value * 16 + d;
    if (i < end && s.charCodeAt(i) === 46) {
      // An IPv4 tail (::ffff:192.0.2.1): two more groups.
      const v4 = readV4(s, start, end);
      if (v4 < 0 || count > 6) return 0;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (i === start || i - start > 4 || count >= 8) return 0;
    groups[count++] = value;
    if (i === end) break;
    if (s.charCodeAt(i) !== 58) return 0;
    i++;
    if (i < end && s.charCodeAt(i) === 58) {
      if (gap >= 0) return 0;
      gap = count;
      i++;
    } else if (i === end) return 0;
  }
  if (gap < 0 ? count !== 8 : count > 7) return 0;
  const zeros = gap < 0 ? 0 : 8 - count;
  for (let w = 0; w < 4; w++) {
    let word = 0;
    for (let k = 2 * w; k < 2 * w + 2; k++) {
      const g = gap < 0 || k < gap ? groups[k] : k < gap + zeros ? 0 : groups[k - zeros];
      word = word * 65536 + g;
    }
    out[w] = word;
  }
  if (out[0] === 0 && out[1] === 0 && out[2] === 0xffff) {
    out[0] = out[3];
    return 4;
  }
  return 6;
}

/** The top `bits` of a 32-bit word as a mask (bits clamped to 0..32). */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

interface ExemptNetwork {
  readonly family: 4 | 6;
  readonly words: Uint32Array;
  readonly masks: Uint32Array;
}

function exemptNetwork(text: string): ExemptNetwork {
  const n = parseNetwork(text);
  if (!n) throw new Error(`RRL exempt network "${text}" is not an address or CIDR network with its host bits clear`);
  const count = n.family === 4 ? 1 : 4;
  const words = new Uint32Array(count);
  const masks = new Uint32Array(count);
  for (let w = 0; w < count; w++) {
    const b = n.bytes;
    words[w] = ((b[4 * w] << 24) | (b[4 * w + 1] << 16) | (b[4 * w + 2] << 8) | b[4 * w + 3]) >>> 0;
    masks[w] = wordMask(n.prefix - 32 * w);
  }
  return { family: n.family, words, masks };
}

/** murmur3's finaliser: spreads every input bit over the word. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class ResponseRateLimiter {
  readonly #rate: number;
  readonly #slip: number;
  readonly #now: () => number;
  readonly #exempt: readonly ExemptNetwork[];
  readonly #v4Mask: number;
  readonly #v6Masks: Uint32Array;
  readonly #sets: number;
  // One slot per bucket: in use (0: free), the 64-bit key as two words, tokens left, last use, limited count.
  // All zero-filled, so the kernel backs a page only once a bucket lands on it.
  readonly #used: Uint8Array;
  readonly #keyA: Uint32Array;
  readonly #keyB: Uint32Array;
  readonly #tokens: Float64Array;
  readonly #last: Float64Array;
  readonly #limited: Uint32Array;
  readonly #seedA = randomInt(0x7fffffff);
  readonly #seedB = randomInt(0x7fffffff);
  // Scratch for readClientAddress, reused by every call.
  readonly #addr = new Uint32Array(4);
  readonly #groups = new Uint16Array(8);
  #size = 0;

  constructor(opts: RrlOptions) {
    this.#rate = opts.ratePerSecond;
    this.#slip = opts.slip;
    this.#now = opts.now ?? (() => performance.now());
    this.#exempt = (opts.exempt ?? []).map(exemptNetwork);
    this.#v4Mask = wordMask(opts.ipv4Prefix);
    this.#v6Masks = Uint32Array.from([0, 1, 2, 3], (w) => wordMask(opts.ipv6Prefix - 32 * w));
    const max = Math.max(WAYS, opts.maxEntries ?? 262_144);
    this.#sets = 2 ** Math.floor(Math.log2(max / WAYS));
    const slots = this.#sets * WAYS;
    this.#keyA = new Uint32Array(slots);
    this.#keyB = new Uint32Array(slots);
    this.#tokens = new Float64Array(slots);
    this.#used = new Uint8Array(slots);
    this.#last = new Float64Array(slots);
    this.#limited = new Uint32Array(slots);
  }

  get enabled(): boolean {
    return this.#rate > 0;
  }

  /** Buckets in use. */
  get size(): number {
    return this.#size;
  }

  /** Whether responses to `address` are never limited (LBDNS_RRL_EXEMPT). */
  exempt(address: string): boolean {
    const family = readClientAddress(address, this.#addr, this.#groups);
    return family !== 0 && this.#isExempt(family);
  }

  #isExempt(family: 4 | 6): boolean {
    const a = this.#addr;
    for (const e of this.#exempt) {
      if (e.family !== family) continue;
      let match = true;
      for (let w = 0; w < e.words.length && match; w++) match = ((a[w] & e.masks[w]) >>> 0) === e.words[w];
      if (match) return true;
    }
    return false;
  }

  /**
   * Decides what to do with one UDP response of `kind` to `address`. `name` is the name the response
   * counts against (Answer.rateName: see the header); `qtype` tells answers of one name apart.
   */
  check(address: string, kind: RrlKind, name?: string, qtype = 0): RrlAction {
    if (this.#rate <= 0) return 'send';
    const family = readClientAddress(address, this.#addr, this.#groups);
    if (family !== 0 && this.#exempt.length > 0 && this.#isExempt(family)) return 'send';
    // Two independent multiply-xor lanes over the same input make the 64-bit key.
    let a = this.#seedA ^ family;
    let b = this.#seedB ^ family;
    if (family === 4) {
      const net = (this.#addr[0] & this.#v4Mask) >>> 0;
      a = Math.imul(a ^ net, 0x01000193);
      b = Math.imul(b ^ net, 0x5bd1e995);
    } else if (family === 6) {
      for (let w = 0; w < 4; w++) {
        const net = (this.#addr[w] & this.#v6Masks[w]) >>> 0;
        a = Math.imul(a ^ net, 0x01000193);
        b = Math.imul(b ^ net, 0x5bd1e995);
      }
    } else {
      // Not an address (never from a socket): its text stands in for the network.
      for (let i = 0; i < address.length; i++) {
        a = Math.imul(a ^ address.charCodeAt(i), 0x01000193);
        b = Math.imul(b ^ address.charCodeAt(i), 0x5bd1e995);
      }
    }
    const tag = (KIND_CODE[kind] << 16) | (kind === 'answer' ? qtype & 0xffff : 0);
    a = Math.imul(a ^ tag, 0x01000193);
    b = Math.imul(b ^ tag, 0x5bd1e995);
    if (name !== undefined && kind !== 'error') {
      for (let i = 0; i < name.length; i++) {
        const c = name.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b ^ c, 0x5bd1e995);
      }
    }
    return this.#take(fmix(a), fmix(b));
  }

  #take(keyA: number, keyB: number): RrlAction {
    const rate = this.#rate;
    const now = this.#now();
    const first = (keyA & (this.#sets - 1)) * WAYS;
    let slot = -1;
    let victim = first;
    let victimLast = Infinity;
    for (let s = first; s < first + WAYS; s++) {
      if (this.#used[s] === 0) {
        if (victimLast !== -Infinity) {
          victim = s;
          victimLast = -Infinity;
        }
        continue;
      }
      if (this.#keyA[s] === keyA && this.#keyB[s] === keyB) {
        slot = s;
        break;
      }
      if (this.#last[s] < victimLast) {
        victim = s;
        victimLast = this.#last[s];
      }
    }
    if (slot < 0) {
      // A new bucket takes the set's free or least recently used slot; an evicted bucket idle for a second
      // was full anyway, so only a set crowded by a flood of new keys forgets one that was limiting.
      slot = victim;
      if (this.#used[slot] === 0) {
        this.#used[slot] = 1;
        this.#size++;
      }
      this.#keyA[slot] = keyA;
      this.#keyB[slot] = keyB;
      this.#tokens[slot] = rate;
      this.#limited[slot] = 0;
    } else {
      // Refill for the time passed; the bucket holds at most one second's worth (the burst).
      this.#tokens[slot] = Math.min(rate, this.#tokens[slot] + ((now - this.#last[slot]) / 1000) * rate);
    }
    this.#last[slot] = now;
    if (this.#tokens[slot] >= 1) {
      this.#tokens[slot] -= 1;
      return 'send';
    }
    const limited = ++this.#limited[slot];
    return this.#slip > 0 && limited % this.#slip === 0 ? 'slip' : 'drop';
  }
}
