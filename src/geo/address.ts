// IP addresses as octets for prefix work: parse, mask, format as CIDR, and the network a query is located by.
import { formatIPv6Groups } from '../records/ip-address.js';
import { isIPv4, isIPv6 } from 'node:net';
import type { Client } from '../core/answer.js';

export interface Address {
  readonly family: 4 | 6;
  /** 4 or 16 octets. */
  readonly bytes: Uint8Array;
}

/** The network a client is located by, with the host bits cleared. */
export interface ClientNetwork extends Address {
  readonly prefix: number;
  /** 'ecs': the query's client subnet (RFC 7871); 'resolver': the source address of the query. */
  readonly from: 'ecs' | 'resolver';
}

/**
 * ECS subnets longer than this are used cut to it: the same limits as the usual resolver defaults and as
 * RFC 7871 §11.1 advises for privacy, and no GeoIP data is finer than a /24 or /56 anyway.
 */
export const MAX_PREFIX = { 4: 24, 6: 56 } as const;

function v4Octets(text: string): number[] {
  return text.split('.').map(Number);
}

/** Octets of an IPv4 or IPv6 address; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is IPv4. */
export function parseAddress(text: string): Address | undefined {
  if (isIPv4(text)) return { family: 4, bytes: Uint8Array.from(v4Octets(text)) };
  if (!isIPv6(text) || text.includes('%')) return undefined;
  let body = text;
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    const [a, b, c, d] = v4Octets(last);
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = body.split('::');
  const groups = (part: string | undefined): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = all[i] >> 8;
    bytes[2 * i + 1] = all[i] & 0xff;
  }
  const mapped = bytes.subarray(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? { family: 4, bytes: bytes.slice(12) } : { family: 6, bytes };
}

/** A copy of `bytes` with every bit past `prefix` cleared. */
export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const full = prefix >> 3;
  for (let i = 0; i < full && i < bytes.length; i++) out[i] = bytes[i];
  if (prefix % 8 !== 0 && full < bytes.length) out[full] = bytes[full] & (0xff << (8 - (prefix % 8)));
  return out;
}

/** Address text: dotted quad, or RFC 5952 IPv6. */
export function formatAddress(family: 4 | 6, bytes: Uint8Array): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  return formatIPv6Groups(groups);
}

export function formatNetwork(family: 4 | 6, bytes: Uint8Array, prefix: number): string {
  return `${formatAddress(family, maskBytes(bytes, prefix))}/${prefix}`;
}

/** "192.0.2.0/24" → its octets and prefix; host bits must be clear (the canonical form PostgreSQL's cidr keeps). */
export function parseNetwork(text: string): (Address & { readonly prefix: number }) | undefined {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const address = parseAddress(addressText);
  // IPv4-mapped IPv6 networks would need their prefix renumbered: written as IPv4 they need not be.
  if (!address || (address.family === 4 && addressText.includes(':'))) return undefined;
  if (prefixText !== undefined && !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const width = address.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (prefix > width) return undefined;
  const masked = maskBytes(address.bytes, prefix);
  if (!masked.every((x, i) => x === address.bytes[i])) return undefined;
  return { ...address, prefix };
}

/**
 * The network a query is located by: its ECS subnet, cut to /24 or /56 when longer; else the resolver's own address,
 * whole (so that a geo_networks row for one resolver can match it). An ECS source prefix of 0 says the client wants no
 * location used (RFC 7871 §7.1.2): the resolver's address stands in, and the reply's scope is capped at 0 anyway.
 */
export function clientNetwork(client: Client): ClientNetwork | undefined {
  const ecs = client.ecs;
  if (ecs && ecs.sourcePrefix > 0) {
    const family = ecs.family === 1 ? 4 : 6;
    const prefix = Math.min(ecs.sourcePrefix, MAX_PREFIX[family]);
    return { family, bytes: maskBytes(ecs.address, prefix), prefix, from: 'ecs' };
  }
  const address = parseAddress(client.address);
  if (!address) return undefined;
  return { ...address, prefix: address.family === 4 ? 32 : 128, from: 'resolver' };
}
