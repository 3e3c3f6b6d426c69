-- Zone transfers out: TSIG keys, who may transfer each zone, whom to NOTIFY, and the pool-set fingerprint
-- that moves the serial when a pool's answerable set changes (issue 14 parts 3 and 4).
--
-- Transfer settings live on zones: they are read when a transfer or NOTIFY happens, never by the answer
-- path, and changing them moves no serial (zones_before only bumps on SOA fields). The key secrets stay
-- here and are never copied into the snapshot (nor its file on disk).
-- Must run on PostgreSQL 15+ and on PGlite.

create table tsig_keys (
  -- RFC 8945 section 4.2: the key name is a domain name; kept canonical (lower case, no trailing dot).
  name text primary key constraint tsig_keys_name_valid check (lbdns_is_domain(name) and name <> ''),
  algorithm text not null default 'hmac-sha256'
    constraint tsig_keys_algorithm_valid check (algorithm in ('hmac-sha256', 'hmac-sha512', 'hmac-sha1')),
  -- Base64 of at least 16 octets (RFC 8945 section 6: a key as long as the hash output is advised).
  secret text not null constraint tsig_keys_secret_valid check (secret ~ '^[A-Za-z0-9+/]+={0,2}$' and length(secret) >= 24),
  created_at timestamptz not null default now()
);

alter table zones
  -- Networks allowed to transfer without a key; empty (the default): none.
  add column allow_transfer cidr[] not null default '{}',
  -- Keys that may transfer from any address; a request signed with one of them is always allowed.
  add column transfer_keys text[] not null default '{}',
  -- Secondaries to NOTIFY after every serial change: "address:port" or "[v6]:port".
  add column also_notify text[] not null default '{}'
    constraint zones_also_notify_valid check (array_to_string(also_notify, ' ') ~ '^(((\d{1,3}\.){3}\d{1,3}|\[[0-9a-fA-F:.]+\]):\d{1,5}( |$))*$'),
  -- The last pool answerable-set fingerprint a node wrote with a serial bump: two nodes that see the same
  -- change write the same fingerprint, and the guarded UPDATE bumps the serial once.
  add column pool_fingerprint text;

-- A key that a zone names cannot be removed (it would silently open or close the zone's transfers).
create function lbdns_tsig_keys_before_delete() returns trigger
language plpgsql as $$
declare
  user_zone text;
begin
  select name into user_zone from zones where old.name = any (transfer_keys) order by name limit 1;
  if user_zone is not null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('tsig key %s is used by zone %s', old.name, user_zone);
  end if;
  return old;
end $$;

create trigger tsig_keys_before_delete before delete on tsig_keys
  for each row execute function lbdns_tsig_keys_before_delete();

-- A zone may only name keys that exist.
create function lbdns_zones_transfer_keys() returns trigger
language plpgsql as $$
declare
  missing text;
begin
  select k into missing from unnest(new.transfer_keys) k where not exists (select 1 from tsig_keys t where t.name = k) limit 1;
  if missing is not null then
    raise exception using errcode = 'foreign_key_violation',
      message = format('zone %s: tsig key %s does not exist', new.name, missing);
  end if;
  return new;
end $$;

create trigger zones_transfer_keys before insert or update of transfer_keys on zones
  for each row execute function lbdns_zones_transfer_keys();
