// TTLs as master files write them: seconds, or BIND-style units ("1h30m", "2d", "1w").
import { LbdnsError } from '../errors.js';

/** RFC 2181 §8: a TTL is an unsigned 31-bit number. */
export const MAX_TTL = 0x7fffffff;

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds for `text`; throws LbdnsError('E_INPUT') naming `what` otherwise. */
export function parseTtl(text: string, what: string): number {
  let seconds: number;
  if (/^[0-9]+$/.test(text)) {
    seconds = Number(text);
  } else if (/^([0-9]+[smhdw])+$/i.test(text)) {
    seconds = 0;
    for (const [, n, unit] of text.toLowerCase().matchAll(/([0-9]+)([smhdw])/g)) {
      seconds += Number(n) * UNIT_SECONDS[unit];
    }
  } else {
    throw new LbdnsError('E_INPUT', `${what} "${text}" is not a TTL (seconds, or units like 1h30m, 2d, 1w)`);
  }
  if (seconds > MAX_TTL) throw new LbdnsError('E_INPUT', `${what} "${text}" exceeds ${MAX_TTL} seconds`);
  return seconds;
}
