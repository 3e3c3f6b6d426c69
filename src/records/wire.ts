// Building and reading wire RDATA octet by octet, bounds-checked, for the types dns2 has no codec for.
import { LbdnsError } from '../errors.js';
import { isValidDomainName, nameToWire } from './domain-name.js';

export class RdataWriter {
  readonly #out: number[] = [];

  u8(v: number): this {
    this.#out.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    this.#out.push((v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  u32(v: number): this {
    this.#out.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    return this;
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.#out.push(x);
    return this;
  }
  /** A <character-string>: one length octet, then the octets (RFC 1035 §3.3). */
  string(b: Uint8Array): this {
    return this.u8(b.length).bytes(b);
  }
  /** Uncompressed (RFC 3597 §4: names in RDATA of types newer than RFC 1035 are never compressed). */
  name(canonical: string): this {
    return this.bytes(nameToWire(canonical));
  }
  done(): Uint8Array {
    if (this.#out.length > 65535) throw new LbdnsError('E_INPUT', `RDATA of ${this.#out.length} octets exceeds 65535`);
    return Uint8Array.from(this.#out);
  }
}

/** Reads RDATA; any read past the end, or octets left over at `end()`, throws LbdnsError('E_INPUT'). */
export class RdataReader {
  #at = 0;

  constructor(
    private readonly b: Uint8Array,
    private readonly what: string,
  ) {}

  fail(problem: string): never {
    throw new LbdnsError('E_INPUT', `${this.what} RDATA ${problem}`);
  }
  get left(): number {
    return this.b.length - this.#at;
  }
  #need(n: number): number {
    if (this.#at + n > this.b.length) this.fail(`ends early (wanted ${n} more octets at offset ${this.#at})`);
    const at = this.#at;
    this.#at += n;
    return at;
  }
  u8(): number {
    return this.b[this.#need(1)];
  }
  u16(): number {
    const at = this.#need(2);
    return (this.b[at] << 8) | this.b[at + 1];
  }
  u32(): number {
    const at = this.#need(4);
    return ((this.b[at] << 24) | (this.b[at + 1] << 16) | (this.b[at + 2] << 8) | this.b[at + 3]) >>> 0;
  }
  bytes(n: number): Uint8Array {
    const at = this.#need(n);
    return this.b.subarray(at, at + n);
  }
  rest(): Uint8Array {
    return this.bytes(this.left);
  }
  string(): Uint8Array {
    return this.bytes(this.u8());
  }
  /** An uncompressed name in canonical form ("." for the root); names lbdns cannot store are refused. */
  name(): string {
    const labels: string[] = [];
    for (;;) {
      const len = this.u8();
      if (len === 0) break;
      if (len > 63) this.fail('holds a compressed or malformed name');
      labels.push(Buffer.from(this.bytes(len)).toString('latin1').toLowerCase());
    }
    if (labels.length === 0) return '.';
    const name = labels.join('.');
    if (!isValidDomainName(name)) this.fail(`holds the name ${JSON.stringify(name)}, which is not a host-style name`);
    return name;
  }
  end(): void {
    if (this.left !== 0) this.fail(`has ${this.left} octets after its last field`);
  }
}
