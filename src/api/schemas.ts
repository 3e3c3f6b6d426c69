// The API's request and response shapes: names in paths checked as the CLI checks them, settings by the pool schema itself.
import { z } from 'zod';
import { LbdnsError } from '../errors.js';
import { parseDomainName } from '../records/domain-name.js';

/** A domain name in a path or a field, in canonical form; a name that is not one (a "/", "..", a NUL) is refused with the CLI's line. */
export const domainName = (what: string, wildcard = false) =>
  z
    .string()
    .max(300)
    .transform((text, ctx) => {
      try {
        return parseDomainName(text, { wildcard }, what);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof LbdnsError ? err.message : String(err) });
        return z.NEVER;
      }
    })
    .meta({ description: 'a domain name, with or without the trailing dot, any case' });

export const zoneParams = z.strictObject({ zone: domainName('zone name') });
export const poolParams = z.strictObject({ pool: domainName('pool name') });
export const memberParams = z.strictObject({ pool: domainName('pool name'), address: z.string().min(1).max(64).meta({ description: 'IPv4 or IPv6 address' }) });

/** Every error answer: RFC 9457 problem details. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().meta({ description: 'one line, as the CLI prints it' }),
    code: z.string().optional().meta({ description: 'the error code (E_INPUT, E_NOT_FOUND, E_CONFLICT, E_STORE)' }),
  })
  .meta({ description: 'problem details (RFC 9457), served as application/problem+json' });

/** The answers a route may give besides its success, each a problem. */
export function problems(...statuses: number[]): Record<number, typeof problemSchema> {
  return Object.fromEntries([401, 403, 429, 503, ...statuses].map((s) => [s, problemSchema]));
}

/**
 * An object whose main fields are documented; the other fields of the store's row pass through as they are (the
 * store's rows are the truth). Typed as any object, so that a row (an interface without an index signature) fits.
 */
export const loose = <T extends z.ZodRawShape>(shape: T, description: string): z.ZodType<object> => z.looseObject(shape).meta({ description }) as unknown as z.ZodType<object>;

export const zoneSchema = loose({ id: z.number(), name: z.string(), serial: z.number(), ttl: z.number() }, 'a zone and its SOA fields');
export const recordSchema = loose({ id: z.number(), name: z.string(), type: z.string(), ttl: z.number().nullable(), content: z.string() }, 'a record (ttl null: the zone default)');
export const poolSchema = loose({ id: z.number(), name: z.string(), zone: z.string(), policy: z.string(), ttl: z.number(), count: z.number(), members: z.number() }, 'a pool with all its settings');
export const memberSchema = loose(
  { id: z.number(), address: z.string(), weight: z.number(), priority: z.number(), enabled: z.boolean(), override: z.unknown() },
  'a pool member: weight, priority tier, enabled (false: drained), location, override',
);
export const windowSchema = loose({ id: z.number(), pool: z.string(), address: z.string(), cron: z.string(), durationMs: z.number(), tz: z.string().nullable(), reason: z.string(), by: z.string() }, 'a maintenance window');
export const geoNetworkSchema = loose({ id: z.number(), network: z.string() }, 'a geo network and the location of its clients');
export const tokenSchema = z
  .object({
    name: z.string(),
    scopes: z.array(z.string()),
    createdAt: z.string(),
    createdBy: z.string(),
    lastUsedAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .meta({ description: 'an API token (never its text)' });
