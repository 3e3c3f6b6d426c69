-- Scoped tokens for the HTTP API (src/api/): `lbdns token add NAME --scope ...` prints a token once; only its hash is kept.
--
-- A token is "lbdns_" and 32 random bytes in base64url; token_hash is the SHA-256 of that text, so a copy of this
-- table (a backup, a psql session) cannot be used to call the API. SHA-256 without salt or stretching is enough for
-- 256 random bits: there is nothing to guess a dictionary from. `token rm` revokes rather than deletes: the row stays
-- for whoever reads the audit log later (writes made with the token are recorded as "token:NAME"), and a live
-- token's name is unique, so a name can be given again once its token is revoked.
-- Scopes are checked here only for their grammar (src/schema/token-schema.ts is the one definition, with messages).
-- Tokens are not part of any answer: no change-feed trigger, no config_version bump.
-- Must run on PostgreSQL 15+ and on PGlite.

create table api_tokens (
  id serial primary key,
  name text not null constraint api_tokens_name_valid check (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  token_hash bytea not null constraint api_tokens_hash_valid check (length(token_hash) = 32),
  scopes text[] not null constraint api_tokens_scopes_valid check (
    cardinality(scopes) between 1 and 64
    and array_to_string(scopes, ' ') ~ '^((read|admin|zone:[a-z0-9_.*-]{1,253}:(read|write)|pool:[a-z0-9_.*-]{1,253}:(read|drain|write))( |$))+$'),
  created_at timestamptz not null default now(),
  -- As maintenance_windows.created_by: the CLI's operating-system user (or token:NAME through the API), else the role.
  created_by text not null default coalesce(nullif(current_setting('lbdns.actor', true), ''), current_user),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create unique index api_tokens_hash on api_tokens (token_hash);
create unique index api_tokens_live_name on api_tokens (name) where revoked_at is null;
