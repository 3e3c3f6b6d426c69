// What an API token is: its name, the grammar of its scopes and the text form of the token, for the CLI, the store and the API.
//
// Scopes (docs/api.md): `read` (everything, read only), `admin` (tokens), `zone:<name|*>:<read|write>` and
// `pool:<name|*>:<read|drain|write>`. Which scope a request needs, and which scopes cover it, is the API's
// (src/api/scopes.ts); here is only what may be written down. migrations/0014_api_tokens.sql repeats the grammar as
// the database's own guard.
import { LbdnsError } from '../errors.js';
import { parseDomainName } from '../records/domain-name.js';

export const ZONE_LEVELS = ['read', 'write'] as const;
export const POOL_LEVELS = ['read', 'drain', 'write'] as const;
export type ZoneLevel = (typeof ZONE_LEVELS)[number];
export type PoolLevel = (typeof POOL_LEVELS)[number];

export type Scope =
  | { readonly kind: 'read' }
  | { readonly kind: 'admin' }
  | { readonly kind: 'zone'; readonly name: string; readonly level: ZoneLevel }
  | { readonly kind: 'pool'; readonly name: string; readonly level: PoolLevel };

/** A token's name: shown in logs and recorded as "token:NAME" by the audit triggers. */
export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** "lbdns_" and 32 random bytes in base64url (43 characters, no padding). */
export const TOKEN_PREFIX = 'lbdns_';
export const TOKEN_TEXT = /^lbdns_[A-Za-z0-9_-]{43}$/;
export const MAX_SCOPES = 64;

const GRAMMAR = 'read, admin, zone:<name|*>:<read|write> or pool:<name|*>:<read|drain|write>';

export function checkTokenName(name: string): string {
  if (!TOKEN_NAME.test(name)) throw new LbdnsError('E_INPUT', `token name ${JSON.stringify(name)} must be 1 to 64 letters, digits, ".", "-" or "_", starting with a letter or digit`);
  return name;
}

/** One scope as written ("pool:LB.Example.Test.:drain"), in its canonical form; E_INPUT naming the scope otherwise. */
export function parseScope(text: string): Scope {
  const bad = (why = `must be ${GRAMMAR}`): never => {
    throw new LbdnsError('E_INPUT', `scope ${JSON.stringify(text)} ${why}`);
  };
  if (text === 'read' || text === 'admin') return { kind: text };
  const m = /^(zone|pool):(.+):([a-z]+)$/.exec(text);
  if (m === null) return bad();
  const [, kind, target, level] = m;
  const name = target === '*' ? '*' : parseDomainName(target, {}, `${kind} name in scope`);
  if (kind === 'zone') {
    const l = ZONE_LEVELS.find((x) => x === level);
    return l === undefined ? bad(`must end in :${ZONE_LEVELS.join(' or :')}`) : { kind, name, level: l };
  }
  const l = POOL_LEVELS.find((x) => x === level);
  return l === undefined ? bad(`must end in :${POOL_LEVELS.join(', :')}`) : { kind: 'pool', name, level: l };
}

export function scopeText(s: Scope): string {
  return s.kind === 'read' || s.kind === 'admin' ? s.kind : `${s.kind}:${s.name}:${s.level}`;
}

/** The scopes of a new token, canonical and without repeats; at least one. */
export function parseScopes(texts: readonly string[]): Scope[] {
  if (texts.length === 0) throw new LbdnsError('E_INPUT', `a token needs at least one scope (${GRAMMAR})`);
  if (texts.length > MAX_SCOPES) throw new LbdnsError('E_INPUT', `a token holds at most ${MAX_SCOPES} scopes`);
  const seen = new Map<string, Scope>();
  for (const t of texts) {
    const s = parseScope(t);
    seen.set(scopeText(s), s);
  }
  return [...seen.values()];
}
