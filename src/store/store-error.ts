// Turns PostgreSQL and network failures into one-line LbdnsErrors, never leaking a password.
import { redactUrl } from '../config.js';
import { LbdnsError } from '../errors.js';

interface DbErrorLike {
  readonly code?: unknown;
  readonly message?: unknown;
}

/** Every URL in `text` with its password removed. */
function redactText(text: string): string {
  return text.replace(/postgres(?:ql)?:\/\/\S+/g, (url) => redactUrl(url));
}

function firstLine(text: string): string {
  return redactText(text.split('\n', 1)[0].trim());
}

export interface ErrorContext {
  /** Where the store is, already redacted, e.g. for "cannot reach PostgreSQL at ...". */
  readonly location: string;
  /** The message for a unique violation, which PostgreSQL words in terms of constraints. */
  readonly conflict?: string;
}

/**
 * The LbdnsError for `err`. SQLSTATE classes: 23 integrity (our triggers raise 23514 with a
 * ready one-line message, 23P01 for CNAME conflicts), 22 data exceptions, 08/57/53 unavailable.
 */
export function toStoreError(err: unknown, ctx: ErrorContext): LbdnsError {
  if (err instanceof LbdnsError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as DbErrorLike;
  const message = firstLine(typeof e.message === 'string' && e.message !== '' ? e.message : String(err));
  const code = typeof e.code === 'string' ? e.code : '';
  const wrap = (c: ConstructorParameters<typeof LbdnsError>[0], m: string) => new LbdnsError(c, m, { cause: err });
  if (code === '23505') return wrap('E_CONFLICT', ctx.conflict ?? message);
  if (code === '23P01') return wrap('E_CONFLICT', message);
  if (/^(23|22|P0)/.test(code)) return wrap('E_INPUT', message);
  if (code === '28P01') return wrap('E_STORE', `wrong password for ${ctx.location}: ${message}`);
  if (code === '28000') return wrap('E_STORE', `PostgreSQL at ${ctx.location} refused the login: ${message}`);
  if (code === '42P01' || code === '42883') {
    return wrap('E_STORE', `the database at ${ctx.location} has no lbdns schema (run "lbdns migrate"): ${message}`);
  }
  // Class 53 is "insufficient resources": only too_many_connections means the server cannot be reached.
  if (/^53/.test(code) && code !== '53300') {
    return wrap('E_STORE', `PostgreSQL at ${ctx.location} ran out of resources: ${message}`);
  }
  if (/^(08|57|53)/.test(code) || /^E[A-Z]+$/.test(code) || /Connection terminated|timeout/i.test(message)) {
    return wrap('E_STORE', `cannot reach PostgreSQL at ${ctx.location}: ${message}`);
  }
  return wrap('E_STORE', `store error: ${message}`);
}
