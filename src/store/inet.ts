// Host addresses and CIDR networks as operators type them, in the canonical text of src/store/rows.ts.
import { LbdnsError } from '../errors.js';
import { canonicalIPv6, parseIPv4 } from '../records/ip-address.js';

/** Canonical text of an IPv4 or IPv6 host address, else undefined. */
export function canonicalAddress(text: string): string | undefined {
  return parseIPv4(text) ?? canonicalIPv6(text);
}

/** A host address as typed (IPv4 dotted quad or IPv6, no prefix length), canonical; E_INPUT otherwise. */
export function parseHostAddress(text: string, what: string): string {
  const address = canonicalAddress(text.trim());
  if (address === undefined) {
    const hint = text.includes('/') ? ' (one host address, without a prefix length)' : '';
    throw new LbdnsError('E_INPUT', `${what} ${JSON.stringify(text)} is not an IPv4 or IPv6 address${hint}`);
  }
  return address;
}

/** The address as bits, most significant first: 32 for IPv4, 128 for IPv6. */
function bits(address: string): number[] {
  const out: number[] = [];
  const push = (value: number, width: number): void => {
    for (let i = width - 1; i >= 0; i--) out.push((value >> i) & 1);
  };
  if (!address.includes(':')) {
    for (const octet of address.split('.')) push(Number(octet), 8);
    return out;
  }
  // Canonical IPv6 holds no dotted quad: groups, at most one "::".
  const [head, tail] = address.split('::');
  const groups = (part: string | undefined): string[] => (part === undefined || part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  for (const g of all) push(parseInt(g, 16), 16);
  return out;
}

/**
 * A network as typed ("198.51.100.0/24", "2001:db8::/32", or a bare address for one host), as canonical
 * CIDR text. Host bits beyond the prefix are refused with the network that was probably meant.
 */
export function parseNetwork(text: string): string {
  const fail = (problem: string): never => {
    throw new LbdnsError('E_INPUT', `network ${JSON.stringify(text)} ${problem}`);
  };
  const [addressText, lengthText, extra] = text.trim().split('/');
  const address = canonicalAddress(addressText);
  if (address === undefined || extra !== undefined) return fail('is not an IPv4 or IPv6 network such as 198.51.100.0/24');
  const width = address.includes(':') ? 128 : 32;
  if (lengthText !== undefined && !/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return fail(`has a bad prefix length (0 to ${width})`);
  const length = lengthText === undefined ? width : Number(lengthText);
  if (length > width) return fail(`has a prefix length above ${width}`);
  const b = bits(address);
  if (b.slice(length).some((bit) => bit === 1)) {
    const masked = [...b.slice(0, length), ...new Array<number>(width - length).fill(0)];
    return fail(`has bits set beyond /${length} (did you mean ${fromBits(masked)}/${length}?)`);
  }
  return `${address}/${length}`;
}

function fromBits(b: readonly number[]): string {
  const word = (from: number, width: number): number => b.slice(from, from + width).reduce((n, bit) => n * 2 + bit, 0);
  if (b.length === 32) return [0, 8, 16, 24].map((i) => word(i, 8)).join('.');
  const groups = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => word(i * 16, 16).toString(16)).join(':');
  return canonicalIPv6(groups) ?? groups;
}

/** Canonical text of an inet host as PostgreSQL's host() prints it (IPv6 re-written per RFC 5952). */
export function addressFromDb(text: string): string {
  return canonicalAddress(text) ?? text;
}

/** Canonical text of a cidr value as PostgreSQL prints it ("2001:db8::/32", "10.0.0.0/8"). */
export function networkFromDb(text: string): string {
  const [address, length] = text.split('/');
  return `${canonicalAddress(address) ?? address}/${length ?? (address.includes(':') ? 128 : 32)}`;
}
