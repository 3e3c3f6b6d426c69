// SQL for API tokens (migrations/0014_api_tokens.sql): made here so that the token text leaves only once, and only its hash is kept.
import { createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { LbdnsError } from '../errors.js';
import { checkTokenName, parseScopes, scopeText, TOKEN_PREFIX, TOKEN_TEXT } from '../schema/token-schema.js';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

/** A token as listed: never its text nor its hash. Times are ms since the epoch. */
export interface TokenRow {
  readonly id: number;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly createdAt: number;
  readonly createdBy: string;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

/** SHA-256 of the token text: what the table keeps and looks up by. */
export const tokenHash = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

const TIMES = [
  sql<number>`(extract(epoch from created_at) * 1000)::float8`.as('created_ms'),
  sql<number | null>`(extract(epoch from last_used_at) * 1000)::float8`.as('used_ms'),
  sql<number | null>`(extract(epoch from revoked_at) * 1000)::float8`.as('revoked_ms'),
];
const COLUMNS = ['id', 'name', 'scopes', 'created_by'] as const;

function selectTokens(db: Db) {
  return db.selectFrom('api_tokens').select(COLUMNS).select(TIMES);
}

type TokenSelect = Awaited<ReturnType<ReturnType<typeof selectTokens>['executeTakeFirstOrThrow']>>;

const toToken = (t: TokenSelect): TokenRow =>
  Object.freeze({
    id: t.id,
    name: t.name,
    scopes: Object.freeze([...t.scopes]),
    createdAt: Number(t.created_ms),
    createdBy: t.created_by,
    lastUsedAt: t.used_ms === null ? null : Number(t.used_ms),
    revokedAt: t.revoked_ms === null ? null : Number(t.revoked_ms),
  });

/** A new token: its text (to be shown once) and its row. Throws E_INPUT for a bad name or scope; the caller maps the unique violation. */
export async function addToken(db: Db, name: string, scopes: readonly string[]): Promise<{ readonly token: string; readonly row: TokenRow }> {
  checkTokenName(name);
  const canonical = parseScopes(scopes).map(scopeText);
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const { id } = await db.insertInto('api_tokens').values({ name, token_hash: tokenHash(token), scopes: canonical }).returning('id').executeTakeFirstOrThrow();
  return { token, row: toToken(await selectTokens(db).where('id', '=', id).executeTakeFirstOrThrow()) };
}

/** Live tokens by name; with `revoked`, revoked ones too (newest first after the live ones). */
export async function listTokens(db: Db, revoked: boolean): Promise<TokenRow[]> {
  let q = selectTokens(db);
  if (!revoked) q = q.where('revoked_at', 'is', null);
  return (await q.orderBy(sql`revoked_at is not null`).orderBy('name').orderBy('id', 'desc').execute()).map(toToken);
}

export async function revokeToken(db: Db, name: string): Promise<TokenRow> {
  checkTokenName(name);
  const r = await db.updateTable('api_tokens').set({ revoked_at: sql`now()` }).where('name', '=', name).where('revoked_at', 'is', null).returning(COLUMNS).returning(TIMES).executeTakeFirst();
  if (r === undefined) throw new LbdnsError('E_NOT_FOUND', `no token "${name}"`);
  return toToken(r);
}

/**
 * The live token with this text, its use recorded (last_used_at) in the same statement; undefined for text that is
 * no token, an unknown one or a revoked one. The lookup is by hash, so the time it takes says nothing about the text.
 */
export async function useToken(db: Db, token: string): Promise<TokenRow | undefined> {
  if (!TOKEN_TEXT.test(token)) return undefined;
  const r = await db
    .updateTable('api_tokens')
    .set({ last_used_at: sql`now()` })
    .where('token_hash', '=', tokenHash(token))
    .where('revoked_at', 'is', null)
    .returning(COLUMNS)
    .returning(TIMES)
    .executeTakeFirst();
  return r === undefined ? undefined : toToken(r);
}
