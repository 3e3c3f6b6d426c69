// Authentication failures counted per client address: past the limit within a window, the address gets 429 until the window ends.
import { maskBytes, parseAddress } from '../geo/address.js';

export interface FailureLimiterOptions {
  /** Failures allowed per address and window (the next request after them is refused). */
  readonly limit: number;
  readonly windowMs: number;
  /** Addresses remembered at most; the oldest window is forgotten first, so memory stays bounded under a spray. */
  readonly maxAddresses: number;
  readonly now?: () => number;
}

interface Window {
  readonly start: number;
  failures: number;
}

/**
 * IPv6 clients are counted by /64, the block one host usually holds: counting single addresses would let a host
 * walk its own /64 (2^64 addresses) to try tokens for ever.
 */
export function clientKey(address: string): string {
  const a = parseAddress(address);
  if (a === undefined) return address;
  // An IPv4 client reached over a dual-stack socket (::ffff:192.0.2.1) is that IPv4 address.
  if (a.family === 4) return a.bytes.join('.');
  return `${Buffer.from(maskBytes(a.bytes, 64)).toString('hex').slice(0, 16)}/64`;
}

export class FailureLimiter {
  readonly #windows = new Map<string, Window>();
  readonly #now: () => number;

  constructor(private readonly opts: FailureLimiterOptions) {
    this.#now = opts.now ?? Date.now;
  }

  #current(key: string): Window | undefined {
    const w = this.#windows.get(key);
    if (w !== undefined && this.#now() - w.start >= this.opts.windowMs) {
      this.#windows.delete(key);
      return undefined;
    }
    return w;
  }

  /** Seconds until the address may try again; 0 when it may now. */
  blockedFor(address: string): number {
    const w = this.#current(clientKey(address));
    if (w === undefined || w.failures < this.opts.limit) return 0;
    return Math.max(1, Math.ceil((w.start + this.opts.windowMs - this.#now()) / 1000));
  }

  failed(address: string): void {
    const key = clientKey(address);
    const w = this.#current(key);
    if (w !== undefined) {
      w.failures++;
      return;
    }
    if (this.#windows.size >= this.opts.maxAddresses) this.#windows.delete(this.#windows.keys().next().value as string);
    this.#windows.set(key, { start: this.#now(), failures: 1 });
  }

  get size(): number {
    return this.#windows.size;
  }
}
