// `member set … --force down|up|drain --reason TEXT [--until TIME | --for 2h]` and `--clear`: options, parsing, output.
import { userInfo } from 'node:os';
import { z } from 'zod';
import { OVERRIDE_STATES, type MemberOverride } from '../core/override.js';
import type { Actor, OverrideChange } from '../store/store.js';
import { usageError } from './command.js';

export const overrideOptions = {
  force: { type: 'string' },
  reason: { type: 'string' },
  until: { type: 'string' },
  for: { type: 'string' },
  clear: { type: 'boolean' },
} as const;

export const overrideFields = {
  force: z.string().optional(),
  reason: z.string().optional(),
  until: z.string().optional(),
  for: z.string().optional(),
  clear: z.boolean().optional(),
};

type Values = { [K in keyof typeof overrideFields]?: z.infer<(typeof overrideFields)[K]> };

const UNITS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90s", "20m", "2h", "1h30m", "7d" → milliseconds; undefined when it is none of those. */
export function parseDuration(text: string): number | undefined {
  if (!/^([0-9]{1,6}[smhdw])+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/([0-9]+)([smhdw])/g)) ms += Number(n) * UNITS[unit];
  return ms > 0 ? ms : undefined;
}

/**
 * --until: an ISO 8601 time with its zone ("2026-12-06T04:00Z", "2026-12-06T05:00+01:00"), or "HH:MM" for the next
 * such time in UTC. A time without a zone is refused rather than read in whatever zone this shell happens to have.
 */
export function parseUntil(text: string, now: number): number | undefined {
  const hm = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(text);
  if (hm) {
    const d = new Date(now);
    let t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), Number(hm[1]), Number(hm[2]));
    if (t <= now) t += 86_400_000;
    return t;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isFinite(t) ? t : undefined;
}

export type OverrideRequest = { readonly kind: 'set'; readonly change: OverrideChange } | { readonly kind: 'clear' };

/** The override asked for, or undefined when none of the options was given; a usage error for any bad combination. */
export function overrideRequest(v: Values, otherSettings: boolean, now: number): OverrideRequest | undefined {
  const given = v.force !== undefined || v.clear === true || v.reason !== undefined || v.until !== undefined || v.for !== undefined;
  if (!given) return undefined;
  if (otherSettings) throw usageError('member set: --force and --clear go without other settings');
  if (v.clear) {
    if (v.force !== undefined || v.reason !== undefined || v.until !== undefined || v.for !== undefined) throw usageError('member set: --clear takes no --force, --reason, --until or --for');
    return { kind: 'clear' };
  }
  if (v.force === undefined) throw usageError('member set: --reason, --until and --for go with --force');
  const state = OVERRIDE_STATES.find((s) => s === v.force);
  if (state === undefined) throw usageError(`member set: --force must be one of ${OVERRIDE_STATES.join(', ')}`);
  if (v.reason === undefined || v.reason.trim() === '') throw usageError('member set: --force needs --reason TEXT (it is shown to whoever looks next)');
  if (v.until !== undefined && v.for !== undefined) throw usageError('member set: give --until or --for, not both');
  let until: number | null = null;
  if (v.for !== undefined) {
    const ms = parseDuration(v.for);
    if (ms === undefined) throw usageError(`member set: --for "${v.for}" must be a duration such as 90s, 20m, 2h, 1h30m or 7d`);
    until = now + ms;
  } else if (v.until !== undefined) {
    const t = parseUntil(v.until, now);
    if (t === undefined) throw usageError(`member set: --until "${v.until}" must be HH:MM (UTC) or an ISO 8601 time with its zone, such as 2026-12-06T04:00Z`);
    until = t;
  }
  return { kind: 'set', change: { state, reason: v.reason, until } };
}

/** Recorded as override_by: the operating-system user running the CLI (the database role when it cannot be told). */
export function cliActor(): Actor {
  try {
    return { user: userInfo().username };
  } catch {
    const user = process.env.USER ?? process.env.LOGNAME;
    return user ? { user } : {};
  }
}

/** "forced down until 2026-12-06T04:00:00Z by alice: kernel upgrade", or "no override". */
export function overrideLine(o: MemberOverride | null | undefined, now: number): string {
  if (!o) return 'no override';
  const until = o.until === null ? 'until cleared' : `${o.until <= now ? 'expired' : 'until'} ${new Date(o.until).toISOString().replace('.000Z', 'Z')}`;
  return `forced ${o.state} ${until} by ${o.by}: ${o.reason}`;
}
