// Strict IPv4 and canonical IPv6 (RFC 5952) text forms for A and AAAA content.
import { isIPv6 } from 'node:net';

// No leading zeros: "01.2.3.4" is octal to some parsers and decimal to others.
const DOTTED_QUAD = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;

/** The address when `text` is a strict dotted quad, else undefined. */
export function parseIPv4(text: string): string | undefined {
  const m = DOTTED_QUAD.exec(text);
  if (m === null) return undefined;
  return m.slice(1).every((octet) => Number(octet) <= 255) ? text : undefined;
}

/** The eight 16-bit groups of a valid IPv6 address (embedded dotted quad allowed). */
function ipv6Groups(text: string): number[] {
  let body = text;
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    const [a, b, c, d] = last.split('.').map(Number);
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = body.split('::');
  const parse = (part: string | undefined): number[] =>
    part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16));
  const left = parse(head);
  const right = parse(rest);
  const fill = rest === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...fill, ...right];
}

/**
 * RFC 5952 text of a valid IPv6 address, else undefined. Embedded IPv4 is written in hex
 * ("::ffff:c000:201"), the one form that never depends on knowing the prefix's meaning.
 */
export function canonicalIPv6(text: string): string | undefined {
  if (text.includes('%') || !isIPv6(text)) return undefined;
  return formatIPv6Groups(ipv6Groups(text));
}

/** RFC 5952 text of eight 16-bit groups. */
export function formatIPv6Groups(groups: readonly number[]): string {
  // §4.2.3: shorten the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The 16 octets of a valid IPv6 address (check it with canonicalIPv6 first). */
export function ipv6ToBytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  ipv6Groups(text).forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}
