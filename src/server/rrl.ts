// Response rate limiting for UDP (as BIND and NSD do it): a token bucket per client network and response kind.
//
// Spoofed floods use an authoritative server to hit a victim with answers; limiting what one network
// receives per kind caps that, and the slip (every Nth limited reply goes out truncated) lets a real
// client behind the limited network retry over TCP, which is never limited.

export type RrlKind = 'answer' | 'nodata' | 'nxdomain' | 'referral' | 'error';
export type RrlAction = 'send' | 'slip' | 'drop';

export interface RrlOptions {
  /** Responses per second per client network and kind; 0 turns limiting off. */
  readonly ratePerSecond: number;
  /** Every Nth limited response is sent truncated (TC); 0: never, 1: always. */
  readonly slip: number;
  readonly ipv4Prefix: number;
  readonly ipv6Prefix: number;
  /** Most buckets kept; beyond this the idle ones are dropped first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  last: number;
  limited: number;
}

/** The client's network as a compact key: /24 of IPv4, /56 of IPv6 by default. */
export function networkKey(address: string, v4Prefix: number, v6Prefix: number): string {
  if (!address.includes(':') || address.startsWith('::ffff:')) {
    const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
    const p = v4.split('.');
    const n = ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
    const mask = v4Prefix === 0 ? 0 : (0xffffffff << (32 - v4Prefix)) >>> 0;
    return `4:${(n & mask) >>> 0}`;
  }
  // Expand "::" and keep the first v6Prefix bits as hex nibbles (v6Prefix is a multiple of 4 in practice).
  const [head, tail] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const hex = groups.map((g) => g.padStart(4, '0')).join('');
  return `6:${hex.slice(0, Math.ceil(v6Prefix / 4))}`;
}

export class ResponseRateLimiter {
  readonly #opts: Required<RrlOptions>;
  readonly #buckets = new Map<string, Bucket>();

  constructor(opts: RrlOptions) {
    this.#opts = { maxEntries: 200_000, now: () => performance.now(), ...opts };
  }

  get enabled(): boolean {
    return this.#opts.ratePerSecond > 0;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Decides what to do with one UDP response of `kind` to `address`. */
  check(address: string, kind: RrlKind): RrlAction {
    const o = this.#opts;
    if (o.ratePerSecond <= 0) return 'send';
    const key = `${networkKey(address, o.ipv4Prefix, o.ipv6Prefix)}/${kind}`;
    const now = o.now();
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= o.maxEntries) this.#evict(now);
      b = { tokens: o.ratePerSecond, last: now, limited: 0 };
      this.#buckets.set(key, b);
    } else {
      // Refill for the time passed; the bucket holds at most one second's worth (the burst).
      b.tokens = Math.min(o.ratePerSecond, b.tokens + ((now - b.last) / 1000) * o.ratePerSecond);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 'send';
    }
    b.limited++;
    return o.slip > 0 && b.limited % o.slip === 0 ? 'slip' : 'drop';
  }

  /** Drops full buckets (no longer limiting anyone), then the oldest, until a quarter of the room is free. */
  #evict(now: number): void {
    const o = this.#opts;
    const target = Math.floor(o.maxEntries * 0.75);
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((now - b.last) / 1000) * o.ratePerSecond >= o.ratePerSecond) this.#buckets.delete(key);
    }
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= target) break;
      this.#buckets.delete(key);
    }
  }
}
